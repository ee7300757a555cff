package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.events.model.ContainerKey;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.NodeState;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Projects a batch of events into Postgres in one transaction: the events' rows (those whose id is already there
 * are skipped), then, for the new ones only, the observed state of each container and node they touch, one row
 * write per subject. A redelivered batch therefore changes nothing, and the caller acknowledges the Kafka records
 * only after this transaction committed.
 *
 * <p>The state rules are {@link ContainerStateProjection} and {@link NodeStateProjection}, applied in arrival order
 * to each subject's row as locked at the start of the batch, exactly as if the events had come one per
 * transaction: a late event still changes no status and still fills facts that are missing.
 *
 * <p>Writes use the reactive Postgres client directly, not Hibernate Reactive: each statement carries the whole
 * batch as array parameters ({@code unnest}), so a batch of 500 events costs four statements instead of one
 * insert plus one locked load and one flush per event. Hibernate has no batching for native statements and
 * would need a round trip per row; the entities stay the model for reads ({@code EventQueries}).
 */
@ApplicationScoped
public class EventProjector {

    /** Where a record was read from, kept beside the event for whoever has to trace it back. */
    public record Provenance(String topic, int partition, long offset) {}

    /** A decoded event and where it came from. */
    public record Incoming(EventEnvelope event, Provenance provenance) {}

    // ORDER BY ord keeps arrival order in ingest_seq (the listings' tie-breaker)
    private static final String INSERT_EVENTS = """
            INSERT INTO event (event_id, type, schema_version, namespace, node, subject_kind, subject_id, sequence,
                               occurred_at, payload, kafka_topic, kafka_partition, kafka_offset)
            SELECT e.event_id, e.type, e.schema_version, e.namespace, e.node, e.subject_kind, e.subject_id, e.sequence,
                   e.occurred_at, e.payload::jsonb, e.kafka_topic, e.kafka_partition, e.kafka_offset
            FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[],
                        $9::timestamptz[], $10::text[], $11::text[], $12::int4[], $13::int8[])
                 WITH ORDINALITY AS e(event_id, type, schema_version, namespace, node, subject_kind, subject_id, sequence,
                                      occurred_at, payload, kafka_topic, kafka_partition, kafka_offset, ord)
            ORDER BY e.ord
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id""";

    private static final String CONTAINER_COLUMNS = """
            namespace, container_id, node, image, status, exit_code, signal, oom_killed, created_at, started_at,
            exited_at, last_sequence, last_event_id, last_event_type, updated_at, projected_at""";

    // One index probe and row lock per key, in the order given (key order: two transactions touching the same
    // containers lock them in the same order). LATERAL keeps it a nested loop over the primary key whatever the
    // statistics: a plain join to unnest() gets a cached generic plan, made while the table was small, of a hash
    // join over a sequential scan, which grows with the table.
    private static final String LOCK_CONTAINERS = "SELECT " + CONTAINER_COLUMNS + """
             FROM unnest($1::text[], $2::text[]) AS k(ns, id)
            CROSS JOIN LATERAL (SELECT * FROM container_state c
                                WHERE c.namespace = k.ns AND c.container_id = k.id
                                FOR UPDATE) cs""";

    // The rows were locked and folded above, so the update writes what the rules computed. The guard only matters
    // for a row that did not exist when locked and was inserted meanwhile (a rebalance that let two consumers
    // read one partition): the newer sequence wins.
    private static final String UPSERT_CONTAINERS = "INSERT INTO container_state (" + CONTAINER_COLUMNS + """
            )
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[],
                                 $8::bool[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::int8[],
                                 $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[])
            ON CONFLICT (namespace, container_id) DO UPDATE SET
                node = excluded.node, image = excluded.image, status = excluded.status, exit_code = excluded.exit_code,
                signal = excluded.signal, oom_killed = excluded.oom_killed, created_at = excluded.created_at,
                started_at = excluded.started_at, exited_at = excluded.exited_at, last_sequence = excluded.last_sequence,
                last_event_id = excluded.last_event_id, last_event_type = excluded.last_event_type,
                updated_at = excluded.updated_at, projected_at = excluded.projected_at
            WHERE container_state.last_sequence <= excluded.last_sequence""";

    private static final String NODE_COLUMNS = """
            node, status, agent_version, last_heartbeat_at, containers_running, last_sequence, last_event_id,
            last_event_type, updated_at, projected_at""";

    private static final String LOCK_NODES = "SELECT " + NODE_COLUMNS + """
             FROM unnest($1::text[]) AS k(name)
            CROSS JOIN LATERAL (SELECT * FROM node_state n WHERE n.node = k.name FOR UPDATE) ns""";

    private static final String UPSERT_NODES = "INSERT INTO node_state (" + NODE_COLUMNS + """
            )
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[], $6::int8[],
                                 $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
            ON CONFLICT (node) DO UPDATE SET
                status = excluded.status, agent_version = excluded.agent_version,
                last_heartbeat_at = excluded.last_heartbeat_at, containers_running = excluded.containers_running,
                last_sequence = excluded.last_sequence, last_event_id = excluded.last_event_id,
                last_event_type = excluded.last_event_type, updated_at = excluded.updated_at,
                projected_at = excluded.projected_at
            WHERE node_state.last_sequence <= excluded.last_sequence""";

