package dev.berth.agent.gc;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.metadata.MetadataStore.SnapshotRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.Digest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Mark and sweep over the node's images: content and snapshots that no image (in any namespace) and no container
 * references are removed. Runs alone (see {@link Leases}), so a pull or create in progress never loses its parts;
 * while any holds a lease the collection is put off (the next scheduled one, or the next on demand, tries again).
 */
public final class GarbageCollector {

    private static final Logger LOG = Logger.getLogger(GarbageCollector.class.getName());
    /** How long a stopped download's partial blob waits for a pull to resume it before GC frees it. */
    static final java.time.Duration PARTIALS_KEPT = java.time.Duration.ofHours(1);

    private final MetadataStore meta;
    private final ContentStore content;
    private final OverlaySnapshotter snapshots;
    private final Leases leases;
    private final References references;

    private final dev.berth.agent.Cleanups cleanups;

    public GarbageCollector(MetadataStore meta, ContentStore content, OverlaySnapshotter snapshots, Leases leases, dev.berth.agent.Cleanups cleanups,
                            References references) {
        this.cleanups = cleanups;
        this.meta = meta;
        this.content = content;
        this.snapshots = snapshots;
        this.leases = leases;
        this.references = references;
    }

    /** What a collection removed; {@code leasesHeld} is non-zero when it was put off for that many operations in progress. */
    public record Result(int blobsRemoved, int snapshotsRemoved, long bytesFreed, int leasesHeld) {
        public boolean deferred() {
            return leasesHeld > 0;
        }
    }

    /** Collects now, unless a pull or create in progress holds a lease: then nothing is removed, and the result says so. */
    public synchronized Result collect() throws Exception {
        cleanups.drain(); // snapshots of just-deleted containers first, so their parents count as free
        Optional<AutoCloseable> exclusive = leases.tryExclusive();
        if (exclusive.isEmpty()) {
            int held = Math.max(1, leases.held());
            LOG.info("garbage collection put off: " + held + " pull(s) or create(s) in progress");
            return new Result(0, 0, 0, held);
        }
        try (AutoCloseable ignored = exclusive.get()) {
            Set<Digest> liveBlobs = references.blobs(meta.allImages());
            Set<String> roots = new HashSet<>();
            for (ImageRecord img : meta.allImages()) roots.add(img.chainId());
            for (SnapshotRecord s : snapshots.list()) {
                // containers' writable snapshots, and extractions under way, hold their parents
                if (s.kind().equals(OverlaySnapshotter.ACTIVE)) roots.add(s.key());
            }
            // a live chain keeps every layer below it
            Set<String> liveSnapshots = references.withParents(roots);
            int snaps = 0;
            long freed = 0;
            List<SnapshotRecord> all = new ArrayList<>(snapshots.list());
            // children first: a snapshot's id is always larger than its parent's
            all.sort((a, b) -> Long.compare(b.id(), a.id()));
            for (SnapshotRecord s : all) {
                if (liveSnapshots.contains(s.key())) continue;
                snapshots.remove(s.key());
                snaps++;
            }
            int blobs = 0;
            for (Digest d : content.list()) {
                if (liveBlobs.contains(d)) continue;
                long size = content.size(d);
                if (content.delete(d)) {
                    blobs++;
                    freed += size;
                }
            }
            freed += content.removePartialsOlderThan(PARTIALS_KEPT);
            if (blobs > 0 || snaps > 0) LOG.info("garbage collection removed " + blobs + " blobs (" + freed + " bytes) and " + snaps + " snapshots");
            return new Result(blobs, snaps, freed, 0);
        }
    }
}
