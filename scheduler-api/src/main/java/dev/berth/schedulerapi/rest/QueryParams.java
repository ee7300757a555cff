package dev.berth.schedulerapi.rest;

import dev.berth.events.EventTypes;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/** Parsing of query parameters, each failure a 400 problem that says what a valid value looks like. */
final class QueryParams {
    private QueryParams() {}

    static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }

    static Instant since(String value) {
        if (blankToNull(value) == null) {
            return null;
        }
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiException.invalidParameter("since must be an ISO-8601 instant such as 2025-01-31T12:00:00Z, was '" + value + "'");
        }
    }

    static String type(String value) {
        if (blankToNull(value) == null) {
            return null;
        }
        if (EventTypes.spec(value).isEmpty()) {
            throw ApiException.invalidParameter("unknown event type '" + value + "'; known types: " + String.join(", ", EventTypes.all()));
        }
        return value;
    }

    static int limit(String value, int defaultLimit, int max) {
        if (blankToNull(value) == null) {
            return Math.min(defaultLimit, max);
        }
        try {
            int limit = Integer.parseInt(value);
            if (limit >= 1 && limit <= max) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // falls through to the common message
        }
        throw ApiException.invalidParameter("limit must be a whole number from 1 to " + max + ", was '" + value + "'");
    }
}
