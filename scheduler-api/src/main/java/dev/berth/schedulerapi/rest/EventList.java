package dev.berth.schedulerapi.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.berth.events.EventEnvelope;
import dev.berth.schedulerapi.events.service.EventPage;
import java.util.List;

/**
 * A page of a listing, shaped as Kubernetes lists are: the envelopes, and {@code continue}, the token to pass back
 * as {@code ?continue=} to read on after the last of them (null only when nothing was read yet). {@code more}: more
 * events matched than the page held, so read on at once; false: this was all there is for now, and a poller passes
 * the same {@code continue} later to get what arrived since.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record EventList(List<EventEnvelope> items, @JsonProperty("continue") String continueToken, boolean more) {
    static EventList of(EventPage page) {
        return new EventList(page.items(), ContinueToken.of(page.next()), page.more());
    }
}
