package dev.berth.schedulerapi.events.projection;

/**
 * Another transaction projected some of a batch's events while this one was projecting them (a redelivery racing
 * the original): the batch's transaction rolls back and is retried, and the retry skips those events.
 */
public final class ConcurrentProjectionException extends RuntimeException {
    public ConcurrentProjectionException(String message) {
        super(message);
    }
}
