package dev.berth.schedulerapi.events;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.testing.KafkaSupport;
import dev.berth.schedulerapi.events.projection.EventProjector;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Events for tests, in a namespace of their own so runs against the shared broker and database never collide,
 * and a plain producer to put them on the real topics exactly in the order a test wants.
 */
public final class TestEvents implements AutoCloseable {
    public final String namespace = "t-" + UUID.randomUUID();
    public final String node = "node-" + UUID.randomUUID();
    private final KafkaProducer<String, byte[]> producer = KafkaSupport.producer(KafkaSupport.bootstrap());
    private final String topicPrefix;
    // strictly increasing, whole microseconds: what Postgres keeps of an instant
    private final AtomicLong clock = new AtomicLong(Instant.now().truncatedTo(ChronoUnit.MICROS).toEpochMilli() * 1000);

    /** Events for Berth's own topics. */
    public TestEvents() {
        this("");
    }

    /** Events for topics of a test's own, named {@code topicPrefix} + Berth's name (see {@link OwnTopics}). */
    public TestEvents(String topicPrefix) {
        this.topicPrefix = topicPrefix;
    }

    private String topic(EventEnvelope e) {
        return topicPrefix + Topics.forEvent(e);
    }

    public String containerId() {
        return "c-" + UUID.randomUUID();
    }

    public Instant tick() {
        long micros = clock.addAndGet(1000);
        return Instant.ofEpochSecond(0, micros * 1000);
    }

    public EventEnvelope container(String id, long sequence, Record payload) {
        return EventEnvelope.of(namespace, node, id, sequence, tick(), payload);
    }

    public EventEnvelope nodeEvent(long sequence, Record payload) {
        return EventEnvelope.of(null, node, node, sequence, tick(), payload);
    }

    /** created, started, exited with {@code exitCode}: the three events of a short container life. */
    /** Events as the projector takes them when no Kafka record is behind them (no provenance). */
    public static List<EventProjector.Incoming> incoming(List<EventEnvelope> batch) {
        return batch.stream().map(e -> new EventProjector.Incoming(e, null)).toList();
    }

    public List<EventEnvelope> shortLife(String id, int exitCode) {
        List<EventEnvelope> events = new ArrayList<>();
        Instant t = tick();
        events.add(container(id, 1, new ContainerCreated("registry.local/app:1", null, null)));
        events.add(container(id, 2, new ContainerStarted(1000L, t)));
        events.add(container(id, 3, new ContainerExited(exitCode, null, false, tick())));
        return events;
    }

    public EventEnvelope deleted(String id, long sequence) {
        return container(id, sequence, new ContainerDeleted());
    }

    /** Sends the events in this order, each to its topic keyed by subject id, and waits for the broker's acks. */
    public void publish(EventEnvelope... events) {
        publish(List.of(events));
    }

    public void publish(List<EventEnvelope> events) {
        try {
            for (EventEnvelope e : events) {
                producer.send(new ProducerRecord<>(topic(e), Topics.key(e), EventCodec.encode(e))).get();
            }
        } catch (Exception e) {
            throw new IllegalStateException("publishing test events failed", e);
        }
    }

    /** Sends the events in this order without waiting between them, so the consumer most likely polls them together. */
    public void publishTogether(List<EventEnvelope> events) {
        try {
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            for (EventEnvelope e : events) {
                sent.add(producer.send(new ProducerRecord<>(topic(e), Topics.key(e), EventCodec.encode(e))));
            }
            producer.flush();
            for (var s : sent) {
                s.get();
            }
        } catch (Exception e) {
            throw new IllegalStateException("publishing test events failed", e);
        }
    }

    /** Sends raw bytes to the container topic, keyed like a container's events. */
    public void publishRaw(String key, byte[] value) {
        try {
            producer.send(new ProducerRecord<>(topicPrefix + Topics.CONTAINER_EVENTS, key, value)).get();
        } catch (Exception e) {
            throw new IllegalStateException("publishing a raw record failed", e);
        }
    }

    @Override
    public void close() {
        producer.close();
    }
}
