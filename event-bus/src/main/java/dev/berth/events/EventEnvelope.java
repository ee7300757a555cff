package dev.berth.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

/**
 * The one envelope every Berth event travels in: who (node, namespace, container or image), what (type),
 * when, and a type-specific payload. {@code schemaVersion} changes only when a consumer would misread the old form.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record EventEnvelope(
        String eventId,
        String type,
        int schemaVersion,
        String namespace,
        String node,
        String subjectId,
        Instant time,
        Map<String, Object> payload) {

    public static final int SCHEMA_VERSION = 1;

    public static EventEnvelope of(String type, String namespace, String node, String subjectId, Map<String, Object> payload) {
        return new EventEnvelope(UUID.randomUUID().toString(), type, SCHEMA_VERSION, namespace, node, subjectId, Instant.now(), payload);
    }
}
