package dev.berth.events.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.testing.KafkaSupport;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/** The example consumer of docs/events.md runs against the real broker and does what the page says. */
class TailEventsTest {

    @Test
    void printsEachEventOnceFlagsLateOnesAndReportsMalformedRecords() throws Exception {
        String bootstrap = KafkaSupport.bootstrap();
        KafkaSupport.ensureTopics(bootstrap);
        String namespace = "tail-" + UUID.randomUUID();
        String id = "c-" + UUID.randomUUID();
        Instant t = Instant.parse("2025-03-01T10:00:00Z");
        EventEnvelope created = EventEnvelope.of(namespace, "node-a", id, 1, t, new ContainerCreated("reg/app:1", null, null));
        EventEnvelope started = EventEnvelope.of(namespace, "node-a", id, 2, t.plusSeconds(1), new ContainerStarted(7L, t.plusSeconds(1)));
        EventEnvelope exited = EventEnvelope.of(namespace, "node-a", id, 3, t.plusSeconds(2), new ContainerExited(0, null, false, t.plusSeconds(2)));

        String group = "tail-test-" + UUID.randomUUID();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        TailEvents tail = new TailEvents(new PrintStream(bytes, true, StandardCharsets.UTF_8), namespace);
        Thread reader = new Thread(() -> tail.run(bootstrap, KafkaSupport.login(), group, false, 3, Duration.ofSeconds(20)));
        reader.start();
        Thread.sleep(3_000); // a new group starts at the end of each partition: let it join first
        try (KafkaProducer<String, byte[]> producer = KafkaSupport.producer(bootstrap)) {
            for (EventEnvelope e : List.of(created, exited, started, exited)) { // started late, exited twice
                producer.send(new ProducerRecord<>(Topics.forEvent(e), Topics.key(e), EventCodec.encode(e))).get();
            }
            producer.send(new ProducerRecord<>(Topics.CONTAINER_EVENTS, id, "{}".getBytes(StandardCharsets.UTF_8))).get();
        }
        reader.join(30_000);

        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("MALFORMED")).toList();
        assertEquals(3, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).contains("container.created") && lines.get(0).contains(namespace + "/" + id + " #1"), lines.get(0));
        assertTrue(lines.get(1).contains("container.exited") && lines.get(1).contains("#3 {exitCode=0"), lines.get(1));
        assertTrue(lines.get(2).contains("container.started") && lines.get(2).contains("#2 (late: 3 already seen)"), lines.get(2));
    }
}
