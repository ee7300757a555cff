package dev.berth.schedulerapi.events.projection;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;

/**
 * Statements sent on one connection one after the other without waiting for each one's answer (the Postgres
 * protocol's pipelining, which the reactive client does on its own once several statements are pending): a whole
 * list costs one round trip. Postgres still runs them in order, and once one fails inside a transaction every later
 * one fails too, up to the COMMIT, which then rolls back.
 *
 * <p>Round trips are what a projecting transaction waits for on a busy machine: each one wakes the database
 * backend and then the client's event loop, and on two cores shared by three JVMs and Postgres each wake-up can wait
 * for a time slice. Seven statements one by one took 27 ms (p50) per batch in bench/events.
 */
final class Pipeline {
    private final SqlConnection conn;
    private final List<Uni<RowSet<Row>>> statements = new ArrayList<>();

    Pipeline(SqlConnection conn) {
        this.conn = conn;
    }

    /** Adds a statement without parameters (BEGIN, COMMIT); returns its index among the answers. */
    int add(String sql) {
        statements.add(conn.query(sql).execute());
        return statements.size() - 1;
    }

    /** Adds a prepared statement; returns its index among the answers. */
    int add(String sql, Tuple params) {
        statements.add(conn.preparedQuery(sql).execute(params));
        return statements.size() - 1;
    }

    /**
     * Sends the statements, in the order added, and completes with their answers (by index) once every one came; if
     * any failed, fails with the first failure in that order (the later ones only say the transaction was aborted).
     */
    Uni<List<RowSet<Row>>> send() {
        if (statements.isEmpty()) {
            return Uni.createFrom().item(List.of());
        }
        List<Uni<Answer>> answers = statements.stream()
                .map(s -> s.onItemOrFailure().transform(Answer::new))
                .toList();
        // combine subscribes to each in list order, and each subscription hands its statement to the connection
        return Uni.combine().all().unis(answers).with(Answer.class, all -> {
            List<RowSet<Row>> rows = new ArrayList<>(all.size());
            for (Answer a : all) {
                if (a.failure() != null) {
                    throw a.failure() instanceof RuntimeException re ? re : new IllegalStateException(a.failure());
                }
                rows.add(a.rows());
            }
            return rows;
        });
    }

    private record Answer(RowSet<Row> rows, Throwable failure) {}
}
