package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.schedulerapi.events.model.ContainerState;
import java.time.Instant;
import java.util.Set;

/**
 * How a container event changes the container's observed state. No I/O: the projector loads and saves the row.
 *
 * <p>Status follows the event with the highest position ({@link Position}: incarnation, then sequence) only; an
 * event at or below the last one applied is late and changes no status. An event of a later incarnation starts the
 * row over (the agent's store was made anew: this is a new container under an old id), and an event of an earlier
 * one changes nothing at all. Facts that never change once known (image, creation and start time) are filled in from
 * whichever event carries them, late or not, so a late {@code container.created} still supplies the image.
 */
public final class ContainerStateProjection {
    private ContainerStateProjection() {}

    /** Exec events belong to the container's timeline but say nothing about its own state. */
    private static final Set<String> STATE_CHANGING = Set.of(EventTypes.CONTAINER_CREATED, EventTypes.CONTAINER_STARTED,
            EventTypes.CONTAINER_PAUSED, EventTypes.CONTAINER_RESUMED, EventTypes.CONTAINER_EXITED, EventTypes.CONTAINER_DELETED);

    public static boolean changesState(String type) {
        return STATE_CHANGING.contains(type);
    }

    /** A row for a container seen for the first time; {@link #apply} fills it. */
    public static ContainerState newState(EventEnvelope event) {
        ContainerState s = new ContainerState();
        s.namespace = event.namespace();
        s.containerId = event.subjectId();
        s.node = event.node();
        s.lastSequence = 0;
        s.incarnation = event.incarnation();
        return s;
    }

    /** Applies the event; true when it was newer than everything applied before (so the status moved). */
    public static boolean apply(ContainerState s, EventEnvelope event, Instant now) {
        if (event.incarnation() < s.incarnation) {
            return false; // from before the agent's store was made anew: nothing of that life holds now
        }
        if (event.incarnation() > s.incarnation) {
            startOver(s, event.incarnation());
        }
        boolean newer = event.sequence() > s.lastSequence;
        switch (event.type()) {
            case EventTypes.CONTAINER_CREATED -> {
                ContainerCreated created = event.payloadAs(ContainerCreated.class);
                if (s.image == null) {
                    s.image = created.image();
                }
                if (s.createdAt == null) {
                    s.createdAt = event.time();
                }
            }
            case EventTypes.CONTAINER_STARTED -> {
                Instant startedAt = event.payloadAs(ContainerStarted.class).startedAt();
                if (newer || s.startedAt == null) {
                    s.startedAt = startedAt;
                }
            }
            default -> { }
        }
        if (!newer) {
            return false;
        }
        s.lastSequence = event.sequence();
        s.lastEventId = event.eventId();
        s.lastEventType = event.type();
        s.updatedAt = event.time();
        s.projectedAt = now;
        switch (event.type()) {
            case EventTypes.CONTAINER_CREATED -> s.status = "created";
            case EventTypes.CONTAINER_STARTED -> {
                s.status = "running";
                s.exitCode = null; // a restarted container has no exit status (yet)
                s.signal = null;
                s.oomKilled = null;
                s.exitedAt = null;
            }
            case EventTypes.CONTAINER_PAUSED -> s.status = "paused";
            case EventTypes.CONTAINER_RESUMED -> s.status = "running";
            case EventTypes.CONTAINER_EXITED -> {
                ContainerExited exited = event.payloadAs(ContainerExited.class);
                s.status = "exited";
                s.exitCode = exited.exitCode();
                s.signal = exited.signal();
                s.oomKilled = exited.oomKilled();
                s.exitedAt = exited.exitedAt();
            }
            case EventTypes.CONTAINER_DELETED -> s.status = "deleted";
            default -> throw new IllegalArgumentException(event.type() + " does not change a container's state");
        }
        return true;
    }

    /** Forgets everything the row knew: what follows is another container's life under the same key. */
    private static void startOver(ContainerState s, long incarnation) {
        s.incarnation = incarnation;
        s.lastSequence = 0;
        s.image = null;
        s.createdAt = null;
        s.startedAt = null;
        s.exitCode = null;
        s.signal = null;
        s.oomKilled = null;
        s.exitedAt = null;
    }
}
