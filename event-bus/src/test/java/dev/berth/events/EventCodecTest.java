package dev.berth.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerDeleted;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ContainerResumed;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.ExecExited;
import dev.berth.events.payload.ExecStarted;
import dev.berth.events.payload.ImagePulled;
import dev.berth.events.payload.ImageRemoved;
import dev.berth.events.payload.NodeDown;
import dev.berth.events.payload.NodeHeartbeat;
import dev.berth.events.payload.NodeUp;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EventCodecTest {
    private static final Instant T = Instant.parse("2025-03-01T10:15:30.123456Z");

    private static List<EventEnvelope> oneOfEach() {
        return List.of(
                EventEnvelope.of("default", "node-a", "sha256:abc", 1, T, new ImagePulled("reg/app:1", "sha256:abc", 1024L)),
                EventEnvelope.of("default", "node-a", "sha256:abc", 2, T, new ImageRemoved("reg/app:1", "sha256:abc")),
                EventEnvelope.of("default", "node-a", "c1", 1, T, new ContainerCreated("reg/app:1", "sha256:abc", Map.of("tier", "web"))),
                EventEnvelope.of("default", "node-a", "c1", 2, T, new ContainerStarted(4242L, T)),
                EventEnvelope.of("default", "node-a", "c1", 3, T, new ContainerPaused()),
                EventEnvelope.of("default", "node-a", "c1", 4, T, new ContainerResumed()),
                EventEnvelope.of("default", "node-a", "c1", 5, T, ExecStarted.of("e1", 4300L, List.of("sh", "-c", "true"))),
                EventEnvelope.of("default", "node-a", "c1", 6, T, new ExecExited("e1", 0, null, T)),
                EventEnvelope.of("default", "node-a", "c1", 7, T, new ContainerExited(137, "SIGKILL", true, T)),
                EventEnvelope.of("default", "node-a", "c1", 8, T, new ContainerDeleted()),
                EventEnvelope.of(null, "node-a", "node-a", 1, T, new NodeUp("0.1.0", Map.of("zone", "a"))),
                EventEnvelope.of(null, "node-a", "node-a", 2, T, new NodeHeartbeat(3)),
                EventEnvelope.of(null, "node-a", "node-a", 3, T, new NodeDown("shutdown")));
    }

    @Test
    void everyTypeRoundTripsThroughJson() throws Exception {
        List<EventEnvelope> events = oneOfEach();
        assertEquals(EventTypes.all().size(), events.stream().map(EventEnvelope::type).distinct().count(),
                "the test covers every type");
        for (EventEnvelope e : events) {
            EventEnvelope back = EventCodec.decode(EventCodec.encode(e));
            assertEquals(e, back, e.type());
            assertEquals(e.payloadAs(EventTypes.require(e.type()).payloadType().asSubclass(Record.class)),
                    back.payloadAs(EventTypes.require(e.type()).payloadType().asSubclass(Record.class)));
        }
    }

    @Test
    void instantsAreIso8601AndFieldsKeepTheirNames() throws Exception {
        EventEnvelope exited = EventEnvelope.of("ns", "node-a", "c1", 7, T, new ContainerExited(137, "SIGKILL", true, T));
        JsonNode json = EventCodec.newMapper().readTree(EventCodec.encode(exited));
        assertEquals("2025-03-01T10:15:30.123456Z", json.get("time").textValue());
        assertEquals("2025-03-01T10:15:30.123456Z", json.at("/payload/exitedAt").textValue());
        assertEquals(List.of("eventId", "type", "schemaVersion", "namespace", "node", "subjectId", "sequence", "time", "payload"),
                iterable(json.fieldNames()));
        assertEquals("container.exited", json.get("type").textValue());
        assertEquals(7, json.get("sequence").longValue());
        assertEquals(137, json.at("/payload/exitCode").intValue());
        assertTrue(json.at("/payload/oomKilled").booleanValue());

        ContainerExited payload = exited.payloadAs(ContainerExited.class);
        assertEquals(new ContainerExited(137, "SIGKILL", true, T), payload);
    }

    @Test
    void absentOptionalFieldsAreLeftOut() throws Exception {
        EventEnvelope node = EventEnvelope.of(null, "node-a", "node-a", 1, T, new NodeHeartbeat(null));
        JsonNode json = EventCodec.newMapper().readTree(EventCodec.encode(node));
        assertNull(json.get("namespace"));
        assertEquals(0, json.get("payload").size());
        EventEnvelope exited = EventEnvelope.of("ns", "node-a", "c1", 2, T, new ContainerExited(0, null, false, T));
        assertNull(EventCodec.newMapper().readTree(EventCodec.encode(exited)).at("/payload").get("signal"));
    }

    @Test
    void unknownFieldsAreIgnoredBecauseAddingOneIsNotABreakingChange() throws Exception {
        ObjectNode json = valid();
        json.put("traceId", "abc");
        ((ObjectNode) json.get("payload")).put("cgroup", "/berth/c1");
        EventEnvelope e = EventCodec.decode(json.toString());
        assertEquals(new ContainerExited(1, null, false, T), e.payloadAs(ContainerExited.class));
    }

    @Test
    void offsetTimesAreReadAsInstants() throws Exception {
        ObjectNode json = valid();
        json.put("time", "2025-03-01T12:15:30+02:00");
        assertEquals(Instant.parse("2025-03-01T10:15:30Z"), EventCodec.decode(json.toString()).time());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "not JSON                    | {\"eventId\":                               | not valid JSON",
            "an array                    | [1,2]                                       | expected a JSON object, found array",
            "empty                       | ''                                          | empty record",
            "two values                  | {} {}                                       | not valid JSON",
    })
    void rejectsWhatIsNotAnObject(String name, String json, String reason) {
        MalformedEventException e = assertThrows(MalformedEventException.class, () -> EventCodec.decode(json));
        assertTrue(e.getMessage().startsWith(reason), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "no eventId           | /eventId               | REMOVE      | eventId is required",
            "blank eventId        | /eventId               | '\"  \"'    | eventId must be a non-blank string",
            "numeric node         | /node                  | 7           | node must be a non-blank string",
            "unknown type         | /type                  | '\"task.oops\"' | unknown type 'task.oops'",
            "future schema        | /schemaVersion         | 2           | unsupported schemaVersion 2",
            "schema as text       | /schemaVersion         | '\"1\"'     | schemaVersion must be an integer",
            "no namespace         | /namespace             | REMOVE      | namespace is required for container.exited",
            "sequence zero        | /sequence              | 0           | sequence must be 1 or more",
            "sequence fraction    | /sequence              | 1.5         | sequence must be an integer",
            "no sequence          | /sequence              | REMOVE      | sequence is required",
            "epoch time           | /time                  | 1700000000  | time must be an ISO-8601 instant",
            "bad time             | /time                  | '\"yesterday\"' | time must be an ISO-8601 instant",
            "no payload           | /payload               | REMOVE      | payload is required",
            "payload array        | /payload               | []          | payload must be a JSON object",
            "no exit code         | /payload/exitCode      | REMOVE      | payload of container.exited: exitCode is required",
            "exit code as text    | /payload/exitCode      | '\"1\"'     | payload of container.exited: field 'exitCode'",
            "oom as text          | /payload/oomKilled     | '\"yes\"'   | payload of container.exited: field 'oomKilled'",
            "bad exitedAt         | /payload/exitedAt      | '\"soon\"'  | payload of container.exited: field 'exitedAt'",
            "duplicate key        | /eventId               | DUPLICATE   | not valid JSON: Duplicate field 'eventId'",
            "time past 9999       | /time                  | '\"+10000-01-01T00:00:00Z\"' | time is +10000-01-01T00:00:00Z: instants must be within the years 1 to 9999",
            "exitedAt past 9999   | /payload/exitedAt      | '\"+10000-01-01T00:00:00Z\"' | payload of container.exited: field 'exitedAt' is +10000-01-01T00:00:00Z",
            "NUL in payload text  | /payload/signal        | '\"SIG\\u0000KILL\"' | payload of container.exited: field 'signal' contains a NUL character",
            "negative incarnation | /incarnation           | -1          | incarnation must be 0 or more",
    })
    void rejectsMalformedEventsWithAReason(String name, String pointer, String value, String reason) throws Exception {
        String json;
        ObjectNode root = valid();
        String parentPointer = pointer.substring(0, pointer.lastIndexOf('/'));
        String field = pointer.substring(pointer.lastIndexOf('/') + 1);
        ObjectNode parent = (ObjectNode) (parentPointer.isEmpty() ? root : root.at(parentPointer));
        if (value.equals("REMOVE")) {
            parent.remove(field);
            json = root.toString();
        } else if (value.equals("DUPLICATE")) {
            json = root.toString().replaceFirst("\\{", "{\"eventId\":\"again\",");
        } else {
            parent.set(field, EventCodec.newMapper().readTree(value));
            json = root.toString();
        }
        MalformedEventException e = assertThrows(MalformedEventException.class, () -> EventCodec.decode(json));
        assertTrue(e.getMessage().startsWith(reason), "reason was: " + e.getMessage());
    }

    @Test
    void theIncarnationRoundTripsAndIsLeftOutWhenZero() throws Exception {
        EventEnvelope plain = EventEnvelope.of("ns", "node-a", "c1", 3, T, new ContainerExited(1, null, false, T));
        assertTrue(!EventCodec.encodeToString(plain).contains("incarnation"));
        EventEnvelope reset = plain.withIncarnation(1_764_000_000_000_000L);
        assertTrue(EventCodec.encodeToString(reset).contains("\"node\":\"node-a\",\"incarnation\":1764000000000000,"));
        assertEquals(reset, EventCodec.decode(EventCodec.encode(reset)));
        assertEquals(0, EventCodec.decode(EventCodec.encode(plain)).incarnation());
    }

    @Test
    void nodeEventsNameTheirNodeAsSubject() throws Exception {
        ObjectNode json = (ObjectNode) EventCodec.newMapper().readTree(EventCodec.encode(
                EventEnvelope.of(null, "node-a", "node-a", 1, T, new NodeHeartbeat(1))));
        json.put("subjectId", "node-b");
        MalformedEventException e = assertThrows(MalformedEventException.class, () -> EventCodec.decode(json.toString()));
        assertEquals("subjectId 'node-b' of node.heartbeat must equal node 'node-a'", e.getMessage());
    }

    @Test
    void payloadRecordsCheckTheirRequiredFieldsWhenBuilt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ExecStarted(" ", null, null, null, null));
        assertEquals("execId is required (a non-blank string)", e.getMessage());
    }

    @Test
    void topicsAndKeysFollowTheSubject() {
        EventEnvelope exec = EventEnvelope.of("ns", "node-a", "c1", 5, T, new ExecStarted("e1", null, null, null, null));
        assertEquals(Topics.CONTAINER_EVENTS, Topics.forEvent(exec));
        assertEquals("c1", Topics.key(exec));
        assertEquals(Topics.NODE_EVENTS, Topics.forEvent(EventEnvelope.of(null, "n", "n", 1, T, new NodeUp(null, null))));
        assertEquals(Topics.IMAGE_EVENTS, Topics.forEvent(EventEnvelope.of("ns", "n", "sha256:1", 1, T, new ImageRemoved(null, "sha256:1"))));
    }

    private static ObjectNode valid() throws Exception {
        EventEnvelope e = EventEnvelope.of("ns", "node-a", "c1", 3, T, new ContainerExited(1, null, false, T));
        return (ObjectNode) EventCodec.newMapper().readTree(EventCodec.encode(e));
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> list = new java.util.ArrayList<>();
        it.forEachRemaining(list::add);
        return list;
    }
}
