package dev.berth.agent.grpc;

import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.api.services.images.v1.ImageInfo;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.ListImageInfoResponse;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import io.grpc.stub.StreamObserver;

/** Berth's server-side pull, and image listing with sizes. */
final class ImageToolsService extends ImageToolsGrpc.ImageToolsImplBase {

    private final NodeAgent agent;

    ImageToolsService(NodeAgent agent) {
        this.agent = agent;
    }

    static ImageInfo info(ImageRecord r) {
        return ImageInfo.newBuilder().setName(r.name()).setDigest(r.digest()).setMediaType(r.mediaType())
                .setSize(r.size()).setUnpackedSize(r.unpackedSize()).setChainId(r.chainId())
                .setCreatedAt(Calls.millis(r.createdAt())).build();
    }

    @Override
    public void pull(PullRequest req, StreamObserver<PullProgress> out) {
        String ns = Namespaces.current();
        if (!req.getPlatform().isEmpty()) {
            out.onError(Calls.status(new IllegalArgumentException("choosing a platform other than the node's is not supported yet")));
            return;
        }
        Calls.unary(out, () -> {
            ImageRecord r = agent.images().pull(ns, Calls.require(req.getReference(), "image reference"));
            return PullProgress.newBuilder().setStatus("pulled").setImage(info(r)).build();
        });
    }

    @Override
    public void list(ListImageInfoRequest req, StreamObserver<ListImageInfoResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListImageInfoResponse.Builder b = ListImageInfoResponse.newBuilder();
            for (ImageRecord r : agent.images().list(ns)) b.addImages(info(r));
            return b.build();
        });
    }
}
