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
import org.jboss.resteasy.reactive.RestQuery;
import org.jboss.resteasy.reactive.RestStreamElementType;

/**
 * Every projected event, filtered: {@code GET /api/v1/events} lists stored ones a page at a time ({@link EventList}),
 * {@code GET /api/v1/events/stream} streams new ones as Server-Sent Events (one JSON envelope per SSE event).
 * Envelopes have the Kafka schema.
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

    /**
     * Events in arrival order, at most {@code limit} (default 100), after the page whose {@code continue} token is
     * passed back ({@code ?continue=}; none: from the first event). The filters stay the same from page to page;
     * {@code since} (inclusive, ISO-8601) keeps only events that happened from then on, it is not a position.
     */
    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<EventList> list(@RestQuery String namespace, @RestQuery String node, @RestQuery String type,
            @RestQuery String subjectId, @RestQuery String since, @RestQuery String limit,
            @RestQuery("continue") String continueToken) {
        EventFilter filter = filter(namespace, node, type, subjectId, since);
        return queries.list(filter, ContinueToken.feed(continueToken), QueryParams.limit(limit, DEFAULT_LIMIT, config.maxListLimit()))
                .map(EventList::of);
    }

    /**
     * Events projected from now on that match the filters. The stream carries only what was committed after the
     * subscription. To miss nothing across a disconnect, subscribe first, then page the listing with the same
     * filters from the last {@code continue} token held until a page says {@code more: false}, dropping event ids
     * already seen (an event may come both ways). SSE events carry no {@code id:} to resume from: each consumer
     * announces its batch after its own commit, so the stream's order is not quite ingest order, and the last event
     * streamed is not a point before which everything was streamed.
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
