package dev.berth.schedulerapi.rest;

import dev.berth.events.EventEnvelope;
import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.service.EventBroadcaster;
import dev.berth.schedulerapi.events.service.EventFilter;
import dev.berth.schedulerapi.events.service.EventQueries;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.jboss.resteasy.reactive.RestQuery;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * Every projected event, filtered: {@code GET /api/v1/events} lists stored ones, {@code GET /api/v1/events/stream}
 * streams new ones as Server-Sent Events (one JSON envelope per SSE event). Envelopes have the Kafka schema.
 */
@Path("/api/v1/events")
public class EventResource {
    private static final int DEFAULT_LIMIT = 100;

    private final EventQueries queries;
    private final EventBroadcaster broadcaster;
    private final EventsConfig config;

    EventResource(EventQueries queries, EventBroadcaster broadcaster, EventsConfig config) {
        this.queries = queries;
        this.broadcaster = broadcaster;
        this.config = config;
    }

    /** Events oldest first; {@code since} (inclusive, ISO-8601) pages forward; at most {@code limit} (default 100). */
    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<List<EventEnvelope>> list(@RestQuery String namespace, @RestQuery String node, @RestQuery String type,
            @RestQuery String subjectId, @RestQuery String since, @RestQuery String limit) {
        EventFilter filter = filter(namespace, node, type, subjectId, since);
        return queries.list(filter, QueryParams.limit(limit, DEFAULT_LIMIT, config.maxListLimit()));
    }

    /**
     * Events projected from now on that match the filters. The stream carries only what was committed after the
     * subscription; to catch up after a disconnect, list with {@code since} the last time seen (and drop ids seen).
     */
    @GET
    @Path("stream")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    public Multi<EventEnvelope> stream(@RestQuery String namespace, @RestQuery String node, @RestQuery String type,
            @RestQuery String subjectId) {
        EventFilter filter = filter(namespace, node, type, subjectId, null);
        return broadcaster.stream(filter::matches);
    }

    private static EventFilter filter(String namespace, String node, String type, String subjectId, String since) {
        return new EventFilter(QueryParams.blankToNull(namespace), QueryParams.blankToNull(node), QueryParams.type(type),
                QueryParams.blankToNull(subjectId), QueryParams.since(since));
    }
}
