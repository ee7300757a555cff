package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import java.time.Duration;
import java.time.Instant;

/**
 * Positions no real agent gives an event, which would freeze its subject if applied: a sequence far past the last
 * one applied (a forged 2^63-1 would make every later event late for good), or an incarnation (a store's creation
 * time) from the future. Such an event is poison: dead-lettered with the reason, never applied.
 *
 * <p>The first event seen of a subject sets its baseline whatever its sequence: a projection that starts after
 * Kafka dropped a subject's early events sees it first at a high number.
 */
public final class SequenceBounds {
    private final long maxJump;
    private final Duration maxIncarnationAhead;

    public SequenceBounds(long maxJump, Duration maxIncarnationAhead) {
        this.maxJump = maxJump;
        this.maxIncarnationAhead = maxIncarnationAhead;
    }

    /** Why {@code event} cannot follow {@code applied} ({@code null} when nothing was applied yet); null when it can. */
    public String violation(Position applied, EventEnvelope event, Instant now) {
        Instant latest = now.plus(maxIncarnationAhead);
        if (event.incarnation() > latest.getEpochSecond() * 1_000_000 + latest.getNano() / 1_000) {
            return "incarnation " + event.incarnation() + " is later than now + " + maxIncarnationAhead
                    + " (berth.events.max-incarnation-ahead): no agent store was created then";
        }
        if (applied != null && applied.incarnation() == event.incarnation() && event.sequence() - applied.sequence() > maxJump) {
            return "sequence " + event.sequence() + " is more than " + maxJump + " (berth.events.max-sequence-jump) past "
                    + applied.sequence() + ", the last one applied to " + event.node() + "/"
                    + (event.namespace() == null ? "" : event.namespace() + "/") + event.subjectId();
        }
        return null;
    }
}
