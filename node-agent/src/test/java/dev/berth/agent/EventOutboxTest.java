package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.events.AgentOutbox;
import dev.berth.agent.events.EventPublisher;
import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.TopicAdmin;
import dev.berth.events.Topics;
import dev.berth.events.outbox.OutboxRecord;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.seed.LocalRegistry;
import dev.berth.oci.seed.TestImages;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;

/**
 * The node side of the event bus against the real broker (127.0.0.1:9092, started by deploy/dev-services.sh): each
 * state change commits its event in the same SQLite transaction; an agent that dies before publishing publishes
 * after its restart, the same events (same ids), once, in the container's order.
 */
class EventOutboxTest {

    static final String KAFKA = System.getProperty("berth.kafka", "127.0.0.1:9092");

    @Test
    void eventsCommittedBeforeACrashArePublishedAfterTheRestartOnceAndInOrder() throws Exception {
        try (LocalRegistry registry = LocalRegistry.start(); AgentFixture fx = new AgentFixture()) {
            new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
            String image = registry.address() + "/test/busybox:latest";
            String ns = "ev" + UUID.randomUUID().toString().substring(0, 8);
            String id = "c-" + UUID.randomUUID();

            // Kafka unreachable: the relay retries, the outbox keeps everything
            EventPublisher down = new EventPublisher(fx.agent.metadata(), "node-a", "127.0.0.1:1", Duration.ZERO, "test");
            fx.agent.images().pull(ns, image);
            assertEquals(4, fx.run(ns, id, image, AgentFixture.args("sh", "-c", "exit 4")).exitCode());
            fx.remove(ns, id);
            List<OutboxRecord> pending = new AgentOutbox(fx.agent.metadata(), "node-a").fetchUnsent(1000);
            List<EventEnvelope> mine = pending.stream().map(OutboxRecord::event).filter(e -> id.equals(e.subjectId())).toList();
            assertEquals(List.of("container.created", "container.started", "container.exited", "container.deleted"),
                    mine.stream().map(EventEnvelope::type).toList(), "every state change of the container is in the outbox");
            assertEquals(List.of(1L, 2L, 3L, 4L), mine.stream().map(EventEnvelope::sequence).toList());
            assertEquals(4, ((Number) mine.get(2).payload().get("exitCode")).intValue());
            // the crash: the relay never got through, and the process goes away without a clean stop
            down.relay().close();
            fx.agent.metadata().onEvent(null);

            TopicAdmin.ensureTopics(KAFKA, 3, (short) 1, Duration.ofSeconds(30));
            try (EventPublisher up = new EventPublisher(fx.agent.metadata(), "node-a", KAFKA, Duration.ZERO, "test")) {
                List<EventEnvelope> seen = consume(id, 4, Duration.ofSeconds(60));
                assertEquals(mine.stream().map(EventEnvelope::eventId).toList(), seen.stream().map(EventEnvelope::eventId).toList(),
                        "the same events, once each, in the container's order");
                for (int i = 0; i < 50 && fx.agent.metadata().outboxSize() > 0; i++) Thread.sleep(100);
                assertEquals(0, fx.agent.metadata().outboxSize(), "acknowledged records leave the outbox");
            }
        }
    }

    private static List<EventEnvelope> consume(String key, int expected, Duration timeout) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, KAFKA);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "outbox-test-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<EventEnvelope> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of(Topics.CONTAINER_EVENTS));
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    if (key.equals(r.key())) out.add(EventCodec.decode(r.value()));
                }
                if (out.size() >= expected) {
                    // a little longer: a duplicate would show up now
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofSeconds(2))) if (key.equals(r.key())) out.add(EventCodec.decode(r.value()));
                    break;
                }
            }
        }
        assertTrue(out.size() >= expected, "only " + out.size() + " of " + expected + " events arrived: " + Map.of("key", key));
        return out;
    }
}
