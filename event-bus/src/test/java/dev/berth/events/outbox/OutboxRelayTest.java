package dev.berth.events.outbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.testing.InMemoryOutbox;
import dev.berth.events.testing.KafkaSupport;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The relay against the real broker (dev services, 127.0.0.1:9092 unless -Dberth.kafka.bootstrap says otherwise). */
class OutboxRelayTest {
    private static final String BOOTSTRAP = KafkaSupport.bootstrap();

    @BeforeAll
    static void topics() throws Exception {
        KafkaSupport.ensureTopics(BOOTSTRAP);
    }

    private static List<String> ids(List<EventEnvelope> events) {
        return events.stream().map(EventEnvelope::eventId).toList();
    }

    private static OutboxRelay.Settings settings() {
        return KafkaSupport.relaySettings(BOOTSTRAP)
                .withClientId("relay-test-" + UUID.randomUUID())
                .withBatchSize(50)
                .withIdlePoll(Duration.ofMillis(50))
                .withBackoff(Duration.ofMillis(50), Duration.ofMillis(500));
    }

    /** Three events per container (created, started, exited), sequence 1..3, for {@code containers} containers. */
    private static List<EventEnvelope> lifecycles(String namespace, int containers) {
        List<EventEnvelope> events = new ArrayList<>();
        Instant t = Instant.now();
        for (int c = 0; c < containers; c++) {
            String id = "c" + c + "-" + UUID.randomUUID();
            events.add(EventEnvelope.of(namespace, "node-a", id, 1, t, new ContainerCreated("reg/app:1", null, null)));
            events.add(EventEnvelope.of(namespace, "node-a", id, 2, t, new ContainerStarted(100L + c, t)));
            events.add(EventEnvelope.of(namespace, "node-a", id, 3, t, new ContainerExited(c % 3, null, false, t)));
        }
        return events;
    }

