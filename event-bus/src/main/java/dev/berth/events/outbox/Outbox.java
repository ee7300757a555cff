package dev.berth.events.outbox;

import java.util.List;

/**
 * Where a node keeps the events it has committed but not yet published: written in the same local transaction as
 * the state change it describes, read by {@link OutboxRelay}. Implementations must be safe to call from the
 * relay's thread while the agent writes new records.
 */
public interface Outbox {

    /**
     * Up to {@code max} records not yet marked sent, oldest first (the order they were committed), or an empty list.
     * A record keeps its id and its envelope (event id included) until it is marked sent.
     */
    List<OutboxRecord> fetchUnsent(int max) throws Exception;

    /** Marks these records sent. Called only after Kafka acknowledged every one of them (acks=all). */
    void markSent(List<Long> ids) throws Exception;
}
