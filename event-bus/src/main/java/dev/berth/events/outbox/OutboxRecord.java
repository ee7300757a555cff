package dev.berth.events.outbox;

import dev.berth.events.EventEnvelope;
import java.util.Objects;

/**
 * One outbox row: the outbox's own id (increasing in commit order) and the event exactly as it will be published.
 * {@code json} is the envelope's UTF-8 JSON as the outbox stored it, when the outbox read {@code event} from it
 * (so it passed {@link dev.berth.events.EventCodec#decode}); the relay then publishes those bytes instead of
 * encoding the event again. {@code null} means "encode {@code event}".
 * <p>A row the outbox could not read as an event has no {@code event}, its stored bytes and the reason
 * ({@link #malformed}): the relay dead-letters it unchanged rather than stop on it forever.
 */
public record OutboxRecord(long id, EventEnvelope event, byte[] json, String malformedReason) {
    public OutboxRecord {
        if (malformedReason == null) Objects.requireNonNull(event, "event");
        else Objects.requireNonNull(json, "json");
    }

    public OutboxRecord(long id, EventEnvelope event, byte[] json) {
        this(id, event, json, null);
    }

    public OutboxRecord(long id, EventEnvelope event) {
        this(id, event, null, null);
    }

    /** A stored row that is not a valid event: published to the dead-letter topic, unchanged, with {@code reason}. */
    public static OutboxRecord malformed(long id, byte[] json, String reason) {
        return new OutboxRecord(id, null, json, Objects.requireNonNull(reason, "reason"));
    }
}
