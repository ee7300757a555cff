package dev.berth.schedulerapi.events;

import static org.awaitility.Awaitility.await;

import dev.berth.events.EventEnvelope;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import java.time.Duration;
import java.util.List;

/**
 * A row of {@code event} with an event's id, inserted by a transaction of the test's own and left open: what a
 * concurrent projection of the same event looks like to another one, which waits on the row until this transaction
 * {@link #commit commits} (the other then finds a duplicate) or {@link #rollback rolls back} (it does not).
 */
final class UncommittedEvent implements AutoCloseable {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final Pool pool;
    private final SqlConnection conn;
    private final Transaction tx;
    private final int pid;

    UncommittedEvent(Pool pool, EventEnvelope event) {
        this.pool = pool;
        this.conn = pool.getConnection().await().atMost(WAIT);
        this.tx = conn.begin().await().atMost(WAIT);
        this.pid = conn.query("SELECT pg_backend_pid()").execute().await().atMost(WAIT).iterator().next().getInteger(0);
        conn.preparedQuery("INSERT INTO event (event_id, type, schema_version, namespace, node, subject_kind, subject_id,"
                        + " sequence, occurred_at, payload) VALUES ($1, $2, 1, $3, $4, 'container', $5, $6, now(), '{}')")
                .execute(Tuple.from(List.of(event.eventId(), event.type(), event.namespace(), event.node(),
                        event.subjectId(), event.sequence())))
                .await().atMost(WAIT);
    }

    /** Waits until another session waits on this transaction (a projection's INSERT of the same id). */
    void awaitSomeoneWaiting() {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> pool
                .preparedQuery("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))")
                .execute(Tuple.of(pid)).await().atMost(WAIT).iterator().next().getLong(0) > 0);
    }

    void commit() {
        tx.commit().await().atMost(WAIT);
    }

    void rollback() {
        tx.rollback().await().atMost(WAIT);
    }

    @Override
    public void close() {
        conn.close().await().atMost(WAIT);
    }
}
