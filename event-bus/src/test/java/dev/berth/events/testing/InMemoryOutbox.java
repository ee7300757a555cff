package dev.berth.events.testing;

import dev.berth.events.EventEnvelope;
import dev.berth.events.outbox.Outbox;
import dev.berth.events.outbox.OutboxRecord;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An outbox in memory, for tests against the real broker: what the agent's SQLite outbox does, minus durability.
 * {@link #failNextMarks(int)} makes marking fail after Kafka acknowledged, as an agent killed between the publish
 * and its local "sent" commit would.
 */
public final class InMemoryOutbox implements Outbox {
    private final TreeMap<Long, EventEnvelope> unsent = new TreeMap<>();
    private final List<EventEnvelope> sent = new ArrayList<>();
    private final AtomicInteger marksToFail = new AtomicInteger();
    private long nextId = 1;

    /** Commits events, as the agent's local transaction would. */
    public synchronized void add(EventEnvelope... events) {
        for (EventEnvelope e : events) {
            unsent.put(nextId++, e);
        }
    }

    public synchronized void addAll(Collection<EventEnvelope> events) {
        events.forEach(this::add);
    }

    public void failNextMarks(int count) {
        marksToFail.set(count);
    }

    @Override
    public synchronized List<OutboxRecord> fetchUnsent(int max) {
        List<OutboxRecord> batch = new ArrayList<>();
        for (var entry : unsent.entrySet()) {
            if (batch.size() == max) {
                break;
            }
            batch.add(new OutboxRecord(entry.getKey(), entry.getValue()));
        }
        return batch;
    }

    @Override
    public synchronized void markSent(List<Long> ids) {
        if (marksToFail.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new IllegalStateException("outbox unavailable (injected): records stay unsent");
        }
        for (long id : ids) {
            EventEnvelope e = unsent.remove(id);
            if (e == null) {
                throw new IllegalStateException("record " + id + " marked sent twice or never added");
            }
            sent.add(e);
        }
    }

    public synchronized int unsentCount() {
        return unsent.size();
    }

    public synchronized List<EventEnvelope> sent() {
        return List.copyOf(sent);
    }
}
