package dev.berth.schedulerapi.rest;

import dev.berth.schedulerapi.events.model.NodeState;
import dev.berth.schedulerapi.events.service.EventQueries;
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

    /** The node's observed state, as projected from its events. */
    public record NodeStatus(String node, String status, String agentVersion, Instant lastHeartbeatAt,
            Integer containersRunning, long lastSequence, String lastEventId, String lastEventType, Instant updatedAt) {
        static NodeStatus of(NodeState s) {
            return new NodeStatus(s.node, s.status, s.agentVersion, s.lastHeartbeatAt, s.containersRunning,
                    s.lastSequence, s.lastEventId, s.lastEventType, s.updatedAt);
        }
    }

    private final EventQueries queries;

    NodeResource(EventQueries queries) {
        this.queries = queries;
    }

    @GET
    @Path("status")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<NodeStatus> status(@RestPath String name) {
        return queries.node(name).map(state -> {
            if (state == null) {
                throw ApiException.notFound("no events for node '" + name + "'");
            }
            return NodeStatus.of(state);
        });
    }
}
