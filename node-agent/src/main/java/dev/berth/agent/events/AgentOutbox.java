package dev.berth.agent.events;

import dev.berth.agent.metadata.MetadataStore;
import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.MalformedEventException;
import dev.berth.events.outbox.Outbox;
import dev.berth.events.outbox.OutboxRecord;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The node agent's side of the event bus: every state change's event goes into the outbox table of the agent's
 * SQLite store, in the transaction that makes the change, numbered per subject; {@link dev.berth.events.outbox.OutboxRelay}
 * reads it from here and deletes what Kafka acknowledged. Every event carries the store's incarnation, so a consumer
 * can tell the counters of a store made anew (which start at 1 again) from late events of the old one.
 */
public final class AgentOutbox implements Outbox, MetadataStore.EventHook {

    private final MetadataStore meta;
    private final String node;
    private volatile Runnable onAppend = () -> { };

    public AgentOutbox(MetadataStore meta, String node) {
        this.meta = meta;
        this.node = node;
    }

    /** Called after each append (outside any lock it could deadlock on): the relay's wake-up. */
    public void onAppend(Runnable r) {
        this.onAppend = r;
    }

    public String node() {
        return node;
    }

    @Override
    public void record(String namespace, String subjectId, Record payload) {
        String subject = (namespace == null ? "" : namespace) + "/" + subjectId;
        EventEnvelope e = EventEnvelope.of(namespace, node, subjectId, meta.nextSequence(subject), payload)
                .withIncarnation(meta.incarnation());
        meta.appendOutbox(EventCodec.encodeToString(e));
        onAppend.run();
    }

    @Override
    public List<OutboxRecord> fetchUnsent(int max) throws Exception {
        List<OutboxRecord> out = new ArrayList<>();
        for (MetadataStore.OutboxRow r : meta.unsentOutbox(max)) {
            // decoded to check it (and for the relay's headers and key); the checked bytes are what gets published
            byte[] json = r.envelope().getBytes(StandardCharsets.UTF_8);
            try {
                out.add(new OutboxRecord(r.id(), EventCodec.decode(json), json));
            } catch (MalformedEventException e) {
                // never written by this agent's code as is (a bug, or a store edited by hand): it must not hold up
                // every event behind it, so it goes to the dead-letter topic with the reason
                out.add(OutboxRecord.malformed(r.id(), json, e.getMessage()));
            }
        }
        return out;
    }

    @Override
    public void markSent(List<Long> ids) {
        meta.deleteOutbox(ids);
    }
}
