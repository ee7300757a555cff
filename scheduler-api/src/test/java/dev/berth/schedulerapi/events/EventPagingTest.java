package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.berth.events.EventEnvelope;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ExecStarted;
import dev.berth.schedulerapi.events.projection.EventProjector;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.specification.RequestSpecification;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Paging with the {@code continue} token: the feed in arrival order, where a late event, a crowd of events with one
 * time and two overlapping projections cannot make a reader skip or stall, and a container's timeline in bounded
 * pages. Events are projected straight through the projector, each test in a namespace of its own.
 */
@QuarkusTest
class EventPagingTest {
    private final TestEvents events = new TestEvents();

    @Inject
    EventProjector projector;

    @Inject
    Pool pool;

    @AfterEach
    void close() {
        events.close();
    }

    private void project(List<EventEnvelope> batch) {
        projector.project(TestEvents.incoming(batch)).await().atMost(Duration.ofSeconds(30));
    }

    private JsonPath page(String path, UnaryOperator<RequestSpecification> query, String continueToken, Object... pathParams) {
        RequestSpecification request = query.apply(given());
        if (continueToken != null) {
            request = request.queryParam("continue", continueToken);
        }
        return request.get(path, pathParams).then().statusCode(200).extract().jsonPath();
    }

    /** Follows {@code continue} from {@code from} (null: the first event) until a page says no more; every id read, in order. */
    private List<String> readAll(String path, UnaryOperator<RequestSpecification> query, String from, Object... pathParams) {
        List<String> ids = new ArrayList<>();
        String token = from;
        for (int pages = 0; pages < 100; pages++) {
            JsonPath page = page(path, query, token, pathParams);
            ids.addAll(page.getList("items.eventId", String.class));
            token = page.getString("continue");
            if (!page.getBoolean("more")) {
                return ids;
            }
        }
        return fail("still more after 100 pages, the cursor does not move: " + ids.size() + " events read");
    }

    private static List<String> ids(List<EventEnvelope> events) {
        return events.stream().map(EventEnvelope::eventId).toList();
    }

    @Test
    void anEventThatHappenedBeforeTheReadersPlaceButArrivedAfterItIsNotSkipped() {
        String id = events.containerId();
        List<EventEnvelope> life = events.shortLife(id, 0);
        EventEnvelope early = events.container(events.containerId(), 1, new ContainerCreated("registry.local/late:1", null, null));
        EventEnvelope happenedFirst = new EventEnvelope(early.eventId(), early.type(), early.schemaVersion(), early.namespace(),
                early.node(), early.incarnation(), early.subjectId(), early.sequence(), life.get(0).time().minusSeconds(60), early.payload());
        project(life);

        UnaryOperator<RequestSpecification> inNamespace = r -> r.queryParam("namespace", events.namespace);
        JsonPath first = page("/api/v1/events", inNamespace, null);
        assertEquals(ids(life), first.getList("items.eventId", String.class));
        assertFalse(first.getBoolean("more"), "the page holds all there is");
        String token = first.getString("continue");
        assertNotNull(token, "a page with items says where to go on from");

        JsonPath nothingYet = page("/api/v1/events", inNamespace, token);
        assertEquals(List.of(), nothingYet.getList("items"));
        assertEquals(token, nothingYet.getString("continue"), "an empty page keeps the poller's place");

        project(List.of(happenedFirst)); // a minute older than everything the reader has seen, arriving now
        JsonPath late = page("/api/v1/events", inNamespace, token);
        assertEquals(List.of(happenedFirst.eventId()), late.getList("items.eventId", String.class));
        assertFalse(late.getBoolean("more"));
    }

