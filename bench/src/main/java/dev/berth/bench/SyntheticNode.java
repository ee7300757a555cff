package dev.berth.bench;

import dev.berth.agent.events.AgentOutbox;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.utils.Utils;

/**
 * A node agent's event side without the containers: the agent's own {@link AgentOutbox} over a real
 * {@link MetadataStore} (SQLite, WAL, synchronous=FULL), fed synthetic container lifecycles. Each commit is one
 * SQLite transaction whose events get their per-container sequence from the store, exactly as the agent records
 * a state change.
 *
 * <p>Containers go through created, started, exited, deleted in blocks of {@value #BLOCK}: the block's containers
 * are created, then started, then exited, then deleted. A container's next event is thousands of events later, as
 * on a busy cluster, so a consumer's poll (at most 500) never holds two events of one container and every event
 * costs the projection a state row of its own (no folding in the batch to flatter the figure).
 */
final class SyntheticNode implements AutoCloseable {
    static final int BLOCK = 4096;
    private static final String IMAGE = "registry.local/bench/app:1.0";
    private static final String DIGEST = "sha256:" + "ab".repeat(32);

    final MetadataStore meta;
    final AgentOutbox outbox;
    final String namespace;
    private final String tag;
    private long generated;

    SyntheticNode(Path dir, String node, String namespace, String tag) throws IOException {
        this.meta = new MetadataStore(dir.resolve("metadata.db"));
        this.outbox = new AgentOutbox(meta, node);
        this.namespace = namespace;
        this.tag = tag;
        meta.onEvent(outbox);
    }

    /** Commits the next {@code count} lifecycle events in one SQLite transaction. */
    void commit(int count) {
        meta.inTransaction(() -> {
            for (int i = 0; i < count; i++) {
                next();
            }
            return null;
        });
    }

    /**
     * Commits one container.created per partition, each keyed to land on a different one of {@code partitions}
     * (Kafka's default partitioner: murmur2 of the key): the last events of the outbox, on every partition.
     */
    List<String> commitMarkers(int partitions) {
        Map<Integer, String> byPartition = new TreeMap<>();
        for (int i = 0; byPartition.size() < partitions; i++) {
            String id = "marker-" + tag + "-" + i;
            byPartition.putIfAbsent(Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % partitions, id);
        }
        meta.inTransaction(() -> {
            for (String id : byPartition.values()) {
                meta.event(namespace, id, new ContainerCreated(IMAGE, DIGEST, Map.of("app", "bench", "marker", "true")));
                generated++;
            }
            return null;
        });
        return List.copyOf(byPartition.values());
    }

    long generated() {
        return generated;
    }

    /** Which event the {@code k}-th lifecycle event (counted from 0, no markers before it) is: its container and sequence. */
    record EventKey(String subjectId, long sequence) {}

    EventKey key(long k) {
        long block = k / (BLOCK * 4);
        int within = (int) (k % (BLOCK * 4));
        // the store numbers each container's events from 1, and every container here is new: created is 1, deleted 4
        return new EventKey("c-" + tag + "-" + block + "-" + (within % BLOCK), within / BLOCK + 1);
    }

    private void next() {
        long k = generated++;
        int within = (int) (k % (BLOCK * 4));
        String id = key(k).subjectId();
        Instant now = Instant.now();
        Record payload = switch (within / BLOCK) {
            case 0 -> new ContainerCreated(IMAGE, DIGEST, Map.of("app", "bench", "tier", "web"));
            case 1 -> new ContainerStarted(10_000L + within, now);
            case 2 -> new ContainerExited(0, null, false, now);
            default -> new ContainerDeleted();
        };
        meta.event(namespace, id, payload);
    }

    @Override
    public void close() throws Exception {
        meta.close();
    }
}
