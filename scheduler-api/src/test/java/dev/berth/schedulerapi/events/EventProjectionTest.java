package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventEnvelope;
import dev.berth.events.Topics;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ContainerResumed;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.ExecExited;
import dev.berth.events.payload.ExecStarted;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import dev.berth.events.testing.KafkaSupport;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The projection against the real broker and database: events go to the real topics, state is read over REST. */
@QuarkusTest
class EventProjectionTest {
    private final TestEvents events = new TestEvents();

    @AfterEach
    void close() {
        events.close();
    }

    private ValidatableResponse status(String id) {
        return given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/status", id).then();
    }

    private void awaitStatus(String id, long lastSequence) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                status(id).statusCode(200).body("lastSequence", equalTo((int) lastSequence)));
    }

    private List<String> timelineIds(String id) {
        return given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", id)
                .then().statusCode(200).extract().jsonPath().getList("items.eventId", String.class);
    }

    @Test
    void aWholeLifeIsProjectedIntoStateAndTimeline() {
        String id = events.containerId();
        Instant exitedAt = events.tick();
        List<EventEnvelope> life = List.of(
                events.container(id, 1, new ContainerCreated("registry.local/app:1", "sha256:aa", Map.of("tier", "web"))),
                events.container(id, 2, new ContainerStarted(4242L, events.tick())),
                events.container(id, 3, ExecStarted.of("e1", 4300L, List.of("sh"))),
                events.container(id, 4, new ExecExited("e1", 0, null, events.tick())),
                events.container(id, 5, new ContainerPaused()),
                events.container(id, 6, new ContainerResumed()),
                events.container(id, 7, new ContainerExited(137, "SIGKILL", true, exitedAt)));
        events.publish(life);
        awaitStatus(id, 7);
        status(id).body("status", equalTo("exited"))
                .body("exitCode", equalTo(137))
                .body("signal", equalTo("SIGKILL"))
                .body("oomKilled", equalTo(true))
                .body("exitedAt", equalTo(exitedAt.toString()))
                .body("image", equalTo("registry.local/app:1"))
                .body("node", equalTo(events.node))
                .body("lastEventType", equalTo("container.exited"));

        given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", id).then()
                .statusCode(200)
                .body("items.type", contains("container.created", "container.started", "exec.started", "exec.exited",
                        "container.paused", "container.resumed", "container.exited"))
                .body("items.sequence", contains(1, 2, 3, 4, 5, 6, 7))
                .body("items[6].payload.exitCode", equalTo(137))
                .body("items[6].payload.oomKilled", equalTo(true))
                .body("items[2].payload.execId", equalTo("e1"))
                .body("items[0].time", equalTo(life.get(0).time().toString()));

        events.publish(events.deleted(id, 8));
        awaitStatus(id, 8);
        status(id).body("status", equalTo("deleted")).body("exitCode", equalTo(137));
    }

    @Test
    void anEventIdSeenTwiceChangesNothing() {
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 3);
        events.publish(life);
        events.publish(life.get(2), life.get(1), life.get(0)); // redelivered, as after a relay retry
        events.publish(events.deleted(id, 4));                 // same partition, after them: a marker
        awaitStatus(id, 4);
        List<String> expected = List.of(life.get(0).eventId(), life.get(1).eventId(), life.get(2).eventId());
        List<String> timeline = timelineIds(id);
        assertEquals(expected, timeline.subList(0, 3), "each event once, in sequence order");
        assertEquals(4, timeline.size());
        given().queryParam("subjectId", id).get("/api/v1/events").then().body("items", hasSize(4));
        status(id).body("status", equalTo("deleted")).body("exitCode", equalTo(3));
    }

    @Test
    void aLateEventNeverOverwritesNewerState() {
        String exitedFirst = events.containerId();
        List<EventEnvelope> life = events.shortLife(exitedFirst, 2);
        events.publish(life.get(0), life.get(2), life.get(1)); // started (2) arrives after exited (3)
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertEquals(3, timelineIds(exitedFirst).size()));
        status(exitedFirst).statusCode(200)
                .body("status", equalTo("exited"))
                .body("exitCode", equalTo(2))
                .body("lastSequence", equalTo(3))
                .body("startedAt", equalTo(life.get(1).payloadAs(ContainerStarted.class).startedAt().toString()));
        assertEquals(List.of(life.get(0).eventId(), life.get(1).eventId(), life.get(2).eventId()), timelineIds(exitedFirst),
                "the timeline is in sequence order, not arrival order");

        String createdLate = events.containerId();
        List<EventEnvelope> other = events.shortLife(createdLate, 0);
        events.publish(other.get(1), other.get(0)); // created (1) after started (2): state stays running...
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertEquals(2, timelineIds(createdLate).size()));
        status(createdLate).body("status", equalTo("running"))
                .body("image", equalTo("registry.local/app:1")); // ...but the image it alone carries is kept
    }

    @Test
    void nodeStateFollowsTheNewestNodeEvent() {
        events.publish(events.nodeEvent(1, new NodeUp("0.1.0", null)),
                events.nodeEvent(2, new NodeHeartbeat(4)));
        EventEnvelope down = events.nodeEvent(4, new NodeDown("shutdown"));
        EventEnvelope lateHeartbeat = events.nodeEvent(3, new NodeHeartbeat(5));
        events.publish(down, lateHeartbeat);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                given().queryParam("node", events.node).get("/api/v1/events").then().body("items", hasSize(4)));
        given().get("/api/v1/nodes/{name}/status", events.node).then().statusCode(200)
                .body("status", equalTo("down"))
                .body("agentVersion", equalTo("0.1.0"))
                .body("containersRunning", equalTo(4))
                .body("lastSequence", equalTo(4));
    }

    @Test
    void aMalformedRecordIsDeadLetteredWithItsReasonAndConsumptionGoesOn() {
        Map<TopicPartition, Long> deadLetterEnd = KafkaSupport.endOffsets(KafkaSupport.bootstrap(), Topics.DEAD_LETTER);
        String id = events.containerId();
        String marker = "broken-" + id;
        events.publishRaw(id, ("{\"eventId\":\"" + marker + "\",\"type\":\"container.started\"}").getBytes(StandardCharsets.UTF_8));
        events.publishRaw(id, "not json at all".getBytes(StandardCharsets.UTF_8));
        events.publish(events.shortLife(id, 0)); // same key, same partition: behind the broken ones
        awaitStatus(id, 3);

        List<ConsumerRecord<String, byte[]>> dead = KafkaSupport.readAfter(KafkaSupport.bootstrap(), deadLetterEnd,
                r -> id.equals(r.key()), 2, Duration.ofMillis(500), Duration.ofSeconds(30));
        assertEquals(2, dead.size(), "both broken records, once each");
        ConsumerRecord<String, byte[]> first = dead.get(0).offset() < dead.get(1).offset() || dead.get(0).partition() != dead.get(1).partition()
                ? dead.get(0) : dead.get(1);
        String body = new String(first.value(), StandardCharsets.UTF_8);
        assertTrue(body.contains(marker), "the record as it was: " + body);
        assertEquals("schemaVersion is required", header(first, Topics.DEAD_LETTER_REASON));
        assertEquals(Topics.CONTAINER_EVENTS, header(first, Topics.DEAD_LETTER_TOPIC));
        assertTrue(dead.stream().anyMatch(r -> header(r, Topics.DEAD_LETTER_REASON).startsWith("not valid JSON")));
    }

    @Test
    void listingsFilterByNamespaceNodeTypeSubjectAndTime() {
        String a = events.containerId();
        String b = events.containerId();
        List<EventEnvelope> lifeA = events.shortLife(a, 0);
        List<EventEnvelope> lifeB = events.shortLife(b, 1);
        // Listings are in arrival order, and a and b are keyed to different partitions: B is
        // published only once A has arrived, so the order asserted below is the order of arrival.
        events.publish(lifeA);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                given().queryParam("namespace", events.namespace).get("/api/v1/events").then().body("items", hasSize(3)));
        events.publish(lifeB);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                given().queryParam("namespace", events.namespace).get("/api/v1/events").then().body("items", hasSize(6)));

        given().queryParam("namespace", events.namespace).queryParam("type", "container.exited").get("/api/v1/events")
                .then().statusCode(200).body("items.subjectId", contains(a, b)).body("items.payload.exitCode", contains(0, 1));
        given().queryParam("node", events.node).queryParam("subjectId", b).get("/api/v1/events")
                .then().body("items.sequence", contains(1, 2, 3));
        given().queryParam("namespace", events.namespace).queryParam("since", lifeB.get(0).time().toString()).get("/api/v1/events")
                .then().body("items.eventId", contains(lifeB.get(0).eventId(), lifeB.get(1).eventId(), lifeB.get(2).eventId()));
        given().queryParam("namespace", events.namespace).queryParam("limit", 2).get("/api/v1/events")
                .then().body("items.eventId", contains(lifeA.get(0).eventId(), lifeA.get(1).eventId())).body("more", equalTo(true));
        given().queryParam("namespace", "no-such-" + events.namespace).get("/api/v1/events").then().statusCode(200).body("items", hasSize(0));
    }

    @Test
    void errorsAreProblemDetails() {
        given().queryParam("since", "yesterday").get("/api/v1/events").then()
                .statusCode(400).contentType("application/problem+json")
                .body("status", equalTo(400))
                .body("type", equalTo("urn:berth:problem:invalid-parameter"))
                .body("detail", equalTo("since must be an ISO-8601 instant such as 2025-01-31T12:00:00Z, was 'yesterday'"));
        given().queryParam("type", "task.exit").get("/api/v1/events").then()
                .statusCode(400).contentType("application/problem+json");
        given().queryParam("limit", "0").get("/api/v1/events").then().statusCode(400).contentType("application/problem+json");
        given().get("/api/v1/containers/{id}/events", "no-such-container").then()
                .statusCode(404).contentType("application/problem+json")
                .body("title", equalTo("Not found"))
                .body("instance", equalTo("/api/v1/containers/no-such-container/events"));
        given().get("/api/v1/nodes/{name}/status", "no-such-node").then().statusCode(404).contentType("application/problem+json");
        given().get("/api/v1/no-such-thing").then().statusCode(404).contentType("application/problem+json")
                .body("status", equalTo(404))
                .body("detail", equalTo("nothing at /api/v1/no-such-thing; see the API's OpenAPI document for its paths"));
    }

    private static String header(ConsumerRecord<String, byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
