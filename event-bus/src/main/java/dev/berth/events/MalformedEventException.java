package dev.berth.events;

/**
 * A record that is not a valid Berth event. {@link #getMessage()} is the reason, written for the person who has
 * to fix the producer (it names the field and what was wrong with it); consumers put it in the dead-letter record.
 */
public final class MalformedEventException extends Exception {
    public MalformedEventException(String reason) {
        super(reason);
    }

    public MalformedEventException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
