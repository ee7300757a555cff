package dev.berth.agent.grpc;

import com.google.protobuf.Empty;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.runtime.TaskException;
import dev.berth.api.services.images.v1.DeleteImageRequest;
import dev.berth.api.services.images.v1.GetImageRequest;
import dev.berth.api.services.images.v1.GetImageResponse;
import dev.berth.api.services.images.v1.Image;
import dev.berth.api.services.images.v1.ImagesGrpc;
import dev.berth.api.services.images.v1.ListImagesRequest;
import dev.berth.api.services.images.v1.ListImagesResponse;
import dev.berth.api.types.Descriptor;
import io.grpc.stub.StreamObserver;

/** containerd's Images service over the node's image store. */
final class ImagesService extends ImagesGrpc.ImagesImplBase {

    private final NodeAgent agent;

    ImagesService(NodeAgent agent) {
        this.agent = agent;
    }

    static Image toProto(ImageRecord r) {
        return Image.newBuilder()
                .setName(r.name())
                .setTarget(Descriptor.newBuilder().setMediaType(r.mediaType()).setDigest(r.digest()).setSize(r.size()))
                .setCreatedAt(Calls.millis(r.createdAt()))
                .setUpdatedAt(Calls.millis(r.updatedAt()))
                .build();
    }

    @Override
    public void get(GetImageRequest req, StreamObserver<GetImageResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> GetImageResponse.newBuilder().setImage(toProto(agent.images().get(ns, Calls.require(req.getName(), "image name"))
                .orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "image " + req.getName() + " is not on this node; pull it first")))).build());
    }

    @Override
    public void list(ListImagesRequest req, StreamObserver<ListImagesResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListImagesResponse.Builder b = ListImagesResponse.newBuilder();
            for (ImageRecord r : agent.images().list(ns)) b.addImages(toProto(r));
            return b.build();
        });
    }

    @Override
    public void delete(DeleteImageRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!agent.images().delete(ns, Calls.require(req.getName(), "image name"))) {
                throw new TaskException(TaskException.Kind.NOT_FOUND, "image " + req.getName() + " is not on this node");
            }
            // sync, as in containerd: the space is given back before the call returns (unless a pull or create in
            // progress puts the collection off: the next scheduled one gives it back)
            if (req.getSync()) agent.gc().collect();
            return Empty.getDefaultInstance();
        });
    }
}
