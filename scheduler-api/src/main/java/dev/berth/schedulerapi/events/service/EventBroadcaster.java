package dev.berth.schedulerapi.events.service;

import dev.berth.events.EventEnvelope;
import dev.berth.schedulerapi.config.EventsConfig;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.function.Predicate;

/**
 * Hands newly projected events to live subscribers (the SSE stream). Fed by the projector after the database
 * commit, so a subscriber never sees an event the database does not have, nor a duplicate.
 */
@ApplicationScoped
public class EventBroadcaster {
    private final BroadcastProcessor<EventEnvelope> processor = BroadcastProcessor.create();
    private final int buffer;

    EventBroadcaster(EventsConfig config) {
        this.buffer = config.streamBuffer();
    }

    /** Called once per new event, after its transaction committed. */
    public synchronized void publish(EventEnvelope event) {
        processor.onNext(event); // serialised: a processor takes one onNext at a time
    }

    /** New events matching {@code filter}, from now on; a subscriber that falls {@code buffer} events behind is failed. */
    public Multi<EventEnvelope> stream(Predicate<EventEnvelope> filter) {
        return processor.select().where(filter).onOverflow().buffer(buffer);
    }
}
