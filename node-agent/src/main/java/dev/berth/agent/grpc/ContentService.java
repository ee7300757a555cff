package dev.berth.agent.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.runtime.TaskException;
import dev.berth.api.services.content.v1.ContentGrpc;
import dev.berth.api.services.content.v1.DeleteContentRequest;
import dev.berth.api.services.content.v1.Info;
import dev.berth.api.services.content.v1.InfoRequest;
import dev.berth.api.services.content.v1.InfoResponse;
import dev.berth.api.services.content.v1.ListContentRequest;
import dev.berth.api.services.content.v1.ListContentResponse;
import dev.berth.api.services.content.v1.ReadContentRequest;
import dev.berth.api.services.content.v1.ReadContentResponse;
import dev.berth.oci.Digest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * containerd's Content service over the verified content store. Blobs are stored once for the node; a namespace
 * sees those its own images need (as containerd scopes content by namespace), and another namespace's are not found.
 */
final class ContentService extends ContentGrpc.ContentImplBase {

    private static final int CHUNK = 1 << 20;
    private final NodeAgent agent;

    ContentService(NodeAgent agent) {
        this.agent = agent;
    }

    private Info info(Digest d) throws IOException {
        BasicFileAttributes a = Files.readAttributes(agent.content().path(d), BasicFileAttributes.class);
        return Info.newBuilder().setDigest(d.toString()).setSize(a.size())
                .setCreatedAt(Calls.millis(a.creationTime().toMillis())).setUpdatedAt(Calls.millis(a.lastModifiedTime().toMillis())).build();
    }

    private Digest require(String digest) throws IOException {
        Digest d = Digest.parse(Calls.require(digest, "digest"));
        String ns = Namespaces.current();
        if (!agent.content().has(d) || !agent.references().blobsOf(ns).contains(d)) {
            throw new TaskException(TaskException.Kind.NOT_FOUND, "content " + d + " is not in namespace " + ns + " (no image of the namespace uses it)");
        }
        return d;
    }

    @Override
    public void info(InfoRequest req, StreamObserver<InfoResponse> out) {
        Calls.unary(out, () -> InfoResponse.newBuilder().setInfo(info(require(req.getDigest()))).build());
    }

    @Override
    public void list(ListContentRequest req, StreamObserver<ListContentResponse> out) {
        Calls.unary(out, () -> {
            ListContentResponse.Builder b = ListContentResponse.newBuilder();
            java.util.Set<Digest> visible = agent.references().blobsOf(Namespaces.current());
            for (Digest d : agent.content().list()) if (visible.contains(d)) b.addInfo(info(d));
            return b.build();
        });
    }

    @Override
    public void delete(DeleteContentRequest req, StreamObserver<Empty> out) {
        // what a namespace sees, its images use: deleting it would break them, and GC frees the rest
        Calls.<Empty>unary(out, () -> {
            throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "content " + require(req.getDigest()) + " is used by an image in namespace "
                    + Namespaces.current() + "; remove the image first (content no image uses is freed by images gc)");
        });
    }

    /**
     * Streams the blob a chunk at a time, each one only once the client can take it (gRPC's flow control): a client
     * that stops reading holds about one chunk in the agent, never the blob.
     */
    @Override
    public void read(ReadContentRequest req, StreamObserver<ReadContentResponse> out) {
        ServerCallStreamObserver<ReadContentResponse> call = (ServerCallStreamObserver<ReadContentResponse>) out;
        call.setOnCancelHandler(() -> { });
        try {
            Digest d = require(req.getDigest());
            try (InputStream in = agent.content().open(d)) {
                in.skipNBytes(req.getOffset());
                long left = req.getSize() > 0 ? req.getSize() : Long.MAX_VALUE;
                long offset = req.getOffset();
                byte[] buf = new byte[CHUNK];
                while (left > 0) {
                    if (!Calls.awaitReady(call)) return; // the client went away
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n <= 0) break;
                    StreamMeter.CONTENT_READ.took(n);
                    out.onNext(ReadContentResponse.newBuilder().setOffset(offset).setData(ByteString.copyFrom(buf, 0, n)).build());
                    offset += n;
                    left -= n;
                }
            }
            out.onCompleted();
        } catch (Exception e) {
            if (!call.isCancelled()) out.onError(Calls.status(e));
        }
    }
}
