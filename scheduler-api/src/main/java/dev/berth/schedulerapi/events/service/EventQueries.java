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

    /**
     * Every event of one container in its order (incarnation, then sequence); all namespaces and nodes holding that
     * id when {@code namespace} or {@code node} is null, each container's events together.
     */
    @WithSession
    public Uni<List<EventEnvelope>> timeline(String containerId, String namespace, String node) {
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
        return EventRecord.<EventRecord>find(where + " order by namespace, node, incarnation, sequence, ingestSeq", params).list()
                .map(EventQueries::envelopes);
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

    private static List<EventEnvelope> envelopes(List<EventRecord> rows) {
        return rows.stream().map(EventRecord::toEnvelope).toList();
    }
}
