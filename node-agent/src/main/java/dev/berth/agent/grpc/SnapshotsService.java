package dev.berth.agent.grpc;

import com.google.protobuf.Empty;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.SnapshotRecord;
import dev.berth.agent.runtime.TaskException;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.api.services.snapshots.v1.Info;
import dev.berth.api.services.snapshots.v1.Kind;
import dev.berth.api.services.snapshots.v1.ListSnapshotsRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsResponse;
import dev.berth.api.services.snapshots.v1.MountsRequest;
import dev.berth.api.services.snapshots.v1.MountsResponse;
import dev.berth.api.services.snapshots.v1.RemoveSnapshotRequest;
import dev.berth.api.services.snapshots.v1.SnapshotsGrpc;
import dev.berth.api.services.snapshots.v1.StatSnapshotRequest;
import dev.berth.api.services.snapshots.v1.StatSnapshotResponse;
import dev.berth.api.services.snapshots.v1.UsageRequest;
import dev.berth.api.services.snapshots.v1.UsageResponse;
import dev.berth.api.types.Mount;
import io.grpc.stub.StreamObserver;

/**
 * containerd's Snapshots service over the overlay snapshotter. A layer chain is stored once for the node (the same
 * bytes whoever pulled it); a namespace sees the chains of its own images and its own containers' snapshots, and
 * another namespace's are not found. Removing one others build on is refused.
 */
final class SnapshotsService extends SnapshotsGrpc.SnapshotsImplBase {

    private final NodeAgent agent;

    SnapshotsService(NodeAgent agent) {
        this.agent = agent;
    }

    static Info info(SnapshotRecord r) {
        Info.Builder b = Info.newBuilder().setName(r.key())
                .setKind(r.kind().equals(OverlaySnapshotter.COMMITTED) ? Kind.COMMITTED : Kind.ACTIVE)
                .setCreatedAt(Calls.millis(r.createdAt())).setUpdatedAt(Calls.millis(r.createdAt()));
        if (r.parent() != null) b.setParent(r.parent());
        return b.build();
    }

    private SnapshotRecord require(String key) {
        String ns = Namespaces.current();
        return agent.metadata().snapshot(Calls.require(key, "snapshot key")).filter(r -> agent.references().snapshotsOf(ns).contains(r.key()))
                .orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "snapshot " + key + " does not exist in namespace " + ns));
    }

    @Override
    public void list(ListSnapshotsRequest req, StreamObserver<ListSnapshotsResponse> out) {
        Calls.unary(out, () -> {
            ListSnapshotsResponse.Builder b = ListSnapshotsResponse.newBuilder();
            java.util.Set<String> visible = agent.references().snapshotsOf(Namespaces.current());
            for (SnapshotRecord r : agent.snapshots().list()) if (visible.contains(r.key())) b.addInfo(info(r));
            return b.build();
        });
    }

    @Override
    public void stat(StatSnapshotRequest req, StreamObserver<StatSnapshotResponse> out) {
        Calls.unary(out, () -> StatSnapshotResponse.newBuilder().setInfo(info(require(req.getKey()))).build());
    }

    @Override
    public void usage(UsageRequest req, StreamObserver<UsageResponse> out) {
        Calls.unary(out, () -> {
            long[] u = agent.snapshots().usage(require(req.getKey()).key());
            return UsageResponse.newBuilder().setSize(u[0]).setInodes(u[1]).build();
        });
    }

    @Override
    public void mounts(MountsRequest req, StreamObserver<MountsResponse> out) {
        Calls.unary(out, () -> {
            SnapshotRecord r = require(req.getKey());
            if (!r.kind().equals(OverlaySnapshotter.ACTIVE)) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "snapshot " + r.key() + " is committed: only active snapshots are mounted");
            }
            return MountsResponse.newBuilder().addMounts(Mount.newBuilder().setType("overlay").setSource("overlay")
                    .addAllOptions(java.util.List.of(agent.snapshots().mountOptions(r.key()).split(",")))).build();
        });
    }

    @Override
    public void remove(RemoveSnapshotRequest req, StreamObserver<Empty> out) {
        Calls.unary(out, () -> {
            SnapshotRecord r = require(req.getKey());
            java.util.Set<String> visible = agent.references().snapshotsOf(Namespaces.current());
            for (SnapshotRecord other : agent.snapshots().list()) {
                if (r.key().equals(other.parent())) {
                    // another namespace's snapshots stay unnamed
                    String child = visible.contains(other.key()) ? " (" + other.key() + ")" : "";
                    throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "snapshot " + r.key() + " has children" + child + "; remove those first, or let garbage collection do it");
                }
            }
            if (agent.metadata().allImages().stream().anyMatch(i -> i.chainId().equals(r.key()))) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "snapshot " + r.key() + " is an image's top layer; remove the image instead");
            }
            if (r.kind().equals(OverlaySnapshotter.ACTIVE)) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "snapshot " + r.key() + " belongs to a container; remove the container instead");
            }
            agent.snapshots().remove(r.key());
            return Empty.getDefaultInstance();
        });
    }
}
