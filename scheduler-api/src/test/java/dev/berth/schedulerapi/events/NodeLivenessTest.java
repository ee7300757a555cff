package dev.berth.schedulerapi.events;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventEnvelope;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import dev.berth.schedulerapi.events.service.NodeLiveness;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A node whose agent is killed (SIGKILL: no node.down) goes quiet; through the real broker and Postgres, the API
 * must show it stale, not ready, once its heartbeats have been missing for the timeout (test profile: 1 s
 * heartbeats, 3 missed), keep its containers' last known state, and show it ready again at its next heartbeat.
 */
@QuarkusTest
class NodeLivenessTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(3);

    private final TestEvents events = new TestEvents();
    private long nodeSequence;

    @Inject
    NodeLiveness liveness;

    @AfterEach
    void close() {
        events.close();
    }

    private JsonPath node() {
        return given().get("/api/v1/nodes/{name}/status", events.node).then().statusCode(200).extract().jsonPath();
    }

    /** The node's status, or null while none of its events has been projected yet (404). */
    private JsonPath nodeOnceKnown() {
        var r = given().get("/api/v1/nodes/{name}/status", events.node);
        if (r.statusCode() == 404) return null;
        return r.then().statusCode(200).extract().jsonPath();
    }

    private JsonPath container(String id) {
        return given().queryParam("namespace", events.namespace).get("/api/v1/containers/{id}/status", id)
                .then().statusCode(200).extract().jsonPath();
    }

    private static Instant instant(JsonPath json, String field) {
        String value = json.getString(field);
        return value == null ? null : Instant.parse(value);
    }

    /** A heartbeat stamped now (whole microseconds, as Postgres keeps it), published; returns its time. */
    private Instant heartbeat() {
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        events.publish(EventEnvelope.of(null, events.node, events.node, ++nodeSequence, now, new NodeHeartbeat(1)));
        return now;
    }

    @Test
    void aNodeWhoseHeartbeatsStopIsStaleAfterTheTimeoutAndReadyAgainAtItsNextHeartbeat() throws Exception {
        assertEquals(TIMEOUT, liveness.timeout(), "the test profile's 1 s interval times 3 missed heartbeats");
        String id = events.containerId();
        events.publish(EventEnvelope.of(null, events.node, events.node, ++nodeSequence,
                Instant.now().truncatedTo(ChronoUnit.MICROS), new NodeUp("0.1.0", null)));
        events.publish(events.container(id, 1, new ContainerCreated("registry.local/app:1", null, null)),
                events.container(id, 2, new ContainerStarted(42L, events.tick())));

        // a live agent: heartbeats every half second until the API shows the newest one
        Instant last = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (last == null) {
            assertTrue(System.nanoTime() < deadline, "heartbeats were not projected within 30 s");
            Instant sent = heartbeat();
            for (int i = 0; i < 10 && last == null; i++) {
                JsonPath n = nodeOnceKnown(); // the first heartbeats may be asked about before node.up is projected
                if (n != null && sent.equals(instant(n, "lastHeartbeatAt"))) {
                    assertTrue(n.getBoolean("ready"), "a node that just sent a heartbeat is ready");
                    assertFalse(n.getBoolean("stale"));
                    assertNull(n.get("staleSince"));
                    last = sent;
                } else {
                    Thread.sleep(50);
                }
            }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> "running".equals(container(id).getString("status")));

        // the agent is killed: no node.down, no more heartbeats. Not stale before the timeout, stale soon after it.
        Instant staleAt = last.plus(TIMEOUT);
        JsonPath stale = null;
        while (stale == null) {
            JsonPath n = node();
            Instant answered = Instant.now();
            if (n.getBoolean("stale")) {
                assertTrue(answered.isAfter(staleAt), "stale already at " + answered + ", before " + staleAt);
                stale = n;
            } else {
                assertTrue(n.getBoolean("ready"));
                assertTrue(answered.isBefore(staleAt.plusSeconds(10)), "still not stale at " + answered + "; due at " + staleAt);
                Thread.sleep(100);
            }
        }
        assertFalse(stale.getBoolean("ready"));
        assertEquals("up", stale.getString("status"), "what the node last said stays as it was");
        assertEquals(last, instant(stale, "lastHeartbeatAt"));
        assertEquals(staleAt, instant(stale, "staleSince"));

        JsonPath onStaleNode = container(id);
        assertEquals("running", onStaleNode.getString("status"), "the last known state, no invented exit");
        assertNull(onStaleNode.get("exitCode"));
        assertTrue(onStaleNode.getBoolean("nodeStale"));
        assertFalse(onStaleNode.getBoolean("nodeReady"));
        assertEquals(last, instant(onStaleNode, "nodeLastHeartbeatAt"));

        // the agent is back: its next heartbeat makes the node ready again
        Instant back = heartbeat();
        await().atMost(Duration.ofSeconds(30)).until(() -> back.equals(instant(node(), "lastHeartbeatAt")));
        JsonPath ready = node();
        assertTrue(ready.getBoolean("ready"));
        assertFalse(ready.getBoolean("stale"));
        assertNull(ready.get("staleSince"));
        JsonPath onReadyNode = container(id);
        assertFalse(onReadyNode.getBoolean("nodeStale"));
        assertTrue(onReadyNode.getBoolean("nodeReady"));
        assertEquals("running", onReadyNode.getString("status"));

        // a clean stop says so: down, not ready, and not stale (nothing is missing)
        events.publish(events.nodeEvent(++nodeSequence, new NodeDown("agent stopped")));
        await().atMost(Duration.ofSeconds(30)).until(() -> "down".equals(node().getString("status")));
        JsonPath down = node();
        assertFalse(down.getBoolean("ready"));
        assertFalse(down.getBoolean("stale"));
    }
}
