package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeUp;
import dev.berth.events.testing.KafkaSupport;
import dev.berth.schedulerapi.events.projection.BatchProjection;
import dev.berth.schedulerapi.events.projection.EventProjector;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The projection against the real broker and database where the events themselves are the trouble: one container
 * id on two nodes, an agent whose store was made anew, a forged sequence, data Postgres cannot keep.
 */
@QuarkusTest
@TestProfile(OwnTopics.class)
class NodesResetsAndPoisonTest {
    private final TestEvents events = new TestEvents(OwnTopics.PREFIX);

    @Inject
    BatchProjection projection;

    @BeforeAll
    static void topics() throws Exception {
        OwnTopics.create();
    }

    @AfterEach
    void close() {
        events.close();
    }

    private static long micros(Instant t) {
        return t.getEpochSecond() * 1_000_000 + t.getNano() / 1_000;
    }

    private ValidatableResponse status(String id, String node) {
        return given().queryParam("namespace", events.namespace).queryParam("node", node)
                .get("/api/v1/containers/{id}/status", id).then();
    }

    private void awaitStatus(String id, String node, String status, long lastSequence) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                status(id, node).statusCode(200).body("status", equalTo(status)).body("lastSequence", equalTo((int) lastSequence)));
    }

    private List<ConsumerRecord<String, byte[]>> deadLetters(Map<TopicPartition, Long> from, String key, int expected) {
        return KafkaSupport.readAfter(KafkaSupport.bootstrap(), from, r -> key.equals(r.key()), expected,
                Duration.ofMillis(500), Duration.ofSeconds(30));
    }

    private static String header(ConsumerRecord<String, byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void oneContainerIdOnTwoNodesKeepsTwoStates() {
        String id = "web-" + UUID.randomUUID();
        String otherNode = "node-" + UUID.randomUUID();
        List<EventEnvelope> here = events.shortLife(id, 0);
        List<EventEnvelope> there = List.of(
                EventEnvelope.of(events.namespace, otherNode, id, 1, events.tick(), new ContainerCreated("registry.local/db:2", null, null)),
                EventEnvelope.of(events.namespace, otherNode, id, 2, events.tick(), new ContainerStarted(9L, events.tick())),
                EventEnvelope.of(events.namespace, otherNode, id, 3, events.tick(), new ContainerExited(7, null, false, events.tick())));
        events.publish(here);
        events.publish(there);
        awaitStatus(id, events.node, "exited", 3);
        awaitStatus(id, otherNode, "exited", 3);
        status(id, events.node).body("exitCode", equalTo(0)).body("image", equalTo("registry.local/app:1"))
                .body("node", equalTo(events.node));
        status(id, otherNode).body("exitCode", equalTo(7)).body("image", equalTo("registry.local/db:2"))
                .body("node", equalTo(otherNode));
        given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/status", id).then()
                .statusCode(409).contentType("application/problem+json");
        given().queryParam("namespace", events.namespace).queryParam("node", otherNode)
                .get("/api/v1/containers/{id}/events", id).then().statusCode(200)
                .body("items.eventId", contains(there.get(0).eventId(), there.get(1).eventId(), there.get(2).eventId()));
    }

    @Test
    void anAgentWhoseStoreWasMadeAnewIsNotLateAndTheOldLifeNoLongerCounts() {
        String id = "web-" + UUID.randomUUID();
        long before = micros(Instant.now().minus(1, ChronoUnit.DAYS));
        long anew = micros(Instant.now());
        List<EventEnvelope> oldLife = events.shortLife(id, 1).stream().map(e -> e.withIncarnation(before)).toList();
        events.publish(oldLife);
        awaitStatus(id, events.node, "exited", 3);

        // the store is lost: counters start at 1 again, under a later incarnation
        EventEnvelope created = events.container(id, 1, new ContainerCreated("registry.local/app:2", null, null)).withIncarnation(anew);
        EventEnvelope started = events.container(id, 2, new ContainerStarted(77L, events.tick())).withIncarnation(anew);
        EventEnvelope lateOfOldLife = events.container(id, 4, new ContainerDeleted()).withIncarnation(before);
        events.publish(created, started, lateOfOldLife);
        EventEnvelope marker = events.container(id, 3, new ContainerExited(5, null, false, events.tick())).withIncarnation(anew);
        events.publish(marker);
        awaitStatus(id, events.node, "exited", 3);
        status(id, events.node).body("exitCode", equalTo(5))
                .body("image", equalTo("registry.local/app:2"))          // nothing of the old life is kept
                .body("startedAt", equalTo(started.payloadAs(ContainerStarted.class).startedAt().toString()))
                .body("lastEventId", equalTo(marker.eventId()));
        given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", id).then().statusCode(200)
                .body("items.eventId", contains(oldLife.get(0).eventId(), oldLife.get(1).eventId(), oldLife.get(2).eventId(),
                        lateOfOldLife.eventId(), created.eventId(), started.eventId(), marker.eventId()));

        EventEnvelope down = events.nodeEvent(9, new NodeDown("store lost")).withIncarnation(before);
        EventEnvelope upAgain = events.nodeEvent(1, new NodeUp("0.3.0", null)).withIncarnation(anew);
        events.publish(down, upAgain);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                given().get("/api/v1/nodes/{name}/status", events.node).then().statusCode(200)
                        .body("status", equalTo("up")).body("agentVersion", equalTo("0.3.0")).body("lastSequence", equalTo(1)));
    }

    @Test
    void aForgedSequenceOrIncarnationIsDeadLetteredAndTheContainerGoesOn() {
        Map<TopicPartition, Long> deadFrom = KafkaSupport.endOffsets(KafkaSupport.bootstrap(), OwnTopics.deadLetter());
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 3);
        EventEnvelope forged = events.container(id, Long.MAX_VALUE, new ContainerExited(0, null, false, events.tick()));
        EventEnvelope fromTheFuture = events.container(id, 1, new ContainerDeleted())
                .withIncarnation(micros(Instant.now().plus(3650, ChronoUnit.DAYS)));
        events.publish(life.get(0), life.get(1), forged, fromTheFuture, life.get(2));
        awaitStatus(id, events.node, "exited", 3);
        status(id, events.node).body("exitCode", equalTo(3)).body("lastEventId", equalTo(life.get(2).eventId()));
        given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", id).then()
                .body("items.sequence", contains(1, 2, 3));

        List<ConsumerRecord<String, byte[]>> dead = deadLetters(deadFrom, id, 2);
        assertEquals(2, dead.size(), "both, once each");
        String forgedReason = dead.stream().filter(r -> new String(r.value(), StandardCharsets.UTF_8).contains(forged.eventId()))
                .map(r -> header(r, Topics.DEAD_LETTER_REASON)).findFirst().orElseThrow();
        assertTrue(forgedReason.startsWith("sequence 9223372036854775807 is more than 1000000 (berth.events.max-sequence-jump) past 2"),
                forgedReason);
        String futureReason = dead.stream().filter(r -> new String(r.value(), StandardCharsets.UTF_8).contains(fromTheFuture.eventId()))
                .map(r -> header(r, Topics.DEAD_LETTER_REASON)).findFirst().orElseThrow();
        assertTrue(futureReason.contains("(berth.events.max-incarnation-ahead): no agent store was created then"), futureReason);
        assertEquals(OwnTopics.PREFIX + Topics.CONTAINER_EVENTS, header(dead.get(0), Topics.DEAD_LETTER_TOPIC));
    }

    @Test
    void dataPostgresCannotKeepIsDeadLetteredAndThePartitionGoesOn() {
        Map<TopicPartition, Long> deadFrom = KafkaSupport.endOffsets(KafkaSupport.bootstrap(), OwnTopics.deadLetter());
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 6);
        String nul = EventCodec.encodeToString(life.get(0)).replace("registry.local/app:1", "registry.local/app\\u0000:1")
                .replace(life.get(0).eventId(), "nul-" + id);
        String farFuture = EventCodec.encodeToString(life.get(1)).replace(life.get(1).time().toString(), "+10000-01-01T00:00:00Z")
                .replace(life.get(1).eventId(), "future-" + id);
        events.publishRaw(id, nul.getBytes(StandardCharsets.UTF_8));
        events.publishRaw(id, farFuture.getBytes(StandardCharsets.UTF_8));
        events.publish(life); // same key, same partition: behind them
        awaitStatus(id, events.node, "exited", 3);
        status(id, events.node).body("image", equalTo("registry.local/app:1")).body("exitCode", equalTo(6));

        List<ConsumerRecord<String, byte[]>> dead = deadLetters(deadFrom, id, 2);
        assertEquals(2, dead.size());
        List<String> reasons = dead.stream().map(r -> header(r, Topics.DEAD_LETTER_REASON)).sorted().toList();
        assertTrue(reasons.get(0).startsWith("payload of container.created: field 'image' contains a NUL character"), reasons.get(0));
        assertTrue(reasons.get(1).startsWith("time is +10000-01-01T00:00:00Z: instants must be within the years 1 to 9999"), reasons.get(1));
    }

    @Test
    void anEventPostgresRefusesIsSingledOutOfItsBatchAndTheRestIsProjected() {
        String good = events.containerId();
        String bad = events.containerId();
        // built here, not decoded, so nothing before Postgres turns it away
        EventEnvelope refused = events.container(bad, 1, new ContainerCreated("registry.local/app\u0000:1", null, null));
        List<EventEnvelope> life = events.shortLife(good, 2);
        List<EventProjector.Incoming> batch = TestEvents.incoming(List.of(life.get(0), refused, life.get(1), life.get(2)));
        EventProjector.Projected projected = projection.project(batch).await().atMost(Duration.ofSeconds(30));
        assertEquals(life, projected.fresh());
        assertEquals(List.of(refused.eventId()), List.copyOf(projected.poisoned().keySet()));
        String reason = projected.poisoned().get(refused.eventId());
        // a NUL: the state row's text column (22021) or the event's jsonb payload (22P05), whichever is written first
        assertTrue(reason.startsWith("Postgres refused the event: ") && reason.matches(".*\\(SQLSTATE 22(021|P05)\\)$"), reason);
        status(good, events.node).statusCode(200).body("status", equalTo("exited")).body("exitCode", equalTo(2));
        status(bad, events.node).statusCode(404);
        given().queryParam("subjectId", bad).get("/api/v1/events").then().body("items", hasSize(0));
    }
}
