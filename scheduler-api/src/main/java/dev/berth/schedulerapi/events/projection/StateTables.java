package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.events.model.ContainerKey;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.NodeState;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import java.lang.reflect.Array;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The observed-state tables as {@link EventProjector} sees them: which events change a row and whose, how rows are
 * locked, read and written back (SQL and column order), and the rules that fold events into a row.
 */
final class StateTables {
    private StateTables() {}

    /** How one rule set changes a state row: {@link ContainerStateProjection#apply}, {@link NodeStateProjection#apply}. */
    @FunctionalInterface
    interface Rules<S> {
        void apply(S state, EventEnvelope event, Instant now);
    }

    /** One table: containers and nodes differ only in these; {@code EventProjector.applyTo} is the same for both. */
    record StateTable<K, S>(
            Predicate<EventEnvelope> changes,
            Function<EventEnvelope, K> keyOf,
            Comparator<K> keyOrder,
            String lockSql,
            Function<Collection<K>, Tuple> lockParams,
            Function<Row, S> readRow,
            Function<S, K> keyOfState,
            Function<S, Position> positionOf,
            Function<EventEnvelope, S> newState,
            Rules<S> rules,
            String upsertSql,
            Function<Collection<S>, Tuple> upsertParams) {}

    private static final String CONTAINER_COLUMNS = """
            namespace, container_id, node, image, status, exit_code, signal, oom_killed, created_at, started_at,
            exited_at, last_sequence, last_event_id, last_event_type, updated_at, projected_at, incarnation""";

    // One index probe and row lock per key, in the order given (key order: two transactions touching the same
    // containers lock them in the same order). LATERAL keeps it a nested loop over the primary key whatever the
    // statistics: a plain join to unnest() gets a cached generic plan, made while the table was small, of a hash
    // join over a sequential scan, which grows with the table.
    private static final String LOCK_CONTAINERS = "SELECT " + CONTAINER_COLUMNS + """
             FROM unnest($1::text[], $2::text[], $3::text[]) AS k(ns, id, on_node)
            CROSS JOIN LATERAL (SELECT * FROM container_state c
                                WHERE c.namespace = k.ns AND c.container_id = k.id AND c.node = k.on_node
                                FOR UPDATE) cs""";

    // The rows were locked and folded above, so the update writes what the rules computed. The guard only matters
    // for a row that did not exist when locked and was inserted meanwhile (a rebalance that let two consumers
    // read one partition): the newer position wins.
    private static final String UPSERT_CONTAINERS = "INSERT INTO container_state (" + CONTAINER_COLUMNS + """
            )
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[],
                                 $8::bool[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::int8[],
                                 $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::int8[])
            ON CONFLICT (namespace, container_id, node) DO UPDATE SET
                image = excluded.image, status = excluded.status, exit_code = excluded.exit_code,
                signal = excluded.signal, oom_killed = excluded.oom_killed, created_at = excluded.created_at,
                started_at = excluded.started_at, exited_at = excluded.exited_at, last_sequence = excluded.last_sequence,
                last_event_id = excluded.last_event_id, last_event_type = excluded.last_event_type,
                updated_at = excluded.updated_at, projected_at = excluded.projected_at, incarnation = excluded.incarnation
            WHERE (container_state.incarnation, container_state.last_sequence) <= (excluded.incarnation, excluded.last_sequence)""";

    private static final String NODE_COLUMNS = """
            node, status, agent_version, last_heartbeat_at, containers_running, last_sequence, last_event_id,
            last_event_type, updated_at, projected_at, incarnation""";

    private static final String LOCK_NODES = "SELECT " + NODE_COLUMNS + """
             FROM unnest($1::text[]) AS k(name)
            CROSS JOIN LATERAL (SELECT * FROM node_state n WHERE n.node = k.name FOR UPDATE) ns""";

