package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;

/**
 * Where an event stands in its subject's history: first by the incarnation of the agent's store that numbered it
 * (a store made anew counts from 1 again, later), then by sequence.
 */
public record Position(long incarnation, long sequence) implements Comparable<Position> {

    public static Position of(EventEnvelope event) {
        return new Position(event.incarnation(), event.sequence());
    }

    @Override
    public int compareTo(Position other) {
        int byIncarnation = Long.compare(incarnation, other.incarnation);
        return byIncarnation != 0 ? byIncarnation : Long.compare(sequence, other.sequence);
    }

    @Override
    public String toString() {
        return incarnation == 0 ? Long.toString(sequence) : sequence + " of incarnation " + incarnation;
    }
}
