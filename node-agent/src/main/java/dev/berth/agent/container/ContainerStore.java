package dev.berth.agent.container;

import dev.berth.agent.KeyedLocks;
import dev.berth.agent.gc.Leases;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.SpecBuilder;
import dev.berth.agent.runtime.Runtimes;
import dev.berth.agent.runtime.TaskException;
import dev.berth.agent.runtime.TaskManager;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.Json;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/** Containers: metadata plus a writable snapshot over their image; no process until a task is created. */
public final class ContainerStore {

    /** As containerd: letters, digits, and . _ - inside, at most 76 characters. */
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]{0,74}[A-Za-z0-9])?");

    private final MetadataStore meta;
    private final ImageStore images;
    private final OverlaySnapshotter snapshots;
    private final KeyedLocks locks;
    private final Leases leases;
    private final TaskManager tasks;
    private final dev.berth.agent.Cleanups cleanups;
    private final String crunBinary;

    public ContainerStore(MetadataStore meta, ImageStore images, OverlaySnapshotter snapshots, KeyedLocks locks, Leases leases,
                          TaskManager tasks, String crunBinary, dev.berth.agent.Cleanups cleanups) throws IOException {
        this.cleanups = cleanups;
        this.leases = leases;
        this.tasks = tasks;
        this.crunBinary = crunBinary;
        this.meta = meta;
        this.images = images;
        this.snapshots = snapshots;
        this.locks = locks;
        // a writable snapshot whose container row is gone (a crash between the two) belongs to nobody
        for (MetadataStore.SnapshotRecord s : snapshots.list()) {
            if (s.kind().equals(OverlaySnapshotter.ACTIVE) && s.key().contains("/")) {
                String[] nsId = s.key().split("/", 2);
                if (meta.container(nsId[0], nsId[1]).isEmpty()) snapshots.remove(s.key());
            }
        }
    }

    /**
     * Creates a container from an image. {@code specJson} is used as given when present (as containerd clients
     * send it); otherwise the spec is built from the image config and the run request.
     */
    public ContainerRecord create(String ns, String id, String imageName, String specJson, RunRequest request,
                                  String runtime, String labelsJson) throws IOException {
        validateId(id);
        if (meta.container(ns, id).isPresent()) {
            throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "container name '" + id + "' is already in use in namespace " + ns + "; remove that container or choose another name");
        }
        ImageRecord image = images.get(ns, imageName).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND,
                "image " + imageName + " is not on this node (namespace " + ns + "); pull it first"));
        String spec = specJson;
        boolean ours = spec == null || spec.isBlank();
        if (ours) {
            try {
                spec = new String(Json.write(SpecBuilder.build(ns, id, images.config(image), request == null ? emptyRequest() : request)));
            } catch (IllegalArgumentException e) {
                throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
            }
        }
        String snapshotKey = ns + "/" + id;
        long now = System.currentTimeMillis();
        String runtimeName = Runtimes.validate(request != null && request.runtime() != null ? request.runtime() : runtime, crunBinary);
        ContainerRecord c = new ContainerRecord(ns, id, image.name(), runtimeName,
                snapshotKey, spec, labelsJson == null ? "{}" : labelsJson, now, now);
        ReentrantLock lock = locks.lock(ns, id);
        // the lease keeps garbage collection off the image's chain until the container's snapshot references it
        try (AutoCloseable lease = leases.acquire()) {
            cleanups.await(ns, id); // a deleted container of the same name may still be removing its snapshot and logs
            tasks.removeLogs(ns, id); // and a crash may have left its logs behind
            // a spec Berth built mounts /proc, /etc/hosts and the like: where the image lacks them they come from a layer
            // shared by its containers; a client's own spec gets the image as it is
            String parent = ours ? snapshots.mountPoints(image.chainId(), SpecBuilder.ROOTFS_MOUNT_POINTS) : image.chainId();
            // the row, its event and the snapshot's row in one commit; a failure anywhere takes all three back
            if (!createRows(c, image, parent)) {
                throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "container name '" + id + "' is already in use in namespace " + ns + "; remove that container or choose another name");
            }
            return c;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        } finally {
            lock.unlock();
        }
    }

    /** The container's row, its writable snapshot and its created event, in one transaction; false if the name is taken. */
    private boolean createRows(ContainerRecord c, ImageRecord image, String parentChainId) throws IOException {
        try {
            return meta.inTransaction(() -> {
                if (!meta.addContainer(c)) return false;
                snapshots.prepare(c.snapshotKey(), parentChainId);
                meta.event(c.namespace(), c.id(), new ContainerCreated(image.name(), image.digest(), java.util.Map.of()));
                return true;
            });
        } catch (MetadataStore.MetadataException e) {
            if (e.getCause() instanceof IOException io) throw io; // the snapshot's own failure, with its own message
            throw e;
        }
    }

    public Optional<ContainerRecord> get(String ns, String id) {
        return meta.container(ns, id);
    }

    public ContainerRecord require(String ns, String id) {
        return get(ns, id).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND,
                "no container named '" + id + "' in namespace " + ns + "; list containers with 'berth ps -a'"));
    }

    public List<ContainerRecord> list(String ns) {
        return meta.containers(ns);
    }

    /** Deletes a container and its writable snapshot; refused while it has a task. */
    public void delete(String ns, String id) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
            ContainerRecord c = require(ns, id);
            if (meta.task(ns, id).isPresent()) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "container " + id + " still has a task; stop and delete the task first (berth rm -f does both)");
            }
            meta.inTransaction(() -> {
                meta.deleteContainer(ns, id);
                meta.event(ns, id, new ContainerDeleted());
                return null;
            });
            // the snapshot (after the task's unmount) and the logs go in the background
            cleanups.schedule(ns, id, "container clean-up", () -> {
                snapshots.remove(c.snapshotKey());
                tasks.removeLogs(ns, id);
            });
        } finally {
            lock.unlock();
        }
    }

    public static void validateId(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new TaskException(TaskException.Kind.INVALID, "invalid container name '" + id + "': use 1-76 letters, digits, '.', '_' or '-', starting and ending with a letter or digit");
        }
    }

    private static RunRequest emptyRequest() {
        return RunRequest.ofArgs(null);
    }
}
