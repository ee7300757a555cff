package dev.berth.agent.grpc;

import com.fasterxml.jackson.core.type.TypeReference;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.CreateContainerResponse;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.containers.v1.GetContainerRequest;
import dev.berth.api.services.containers.v1.GetContainerResponse;
import dev.berth.api.services.containers.v1.ListContainerMessage;
import dev.berth.api.services.containers.v1.ListContainersRequest;
import dev.berth.api.services.containers.v1.ListContainersResponse;
import dev.berth.oci.Json;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** containerd's Containers service: metadata plus the writable snapshot the agent prepares for each container. */
final class ContainersService extends ContainersGrpc.ContainersImplBase {

    static final String SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

    private final NodeAgent agent;

    ContainersService(NodeAgent agent) {
        this.agent = agent;
    }

    static Container toProto(ContainerRecord c) throws IOException {
        Map<String, String> labels = Json.MAPPER.readValue(c.labels(), new TypeReference<Map<String, String>>() { });
        return Container.newBuilder()
                .setId(c.id())
                .setImage(c.image())
                .putAllLabels(labels)
                .setRuntime(Container.Runtime.newBuilder().setName(c.runtime()))
                .setSpec(Any.newBuilder().setTypeUrl(SPEC_TYPE_URL).setValue(ByteString.copyFromUtf8(c.spec())))
                .setSnapshotter("overlayfs")
                .setSnapshotKey(c.snapshotKey())
                .setCreatedAt(Calls.millis(c.createdAt()))
                .setUpdatedAt(Calls.millis(c.updatedAt()))
                .build();
    }

    @Override
    public void create(CreateContainerRequest req, StreamObserver<CreateContainerResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            Container c = req.getContainer();
            String spec = c.hasSpec() ? c.getSpec().getValue().toString(StandardCharsets.UTF_8) : null;
            RunRequest run = null;
            Any ext = c.getExtensionsMap().get(RunRequest.EXTENSION);
            if (ext != null) {
                run = Json.read(ext.getValue().toByteArray(), RunRequest.class, "run request");
            }
            ContainerRecord rec = agent.containers().create(ns, c.getId(), Calls.require(c.getImage(), "image"), spec, run,
                    c.getRuntime().getName(), new String(Json.write(c.getLabelsMap()), StandardCharsets.UTF_8));
            return CreateContainerResponse.newBuilder().setContainer(toProto(rec)).build();
        });
    }

    @Override
    public void get(GetContainerRequest req, StreamObserver<GetContainerResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> GetContainerResponse.newBuilder().setContainer(toProto(agent.containers().require(ns, req.getId()))).build());
    }

    @Override
    public void list(ListContainersRequest req, StreamObserver<ListContainersResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListContainersResponse.Builder b = ListContainersResponse.newBuilder();
            for (ContainerRecord c : agent.containers().list(ns)) b.addContainers(toProto(c));
            return b.build();
        });
    }

    @Override
    public void listStream(ListContainersRequest req, StreamObserver<ListContainerMessage> out) {
        String ns = Namespaces.current();
        try {
            for (ContainerRecord c : agent.containers().list(ns)) out.onNext(ListContainerMessage.newBuilder().setContainer(toProto(c)).build());
            out.onCompleted();
        } catch (Exception e) {
            out.onError(Calls.status(e));
        }
    }

    @Override
    public void delete(DeleteContainerRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            agent.containers().delete(ns, req.getId());
            return Empty.getDefaultInstance();
        });
    }
}
