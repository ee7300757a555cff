package dev.berth.schedulerapi.events.projection;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventEnvelope;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.ExecStarted;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.NodeState;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The state rules alone, no database: newer sequence moves status, facts fill in from any event. */
class ContainerStateProjectionTest {
    private static final Instant T = Instant.parse("2025-03-01T10:00:00Z");

    private static EventEnvelope event(long sequence, Record payload) {
        return EventEnvelope.of("ns", "node-a", "c1", sequence, T.plusSeconds(sequence), payload);
    }

    @Test
    void aRestartClearsTheLastExitStatus() {
        EventEnvelope created = event(1, new ContainerCreated("img", null, null));
        ContainerState s = ContainerStateProjection.newState(created);
        ContainerStateProjection.apply(s, created, T);
        ContainerStateProjection.apply(s, event(2, new ContainerStarted(1L, T)), T);
        ContainerStateProjection.apply(s, event(3, new ContainerExited(137, "SIGKILL", true, T)), T);
        assertEquals("exited", s.status);
        assertTrue(ContainerStateProjection.apply(s, event(4, new ContainerStarted(2L, T.plusSeconds(9))), T));
        assertEquals("running", s.status);
        assertNull(s.exitCode);
        assertNull(s.signal);
        assertNull(s.oomKilled);
        assertEquals(T.plusSeconds(9), s.startedAt);
        assertEquals(4, s.lastSequence);
    }

    @Test
    void aLateOrRepeatedEventChangesNoStatusButSuppliesMissingFacts() {
        EventEnvelope started = event(2, new ContainerStarted(1L, T));
        ContainerState s = ContainerStateProjection.newState(started);
        ContainerStateProjection.apply(s, started, T);
        assertFalse(ContainerStateProjection.apply(s, event(1, new ContainerCreated("img", null, null)), T));
        assertEquals("running", s.status);
        assertEquals("img", s.image);
        assertEquals(T.plusSeconds(1), s.createdAt);
        assertFalse(ContainerStateProjection.apply(s, event(2, new ContainerStarted(1L, T)), T), "same sequence is not newer");
        assertEquals(2, s.lastSequence);
    }

    @Test
    void execEventsDoNotChangeContainerState() {
        assertFalse(ContainerStateProjection.changesState(event(5, new ExecStarted("e1", null, null, null, null)).type()));
    }

    @Test
    void aNodeIsUpAgainWhenAHeartbeatIsNewerThanItsDown() {
        EventEnvelope down = EventEnvelope.of(null, "n", "n", 5, T, new NodeDown("shutdown"));
        NodeState s = NodeStateProjection.newState(down);
        NodeStateProjection.apply(s, down, T);
        assertFalse(NodeStateProjection.apply(s, EventEnvelope.of(null, "n", "n", 4, T, new NodeHeartbeat(1)), T));
        assertEquals("down", s.status);
        assertTrue(NodeStateProjection.apply(s, EventEnvelope.of(null, "n", "n", 6, T, new NodeHeartbeat(2)), T));
        assertEquals("up", s.status);
        assertEquals(2, s.containersRunning);
    }
}
