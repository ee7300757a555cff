package dev.berth.agent.grpc;

import com.google.protobuf.Empty;
import dev.berth.api.services.version.v1.VersionGrpc;
import dev.berth.api.services.version.v1.VersionResponse;
import io.grpc.stub.StreamObserver;

/** What containerd clients ask first: which daemon this is. */
final class VersionService extends VersionGrpc.VersionImplBase {
    static final String VERSION = "berth-0.1.0";

    @Override
    public void version(Empty req, StreamObserver<VersionResponse> out) {
        out.onNext(VersionResponse.newBuilder().setVersion(VERSION).setRevision("berth").build());
        out.onCompleted();
    }
}
