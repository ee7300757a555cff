package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.projection.StateTables.StateTable;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Projects a batch of events into Postgres in one transaction: which of its events are new (those whose id is
 * already there are skipped), the observed state of each container and node the new ones touch (one row write per
 * subject), and last the new events' rows. A redelivered batch therefore changes nothing, and the caller
 * acknowledges the Kafka records only after this transaction committed. The last step takes turns with the other
 * writers ({@link #INGEST_ORDER_LOCK}), so transactions commit in the order of the ingest_seq values they allocate,
 * which is what lets readers page by ingest_seq; everything before it runs side by side.
 *
 * <p>The state rules are {@link ContainerStateProjection} and {@link NodeStateProjection}, applied in arrival order
 * to each subject's row as locked at the start of the batch, exactly as if the events had come one per
 * transaction: a late event still changes no status and still fills facts that are missing. An event whose
 * position no real agent gives ({@link SequenceBounds}) is poison: it is applied nowhere, gets no row in
 * {@code event}, and the caller dead-letters it.
 *
 * <p>Writes use the reactive Postgres client directly, not Hibernate Reactive: each statement carries the whole
 * batch as array parameters ({@code unnest}), so a batch of 500 events costs six statements instead of one
 * insert plus one locked load and one flush per event. Hibernate has no batching for native statements and
 * would need a round trip per row; the entities stay the model for reads ({@code EventQueries}).
 */
@ApplicationScoped
public class EventProjector {

    /** Where a record was read from, kept beside the event for whoever has to trace it back. */
    public record Provenance(String topic, int partition, long offset) {}

    /** A decoded event and where it came from. */
    public record Incoming(EventEnvelope event, Provenance provenance) {}

    /**
     * What a batch did: the events that were new and projected, in arrival order (the ones to announce), and the
     * poison among them, event id to the reason (the ones to dead-letter).
     */
    public record Projected(List<EventEnvelope> fresh, Map<String, String> poisoned) {
        public static final Projected NOTHING = new Projected(List.of(), Map.of());
    }

    /**
     * The advisory lock ({@code pg_advisory_xact_lock}) every projecting transaction takes before its INSERT
     * allocates ingest_seq values, and holds until it commits or rolls back: the bigint of the ASCII "BerthEv1". So
     * transactions allocate ingest_seq and commit one after another, and since Postgres makes a commit visible before
     * it releases the transaction's locks, the next writer's (larger) ingest_seq values can be seen only after every
     * smaller one is. Without it, of two overlapping transactions (this process runs several consumers, and a second
     * replica may run), the one with the larger values could commit first, and a reader paging by ingest_seq past
     * them would never see the smaller ones (EventQueries.list). It serialises only the INSERT and the commit (the
     * state rows are locked, folded and written before, side by side: holding it from the start cost a third of the
     * throughput in bench/events); the sequence must keep CACHE 1, or a connection could hand out values it
     * reserved before another took the lock.
     */
    public static final long INGEST_ORDER_LOCK = 0x4265727468457631L;

    private static final String LOCK_INGEST_ORDER = "SELECT 1 FROM pg_advisory_xact_lock($1)";

    // ORDER BY ord keeps arrival order in ingest_seq (the listings' order)
    private static final String INSERT_EVENTS = """
            INSERT INTO event (event_id, type, schema_version, namespace, node, subject_kind, subject_id, sequence,
                               occurred_at, payload, kafka_topic, kafka_partition, kafka_offset, incarnation)
            SELECT e.event_id, e.type, e.schema_version, e.namespace, e.node, e.subject_kind, e.subject_id, e.sequence,
                   e.occurred_at, e.payload::jsonb, e.kafka_topic, e.kafka_partition, e.kafka_offset, e.incarnation
            FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[],
                        $9::timestamptz[], $10::text[], $11::text[], $12::int4[], $13::int8[], $14::int8[])
                 WITH ORDINALITY AS e(event_id, type, schema_version, namespace, node, subject_kind, subject_id, sequence,
                                      occurred_at, payload, kafka_topic, kafka_partition, kafka_offset, incarnation, ord)
            ORDER BY e.ord
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id""";

    private static final String EXISTING = "SELECT event_id FROM event WHERE event_id = ANY($1::text[])";

    private final Pool pool;
    private final SequenceBounds bounds;

    EventProjector(Pool pool, EventsConfig config) {
        this.pool = pool;
        this.bounds = new SequenceBounds(config.maxSequenceJump(), config.maxIncarnationAhead());
    }

    /**
     * Projects the batch (events in arrival order; repeated ids are fine) in one transaction; the returned Uni
     * completes after the commit.
     */
    public Uni<Projected> project(List<Incoming> batch) {
        List<Incoming> distinct = distinctById(batch);
        if (distinct.isEmpty()) {
            return Uni.createFrom().item(Projected.NOTHING);
        }
        return pool.withTransaction(conn -> fresh(conn, distinct).chain(fresh -> {
            Map<String, String> poisoned = new LinkedHashMap<>();
            List<EventEnvelope> events = fresh.stream().map(Incoming::event).toList();
            return applyTo(conn, events, StateTables.CONTAINERS, bounds, poisoned)
                    .chain(() -> applyTo(conn, events, StateTables.NODES, bounds, poisoned))
                    .chain(() -> {
                        List<Incoming> kept = fresh.stream().filter(i -> !poisoned.containsKey(i.event().eventId())).toList();
                        return lockIngestOrder(conn).chain(() -> insertEvents(conn, kept))
                                .map(projected -> new Projected(projected, Map.copyOf(poisoned)));
                    });
        }));
    }

    /** The events of the batch whose id {@code event} does not hold yet, in arrival order. */
    private static Uni<List<Incoming>> fresh(SqlConnection conn, List<Incoming> batch) {
        String[] ids = batch.stream().map(i -> i.event().eventId()).toArray(String[]::new);
        return conn.preparedQuery(EXISTING).execute(Tuple.of(ids)).map(rows -> {
            Set<String> existing = new HashSet<>();
            for (Row row : rows) {
                existing.add(row.getString(0));
            }
            return existing.isEmpty() ? batch : batch.stream().filter(i -> !existing.contains(i.event().eventId())).toList();
        });
    }

    /** The first of each event id, in arrival order: a batch may hold a relay's repeat next to the original. */
    static List<Incoming> distinctById(List<Incoming> batch) {
        Set<String> seen = new HashSet<>();
        List<Incoming> out = new ArrayList<>(batch.size());
        for (Incoming i : batch) {
            if (seen.add(i.event().eventId())) {
                out.add(i);
            }
        }
        return out;
    }

    /** Waits for the transactions that allocated ingest_seq before this one to end ({@link #INGEST_ORDER_LOCK}). */
    private static Uni<Void> lockIngestOrder(SqlConnection conn) {
        return conn.preparedQuery(LOCK_INGEST_ORDER).execute(Tuple.of(INGEST_ORDER_LOCK)).replaceWithVoid();
    }

    /**
     * Inserts the events' rows; every one must be new. One that is not was inserted by a concurrent transaction (a
     * redelivery racing the original) after {@link #fresh} looked, and this transaction has folded it into the state
     * rows once more: it fails with {@link ConcurrentProjectionException}, rolls back, and its retry skips the event.
     */
    private Uni<List<EventEnvelope>> insertEvents(SqlConnection conn, List<Incoming> batch) {
        if (batch.isEmpty()) {
            return Uni.createFrom().item(List.of());
        }
        int n = batch.size();
        String[] ids = new String[n];
        String[] types = new String[n];
        Integer[] versions = new Integer[n];
        String[] namespaces = new String[n];
        String[] nodes = new String[n];
        String[] kinds = new String[n];
        String[] subjects = new String[n];
        Long[] sequences = new Long[n];
        OffsetDateTime[] times = new OffsetDateTime[n];
        String[] payloads = new String[n];
        String[] topics = new String[n];
        Integer[] partitions = new Integer[n];
        Long[] offsets = new Long[n];
        Long[] incarnations = new Long[n];
        for (int i = 0; i < n; i++) {
            EventEnvelope e = batch.get(i).event();
            Provenance p = batch.get(i).provenance();
            ids[i] = e.eventId();
            types[i] = e.type();
            versions[i] = e.schemaVersion();
            namespaces[i] = e.namespace();
            nodes[i] = e.node();
            kinds[i] = subjectKind(StateTables.subject(e));
            subjects[i] = e.subjectId();
            sequences[i] = e.sequence();
            times[i] = StateTables.utc(e.time());
            payloads[i] = EventCodec.payloadJson(e);
            topics[i] = p == null ? null : p.topic();
            partitions[i] = p == null ? null : p.partition();
            offsets[i] = p == null ? null : p.offset();
            incarnations[i] = e.incarnation();
        }
        Tuple params = Tuple.from(List.of(ids, types, versions, namespaces, nodes, kinds, subjects, sequences, times,
                payloads, topics, partitions, offsets, incarnations));
        return conn.preparedQuery(INSERT_EVENTS).execute(params).map(rows -> {
            Set<String> inserted = new HashSet<>();
            for (Row row : rows) {
                inserted.add(row.getString(0));
            }
            if (inserted.size() != batch.size()) {
                throw new ConcurrentProjectionException((batch.size() - inserted.size()) + " of " + batch.size()
                        + " events were projected by another transaction meanwhile; the batch is retried");
            }
            return batch.stream().map(Incoming::event).toList();
        });
    }

    /**
     * Locks the rows of the subjects the new events change (one statement, in key order), folds each subject's
     * events into its row in arrival order (a new row for a subject seen for the first time), skipping and noting
     * in {@code poisoned} each event {@code bounds} refuses, and writes every row an event changed back (one
     * statement).
     */
    private static <K, S> Uni<Void> applyTo(SqlConnection conn, List<EventEnvelope> fresh, StateTable<K, S> table,
            SequenceBounds bounds, Map<String, String> poisoned) {
        Map<K, List<EventEnvelope>> bySubject = new TreeMap<>(table.keyOrder());
        for (EventEnvelope e : fresh) {
            if (table.changes().test(e)) {
                bySubject.computeIfAbsent(table.keyOf().apply(e), k -> new ArrayList<>()).add(e);
            }
        }
        if (bySubject.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return conn.preparedQuery(table.lockSql()).execute(table.lockParams().apply(bySubject.keySet())).chain(rows -> {
            Map<K, S> states = new LinkedHashMap<>();
            for (Row row : rows) {
                S s = table.readRow().apply(row);
                states.put(table.keyOfState().apply(s), s);
            }
            Instant now = Instant.now();
            List<S> changed = new ArrayList<>(bySubject.size());
            for (Map.Entry<K, List<EventEnvelope>> subject : bySubject.entrySet()) {
                S s = states.get(subject.getKey());
                boolean applied = false;
                for (EventEnvelope e : subject.getValue()) {
                    String violation = bounds.violation(s == null ? null : table.positionOf().apply(s), e, now);
                    if (violation != null) {
                        poisoned.put(e.eventId(), violation);
                        continue;
                    }
                    if (s == null) {
                        s = table.newState().apply(e);
                    }
                    table.rules().apply(s, e, now);
                    applied = true;
                }
                if (applied) {
                    changed.add(s);
                }
            }
            if (changed.isEmpty()) {
                return Uni.createFrom().voidItem();
            }
            return conn.preparedQuery(table.upsertSql()).execute(table.upsertParams().apply(changed)).replaceWithVoid();
        });
    }

    public static String subjectKind(EventTypes.Subject subject) {
        return subject.name().toLowerCase(Locale.ROOT);
    }
}