    @Test
    void moreEventsOfOneTimeThanAPageHoldsArePagedThroughEachOnce() {
        Instant sameTime = events.tick();
        String id = events.containerId();
        List<EventEnvelope> crowd = new ArrayList<>();
        for (int i = 1; i <= 7; i++) {
            crowd.add(EventEnvelope.of(events.namespace, events.node, id, i, sameTime, ExecStarted.of("e" + i, 100L + i, List.of("sh"))));
        }
        project(crowd);

        UnaryOperator<RequestSpecification> pagesOfThree = r -> r.queryParam("namespace", events.namespace).queryParam("limit", 3);
        JsonPath first = page("/api/v1/events", pagesOfThree, null);
        assertEquals(ids(crowd.subList(0, 3)), first.getList("items.eventId", String.class));
        assertTrue(first.getBoolean("more"), "a full page with more behind it");
        assertEquals(ids(crowd), readAll("/api/v1/events", pagesOfThree, null), "every event once, in arrival order");

        // since stays a filter beside the cursor, inclusive
        UnaryOperator<RequestSpecification> sinceThatTime = r -> pagesOfThree.apply(r).queryParam("since", sameTime.toString());
        assertEquals(ids(crowd), readAll("/api/v1/events", sinceThatTime, null));
        UnaryOperator<RequestSpecification> sinceAfter = r -> pagesOfThree.apply(r).queryParam("since", sameTime.plusNanos(1000).toString());
        assertEquals(List.of(), readAll("/api/v1/events", sinceAfter, null));
    }

    /**
     * Two projections overlap the way two consumers' (or two replicas') can: A has allocated ingest_seq values and
     * is held before its commit (its INSERT waits on a row with the id of its last event that this test inserted
     * and has not committed); B starts after. Without the projector's ingest-order lock, B commits first with larger
     * values, the reader is given B and pages past it, and A, committed next with smaller values, is never read.
     */
    @Test
    void aReaderPagingWhileTwoProjectionsOverlapReadsEveryEventOnce() throws Exception {
        String x = events.containerId();
        List<EventEnvelope> lifeX = events.shortLife(x, 0);
        project(lifeX.subList(0, 1));
        List<EventEnvelope> batchA = lifeX.subList(1, 3);
        List<EventEnvelope> batchB = events.shortLife(events.containerId(), 1);

        CompletableFuture<EventProjector.Projected> a;
        CompletableFuture<EventProjector.Projected> b;
        try (UncommittedEvent held = new UncommittedEvent(pool, batchA.get(batchA.size() - 1))) {
            a = projector.project(TestEvents.incoming(batchA)).subscribeAsCompletionStage();
            held.awaitSomeoneWaiting();
            // A has inserted its first row and waits to learn whether its last one is a duplicate; now B
            b = projector.project(TestEvents.incoming(batchB)).subscribeAsCompletionStage();
            try {
                b.get(2, TimeUnit.SECONDS);
            } catch (TimeoutException waitsForA) {
                // what the ingest-order lock does: B waits for A
            }

            UnaryOperator<RequestSpecification> inNamespace = r -> r.queryParam("namespace", events.namespace);
            JsonPath during = page("/api/v1/events", inNamespace, null);
            List<String> read = new ArrayList<>(during.getList("items.eventId", String.class));
            String token = during.getString("continue");

            held.rollback(); // not a duplicate: A goes on and commits, then B
            a.get(30, TimeUnit.SECONDS);
            b.get(30, TimeUnit.SECONDS);
            read.addAll(readAll("/api/v1/events", inNamespace, token));

            List<String> expected = new ArrayList<>(ids(lifeX));
            expected.addAll(ids(batchB));
            assertEquals(expected, read, "every event once, in the order they were committed");
        }
    }

