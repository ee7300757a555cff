package dev.berth.events.outbox;

import dev.berth.events.EventEnvelope;
import java.util.Objects;

/** One outbox row: the outbox's own id (increasing in commit order) and the event exactly as it will be published. */
public record OutboxRecord(long id, EventEnvelope event) {
    public OutboxRecord {
        Objects.requireNonNull(event, "event");
    }
}
