package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.model.ContainerKey;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.NodeState;
import io.smallrye.mutiny.Uni;
import io.vertx.pgclient.PgException;
import io.vertx.mutiny.sqlclient.Pool;
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
 * batch as array parameters ({@code unnest}), so a batch of 500 events costs six statements, sent in two round
 * trips ({@link Pipeline}), instead of one insert plus one locked load and one flush per event. Hibernate has no
 * batching for native statements and would need a round trip per row; the entities stay the model for reads
 * ({@code EventQueries}).
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
            ORDER BY e.ord""";

    private static final String EXISTING = "SELECT event_id FROM event WHERE event_id = ANY($1::text[])";

    private final Pool pool;
    private final SequenceBounds bounds;

    EventProjector(Pool pool, EventsConfig config) {
        this.pool = pool;
        this.bounds = new SequenceBounds(config.maxSequenceJump(), config.maxIncarnationAhead());
    }

    /**
     * Projects the batch (events in arrival order; repeated ids are fine) in one transaction; the returned Uni
     * completes after the commit. The transaction is two round trips ({@link Pipeline}): BEGIN, which of the events
     * are already there, and the state rows of every subject the batch names, locked; then, once the new events are
     * folded into those rows here, the rows written back, the ingest-order lock, the events' INSERT and the COMMIT.
     */
    public Uni<Projected> project(List<Incoming> batch) {
        List<Incoming> distinct = distinctById(batch);
        if (distinct.isEmpty()) {
            return Uni.createFrom().item(Projected.NOTHING);
        }
        return pool.withConnection(conn -> inOneTransaction(conn, distinct));
    }

    private Uni<Projected> inOneTransaction(SqlConnection conn, List<Incoming> batch) {
        List<EventEnvelope> events = batch.stream().map(Incoming::event).toList();
        Subjects<ContainerKey, ContainerState> containers = new Subjects<>(StateTables.CONTAINERS, events);
        Subjects<String, NodeState> nodes = new Subjects<>(StateTables.NODES, events);
        Pipeline read = new Pipeline(conn);
        read.add("BEGIN");
        int existing = read.add(EXISTING, Tuple.of(events.stream().map(EventEnvelope::eventId).toArray(String[]::new)));
        int containerRows = containers.lock(read);
        int nodeRows = nodes.lock(read);
        return read.send().map(answers -> {
            Set<String> fresh = new HashSet<>();
            events.forEach(e -> fresh.add(e.eventId()));
            answers.get(existing).forEach(row -> fresh.remove(row.getString(0)));
            Instant now = Instant.now();
            Map<String, String> poisoned = new LinkedHashMap<>();
            List<ContainerState> changedContainers = containers.fold(answers, containerRows, fresh, bounds, now, poisoned);
            List<NodeState> changedNodes = nodes.fold(answers, nodeRows, fresh, bounds, now, poisoned);
            List<Incoming> kept = batch.stream()
                    .filter(i -> fresh.contains(i.event().eventId()) && !poisoned.containsKey(i.event().eventId()))
                    .toList();
            Pipeline write = new Pipeline(conn);
            containers.upsert(write, changedContainers);
            nodes.upsert(write, changedNodes);
            if (!kept.isEmpty()) {
                write.add(LOCK_INGEST_ORDER, Tuple.of(INGEST_ORDER_LOCK));
                write.add(INSERT_EVENTS, insertParams(kept));
            }
            write.add("COMMIT");
            return new Written(write, new Projected(kept.stream().map(Incoming::event).toList(), Map.copyOf(poisoned)));
        })
                // the transaction is open (and aborted, if a statement failed) until the COMMIT is sent: end it
                .onFailure().call(() -> conn.query("ROLLBACK").execute().onFailure().recoverWithNull())
                // the COMMIT ends it whatever happens, rolling back if a statement before it failed
                .chain(written -> written.statements().send().replaceWith(written.outcome()))
                .onFailure(EventProjector::isDuplicateEvent).transform(e -> new ConcurrentProjectionException(
                        "an event of the batch was projected by another transaction meanwhile; the batch is retried"));
    }

    /** The second round trip of a projecting transaction, to be sent, and what the batch did if it commits. */
    private record Written(Pipeline statements, Projected outcome) {}

    /**
     * A duplicate event id refused by the INSERT: a concurrent transaction (a redelivery racing the original)
     * inserted one of the events after this one looked, and this one folded it into the state rows once more. The
     * transaction rolls back (the COMMIT sent behind the INSERT ends it so), and its retry skips the event.
     */
    private static boolean isDuplicateEvent(Throwable e) {
        PgException pg = BatchProjection.pgException(e);
        return pg != null && "23505".equals(pg.getSqlState()) && "event_pkey".equals(pg.getConstraint());
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

    /** The INSERT's parameters: one array per column, the events in arrival order. */
    private static Tuple insertParams(List<Incoming> batch) {
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
        return params;
    }

    public static String subjectKind(EventTypes.Subject subject) {
        return subject.name().toLowerCase(Locale.ROOT);
    }
}
