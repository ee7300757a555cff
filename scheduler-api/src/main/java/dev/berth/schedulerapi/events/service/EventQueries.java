package dev.berth.schedulerapi.events.service;

import dev.berth.events.EventEnvelope;
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

/** Reads of the projection: event listings, a container's timeline, observed state. */
@ApplicationScoped
public class EventQueries {
    private static final String CONTAINER = EventProjector.subjectKind(EventTypes.Subject.CONTAINER);

    /** Events matching the filter, oldest first (by the time they happened, then by arrival). */
    @WithSession
    public Uni<List<EventEnvelope>> list(EventFilter filter, int limit) {
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
        return EventRecord.<EventRecord>find(where + " order by occurredAt, ingestSeq", params)
                .page(0, limit).list()
                .map(EventQueries::envelopes);
    }

    /** Every event of one container in its order (sequence); all namespaces holding that id when namespace is null. */
    @WithSession
    public Uni<List<EventEnvelope>> timeline(String containerId, String namespace) {
        Parameters params = Parameters.with("kind", CONTAINER).and("id", containerId);
        String where = "subjectKind = :kind and subjectId = :id";
        if (namespace != null) {
            where += " and namespace = :namespace";
            params.and("namespace", namespace);
        }
        return EventRecord.<EventRecord>find(where + " order by namespace, sequence, ingestSeq", params).list()
                .map(EventQueries::envelopes);
    }

    /** Observed state of a container: one row per namespace holding that id (namespace null), or at most one. */
    @WithSession
    public Uni<List<ContainerState>> containers(String containerId, String namespace) {
        if (namespace != null) {
            return ContainerState.<ContainerState>list("containerId = ?1 and namespace = ?2", containerId, namespace);
        }
        return ContainerState.<ContainerState>list("containerId = ?1 order by namespace", containerId);
    }

    @WithSession
    public Uni<NodeState> node(String node) {
        return NodeState.findById(node);
    }

    private static List<EventEnvelope> envelopes(List<EventRecord> rows) {
        return rows.stream().map(EventRecord::toEnvelope).toList();
    }
}
