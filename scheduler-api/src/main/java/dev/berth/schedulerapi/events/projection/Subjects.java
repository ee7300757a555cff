package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventEnvelope;
import dev.berth.schedulerapi.events.projection.StateTables.StateTable;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The subjects of one state table (containers, or nodes) that a batch's events change, each with its events in
 * arrival order, and the three steps {@link EventProjector} takes on their rows: lock them (in key order, so two
 * transactions touching the same subjects lock them in the same order), fold the new events into them, write back
 * the ones that changed.
 */
final class Subjects<K, S> {
    private final StateTable<K, S> table;
    private final Map<K, List<EventEnvelope>> bySubject;

    Subjects(StateTable<K, S> table, List<EventEnvelope> events) {
        this.table = table;
        this.bySubject = new TreeMap<>(table.keyOrder());
        for (EventEnvelope e : events) {
            if (table.changes().test(e)) {
                bySubject.computeIfAbsent(table.keyOf().apply(e), k -> new ArrayList<>()).add(e);
            }
        }
    }

    /** Adds the statement that locks the subjects' rows (SELECT ... FOR UPDATE); its answer's index, -1 if none. */
    int lock(Pipeline pipeline) {
        return bySubject.isEmpty() ? -1 : pipeline.add(table.lockSql(), table.lockParams().apply(bySubject.keySet()));
    }

    /**
     * Folds the events whose id is in {@code fresh} into their subject's row as locked (the answer at
     * {@code lockedAt}; a new row for a subject seen for the first time), in arrival order, skipping and noting in
     * {@code poisoned} each event {@code bounds} refuses; returns the rows an event changed.
     */
    List<S> fold(List<RowSet<Row>> answers, int lockedAt, Set<String> fresh, SequenceBounds bounds, Instant now,
            Map<String, String> poisoned) {
        if (lockedAt < 0) {
            return List.of();
        }
        Map<K, S> states = new LinkedHashMap<>();
        for (Row row : answers.get(lockedAt)) {
            S s = table.readRow().apply(row);
            states.put(table.keyOfState().apply(s), s);
        }
        List<S> changed = new ArrayList<>(bySubject.size());
        for (Map.Entry<K, List<EventEnvelope>> subject : bySubject.entrySet()) {
            S s = states.get(subject.getKey());
            boolean applied = false;
            for (EventEnvelope e : subject.getValue()) {
                if (!fresh.contains(e.eventId())) {
                    continue;
                }
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
        return changed;
    }

    /** Adds the statement that writes the changed rows back (one upsert), if any changed. */
    void upsert(Pipeline pipeline, List<S> changed) {
        if (!changed.isEmpty()) {
            pipeline.add(table.upsertSql(), table.upsertParams().apply(changed));
        }
    }
}
