package dev.berth.events.outbox;

import dev.berth.events.EventEnvelope;
import java.util.Objects;

/**
 * One outbox row: the outbox's own id (increasing in commit order) and the event exactly as it will be published.
 * {@code json} is the envelope's UTF-8 JSON as the outbox stored it, when the outbox read {@code event} from it
 * (so it passed {@link dev.berth.events.EventCodec#decode}); the relay then publishes those bytes instead of
 * encoding the event again. {@code null} means "encode {@code event}".
 */
public record OutboxRecord(long id, EventEnvelope event, byte[] json) {
    public OutboxRecord {
        Objects.requireNonNull(event, "event");
    }

    public OutboxRecord(long id, EventEnvelope event) {
        this(id, event, null);
    }
}
