package dev.berth.schedulerapi.rest;

import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.service.EventCursor;
import dev.berth.schedulerapi.events.service.EventQueries;
import dev.berth.schedulerapi.events.service.NodeLiveness;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import org.jboss.resteasy.reactive.RestPath;
import org.jboss.resteasy.reactive.RestQuery;

/** What the events say about one container: its timeline and its observed state. */
@Path("/api/v1/containers/{id}")
public class ContainerResource {

    /**
     * The container's observed state, as projected from its events, beside the liveness of its node: on a stale
     * node ({@code nodeStale}) the state is the last one the node reported, not necessarily what runs now. The node
     * fields are null when no event of the node itself was seen.
     */
    public record ContainerStatus(String namespace, String containerId, String node, String image, String status,
            Integer exitCode, String signal, Boolean oomKilled, Instant createdAt, Instant startedAt, Instant exitedAt,
            long lastSequence, String lastEventId, String lastEventType, Instant updatedAt,
            Boolean nodeReady, Boolean nodeStale, Instant nodeLastHeartbeatAt) {
        static ContainerStatus of(ContainerState s, NodeLiveness.Liveness node) {
            return new ContainerStatus(s.namespace, s.containerId, s.node, s.image, s.status, s.exitCode, s.signal,
                    s.oomKilled, s.createdAt, s.startedAt, s.exitedAt, s.lastSequence, s.lastEventId, s.lastEventType, s.updatedAt,
                    node == null ? null : node.ready(), node == null ? null : node.stale(),
                    node == null ? null : node.lastHeartbeatAt());
        }
    }

    private static final int DEFAULT_LIMIT = 100;

    private final EventQueries queries;
    private final NodeLiveness liveness;
    private final EventsConfig config;

    ContainerResource(EventQueries queries, NodeLiveness liveness, EventsConfig config) {
        this.queries = queries;
        this.liveness = liveness;
        this.config = config;
    }

    /**
     * The container's events in sequence order (exec events included), at most {@code limit} (default 100), after
     * the page whose {@code continue} token is passed back; 404 when none was seen.
     */
    @GET
    @Path("events")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<EventList> timeline(@RestPath String id, @RestQuery String namespace, @RestQuery String node,
            @RestQuery String limit, @RestQuery("continue") String continueToken) {
        EventCursor.Timeline after = ContinueToken.timeline(continueToken);
        return queries.timeline(id, QueryParams.blankToNull(namespace), QueryParams.blankToNull(node), after,
                QueryParams.limit(limit, DEFAULT_LIMIT, config.maxListLimit())).map(page -> {
                    if (page.items().isEmpty() && after == null) {
                        throw ApiException.notFound("no events for container '" + id + "'" + where(namespace, node));
                    }
                    return EventList.of(page);
                });
    }

    private static String where(String namespace, String node) {
        return (namespace == null ? "" : " in namespace '" + namespace + "'") + (node == null ? "" : " on node '" + node + "'");
    }

    /** The observed state; pass {@code namespace} and {@code node} when the id exists in more than one. */
    @GET
    @Path("status")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<ContainerStatus> status(@RestPath String id, @RestQuery String namespace, @RestQuery String node) {
        return queries.containers(id, QueryParams.blankToNull(namespace), QueryParams.blankToNull(node)).map(states -> {
            if (states.isEmpty()) {
                throw ApiException.notFound("no events for container '" + id + "'" + where(namespace, node));
            }
            if (states.size() > 1) {
                throw ApiException.conflict("container '" + id + "' exists as "
                        + states.stream().map(s -> s.namespace + " on " + s.node).toList() + "; pass ?namespace= and ?node=");
            }
            return states.get(0);
        }).chain(state -> queries.node(state.node).map(nodeState ->
                ContainerStatus.of(state, nodeState == null ? null : liveness.of(nodeState, Instant.now()))));
    }
}
