package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import dev.berth.schedulerapi.events.projection.EventProjector.Incoming;
import dev.berth.schedulerapi.events.projection.EventProjector.Projected;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Projects a consumer's batch whole, in one transaction; when Postgres refuses something in the data itself
 * ({@link #refusesTheData}), again event by event, in arrival order, so that the event it refuses is poison (to be
 * dead-lettered) and every other one is projected. Any other failure (Postgres down, restarting, out of
 * connections) is the database's state, not the data's: it fails the whole, for the caller to retry.
 */
@ApplicationScoped
public class BatchProjection {
    private static final Logger LOG = Logger.getLogger(BatchProjection.class);

    private final EventProjector projector;

    BatchProjection(EventProjector projector) {
        this.projector = projector;
    }

    public Uni<Projected> project(List<Incoming> batch) {
        return projector.project(batch)
                .onFailure(BatchProjection::refusesTheData).recoverWithUni(e -> {
                    LOG.warnf("Postgres refused data in a batch of %d events, projecting them one by one: %s", batch.size(), e.getMessage());
                    return oneByOne(batch);
                });
    }

    private Uni<Projected> oneByOne(List<Incoming> batch) {
        return Multi.createFrom().iterable(EventProjector.distinctById(batch))
                .onItem().transformToUniAndConcatenate(i -> projector.project(List.of(i))
                        .onFailure(BatchProjection::refusesTheData).recoverWithItem(e -> refused(i.event(), e)))
                .collect().asList()
                .map(BatchProjection::merge);
    }

    private static Projected refused(EventEnvelope event, Throwable e) {
        PgException pg = pgException(e);
        return new Projected(List.of(), Map.of(event.eventId(),
                "Postgres refused the event: " + pg.getErrorMessage() + " (SQLSTATE " + pg.getSqlState() + ")"));
    }

    private static Projected merge(List<Projected> parts) {
        List<EventEnvelope> fresh = new ArrayList<>();
        Map<String, String> poisoned = new LinkedHashMap<>();
        for (Projected p : parts) {
            fresh.addAll(p.fresh());
            poisoned.putAll(p.poisoned());
        }
        return new Projected(fresh, poisoned);
    }

    /**
     * A failure the event's own data caused, which no retry can fix: SQLSTATE class 22 (data exception: a value
     * out of range, a character the column cannot keep) or 54 (program limit exceeded: a value too large to index).
     */
    static boolean refusesTheData(Throwable e) {
        PgException pg = pgException(e);
        String state = pg == null ? null : pg.getSqlState();
        return state != null && (state.startsWith("22") || state.startsWith("54"));
    }

    /** The Postgres error behind a failure (its cause chain walked), or null if Postgres refused nothing. */
    static PgException pgException(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PgException pg) {
                return pg;
            }
        }
        return null;
    }
}
