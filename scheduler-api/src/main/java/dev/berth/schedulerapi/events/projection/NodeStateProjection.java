package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import dev.berth.schedulerapi.events.model.NodeState;
import java.time.Instant;

/**
 * How a node event changes the node's observed state; as for containers, only a newer {@link Position} moves it
 * (an agent whose store was made anew numbers from 1 again, under a later incarnation).
 */
public final class NodeStateProjection {
    private NodeStateProjection() {}

    public static NodeState newState(EventEnvelope event) {
        NodeState s = new NodeState();
        s.node = event.node();
        s.lastSequence = 0;
        s.incarnation = event.incarnation();
        return s;
    }

    /** Applies the event; true when it was newer than everything applied before. */
    public static boolean apply(NodeState s, EventEnvelope event, Instant now) {
        if (Position.of(event).compareTo(new Position(s.incarnation, s.lastSequence)) <= 0) {
            return false;
        }
        s.incarnation = event.incarnation();
        s.lastSequence = event.sequence();
        s.lastEventId = event.eventId();
        s.lastEventType = event.type();
        s.updatedAt = event.time();
        s.projectedAt = now;
        switch (event.type()) {
            case EventTypes.NODE_UP -> {
                s.status = "up";
                s.agentVersion = event.payloadAs(NodeUp.class).agentVersion();
                s.lastHeartbeatAt = event.time(); // the first sign of life: liveness counts from here
            }
            case EventTypes.NODE_HEARTBEAT -> {
                s.status = "up"; // a heartbeat newer than a node.down means the agent is back
                s.lastHeartbeatAt = event.time();
                s.containersRunning = event.payloadAs(NodeHeartbeat.class).containersRunning();
            }
            case EventTypes.NODE_DOWN -> s.status = "down";
            default -> throw new IllegalArgumentException(event.type() + " is not a node event");
        }
        return true;
    }
}
