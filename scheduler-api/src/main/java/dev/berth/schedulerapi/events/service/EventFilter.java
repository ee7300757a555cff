package dev.berth.schedulerapi.events.service;

import dev.berth.events.EventEnvelope;
import java.time.Instant;
import java.util.Objects;

/** Which events a listing or a live stream wants; a null field does not filter. {@code since} is inclusive. */
public record EventFilter(String namespace, String node, String type, String subjectId, Instant since) {

    public boolean matches(EventEnvelope e) {
        return (namespace == null || namespace.equals(e.namespace()))
                && (node == null || node.equals(e.node()))
                && (type == null || type.equals(e.type()))
                && (subjectId == null || subjectId.equals(e.subjectId()))
                && (since == null || !e.time().isBefore(since));
    }

    public boolean isEmpty() {
        return Objects.isNull(namespace) && node == null && type == null && subjectId == null && since == null;
    }
}
