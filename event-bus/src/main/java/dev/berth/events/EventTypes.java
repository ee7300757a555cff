package dev.berth.events;

import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ContainerResumed;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.ExecExited;
import dev.berth.events.payload.ExecStarted;
import dev.berth.events.payload.ImagePulled;
import dev.berth.events.payload.ImageRemoved;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Event type names, as they appear in {@link EventEnvelope#type()}, and what each one is about: its subject
 * (what {@link EventEnvelope#subjectId()} names, which decides the topic and the key) and its payload record.
 */
public final class EventTypes {
    private EventTypes() {}

    public static final String IMAGE_PULLED = "image.pulled";
    public static final String IMAGE_REMOVED = "image.removed";

    public static final String CONTAINER_CREATED = "container.created";
    public static final String CONTAINER_STARTED = "container.started";
    public static final String CONTAINER_EXITED = "container.exited";
    public static final String CONTAINER_PAUSED = "container.paused";
    public static final String CONTAINER_RESUMED = "container.resumed";
    public static final String CONTAINER_DELETED = "container.deleted";
    /** Exec events are about a container (subject = container id) so they stay in order with its other events. */
    public static final String EXEC_STARTED = "exec.started";
    public static final String EXEC_EXITED = "exec.exited";

    public static final String NODE_UP = "node.up";
    public static final String NODE_DOWN = "node.down";
    public static final String NODE_HEARTBEAT = "node.heartbeat";

    /** What an event's subjectId names. */
    public enum Subject {
        /** subjectId is the container id; namespace required. */
        CONTAINER,
        /** subjectId is the image's manifest digest; namespace required. */
        IMAGE,
        /** subjectId is the node name and equals the envelope's node; namespace absent. */
        NODE
    }

    /** One event type: its wire name, its subject and the record its payload reads as. */
    public record Spec(String type, Subject subject, Class<? extends Record> payloadType) {
        public String topic() {
            return Topics.forSubject(subject);
        }
    }

    private static final Map<String, Spec> SPECS = new LinkedHashMap<>();

    static {
        spec(IMAGE_PULLED, Subject.IMAGE, ImagePulled.class);
        spec(IMAGE_REMOVED, Subject.IMAGE, ImageRemoved.class);
        spec(CONTAINER_CREATED, Subject.CONTAINER, ContainerCreated.class);
        spec(CONTAINER_STARTED, Subject.CONTAINER, ContainerStarted.class);
        spec(CONTAINER_EXITED, Subject.CONTAINER, ContainerExited.class);
        spec(CONTAINER_PAUSED, Subject.CONTAINER, ContainerPaused.class);
        spec(CONTAINER_RESUMED, Subject.CONTAINER, ContainerResumed.class);
        spec(CONTAINER_DELETED, Subject.CONTAINER, ContainerDeleted.class);
        spec(EXEC_STARTED, Subject.CONTAINER, ExecStarted.class);
        spec(EXEC_EXITED, Subject.CONTAINER, ExecExited.class);
        spec(NODE_UP, Subject.NODE, NodeUp.class);
        spec(NODE_DOWN, Subject.NODE, NodeDown.class);
        spec(NODE_HEARTBEAT, Subject.NODE, NodeHeartbeat.class);
    }

    private static void spec(String type, Subject subject, Class<? extends Record> payloadType) {
        SPECS.put(type, new Spec(type, subject, payloadType));
    }

    /** The spec of a known type; empty for a type this version of Berth does not know. */
    public static Optional<Spec> spec(String type) {
        return Optional.ofNullable(type == null ? null : SPECS.get(type));
    }

    /** The spec of a known type, or an {@link IllegalArgumentException} naming the unknown one. */
    public static Spec require(String type) {
        return spec(type).orElseThrow(() -> new IllegalArgumentException("unknown event type '" + type + "'"));
    }

    /** The type whose payload record is {@code payloadType}. */
    public static Spec forPayload(Class<?> payloadType) {
        return SPECS.values().stream()
                .filter(s -> s.payloadType() == payloadType)
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException(payloadType.getName() + " is not an event payload"));
    }

    /** Every known type name, in declaration order. */
    public static Set<String> all() {
        return SPECS.keySet();
    }
}
