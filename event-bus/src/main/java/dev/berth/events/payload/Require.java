package dev.berth.events.payload;

/** Checks shared by the payload records: a missing required field is a malformed event, said by name. */
final class Require {
    private Require() {}

    static <T> T present(T value, String field) {
        if (value == null) {
            throw new IllegalArgumentException(field + " is required");
        }
        return value;
    }

    static String text(String value, String field) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(field + " is required (a non-blank string)");
        }
        return value;
    }
}
