package dev.berth.schedulerapi.events.service;

import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.EventRecord;
import dev.berth.schedulerapi.events.model.NodeState;
import dev.berth.schedulerapi.events.projection.EventProjector;
import io.quarkus.hibernate.reactive.panache.common.WithSession;
import io.quarkus.panache.common.Parameters;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.function.Function;

/** Reads of the projection: event listings, a container's timeline, observed state. */
@ApplicationScoped
public class EventQueries {
    private static final String CONTAINER = EventProjector.subjectKind(EventTypes.Subject.CONTAINER);

    /**
     * Events matching the filter in arrival order ({@code ingest_seq}), after {@code after} (null: from the first),
     * at most {@code limit}.
     *
     * <p>Why a reader paging with the cursor can skip nothing: it asks for {@code ingest_seq > cursor}, so it would
     * miss an event only if that event became visible after the reader had already been given one with a larger
     * ingest_seq. The projector rules that out: each transaction takes one advisory lock before it allocates any
     * ingest_seq and keeps it until it ends ({@link EventProjector#INGEST_ORDER_LOCK}), and Postgres makes a commit
     * visible before it releases the transaction's locks. So transactions allocate and commit one after another, and
     * by the time any ingest_seq larger than another one can be seen, the smaller one is committed (or rolled back,
     * a gap nothing will fill). Paging by {@code occurred_at}, as before, skipped events that arrived after the
     * reader's position with an older time, and stalled on more than a page of events with the same time.
     */
    @WithSession
    public Uni<EventPage> list(EventFilter filter, EventCursor.Feed after, int limit) {
        StringBuilder where = new StringBuilder("1 = 1");
        Parameters params = new Parameters();
        if (filter.namespace() != null) {
            where.append(" and namespace = :namespace");
            params.and("namespace", filter.namespace());
        }
        if (filter.node() != null) {
            where.append(" and node = :node");
            params.and("node", filter.node());
        }
        if (filter.type() != null) {
            where.append(" and type = :type");
            params.and("type", filter.type());
        }
        if (filter.subjectId() != null) {
            where.append(" and subjectId = :subjectId");
            params.and("subjectId", filter.subjectId());
        }
        if (filter.since() != null) {
            where.append(" and occurredAt >= :since");
            params.and("since", filter.since());
        }
        if (after != null) {
            where.append(" and ingestSeq > :after");
            params.and("after", after.ingestSeq());
        }
        return EventRecord.<EventRecord>find(where + " order by ingestSeq", params)
                .page(0, limit + 1).list() // one more than asked: whether more matched
                .map(rows -> page(rows, limit, after, last -> new EventCursor.Feed(last.ingestSeq)));
    }

    /**
     * One container's events in its order (namespace, node, then incarnation and sequence), after {@code after}
     * (null: from the first), at most {@code limit}; all namespaces and nodes holding that id when {@code namespace}
     * or {@code node} is null, each container's events together. Keyset paging on the timeline's order (served by
     * {@code event_subject_idx}), so a page costs the same however far into the timeline it is. The order is the
     * agent's, not arrival: an event that arrives late lands before a cursor already past its place, so a reader
     * following a container as it lives pages {@link #list} by subject instead.
     */
    @WithSession
    public Uni<EventPage> timeline(String containerId, String namespace, String node, EventCursor.Timeline after, int limit) {
        Parameters params = Parameters.with("kind", CONTAINER).and("id", containerId);
        String where = "subjectKind = :kind and subjectId = :id";
        if (namespace != null) {
            where += " and namespace = :namespace";
            params.and("namespace", namespace);
        }
        if (node != null) {
            where += " and node = :node";
            params.and("node", node);
        }
        if (after != null) { // container events always have a namespace, so no null breaks the row comparison
            where += " and (namespace, node, incarnation, sequence, ingestSeq)"
                    + " > (:afterNamespace, :afterNode, :afterIncarnation, :afterSequence, :afterIngestSeq)";
            params.and("afterNamespace", after.namespace()).and("afterNode", after.node())
                    .and("afterIncarnation", after.incarnation()).and("afterSequence", after.sequence())
                    .and("afterIngestSeq", after.ingestSeq());
        }
        return EventRecord.<EventRecord>find(where + " order by namespace, node, incarnation, sequence, ingestSeq", params)
                .page(0, limit + 1).list()
                .map(rows -> page(rows, limit, after,
                        last -> new EventCursor.Timeline(last.namespace, last.node, last.incarnation, last.sequence, last.ingestSeq)));
    }

    /** Observed state of a container: one row per namespace and node holding that id (either null: any). */
    @WithSession
    public Uni<List<ContainerState>> containers(String containerId, String namespace, String node) {
        StringBuilder where = new StringBuilder("containerId = :id");
        Parameters params = Parameters.with("id", containerId);
        if (namespace != null) {
            where.append(" and namespace = :namespace");
            params.and("namespace", namespace);
        }
        if (node != null) {
            where.append(" and node = :node");
            params.and("node", node);
        }
        return ContainerState.<ContainerState>list(where + " order by namespace, node", params);
    }

    @WithSession
    public Uni<NodeState> node(String node) {
        return NodeState.findById(node);
    }

    /** The first {@code limit} of {@code rows} (read one more than that to know whether more matched). */
    private static EventPage page(List<EventRecord> rows, int limit, EventCursor after, Function<EventRecord, EventCursor> cursorOf) {
        boolean more = rows.size() > limit;
        List<EventRecord> items = more ? rows.subList(0, limit) : rows;
        EventCursor next = items.isEmpty() ? after : cursorOf.apply(items.get(items.size() - 1));
        return new EventPage(items.stream().map(EventRecord::toEnvelope).toList(), next, more);
    }
}
