package dev.berth.schedulerapi.rest;

import dev.berth.schedulerapi.events.model.NodeState;
import dev.berth.schedulerapi.events.service.EventQueries;
import dev.berth.schedulerapi.events.service.NodeLiveness;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;
import org.jboss.resteasy.reactive.RestPath;

/** What the events say about one node. */
@Path("/api/v1/nodes/{name}")
public class NodeResource {

    /**
     * The node's observed state, as projected from its events, and whether it is alive now: {@code ready} while it
     * is up and its heartbeats come; {@code stale} (since {@code staleSince}) when it is up but went silent, as a
     * crashed agent does; neither when it went down on purpose ({@code status} "down").
     */
    public record NodeStatus(String node, String status, boolean ready, boolean stale, Instant lastHeartbeatAt,
            Instant staleSince, String agentVersion, Integer containersRunning, long lastSequence, String lastEventId,
            String lastEventType, Instant updatedAt) {
        static NodeStatus of(NodeState s, NodeLiveness.Liveness live) {
            return new NodeStatus(s.node, s.status, live.ready(), live.stale(), live.lastHeartbeatAt(), live.staleSince(),
                    s.agentVersion, s.containersRunning, s.lastSequence, s.lastEventId, s.lastEventType, s.updatedAt);
        }
    }

    private final EventQueries queries;
    private final NodeLiveness liveness;

    NodeResource(EventQueries queries, NodeLiveness liveness) {
        this.queries = queries;
        this.liveness = liveness;
    }

    @GET
    @Path("status")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<NodeStatus> status(@RestPath String name) {
        return queries.node(name).map(state -> {
            if (state == null) {
                throw ApiException.notFound("no events for node '" + name + "'");
            }
            return NodeStatus.of(state, liveness.of(state, Instant.now()));
        });
    }
}
