package dev.berth.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.events.payload.ContainerExited;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The fast instant reader means exactly what Instant.parse means, in the form Berth writes and in every other. */
class IsoInstantTest {

    @Test
    void everyInstantAsWrittenReadsBackTheSame() {
        Random random = new Random(42);
        for (int i = 0; i < 100_000; i++) {
            long seconds = random.nextLong(-62_135_596_800L, 253_402_300_799L); // years 1..9999
            int nanos = switch (i % 4) {
                case 0 -> 0;
                case 1 -> random.nextInt(1_000) * 1_000_000;
                case 2 -> random.nextInt(1_000_000) * 1_000;
                default -> random.nextInt(1_000_000_000);
            };
            Instant t = Instant.ofEpochSecond(seconds, nanos);
            assertEquals(t, IsoInstant.parse(t.toString()), t.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"2025-03-01T10:15:30Z", "2025-03-01T10:15:30.1Z", "2025-03-01T10:15:30.12Z",
            "2025-03-01T10:15:30.123456789Z", "2024-02-29T23:59:59.999Z", "0000-01-01T00:00:00Z",
            "2025-03-01T10:15:30.123+02:00", "2025-03-01t10:15:30z", "2025-03-01T24:00:00Z", "2016-12-31T23:59:60Z",
            "+12025-03-01T10:15:30Z", "2025-03-01T10:15:30.Z"})
    void otherFormsMeanWhatInstantParseSays(String text) {
        Instant expected;
        try {
            expected = Instant.parse(text);
        } catch (DateTimeParseException e) {
            assertThrows(DateTimeParseException.class, () -> IsoInstant.parse(text), text);
            return;
        }
        assertEquals(expected, IsoInstant.parse(text), text);
    }

    @ParameterizedTest
    @ValueSource(strings = {"2025-02-30T10:15:30Z", "2025-13-01T10:15:30Z", "2025-03-01T10:61:30Z",
            "2025-03-01T10:15:30.1234567890Z", "2025-03-01 10:15:30Z", "yesterday", "2025-03-01T10:15:3xZ"})
    void invalidFormsAreRefusedAsInstantParseRefusesThem(String text) {
        assertThrows(DateTimeParseException.class, () -> Instant.parse(text));
        assertThrows(DateTimeParseException.class, () -> IsoInstant.parse(text));
    }

    @Test
    void payloadInstantsGoThroughTheSameReader() throws Exception {
        Instant exitedAt = Instant.parse("2025-03-01T10:15:30.123456Z");
        EventEnvelope e = EventEnvelope.of("ns", "n", "c", 3, exitedAt, new ContainerExited(1, null, false, exitedAt));
        assertEquals(exitedAt, EventCodec.decode(EventCodec.encode(e)).payloadAs(ContainerExited.class).exitedAt());
        String offset = EventCodec.encodeToString(e).replace("\"exitedAt\":\"2025-03-01T10:15:30.123456Z\"",
                "\"exitedAt\":\"2025-03-01T12:15:30.123456+02:00\"");
        assertEquals(exitedAt, EventCodec.decode(offset).payloadAs(ContainerExited.class).exitedAt());
    }
}