    private final Pool pool;

    EventProjector(Pool pool) {
        this.pool = pool;
    }

    /**
     * Projects the batch (events in arrival order; repeated ids are fine) in one transaction and returns the events
     * that were new, in arrival order: the ones to announce once the returned Uni completes (it completes after
     * the commit).
     */
    public Uni<List<EventEnvelope>> project(List<Incoming> batch) {
        List<Incoming> distinct = distinctById(batch);
        if (distinct.isEmpty()) {
            return Uni.createFrom().item(List.of());
        }
        return pool.withTransaction(conn -> insertEvents(conn, distinct)
                .chain(fresh -> applyTo(conn, fresh, CONTAINERS)
                        .chain(() -> applyTo(conn, fresh, NODES))
                        .replaceWith(fresh)));
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

    private Uni<List<EventEnvelope>> insertEvents(SqlConnection conn, List<Incoming> batch) {
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
        for (int i = 0; i < n; i++) {
            EventEnvelope e = batch.get(i).event();
            Provenance p = batch.get(i).provenance();
            ids[i] = e.eventId();
            types[i] = e.type();
            versions[i] = e.schemaVersion();
            namespaces[i] = e.namespace();
            nodes[i] = e.node();
            kinds[i] = subjectKind(subject(e));
            subjects[i] = e.subjectId();
            sequences[i] = e.sequence();
            times[i] = utc(e.time());
            payloads[i] = EventCodec.payloadJson(e);
            topics[i] = p == null ? null : p.topic();
            partitions[i] = p == null ? null : p.partition();
            offsets[i] = p == null ? null : p.offset();
        }
        Tuple params = Tuple.from(List.of(ids, types, versions, namespaces, nodes, kinds, subjects, sequences, times,
                payloads, topics, partitions, offsets));
        return conn.preparedQuery(INSERT_EVENTS).execute(params).map(rows -> {
            Set<String> inserted = new HashSet<>();
            for (Row row : rows) {
                inserted.add(row.getString(0));
            }
            List<EventEnvelope> fresh = new ArrayList<>(inserted.size());
            for (Incoming i : batch) {
                if (inserted.contains(i.event().eventId())) {
                    fresh.add(i.event());
                }
            }
            return fresh;
        });
    }

    /** How one rule set changes a state row: {@link ContainerStateProjection#apply}, {@link NodeStateProjection#apply}. */
    @FunctionalInterface
    interface Rules<S> {
        void apply(S state, EventEnvelope event, Instant now);
    }

    /**
     * One observed-state table as the batch sees it: which events change it and whose row (key) they change, how
     * its rows are locked, read and written back, and the rules that fold events into a row. Containers and nodes
     * differ only in these; {@link #applyTo} is the same for both.
     */
    record StateTable<K, S>(
            Predicate<EventEnvelope> changes,
            Function<EventEnvelope, K> keyOf,
            Comparator<K> keyOrder,
            String lockSql,
            Function<Collection<K>, Tuple> lockParams,
            Function<Row, S> readRow,
            Function<S, K> keyOfState,
            Function<EventEnvelope, S> newState,
            Rules<S> rules,
            String upsertSql,
            Function<Collection<S>, Tuple> upsertParams) {}

    private static final StateTable<ContainerKey, ContainerState> CONTAINERS = new StateTable<>(
            e -> subject(e) == EventTypes.Subject.CONTAINER && ContainerStateProjection.changesState(e.type()),
            e -> new ContainerKey(e.namespace(), e.subjectId()),
            Comparator.comparing(ContainerKey::namespace).thenComparing(ContainerKey::containerId),
            LOCK_CONTAINERS,
            keys -> Tuple.of(keys.stream().map(ContainerKey::namespace).toArray(String[]::new),
                    keys.stream().map(ContainerKey::containerId).toArray(String[]::new)),
            EventProjector::containerState,
            s -> new ContainerKey(s.namespace, s.containerId),
            ContainerStateProjection::newState,
            ContainerStateProjection::apply,
            UPSERT_CONTAINERS,
            EventProjector::containerParams);

    private static final StateTable<String, NodeState> NODES = new StateTable<>(
            e -> subject(e) == EventTypes.Subject.NODE,
            EventEnvelope::node,
            Comparator.naturalOrder(),
            LOCK_NODES,
            keys -> Tuple.of(keys.toArray(String[]::new)),
            EventProjector::nodeState,
            s -> s.node,
            NodeStateProjection::newState,
            NodeStateProjection::apply,
            UPSERT_NODES,
            EventProjector::nodeParams);

    /**
     * Locks the rows of the subjects the new events change (one statement, in key order), folds each subject's
     * events into its row in arrival order (a new row for a subject seen for the first time), and writes every
     * touched row back (one statement).
     */
    private static <K, S> Uni<Void> applyTo(SqlConnection conn, List<EventEnvelope> fresh, StateTable<K, S> table) {
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
            for (Map.Entry<K, List<EventEnvelope>> subject : bySubject.entrySet()) {
                S s = states.computeIfAbsent(subject.getKey(), k -> table.newState().apply(subject.getValue().get(0)));
                for (EventEnvelope e : subject.getValue()) {
                    table.rules().apply(s, e, now);
                }
            }
            return conn.preparedQuery(table.upsertSql()).execute(table.upsertParams().apply(states.values())).replaceWithVoid();
        });
    }

    private static EventTypes.Subject subject(EventEnvelope e) {
        return EventTypes.require(e.type()).subject();
    }

    /** A locked row, read by position in {@link #CONTAINER_COLUMNS} order (by name costs a lookup per field). */
    private static ContainerState containerState(Row row) {
        ContainerState s = new ContainerState();
        s.namespace = row.getString(0);
        s.containerId = row.getString(1);
        s.node = row.getString(2);
        s.image = row.getString(3);
        s.status = row.getString(4);
        s.exitCode = row.getInteger(5);
        s.signal = row.getString(6);
        s.oomKilled = row.getBoolean(7);
        s.createdAt = instant(row.getOffsetDateTime(8));
        s.startedAt = instant(row.getOffsetDateTime(9));
        s.exitedAt = instant(row.getOffsetDateTime(10));
        s.lastSequence = row.getLong(11);
        s.lastEventId = row.getString(12);
        s.lastEventType = row.getString(13);
        s.updatedAt = instant(row.getOffsetDateTime(14));
        s.projectedAt = instant(row.getOffsetDateTime(15));
        return s;
    }

    private static Tuple containerParams(Collection<ContainerState> states) {
        return columnArrays(states, List.of(
                column(String.class, st -> st.namespace), column(String.class, st -> st.containerId),
                column(String.class, st -> st.node), column(String.class, st -> st.image), column(String.class, st -> st.status),
                column(Integer.class, st -> st.exitCode), column(String.class, st -> st.signal), column(Boolean.class, st -> st.oomKilled),
                column(OffsetDateTime.class, st -> utc(st.createdAt)), column(OffsetDateTime.class, st -> utc(st.startedAt)),
                column(OffsetDateTime.class, st -> utc(st.exitedAt)), column(Long.class, st -> st.lastSequence),
                column(String.class, st -> st.lastEventId), column(String.class, st -> st.lastEventType),
                column(OffsetDateTime.class, st -> utc(st.updatedAt)), column(OffsetDateTime.class, st -> utc(st.projectedAt))));
    }

    /** A locked row, read by position in {@link #NODE_COLUMNS} order. */
    private static NodeState nodeState(Row row) {
        NodeState s = new NodeState();
        s.node = row.getString(0);
        s.status = row.getString(1);
        s.agentVersion = row.getString(2);
        s.lastHeartbeatAt = instant(row.getOffsetDateTime(3));
        s.containersRunning = row.getInteger(4);
        s.lastSequence = row.getLong(5);
        s.lastEventId = row.getString(6);
        s.lastEventType = row.getString(7);
        s.updatedAt = instant(row.getOffsetDateTime(8));
        s.projectedAt = instant(row.getOffsetDateTime(9));
        return s;
    }

    private static Tuple nodeParams(Collection<NodeState> states) {
        return columnArrays(states, List.of(
                column(String.class, st -> st.node), column(String.class, st -> st.status), column(String.class, st -> st.agentVersion),
                column(OffsetDateTime.class, st -> utc(st.lastHeartbeatAt)), column(Integer.class, st -> st.containersRunning),
                column(Long.class, st -> st.lastSequence), column(String.class, st -> st.lastEventId),
                column(String.class, st -> st.lastEventType), column(OffsetDateTime.class, st -> utc(st.updatedAt)),
                column(OffsetDateTime.class, st -> utc(st.projectedAt))));
    }

    /** One upsert parameter: an array of {@code type} (the pg client types the SQL array by it), a value per row. */
    private record Column<S>(Class<?> type, java.util.function.Function<S, Object> value) {}

    private static <S> Column<S> column(Class<?> type, java.util.function.Function<S, Object> value) {
        return new Column<>(type, value);
    }

    /** The rows' values column by column, as the {@code unnest} of an upsert takes them: one typed array each. */
    private static <S> Tuple columnArrays(Collection<S> rows, List<Column<S>> columns) {
        List<Object> arrays = new java.util.ArrayList<>(columns.size());
        for (Column<S> c : columns) {
            Object[] values = (Object[]) java.lang.reflect.Array.newInstance(c.type(), rows.size());
            int i = 0;
            for (S row : rows) values[i++] = c.value().apply(row);
            arrays.add(values);
        }
        return Tuple.from(arrays);
    }

    // not Instant.atOffset, which builds a ZoneRules per call
    private static OffsetDateTime utc(Instant t) {
        return t == null ? null : OffsetDateTime.of(LocalDateTime.ofEpochSecond(t.getEpochSecond(), t.getNano(), ZoneOffset.UTC), ZoneOffset.UTC);
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    public static String subjectKind(EventTypes.Subject subject) {
        return subject.name().toLowerCase(Locale.ROOT);
    }
}
