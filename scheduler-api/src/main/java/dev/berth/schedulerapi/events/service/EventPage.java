package dev.berth.schedulerapi.events.service;

import dev.berth.events.EventEnvelope;
import java.util.List;

/**
 * A page of events, the cursor to read on from ({@code next}: after the last item, or the cursor the page was read
 * after when it is empty) and whether more events matched than the page held ({@code more}).
 */
public record EventPage(List<EventEnvelope> items, EventCursor next, boolean more) {}
