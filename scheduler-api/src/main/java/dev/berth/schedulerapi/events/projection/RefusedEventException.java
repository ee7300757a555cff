package dev.berth.schedulerapi.events.projection;

/**
 * A valid event the projection will not apply: its position is one no real agent gives ({@link SequenceBounds}), or
 * Postgres refuses its data. {@link #getMessage()} is the reason, carried into the dead-letter record.
 */
public final class RefusedEventException extends Exception {
    public RefusedEventException(String reason) {
        super(reason, null, false, false); // the reason says it all: no stack trace to fill in for every poison event
    }
}
