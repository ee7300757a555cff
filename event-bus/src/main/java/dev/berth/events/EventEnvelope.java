package dev.berth.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The one envelope every Berth event travels in: who (node, namespace, container or image), what (type),
 * when, in which place of its subject's history (sequence), and a type-specific payload.
 * {@code schemaVersion} changes only when a consumer would misread the old form; adding a field does not change it.
 *
 * <p>{@code sequence} is assigned by the node agent that owns the subject: it starts at 1 and strictly increases
 * with every event of that subject (one counter per container, per image, per node), never goes back (not even
 * across agent restarts) and may have gaps. Kafka keeps one subject's events in order, but a retried publish can
 * still put an older event behind a newer one, so consumers order a subject's events by sequence and treat an
 * event whose sequence is not above the last one they applied as late: recorded in the timeline, never allowed to
 * overwrite newer state.
 *
 * <p>{@code incarnation} says which life of the node agent's store the sequence belongs to: the time the store was
 * created, in microseconds since the epoch (0, and left out of the JSON, for an agent that does not say). An agent
 * whose store was lost starts every counter at 1 again under a new, later incarnation, so a subject's events are
 * ordered by (incarnation, sequence): any event of a later incarnation is newer than every event of an earlier one.
 *
 * <p>{@code eventId} is unique per event and stays the same when the event is published again (the agent stores
 * the whole envelope in its outbox): consumers drop an event id they have already seen.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"eventId", "type", "schemaVersion", "namespace", "node", "incarnation", "subjectId", "sequence", "time", "payload"})
public record EventEnvelope(
        String eventId,
        String type,
        int schemaVersion,
        String namespace,
        String node,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long incarnation,
        String subjectId,
        long sequence,
        Instant time,
        Map<String, Object> payload) {

    public static final int SCHEMA_VERSION = 1;

    public EventEnvelope {
        payload = payload == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(payload));
    }

    /**
     * A new event (fresh id) whose type follows from its payload record, e.g. a {@code ContainerExited} makes a
     * {@code container.exited}. For node events pass {@code namespace = null} and {@code subjectId = node}.
     */
    public static EventEnvelope of(String namespace, String node, String subjectId, long sequence, Instant time, Record payload) {
        EventTypes.Spec spec = EventTypes.forPayload(payload.getClass());
        return new EventEnvelope(UUID.randomUUID().toString(), spec.type(), SCHEMA_VERSION, namespace, node, 0, subjectId,
                sequence, time, EventCodec.toPayloadMap(payload));
    }

    /** This event as published by the store incarnation {@code value} (see the class comment). */
    public EventEnvelope withIncarnation(long value) {
        return new EventEnvelope(eventId, type, schemaVersion, namespace, node, value, subjectId, sequence, time, payload);
    }

    /** As {@link #of(String, String, String, long, Instant, Record)}, happening now. */
    public static EventEnvelope of(String namespace, String node, String subjectId, long sequence, Record payload) {
        return of(namespace, node, subjectId, sequence, Instant.now(), payload);
    }

    /** The payload read as its type's record, e.g. {@code payloadAs(ContainerExited.class)}. */
    public <T extends Record> T payloadAs(Class<T> payloadType) {
        return EventCodec.payloadAs(this, payloadType);
    }
}