    private static final String UPSERT_NODES = "INSERT INTO node_state (" + NODE_COLUMNS + """
            )
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int4[], $6::int8[],
                                 $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::int8[])
            ON CONFLICT (node) DO UPDATE SET
                status = excluded.status, agent_version = excluded.agent_version,
                last_heartbeat_at = excluded.last_heartbeat_at, containers_running = excluded.containers_running,
                last_sequence = excluded.last_sequence, last_event_id = excluded.last_event_id,
                last_event_type = excluded.last_event_type, updated_at = excluded.updated_at,
                projected_at = excluded.projected_at, incarnation = excluded.incarnation
            WHERE (node_state.incarnation, node_state.last_sequence) <= (excluded.incarnation, excluded.last_sequence)""";

    static final StateTable<ContainerKey, ContainerState> CONTAINERS = new StateTable<>(
            e -> subject(e) == EventTypes.Subject.CONTAINER && ContainerStateProjection.changesState(e.type()),
            e -> new ContainerKey(e.namespace(), e.subjectId(), e.node()),
            Comparator.comparing(ContainerKey::namespace).thenComparing(ContainerKey::containerId).thenComparing(ContainerKey::node),
            LOCK_CONTAINERS,
            keys -> Tuple.of(keys.stream().map(ContainerKey::namespace).toArray(String[]::new),
                    keys.stream().map(ContainerKey::containerId).toArray(String[]::new),
                    keys.stream().map(ContainerKey::node).toArray(String[]::new)),
            StateTables::containerState,
            s -> new ContainerKey(s.namespace, s.containerId, s.node),
            s -> new Position(s.incarnation, s.lastSequence),
            ContainerStateProjection::newState,
            ContainerStateProjection::apply,
            UPSERT_CONTAINERS,
            StateTables::containerParams);

    static final StateTable<String, NodeState> NODES = new StateTable<>(
            e -> subject(e) == EventTypes.Subject.NODE,
            EventEnvelope::node,
            Comparator.naturalOrder(),
            LOCK_NODES,
            keys -> Tuple.of(keys.toArray(String[]::new)),
            StateTables::nodeState,
            s -> s.node,
            s -> new Position(s.incarnation, s.lastSequence),
            NodeStateProjection::newState,
            NodeStateProjection::apply,
            UPSERT_NODES,
            StateTables::nodeParams);

    static EventTypes.Subject subject(EventEnvelope e) {
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
        s.incarnation = row.getLong(16);
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
                column(OffsetDateTime.class, st -> utc(st.updatedAt)), column(OffsetDateTime.class, st -> utc(st.projectedAt)),
                column(Long.class, st -> st.incarnation)));
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
        s.incarnation = row.getLong(10);
        return s;
    }

    private static Tuple nodeParams(Collection<NodeState> states) {
        return columnArrays(states, List.of(
                column(String.class, st -> st.node), column(String.class, st -> st.status), column(String.class, st -> st.agentVersion),
                column(OffsetDateTime.class, st -> utc(st.lastHeartbeatAt)), column(Integer.class, st -> st.containersRunning),
                column(Long.class, st -> st.lastSequence), column(String.class, st -> st.lastEventId),
                column(String.class, st -> st.lastEventType), column(OffsetDateTime.class, st -> utc(st.updatedAt)),
                column(OffsetDateTime.class, st -> utc(st.projectedAt)), column(Long.class, st -> st.incarnation)));
    }

    /** One upsert parameter: an array of {@code type} (the pg client types the SQL array by it), a value per row. */
    private record Column<S>(Class<?> type, Function<S, Object> value) {}

    private static <S> Column<S> column(Class<?> type, Function<S, Object> value) {
        return new Column<>(type, value);
    }

    /** The rows' values column by column, as the {@code unnest} of an upsert takes them: one typed array each. */
    private static <S> Tuple columnArrays(Collection<S> rows, List<Column<S>> columns) {
        List<Object> arrays = new ArrayList<>(columns.size());
        for (Column<S> c : columns) {
            Object[] values = (Object[]) Array.newInstance(c.type(), rows.size());
            int i = 0;
            for (S row : rows) values[i++] = c.value().apply(row);
            arrays.add(values);
        }
        return Tuple.from(arrays);
    }

    // not Instant.atOffset, which builds a ZoneRules per call
    static OffsetDateTime utc(Instant t) {
        return t == null ? null : OffsetDateTime.of(LocalDateTime.ofEpochSecond(t.getEpochSecond(), t.getNano(), ZoneOffset.UTC), ZoneOffset.UTC);
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
