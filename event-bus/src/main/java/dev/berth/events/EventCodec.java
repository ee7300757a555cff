package dev.berth.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Events to and from JSON (UTF-8; instants as ISO-8601 strings such as {@code 2025-01-31T12:00:00.123Z}).
 *
 * <p>{@link #decode} is strict about what it needs and tolerant of what it does not: every envelope field must be
 * there with the right JSON type, the type must be known, the payload must read as that type's record; fields it
 * does not know are ignored, because adding a field is not a schema version change.
 */
public final class EventCodec {
    private EventCodec() {}

    /** Longest id (event id, node, namespace, subject id) accepted; keeps a broken producer from filling the DB. */
    public static final int MAX_ID_LENGTH = 256;

    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {};
    private static final ObjectMapper MAPPER = newMapper();
    private static final JavaType MAP_TYPE = MAPPER.getTypeFactory().constructType(MAP);

    /** A mapper configured as the codec's: ISO-8601 instants, nulls left out, no scalar coercion. */
    public static ObjectMapper newMapper() {
        return JsonMapper.builder()
                .addModule(new JavaTimeModule())
                .addModule(new SimpleModule("berth-instants").addDeserializer(Instant.class, new IsoInstant.Deserializer()))
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.USE_LONG_FOR_INTS) // payload maps hold Long, however small the number
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .serializationInclusion(JsonInclude.Include.NON_NULL)
                .build();
    }

    public static byte[] encode(EventEnvelope event) {
        try {
            return MAPPER.writeValueAsBytes(event);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot write event " + event.eventId() + " as JSON", e);
        }
    }

    public static String encodeToString(EventEnvelope event) {
        return new String(encode(event), StandardCharsets.UTF_8);
    }

    public static EventEnvelope decode(String json) throws MalformedEventException {
        return decode(json == null ? null : json.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads one event, or says in one sentence why the bytes are not one. */
    public static EventEnvelope decode(byte[] json) throws MalformedEventException {
        if (json == null || json.length == 0) {
            throw new MalformedEventException("empty record: expected a JSON object");
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new MalformedEventException("not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new MalformedEventException("unreadable record: " + e.getMessage(), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new MalformedEventException("empty record: expected a JSON object");
        }
        if (!root.isObject()) {
            throw new MalformedEventException("expected a JSON object, found " + root.getNodeType().toString().toLowerCase());
        }

        long schemaVersion = integer(root, "schemaVersion");
        if (schemaVersion < 1 || schemaVersion > EventEnvelope.SCHEMA_VERSION) {
            throw new MalformedEventException("unsupported schemaVersion " + schemaVersion
                    + ": this reader knows versions 1.." + EventEnvelope.SCHEMA_VERSION);
        }
        String eventId = id(root, "eventId");
        String type = id(root, "type");
        EventTypes.Spec spec = EventTypes.spec(type).orElseThrow(() -> new MalformedEventException(
                "unknown type '" + type + "': known types are " + String.join(", ", EventTypes.all())));
        String node = id(root, "node");
        String subjectId = id(root, "subjectId");
        String namespace = optionalId(root, "namespace");
        if (spec.subject() == EventTypes.Subject.NODE) {
            if (!subjectId.equals(node)) {
                throw new MalformedEventException("subjectId '" + subjectId + "' of " + type + " must equal node '" + node + "'");
            }
        } else if (namespace == null) {
            throw new MalformedEventException("namespace is required for " + type);
        }
        long incarnation = root.hasNonNull("incarnation") ? integer(root, "incarnation") : 0;
        if (incarnation < 0) {
            throw new MalformedEventException("incarnation must be 0 or more, was " + incarnation);
        }
        long sequence = integer(root, "sequence");
        if (sequence < 1) {
            throw new MalformedEventException("sequence must be 1 or more, was " + sequence);
        }
        Instant time = instant(root, "time");
        StorableValues.checkInstant("time", time);

        JsonNode payload = root.get("payload");
        if (payload == null || payload.isNull()) {
            throw new MalformedEventException("payload is required (an object, {} when the type has no fields)");
        }
        if (!payload.isObject()) {
            throw new MalformedEventException("payload must be a JSON object, found " + payload.getNodeType().toString().toLowerCase());
        }
        Record read;
        try {
            read = MAPPER.treeToValue(payload, spec.payloadType());
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new MalformedEventException("payload of " + type + ": " + describe(e), e);
        }
        StorableValues.checkPayload(type, payload, read);
        Map<String, Object> payloadMap;
        try {
            payloadMap = MAPPER.treeToValue(payload, MAP_TYPE);
        } catch (JsonProcessingException | IllegalArgumentException e) { // e.g. a number beyond 64 bits in a field no record has
            throw new MalformedEventException("payload of " + type + ": " + describe(e), e);
        }
        return new EventEnvelope(eventId, type, (int) schemaVersion, namespace, node, incarnation, subjectId, sequence, time, payloadMap);
    }

    /** The payload alone as JSON text, e.g. to store it in a jsonb column. */
    public static String payloadJson(EventEnvelope event) {
        try {
            return MAPPER.writeValueAsString(event.payload());
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot write the payload of event " + event.eventId() + " as JSON", e);
        }
    }

    /** A payload record as the map the envelope carries. */
    public static Map<String, Object> toPayloadMap(Record payload) {
        return MAPPER.convertValue(payload, MAP);
    }

    static <T extends Record> T payloadAs(EventEnvelope event, Class<T> payloadType) {
        try {
            return MAPPER.convertValue(event.payload(), payloadType);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("payload of " + event.type() + " " + event.eventId()
                    + " does not read as " + payloadType.getSimpleName() + ": " + describe(e), e);
        }
    }

    private static JsonNode required(JsonNode root, String field) throws MalformedEventException {
        JsonNode value = root.get(field);
        if (value == null || value.isNull()) {
            throw new MalformedEventException(field + " is required");
        }
        return value;
    }

    private static long integer(JsonNode root, String field) throws MalformedEventException {
        JsonNode value = required(root, field);
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            throw new MalformedEventException(field + " must be an integer, found " + value);
        }
        return value.longValue();
    }

    private static String id(JsonNode root, String field) throws MalformedEventException {
        return checkId(field, required(root, field));
    }

    private static String optionalId(JsonNode root, String field) throws MalformedEventException {
        JsonNode value = root.get(field);
        return value == null || value.isNull() ? null : checkId(field, value);
    }

    private static String checkId(String field, JsonNode value) throws MalformedEventException {
        if (!value.isTextual() || value.textValue().isBlank()) {
            throw new MalformedEventException(field + " must be a non-blank string, found " + value);
        }
        String text = value.textValue();
        if (text.length() > MAX_ID_LENGTH) {
            throw new MalformedEventException(field + " is longer than " + MAX_ID_LENGTH + " characters");
        }
        for (int i = 0; i < text.length(); i++) {
            if (Character.isISOControl(text.charAt(i))) {
                throw new MalformedEventException(field + " contains control characters");
            }
        }
        return text;
    }

    private static Instant instant(JsonNode root, String field) throws MalformedEventException {
        JsonNode value = required(root, field);
        if (value.isTextual()) {
            try {
                return IsoInstant.parse(value.textValue());
            } catch (DateTimeParseException e) {
                // falls through to the common message
            }
        }
        throw new MalformedEventException(field + " must be an ISO-8601 instant such as 2025-01-31T12:00:00.123Z, found " + value);
    }

    /** Jackson's message without its source excerpt, with the field path; or a payload record's own check. */
    private static String describe(Exception e) {
        JsonMappingException jme = null;
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (cause != e && cause instanceof IllegalArgumentException iae && iae.getCause() == null) {
                return iae.getMessage(); // a payload record's own check: "exitCode is required"
            }
            if (jme == null && cause instanceof JsonMappingException found) {
                jme = found;
            }
        }
        if (jme != null) {
            String path = jme.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining("."));
            String message = jme.getOriginalMessage();
            int newline = message.indexOf('\n');
            message = newline > 0 ? message.substring(0, newline) : message;
            return path.isEmpty() ? message : "field '" + path + "': " + message;
        }
        return e.getMessage();
    }
}
