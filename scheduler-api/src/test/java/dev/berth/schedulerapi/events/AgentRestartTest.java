package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.outbox.OutboxRelay;
import dev.berth.events.testing.InMemoryOutbox;
import dev.berth.events.testing.KafkaSupport;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * The node agent killed between its local commit and the publish, and again between the publish and marking the
 * outbox sent: nothing is lost (the outbox keeps it), the repeat reaches Kafka with the same event ids, and the
 * projection counts each event once.
 */
@QuarkusTest
class AgentRestartTest {

    @Test
    void eventsCommittedBeforeACrashArePublishedAfterItAndProjectedOnce() throws Exception {
        Map<TopicPartition, Long> topicEnd = KafkaSupport.endOffsets(KafkaSupport.bootstrap(), Topics.CONTAINER_EVENTS);
        InMemoryOutbox outbox = new InMemoryOutbox();
        List<String> ids = new ArrayList<>();
        List<EventEnvelope> committed = new ArrayList<>();
        try (TestEvents events = new TestEvents()) {
            for (int i = 0; i < 20; i++) { // committed locally; the agent dies before any publish
                String id = events.containerId();
                ids.add(id);
                committed.addAll(events.shortLife(id, i));
            }
            outbox.addAll(committed);

            outbox.failNextMarks(2); // restarted agent: publishes, then "dies" twice before recording it
            OutboxRelay.Settings settings = KafkaSupport.relaySettings(KafkaSupport.bootstrap())
                    .withClientId("agent-restart-" + UUID.randomUUID())
                    .withBatchSize(25)
                    .withBackoff(Duration.ofMillis(50), Duration.ofMillis(200));
            try (OutboxRelay relay = new OutboxRelay(outbox, settings).start()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> outbox.unsentCount() == 0);
                assertTrue(relay.failedAttempts() >= 2);
            }

            List<ConsumerRecord<String, byte[]>> onTopic = KafkaSupport.readAfter(KafkaSupport.bootstrap(), topicEnd,
                    r -> new String(r.value(), StandardCharsets.UTF_8).contains(events.namespace), committed.size() + 50,
                    Duration.ofSeconds(1), Duration.ofSeconds(10));
            HashSet<String> distinct = new HashSet<>();
            for (ConsumerRecord<String, byte[]> r : onTopic) {
                distinct.add(EventCodec.decode(r.value()).eventId());
            }
            assertEquals(committed.size(), distinct.size(), "every committed event reached Kafka");
            assertTrue(onTopic.size() >= committed.size() + 50, "the unmarked batches went out twice: " + onTopic.size());

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    given().queryParam("namespace", events.namespace).queryParam("limit", 1000).get("/api/v1/events")
                            .then().body("items.size()", equalTo(committed.size())));
            for (int i = 0; i < ids.size(); i++) {
                given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", ids.get(i))
                        .then().body("items.sequence", contains(1, 2, 3));
                given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/status", ids.get(i))
                        .then().body("status", equalTo("exited")).body("exitCode", equalTo(i));
            }
        }
    }
}
