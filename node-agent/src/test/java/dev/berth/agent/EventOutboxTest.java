package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.events.AgentOutbox;
import dev.berth.agent.events.EventPublisher;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.Topics;
import dev.berth.events.outbox.OutboxRecord;
import dev.berth.events.testing.KafkaSupport;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ExecStarted;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
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

    static final String KAFKA = KafkaSupport.bootstrap();
    static final KafkaClientProperties LOGIN = KafkaSupport.login();

    @Test
    void eventsCommittedBeforeACrashArePublishedAfterTheRestartOnceAndInOrder() throws Exception {
        try (LocalRegistry registry = LocalRegistry.start(); AgentFixture fx = new AgentFixture()) {
            new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
            String image = registry.address() + "/test/busybox:latest";
            String ns = "ev" + UUID.randomUUID().toString().substring(0, 8);
            String id = "c-" + UUID.randomUUID();

            // Kafka unreachable: the relay retries, the outbox keeps everything
            EventPublisher down = new EventPublisher(fx.agent.metadata(), "node-a", "127.0.0.1:1", LOGIN, Duration.ZERO, "test");
            fx.agent.images().pull(ns, image);
            assertEquals(4, fx.run(ns, id, image, AgentFixture.args("sh", "-c", "exit 4")).exitCode());
            fx.remove(ns, id);
            List<OutboxRecord> pending = new AgentOutbox(fx.agent.metadata(), "node-a").fetchUnsent(1000);
            List<OutboxRecord> mineStored = pending.stream().filter(r -> id.equals(r.event().subjectId())).toList();
            List<EventEnvelope> mine = mineStored.stream().map(OutboxRecord::event).toList();
            assertEquals(List.of("container.created", "container.started", "container.exited", "container.deleted"),
                    mine.stream().map(EventEnvelope::type).toList(), "every state change of the container is in the outbox");
            assertEquals(List.of(1L, 2L, 3L, 4L), mine.stream().map(EventEnvelope::sequence).toList());
            assertEquals(4, ((Number) mine.get(2).payload().get("exitCode")).intValue());
            // the crash: the relay never got through, and the process goes away without a clean stop
            down.relay().close();
            fx.agent.metadata().onEvent(null);

            KafkaSupport.ensureTopics(KAFKA);
            try (EventPublisher up = new EventPublisher(fx.agent.metadata(), "node-a", KAFKA, LOGIN, Duration.ZERO, "test")) {
                List<String> published = consume(id, 4, Duration.ofSeconds(60));
                List<EventEnvelope> seen = new ArrayList<>();
                for (String json : published) seen.add(EventCodec.decode(json));
                assertEquals(mine.stream().map(EventEnvelope::eventId).toList(), seen.stream().map(EventEnvelope::eventId).toList(),
                        "the same events, once each, in the container's order");
                assertEquals(mineStored.stream().map(r -> new String(r.json(), StandardCharsets.UTF_8)).toList(), published,
                        "published as stored in the outbox, byte for byte");
                for (int i = 0; i < 50 && fx.agent.metadata().outboxSize() > 0; i++) Thread.sleep(100);
                assertEquals(0, fx.agent.metadata().outboxSize(), "acknowledged records leave the outbox");
            }
        }
    }

    @Test
    void anExecStartedEventNamesTheProgramAndItsArgumentCountButNeverTheArguments() throws Exception {
        try (LocalRegistry registry = LocalRegistry.start(); AgentFixture fx = new AgentFixture()) {
            new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
            String image = registry.address() + "/test/busybox:latest";
            String ns = "ev" + UUID.randomUUID().toString().substring(0, 8);
            String id = "c-" + UUID.randomUUID();
            fx.agent.metadata().onEvent(new AgentOutbox(fx.agent.metadata(), "node-a"));
            fx.agent.images().pull(ns, image);
            var container = fx.agent.containers().create(ns, id, image, null, AgentFixture.args("sleep", "60"), null, null);
            fx.agent.tasks().create(container);
            fx.agent.tasks().start(ns, id);
            String secret = "token-" + UUID.randomUUID();
            String longArgument = "x".repeat(100 << 10); // near the kernel's limit for one argument
            fx.agent.tasks().exec(ns, id, "e1", List.of("sh", "-c", "test -n " + secret, longArgument), List.of(), null, null,
                    false, false, null).connection().close();
            try {
                List<String> stored = fx.agent.metadata().unsentOutbox(1000).stream().map(MetadataStore.OutboxRow::envelope)
                        .filter(json -> json.contains("\"exec.started\"") && json.contains(id)).toList();
                assertEquals(1, stored.size());
                assertTrue(!stored.get(0).contains(secret), "no argument is published: " + stored.get(0));
                assertTrue(stored.get(0).length() < 1024, "the event stays small: " + stored.get(0).length() + " bytes");
                ExecStarted payload = EventCodec.decode(stored.get(0)).payloadAs(ExecStarted.class);
                assertEquals("sh", payload.executable());
                assertEquals(3, payload.argCount());
                assertEquals(null, payload.command());
            } finally {
                fx.remove(ns, id);
            }
        }
    }

    @Test
    void aStoreMadeAnewNumbersItsEventsFromOneAgainUnderALaterIncarnation() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "bt-outbox");
        Path file = dir.resolve("metadata.db");
        try {
            EventEnvelope before;
            try (MetadataStore meta = new MetadataStore(file)) {
                AgentOutbox outbox = new AgentOutbox(meta, "node-a");
                outbox.record("default", "web", new ContainerPaused());
                outbox.record("default", "web", new ContainerPaused());
                before = outbox.fetchUnsent(10).get(1).event();
            }
            try (MetadataStore reopened = new MetadataStore(file)) {
                assertEquals(before.incarnation(), reopened.incarnation(), "the same store keeps its incarnation");
            }
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) Files.delete(f); // the store is lost
            }
            try (MetadataStore anew = new MetadataStore(file)) {
                AgentOutbox outbox = new AgentOutbox(anew, "node-a");
                outbox.record("default", "web", new ContainerPaused());
                EventEnvelope after = outbox.fetchUnsent(10).get(0).event();
                assertEquals(2, before.sequence());
                assertEquals(1, after.sequence(), "counters start again");
                assertTrue(after.incarnation() > before.incarnation(), before.incarnation() + " then " + after.incarnation());
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @Test
    void markingSentDeletesExactlyTheAcknowledgedRecordsAndTheStoredJsonIsWhatGetsPublished() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "bt-outbox");
        try (MetadataStore meta = new MetadataStore(dir.resolve("metadata.db"))) {
            AgentOutbox outbox = new AgentOutbox(meta, "node-a");
            for (int i = 0; i < 1200; i++) outbox.record("ns", "c-" + (i % 7), new ContainerPaused());
            List<OutboxRecord> batch = outbox.fetchUnsent(1000);
            assertEquals(1000, batch.size());
            List<MetadataStore.OutboxRow> stored = meta.unsentOutbox(1000);
            for (int i = 0; i < batch.size(); i++) {
                assertEquals(stored.get(i).envelope(), new String(batch.get(i).json(), StandardCharsets.UTF_8),
                        "the relay gets the stored JSON, not a re-encoding");
                assertEquals(EventCodec.decode(stored.get(i).envelope()), batch.get(i).event());
            }

            // Kafka acknowledged all but a few, scattered through the batch (first, middle, last included)
            Set<Integer> failed = Set.of(0, 1, 499, 500, 777, 999);
            List<Long> acked = new ArrayList<>();
            List<Long> unacked = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) (failed.contains(i) ? unacked : acked).add(batch.get(i).id());
            outbox.markSent(acked);

            List<Long> left = outbox.fetchUnsent(1000).stream().map(OutboxRecord::id).toList();
            List<Long> expected = new ArrayList<>(unacked);
            meta.unsentOutbox(2000).stream().map(MetadataStore.OutboxRow::id).filter(id -> id > batch.get(999).id()).forEach(expected::add);
            assertEquals(expected, left, "exactly the acknowledged records are gone; unacknowledged and unfetched ones stay");
            assertEquals(6 + 200, meta.outboxSize());

            outbox.markSent(unacked); // sent on the retry
            assertEquals(200, meta.outboxSize());
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @Test
    void aRowThatIsNotAnEventIsDeadLetteredAndHoldsUpNothingBehindIt() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "bt-outbox");
        String subject = "c-" + UUID.randomUUID();
        String broken = "{\"eventId\": \"" + UUID.randomUUID() + "\", \"type\": "; // cut short: not JSON
        try (MetadataStore meta = new MetadataStore(dir.resolve("metadata.db"))) {
            meta.appendOutbox(broken); // first in line: the relay once retried it forever, holding up everything
            new AgentOutbox(meta, "node-a").record("ns", subject, new ContainerPaused());
            KafkaSupport.ensureTopics(KAFKA);
            try (EventPublisher up = new EventPublisher(meta, "node-a", KAFKA, LOGIN, Duration.ZERO, "test")) {
                assertEquals(1, consume(Topics.CONTAINER_EVENTS, r -> subject.equals(r.key()), 1, Duration.ofSeconds(60)).size(),
                        "the event behind the broken row is published");
                List<ConsumerRecord<String, String>> dead = consume(Topics.DEAD_LETTER, r -> broken.equals(r.value()), 1, Duration.ofSeconds(60));
                assertEquals(1, dead.size(), "the broken row is dead-lettered once, unchanged");
                String reason = new String(dead.get(0).headers().lastHeader(Topics.DEAD_LETTER_REASON).value(), StandardCharsets.UTF_8);
                assertTrue(reason.contains("is not a valid event"), reason);
                for (int i = 0; i < 50 && meta.outboxSize() > 0; i++) Thread.sleep(100);
                assertEquals(0, meta.outboxSize(), "both rows leave the outbox");
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** The raw values published under {@code key}, in the order they were consumed. */
    private static List<String> consume(String key, int expected, Duration timeout) throws Exception {
        return consume(Topics.CONTAINER_EVENTS, r -> key.equals(r.key()), expected, timeout).stream().map(ConsumerRecord::value).toList();
    }

    /** The records of {@code topic} that {@code mine} accepts, in the order they were consumed. */
    private static List<ConsumerRecord<String, String>> consume(String topic, java.util.function.Predicate<ConsumerRecord<String, String>> mine,
                                                                int expected, Duration timeout) throws Exception {
        Properties p = new Properties();
        p.putAll(LOGIN.asMap());
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, KAFKA);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "outbox-test-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of(topic));
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    if (mine.test(r)) out.add(r);
                }
                if (out.size() >= expected) {
                    // a little longer: a duplicate would show up now
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofSeconds(2))) if (mine.test(r)) out.add(r);
                    break;
                }
            }
        }
        assertTrue(out.size() >= expected, "only " + out.size() + " of " + expected + " records arrived on " + topic);
        return out;
    }
}
