package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.events.EventEnvelope;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import dev.berth.schedulerapi.events.projection.ConcurrentProjectionException;
import dev.berth.schedulerapi.events.projection.EventProjector;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One batch (one transaction) holding repeats and out-of-order sequences of the same container: each event is
 * stored once, the state is what the newest sequence says, a late event still fills missing facts, and what the
 * projector reports as new (what the stream announces) is each event once, in arrival order.
 */
@QuarkusTest
class BatchProjectionTest {
    private final TestEvents events = new TestEvents();

    @Inject
    EventProjector projector;

    @Inject
    Pool pool;

    @AfterEach
    void close() {
        events.close();
    }

    private List<EventEnvelope> project(List<EventEnvelope> batch) {
        return projector.project(TestEvents.incoming(batch)).await().atMost(Duration.ofSeconds(30)).fresh();
    }

    private ValidatableResponse status(String id) {
        return given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/status", id).then().statusCode(200);
    }

    private ValidatableResponse timeline(String id) {
        return given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/events", id).then().statusCode(200);
    }

    @Test
    void aBatchWithRepeatsAndLateEventsOfOneContainerProjectsEachEventOnceAndTheNewestState() {
        String id = events.containerId();
        Instant startedAt = events.tick();
        Instant exitedAt = events.tick();
        EventEnvelope created = events.container(id, 1, new ContainerCreated("registry.local/app:2", "sha256:bb", null));
        EventEnvelope started = events.container(id, 2, new ContainerStarted(77L, startedAt));
        EventEnvelope paused = events.container(id, 3, new ContainerPaused());
        EventEnvelope exited = events.container(id, 4, new ContainerExited(9, null, false, exitedAt));

        // exited before the rest, started before created, two repeats, and a late paused behind the exit
        List<EventEnvelope> fresh = project(List.of(exited, started, exited, created, started, paused));
        assertEquals(List.of(exited, started, created, paused), fresh, "each new event once, in arrival order");

        status(id).body("status", equalTo("exited"))
                .body("exitCode", equalTo(9))
                .body("exitedAt", equalTo(exitedAt.toString()))
                .body("lastSequence", equalTo(4))
                .body("lastEventId", equalTo(exited.eventId()))
                .body("image", equalTo("registry.local/app:2"))          // from the late created
                .body("createdAt", equalTo(created.time().toString()))
                .body("startedAt", equalTo(startedAt.toString()));        // from the late started
        timeline(id).body("items.sequence", contains(1, 2, 3, 4))
                .body("items.eventId", contains(created.eventId(), started.eventId(), paused.eventId(), exited.eventId()));

        // the same batch again, as after a crash before the offsets were committed: nothing new, nothing changed
        assertEquals(List.of(), project(List.of(exited, started, exited, created, started, paused)));
        status(id).body("status", equalTo("exited")).body("lastSequence", equalTo(4));
        timeline(id).body("items.sequence", contains(1, 2, 3, 4));
    }

    @Test
    void aLaterBatchWithOlderEventsFillsFactsButNeverMovesTheStatusBack() {
        String id = events.containerId();
        Instant startedAt = events.tick();
        EventEnvelope created = events.container(id, 1, new ContainerCreated("registry.local/app:3", null, null));
        EventEnvelope started = events.container(id, 2, new ContainerStarted(5L, startedAt));
        EventEnvelope exited = events.container(id, 3, new ContainerExited(1, null, false, events.tick()));
        EventEnvelope restarted = events.container(id, 4, new ContainerStarted(6L, events.tick()));
        assertEquals(List.of(restarted), project(List.of(restarted)));
        status(id).body("status", equalTo("running")).body("image", nullValue());

        assertEquals(List.of(exited, created, started), project(List.of(exited, created, restarted, started)));
        status(id).body("status", equalTo("running"))
                .body("exitCode", nullValue())                              // the exit (3) is older than the restart (4)
                .body("lastSequence", equalTo(4))
                .body("startedAt", equalTo(restarted.payloadAs(ContainerStarted.class).startedAt().toString()))
                .body("image", equalTo("registry.local/app:3"));
        timeline(id).body("items.sequence", contains(1, 2, 3, 4));
    }

    @Test
    void nodeEventsInOneBatchLeaveTheNewestNodeState() {
        EventEnvelope up = events.nodeEvent(1, new NodeUp("0.2.0", null));
        EventEnvelope beat = events.nodeEvent(2, new NodeHeartbeat(3));
        EventEnvelope laterBeat = events.nodeEvent(3, new NodeHeartbeat(7));
        assertEquals(List.of(laterBeat, up, beat), project(List.of(laterBeat, up, beat, laterBeat)));
        given().get("/api/v1/nodes/{name}/status", events.node).then().statusCode(200)
                .body("status", equalTo("up"))
                .body("containersRunning", equalTo(7))
                .body("lastSequence", equalTo(3));
    }

    @Test
    void repeatsAndLateEventsSentTogetherThroughKafka() {
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 4);
        EventEnvelope deleted = events.deleted(id, 4);
        // most likely one poll, so one batch; whatever the split, the outcome must be the same
        events.publishTogether(List.of(life.get(2), deleted, life.get(0), life.get(2), life.get(1), deleted, life.get(0)));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> timeline(id).body("items.sequence", contains(1, 2, 3, 4)));
        status(id).body("status", equalTo("deleted"))
                .body("exitCode", equalTo(4))
                .body("lastSequence", equalTo(4))
                .body("image", equalTo("registry.local/app:1"));
        // the feed is in arrival order (one partition, so Kafka's order), each event where it first came
        given().queryParam("subjectId", id).get("/api/v1/events").then().body("items.eventId",
                contains(life.get(2).eventId(), deleted.eventId(), life.get(0).eventId(), life.get(1).eventId()));
    }

    /**
     * A redelivery racing its original: another transaction inserts one of the batch's events after the batch
     * looked for it (here the test's own, held open until the batch waits on it, then committed). The batch must
     * roll back whole, its state rows included, say why, and project the rest when retried.
     */
    @Test
    void aBatchRacingAnotherTransactionWithOneOfItsEventsRollsBackWholeAndItsRetryProjectsTheRest() throws Exception {
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 3);
        project(life.subList(0, 1));
        List<EventEnvelope> batch = life.subList(1, 3);
        try (UncommittedEvent other = new UncommittedEvent(pool, batch.get(1))) {
            CompletableFuture<EventProjector.Projected> first = projector.project(TestEvents.incoming(batch)).subscribeAsCompletionStage();
            other.awaitSomeoneWaiting();
            other.commit();

            ExecutionException refused = assertThrows(ExecutionException.class, () -> first.get(30, TimeUnit.SECONDS));
            assertInstanceOf(ConcurrentProjectionException.class, refused.getCause(), refused.toString());
            status(id).body("status", equalTo("created")).body("lastSequence", equalTo(1)); // rolled back whole
            assertEquals(List.of(batch.get(0)), project(batch), "the retry projects what the other did not");
            status(id).body("status", equalTo("running")).body("lastSequence", equalTo(2));
        }
    }
}