    private static List<EventEnvelope> readBack(Map<TopicPartition, Long> from, String namespace, int expected) {
        List<ConsumerRecord<String, byte[]>> records = KafkaSupport.readAfter(BOOTSTRAP, from,
                r -> new String(r.value(), StandardCharsets.UTF_8).contains("\"namespace\":\"" + namespace + "\""),
                expected, Duration.ofSeconds(1), Duration.ofSeconds(30));
        List<EventEnvelope> events = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            try {
                EventEnvelope e = EventCodec.decode(r.value());
                assertEquals(e.subjectId(), r.key(), "keyed by subject id");
                assertEquals(e.eventId(), header(r, Topics.HEADER_EVENT_ID));
                assertEquals(e.type(), header(r, Topics.HEADER_TYPE));
                events.add(e);
            } catch (Exception ex) {
                throw new AssertionError(ex);
            }
        }
        return events;
    }

    private static String header(ConsumerRecord<String, byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static void awaitDrained(InMemoryOutbox outbox, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (outbox.unsentCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(0, outbox.unsentCount(), "every record acknowledged and marked sent");
    }

    @Test
    void producerIsIdempotentWithAcksAllAndAtMostFiveInFlight() {
        Map<String, Object> config = OutboxRelay.producerConfig(OutboxRelay.Settings.defaults(BOOTSTRAP)
                .withProducerOverrides(Map.of(ProducerConfig.ACKS_CONFIG, "1", ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 50,
                        ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false, ProducerConfig.LINGER_MS_CONFIG, 20)));
        assertEquals(true, config.get(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG));
        assertEquals("all", config.get(ProducerConfig.ACKS_CONFIG));
        assertEquals(5, config.get(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION));
        assertEquals(20, config.get(ProducerConfig.LINGER_MS_CONFIG), "other overrides are kept");
    }

    @Test
    void publishesEveryRecordKeyedByContainerInOrderAndMarksItSent() throws Exception {
        String namespace = "relay-" + UUID.randomUUID();
        Map<TopicPartition, Long> from = KafkaSupport.endOffsets(BOOTSTRAP, Topics.CONTAINER_EVENTS);
        InMemoryOutbox outbox = new InMemoryOutbox();
        List<EventEnvelope> events = lifecycles(namespace, 40);
        try (OutboxRelay relay = new OutboxRelay(outbox, settings()).start()) {
            outbox.addAll(events.subList(0, 60));
            relay.wakeUp();
            outbox.addAll(events.subList(60, events.size()));
            relay.wakeUp();
            awaitDrained(outbox, Duration.ofSeconds(30));
            assertEquals(events.size(), relay.publishedCount());
        }
        assertEquals(ids(events), ids(outbox.sent()), "marked sent in commit order");

        List<EventEnvelope> published = readBack(from, namespace, events.size());
        assertEquals(events.size(), published.size(), "each event once");
        assertEquals(Set.copyOf(ids(events)), Set.copyOf(ids(published)));
        assertTrue(published.containsAll(events), "published as committed");
        Map<String, Long> lastSequence = new HashMap<>();
        for (EventEnvelope e : published) { // read partition by partition: one container's events are in sequence
            long previous = lastSequence.getOrDefault(e.subjectId(), 0L);
            assertEquals(previous + 1, e.sequence(), "order of " + e.subjectId());
            lastSequence.put(e.subjectId(), e.sequence());
        }
    }

    @Test
    void aRecordWhoseMarkFailedIsSentAgainWithTheSameEventId() throws Exception {
        String namespace = "relay-" + UUID.randomUUID();
        Map<TopicPartition, Long> from = KafkaSupport.endOffsets(BOOTSTRAP, Topics.CONTAINER_EVENTS);
        InMemoryOutbox outbox = new InMemoryOutbox();
        List<EventEnvelope> events = lifecycles(namespace, 2);
        outbox.addAll(events);
        outbox.failNextMarks(1); // acknowledged by Kafka, but the agent "dies" before it records that
        try (OutboxRelay relay = new OutboxRelay(outbox, settings()).start()) {
            awaitDrained(outbox, Duration.ofSeconds(30));
            assertTrue(relay.failedAttempts() >= 1);
        }
        List<EventEnvelope> published = readBack(from, namespace, events.size() * 2);
        assertEquals(events.size() * 2, published.size(), "at least once: the unmarked batch went out twice");
        assertEquals(Set.copyOf(ids(events)), Set.copyOf(ids(published)), "...as the same events (same ids)");
    }

    @Test
    void keepsEverythingUnsentWhileTheBrokerCannotBeReachedAndStopsCleanly() throws Exception {
        InMemoryOutbox outbox = new InMemoryOutbox();
        outbox.addAll(lifecycles("relay-" + UUID.randomUUID(), 3));
        OutboxRelay.Settings unreachable = OutboxRelay.Settings.defaults("127.0.0.1:1") // nothing listens on port 1
                .withDeliveryTimeout(Duration.ofSeconds(2))
                .withBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
                .withStopTimeout(Duration.ofSeconds(5));
        OutboxRelay relay = new OutboxRelay(outbox, unreachable).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (relay.failedAttempts() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        long started = System.nanoTime();
        relay.close();
        assertTrue(Duration.ofNanos(System.nanoTime() - started).compareTo(Duration.ofSeconds(11)) < 0, "stopped within its stop timeout");
        assertTrue(relay.failedAttempts() >= 2, "retried with backoff");
        assertEquals(9, outbox.unsentCount(), "nothing marked sent without an acknowledgement");
        assertEquals(0, relay.publishedCount());
    }

    @Test
    void anOutboxRecordWithItsStoredJsonIsPublishedAsStoredNotReEncoded() throws Exception {
        String namespace = "relay-" + UUID.randomUUID();
        Map<TopicPartition, Long> from = KafkaSupport.endOffsets(BOOTSTRAP, Topics.CONTAINER_EVENTS);
        EventEnvelope event = lifecycles(namespace, 1).get(0);
        // a field this reader does not know, as a newer agent might store: a re-encoding would drop it
        String stored = EventCodec.encodeToString(event).replaceFirst("^\\{", "{\"storedBy\":\"agent-2\",");
        byte[] json = stored.getBytes(StandardCharsets.UTF_8);
        List<Long> marked = new ArrayList<>();
        Outbox outbox = new Outbox() {
            @Override
            public synchronized List<OutboxRecord> fetchUnsent(int max) throws Exception {
                return marked.isEmpty() ? List.of(new OutboxRecord(7, EventCodec.decode(json), json)) : List.of();
            }

            @Override
            public synchronized void markSent(List<Long> ids) {
                marked.addAll(ids);
            }
        };
        try (OutboxRelay relay = new OutboxRelay(outbox, settings()).start()) {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (relay.publishedCount() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        }
        assertEquals(List.of(7L), marked);
        List<ConsumerRecord<String, byte[]>> records = KafkaSupport.readAfter(BOOTSTRAP, from,
                r -> new String(r.value(), StandardCharsets.UTF_8).contains(event.eventId()), 1, Duration.ofSeconds(1), Duration.ofSeconds(30));
        assertEquals(1, records.size());
        assertEquals(stored, new String(records.get(0).value(), StandardCharsets.UTF_8));
        assertEquals(event.eventId(), header(records.get(0), Topics.HEADER_EVENT_ID));
    }

    @Test
    void aRecordOfUnknownTypeGoesToTheDeadLetterTopicInsteadOfBlockingTheOutbox() throws Exception {
        String namespace = "relay-" + UUID.randomUUID();
        Map<TopicPartition, Long> from = KafkaSupport.endOffsets(BOOTSTRAP, Topics.DEAD_LETTER);
        InMemoryOutbox outbox = new InMemoryOutbox();
        EventEnvelope bogus = new EventEnvelope(UUID.randomUUID().toString(), "task.oops", 1, namespace, "node-a", 0, "c1", 1,
                Instant.now(), Map.of());
        outbox.add(bogus);
        outbox.addAll(lifecycles(namespace, 1));
        try (OutboxRelay relay = new OutboxRelay(outbox, settings()).start()) {
            awaitDrained(outbox, Duration.ofSeconds(30));
        }
        List<ConsumerRecord<String, byte[]>> dead = KafkaSupport.readAfter(BOOTSTRAP, from,
                r -> new String(r.value(), StandardCharsets.UTF_8).contains(bogus.eventId()), 1, Duration.ZERO, Duration.ofSeconds(30));
        assertEquals(1, dead.size());
        assertEquals("outbox relay: unknown event type 'task.oops'", header(dead.get(0), Topics.DEAD_LETTER_REASON));
    }

    @Test
    void aRecordTheBrokerRefusesAsTooLargeIsDeadLetteredAndTheContainersLaterEventsGoOutInOrder() throws Exception {
        // the producer would take 8 MiB; the broker keeps its default limit of about 1 MiB
        relaysPastARecordTooLarge(settings().withProducerOverrides(Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 8 << 20)));
    }

    @Test
    void aRecordTheProducerRefusesAsTooLargeIsDeadLetteredAndTheContainersLaterEventsGoOutInOrder() throws Exception {
        relaysPastARecordTooLarge(settings()); // max.request.size 1 MiB: refused before it leaves the producer
    }

    /** A container whose created event carries 2 MiB of labels, then started and exited; and a second container. */
    private static void relaysPastARecordTooLarge(OutboxRelay.Settings settings) throws Exception {
        String namespace = "relay-" + UUID.randomUUID();
        Map<TopicPartition, Long> eventsFrom = KafkaSupport.endOffsets(BOOTSTRAP, Topics.CONTAINER_EVENTS);
        Map<TopicPartition, Long> deadFrom = KafkaSupport.endOffsets(BOOTSTRAP, Topics.DEAD_LETTER);
        List<EventEnvelope> events = lifecycles(namespace, 2);
        EventEnvelope small = events.get(0);
        EventEnvelope huge = EventEnvelope.of(namespace, small.node(), small.subjectId(), 1, small.time(),
                new ContainerCreated("reg/app:1", null, Map.of("blob", "x".repeat(2 << 20))));
        events.set(0, huge);
        InMemoryOutbox outbox = new InMemoryOutbox();
        outbox.addAll(events);
        try (OutboxRelay relay = new OutboxRelay(outbox, settings).start()) {
            awaitDrained(outbox, Duration.ofSeconds(60));
            assertEquals(1, relay.deadLetteredCount());
            assertEquals(events.size(), relay.publishedCount(), "the refused record counts as handled");
        }

        List<EventEnvelope> published = readBack(eventsFrom, namespace, events.size() - 1);
        for (String container : Set.of(events.get(0).subjectId(), events.get(3).subjectId())) { // in order per container
            assertEquals(ids(events.subList(1, events.size()).stream().filter(e -> e.subjectId().equals(container)).toList()),
                    ids(published.stream().filter(e -> e.subjectId().equals(container)).toList()), "everything else, in order");
        }
        assertEquals(events.size() - 1, published.size());
        List<ConsumerRecord<String, byte[]>> dead = KafkaSupport.readAfter(BOOTSTRAP, deadFrom,
                r -> huge.eventId().equals(header(r, Topics.HEADER_EVENT_ID)), 1, Duration.ZERO, Duration.ofSeconds(30));
        assertEquals(1, dead.size());
        ConsumerRecord<String, byte[]> copy = dead.get(0);
        assertEquals(huge.subjectId(), copy.key());
        assertEquals(Topics.CONTAINER_EVENTS, header(copy, Topics.DEAD_LETTER_TOPIC));
        String reason = header(copy, Topics.DEAD_LETTER_REASON);
        assertTrue(reason.startsWith("outbox relay: Kafka refused the record for good (RecordTooLargeException: "), reason);
        assertTrue(reason.endsWith(EventCodec.encode(huge).length + " bytes, the value cut to its first 65536"), reason);
        assertEquals(RelayRecords.DEAD_LETTER_VALUE_LIMIT, copy.value().length);
        assertTrue(new String(copy.value(), StandardCharsets.UTF_8).startsWith("{\"eventId\":\"" + huge.eventId() + "\""),
                "the start of the record as it was");
    }
}