    @Test
    void aTimelineIsReadInBoundedPagesInItsOrder() {
        String id = events.containerId();
        String otherNode = "node-" + id;
        List<EventEnvelope> here = new ArrayList<>();
        for (int i = 1; i <= 103; i++) {
            here.add(events.container(id, i, ExecStarted.of("e" + i, 100L + i, List.of("sh"))));
        }
        EventEnvelope ofANewerStore = EventEnvelope.of(events.namespace, events.node, id, 1, events.tick(),
                ExecStarted.of("after-reset", 1L, List.of("sh"))).withIncarnation(micros(Instant.now()));
        List<EventEnvelope> there = List.of(
                EventEnvelope.of(events.namespace, otherNode, id, 1, events.tick(), new ContainerCreated("registry.local/db:1", null, null)),
                EventEnvelope.of(events.namespace, otherNode, id, 2, events.tick(), ExecStarted.of("x", 2L, List.of("sh"))));
        // arrival order is not the timeline's: the newer store's event first, sequences backwards, the other node between
        List<EventEnvelope> arrival = new ArrayList<>(List.of(ofANewerStore));
        arrival.addAll(reversed(here.subList(50, 103)));
        arrival.addAll(there);
        arrival.addAll(reversed(here.subList(0, 50)));
        project(arrival);

        List<EventEnvelope> timeline = new ArrayList<>(arrival);
        timeline.sort(Comparator.comparing(EventEnvelope::node).thenComparingLong(EventEnvelope::incarnation)
                .thenComparingLong(EventEnvelope::sequence));
        assertEquals(106, timeline.size());

        UnaryOperator<RequestSpecification> inNamespace = r -> r.queryParam("namespace", events.namespace);
        JsonPath first = page("/api/v1/containers/{id}/events", inNamespace, null, id);
        assertEquals(ids(timeline.subList(0, 100)), first.getList("items.eventId", String.class), "100 by default");
        assertTrue(first.getBoolean("more"));
        JsonPath rest = page("/api/v1/containers/{id}/events", inNamespace, first.getString("continue"), id);
        assertEquals(ids(timeline.subList(100, 106)), rest.getList("items.eventId", String.class));
        assertFalse(rest.getBoolean("more"));

        UnaryOperator<RequestSpecification> pagesOfFour = r -> inNamespace.apply(r).queryParam("limit", 4);
        assertEquals(ids(timeline), readAll("/api/v1/containers/{id}/events", pagesOfFour, null, id));
        UnaryOperator<RequestSpecification> onTheOtherNode = r -> pagesOfFour.apply(r).queryParam("node", otherNode);
        assertEquals(ids(there), readAll("/api/v1/containers/{id}/events", onTheOtherNode, null, id));
    }

    @Test
    void aContinueTokenThatIsNotOneIsAProblemThatSaysWhatToPass() {
        String id = events.containerId();
        project(events.shortLife(id, 0));
        String timelineToken = page("/api/v1/containers/{id}/events",
                r -> r.queryParam("namespace", events.namespace).queryParam("limit", 1), null, id).getString("continue");
        String feedToken = page("/api/v1/events", r -> r.queryParam("namespace", events.namespace), null).getString("continue");

        for (String bad : List.of("not-a-token!", "djE6ZTpub3Bl", timelineToken)) {
            given().queryParam("continue", bad).get("/api/v1/events").then()
                    .statusCode(400).contentType("application/problem+json")
                    .body("type", equalTo("urn:berth:problem:invalid-parameter"))
                    .body("detail", startsWith("continue must be the 'continue' value of an earlier page of /api/v1/events, "
                            + "passed back unchanged, was '" + bad + "'"));
        }
        given().queryParam("continue", feedToken).get("/api/v1/containers/{id}/events", id).then()
                .statusCode(400).contentType("application/problem+json")
                .body("detail", startsWith("continue must be the 'continue' value of an earlier page of /api/v1/containers/{id}/events"));
        given().queryParam("limit", 1001).get("/api/v1/containers/{id}/events", id).then()
                .statusCode(400).body("detail", equalTo("limit must be a whole number from 1 to 1000, was '1001'"));
        given().queryParam("namespace", events.namespace).queryParam("continue", timelineToken)
                .get("/api/v1/containers/{id}/events", id).then().statusCode(200).body("items", hasSize(2));
    }

    private static long micros(Instant t) {
        return t.getEpochSecond() * 1_000_000 + t.getNano() / 1000;
    }

    private static List<EventEnvelope> reversed(List<EventEnvelope> events) {
        List<EventEnvelope> copy = new ArrayList<>(events);
        Collections.reverse(copy);
        return copy;
    }
}
