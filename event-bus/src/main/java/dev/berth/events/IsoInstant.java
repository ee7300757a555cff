package dev.berth.events;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanProperty;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.deser.ContextualDeserializer;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.datatype.jsr310.deser.InstantDeserializer;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;

/**
 * Reads instants in the one form Berth writes them ({@code 2025-03-01T10:15:30.123456Z}: UTC, 0 to 9 fraction
 * digits) without {@code DateTimeFormatter}, which was a tenth of the projector's CPU time. Any other form (an
 * offset, a leap second, lower case, a year past 9999) goes to {@link Instant#parse}, so what is accepted and what
 * it means is exactly what {@code Instant.parse} says.
 */
final class IsoInstant {
    private IsoInstant() {}

    private static final int[] SCALE = {1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000};

    static Instant parse(String s) {
        Instant fast = fast(s);
        return fast != null ? fast : Instant.parse(s);
    }

    /** The instant when {@code s} is in the canonical form and valid; null otherwise. */
    private static Instant fast(String s) {
        int n = s.length();
        if (n < 20 || n > 30 || s.charAt(4) != '-' || s.charAt(7) != '-' || s.charAt(10) != 'T' || s.charAt(13) != ':'
                || s.charAt(16) != ':' || s.charAt(n - 1) != 'Z') {
            return null;
        }
        int year = digits(s, 0, 4);
        int month = digits(s, 5, 2);
        int day = digits(s, 8, 2);
        int hour = digits(s, 11, 2);
        int minute = digits(s, 14, 2);
        int second = digits(s, 17, 2);
        if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
            return null;
        }
        int nanos = 0;
        if (n > 20) {
            int fractionDigits = n - 21;
            if (s.charAt(19) != '.' || fractionDigits < 1) {
                return null;
            }
            int fraction = digits(s, 20, fractionDigits);
            if (fraction < 0) {
                return null;
            }
            nanos = fraction * SCALE[9 - fractionDigits];
        }
        long epochDay;
        try {
            epochDay = LocalDate.of(year, month, day).toEpochDay();
        } catch (DateTimeException e) {
            return null; // e.g. February 30: Instant.parse says why
        }
        return Instant.ofEpochSecond(epochDay * 86_400 + hour * 3_600 + minute * 60 + second, nanos);
    }

    /** The decimal value of {@code count} ASCII digits at {@code from}, or -1 if any is not a digit. */
    private static int digits(String s, int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    /** Jackson's reader of {@link Instant} with the fast path in front; everything else is {@link InstantDeserializer}'s. */
    static final class Deserializer extends StdScalarDeserializer<Instant> implements ContextualDeserializer {
        private final JsonDeserializer<?> standard;

        Deserializer() {
            this(InstantDeserializer.INSTANT);
        }

        private Deserializer(JsonDeserializer<?> standard) {
            super(Instant.class);
            this.standard = standard;
        }

        @Override
        public JsonDeserializer<?> createContextual(DeserializationContext ctxt, BeanProperty property) throws JsonMappingException {
            return new Deserializer(((ContextualDeserializer) standard).createContextual(ctxt, property));
        }

        @Override
        public Instant deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            if (p.hasToken(JsonToken.VALUE_STRING)) {
                Instant fast = fast(p.getText());
                if (fast != null) {
                    return fast;
                }
            }
            return (Instant) standard.deserialize(p, ctxt);
        }
    }
}
