package dev.berth.schedulerapi.events.service;

/** Where a reader stopped: just after the last event of the page it was given. Read again after it, nothing is repeated. */
public sealed interface EventCursor {

    /**
     * A place in the arrival-order feed ({@code GET /api/v1/events}): the last event's {@code ingest_seq}. A reader
     * resuming after it misses nothing, because events become visible in ingest_seq order (see {@link EventQueries#list}).
     */
    record Feed(long ingestSeq) implements EventCursor {}

    /**
     * A place in one container's timeline: the last event's key in the timeline's order (namespace, node,
     * incarnation, sequence, then ingest_seq to tell apart two events an agent gave the same position).
     */
    record Timeline(String namespace, String node, long incarnation, long sequence, long ingestSeq) implements EventCursor {}
}
