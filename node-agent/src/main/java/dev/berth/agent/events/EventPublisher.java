package dev.berth.agent.events;

import dev.berth.agent.metadata.MetadataStore;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.outbox.OutboxRelay;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Turns the node's outbox on: events are recorded with every state change from now on, and a relay publishes
 * them to Kafka (idempotent, acks=all) and deletes what the broker acknowledged. While Kafka is away the outbox
 * grows and the relay retries with backoff; nothing is lost, nothing published twice under a new id.
 */
public final class EventPublisher implements AutoCloseable {

    private final MetadataStore meta;
    private final AgentOutbox outbox;
    private final OutboxRelay relay;
    private final ScheduledExecutorService heartbeat;

    /** {@code login}: how the relay's producer logs in to the broker ({@link KafkaClientProperties#none()}: no login). */
    public EventPublisher(MetadataStore meta, String node, String bootstrapServers, KafkaClientProperties login,
            Duration heartbeatEvery, String agentVersion) {
        this.meta = meta;
        this.outbox = new AgentOutbox(meta, node);
        this.relay = new OutboxRelay(outbox, OutboxRelay.Settings.defaults(bootstrapServers)
                .withClientId("berth-agent-" + node)
                .withLogin(login));
        outbox.onAppend(relay::wakeUp);
        meta.onEvent(outbox);
        meta.inTransaction(() -> {
            meta.event(null, node, new NodeUp(agentVersion, Map.of()));
            return null;
        });
        relay.start();
        heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "node-heartbeat");
            t.setDaemon(true);
            return t;
        });
        if (!heartbeatEvery.isZero()) {
            heartbeat.scheduleWithFixedDelay(() -> meta.inTransaction(() -> {
                meta.event(null, node, new NodeHeartbeat((int) meta.tasks().stream().filter(t -> t.status().equals("RUNNING")).count()));
                return null;
            }), heartbeatEvery.toMillis(), heartbeatEvery.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    public OutboxRelay relay() {
        return relay;
    }

    /** A clean stop says so (node.down); a crash says nothing, and the relay resumes from the outbox on restart. */
    @Override
    public void close() {
        heartbeat.shutdownNow();
        meta.inTransaction(() -> {
            meta.event(null, outbox.node(), new NodeDown("agent stopped"));
            return null;
        });
        relay.close(); // publishes what it can within its stop timeout; the rest waits in the outbox
        // the hook stays: anything recorded from now on waits in the outbox for the next start
    }
}
