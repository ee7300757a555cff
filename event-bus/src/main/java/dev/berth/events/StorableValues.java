package dev.berth.events;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.reflect.RecordComponent;
import java.time.Instant;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Values JSON allows but a database cannot keep: a NUL character (U+0000) in a string (Postgres refuses it in text
 * and jsonb) and an instant outside the years 1 to 9999 (ISO-8601's four-digit years; SQL timestamps). An event
 * holding one is malformed, so every consumer turns it away as the same dead letter instead of retrying a write that
 * can never succeed.
 */
final class StorableValues {
    private StorableValues() {}

    static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");
    static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999999Z");

    /** Each payload record's Instant components, looked up once per type. */
    private static final ClassValue<List<RecordComponent>> INSTANTS = new ClassValue<>() {
        @Override
        protected List<RecordComponent> computeValue(Class<?> type) {
            return Arrays.stream(type.getRecordComponents()).filter(c -> c.getType() == Instant.class).toList();
        }
    };

    static void checkInstant(String field, Instant value) throws MalformedEventException {
        if (value != null && (value.isBefore(EARLIEST) || value.isAfter(LATEST))) {
            throw new MalformedEventException(field + " is " + value + ": instants must be within the years 1 to 9999");
        }
    }

    /** Every string of the payload (keys too) free of NUL; every instant of its record within range. */
    static void checkPayload(String type, JsonNode payload, Record read) throws MalformedEventException {
        checkText(type, "", payload);
        for (RecordComponent c : INSTANTS.get(read.getClass())) {
            try {
                checkInstant("payload of " + type + ": field '" + c.getName() + "'", (Instant) c.getAccessor().invoke(read));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + c, e);
            }
        }
    }

    private static void checkText(String type, String path, JsonNode node) throws MalformedEventException {
        if (node.isTextual() && node.textValue().indexOf('\u0000') >= 0) {
            throw new MalformedEventException("payload of " + type + ": field '" + path
                    + "' contains a NUL character (\\u0000), which no database column keeps");
        }
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                checkText(type, path + "[" + i + "]", node.get(i));
            }
        } else if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> field = it.next();
                String name = path.isEmpty() ? field.getKey() : path + "." + field.getKey();
                if (field.getKey().indexOf('\u0000') >= 0) {
                    throw new MalformedEventException("payload of " + type + ": field name '" + name.replace("\u0000", "\\u0000")
                            + "' contains a NUL character (\\u0000)");
                }
                checkText(type, name, field.getValue());
            }
        }
    }
}
