package dev.berth.schedulerapi.rest;

import dev.berth.schedulerapi.events.service.EventCursor;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The {@code continue} token of a listing: an {@link EventCursor}, opaque to clients (base64url of a versioned
 * text), so its form can change without breaking them. A feed token is {@code v1:e:<ingestSeq>}; a timeline token
 * {@code v1:t:<incarnation>:<sequence>:<ingestSeq>:<namespace>:<node>}, the two names base64url themselves.
 */
final class ContinueToken {
    private static final String FEED = "v1:e:";
    private static final String TIMELINE = "v1:t:";
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

    private ContinueToken() {}

    /** The token of a cursor; null for none. */
    static String of(EventCursor cursor) {
        if (cursor instanceof EventCursor.Feed f) {
            return encode(FEED + f.ingestSeq());
        }
        if (cursor instanceof EventCursor.Timeline t) {
            return encode(TIMELINE + t.incarnation() + ":" + t.sequence() + ":" + t.ingestSeq()
                    + ":" + encode(t.namespace()) + ":" + encode(t.node()));
        }
        return null;
    }

    /** The cursor of a token from {@code GET /api/v1/events}; null for none; a 400 problem for anything else. */
    static EventCursor.Feed feed(String token) {
        String text = decode(token);
        if (text == null) {
            return null;
        }
        try {
            if (text.startsWith(FEED)) {
                return new EventCursor.Feed(Long.parseLong(text.substring(FEED.length())));
            }
        } catch (NumberFormatException e) {
            // falls through to the common message
        }
        throw invalid(token, "/api/v1/events");
    }

    /** The cursor of a token from a container's timeline; null for none; a 400 problem for anything else. */
    static EventCursor.Timeline timeline(String token) {
        String text = decode(token);
        if (text == null) {
            return null;
        }
        String[] parts = text.startsWith(TIMELINE) ? text.substring(TIMELINE.length()).split(":", -1) : new String[0];
        try {
            if (parts.length == 5) {
                return new EventCursor.Timeline(decodeName(parts[3]), decodeName(parts[4]),
                        Long.parseLong(parts[0]), Long.parseLong(parts[1]), Long.parseLong(parts[2]));
            }
        } catch (IllegalArgumentException e) { // NumberFormatException too
            // falls through to the common message
        }
        throw invalid(token, "/api/v1/containers/{id}/events");
    }

    private static String encode(String text) {
        return ENCODER.encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String decodeName(String part) {
        return new String(DECODER.decode(part), StandardCharsets.UTF_8);
    }

    /** The token's text, or null when there is no token; not base64url is not a token. */
    private static String decode(String token) {
        if (QueryParams.blankToNull(token) == null) {
            return null;
        }
        try {
            return new String(DECODER.decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    private static ApiException invalid(String token, String listing) {
        return ApiException.invalidParameter("continue must be the 'continue' value of an earlier page of " + listing
                + ", passed back unchanged, was '" + token + "'; leave it out to start from the first event");
    }
}
