package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.MalformedEventException;
import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.service.EventBroadcaster;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.jboss.logging.Logger;

/**
 * Reads every event topic and projects each record, in partition order, one at a time.
 *
 * <ul>
 *   <li>A record that is not a valid event is nacked: the channel's dead-letter-queue failure strategy writes it
 *       to the dead-letter topic with the reason in {@code dead-letter-reason}, and consumption goes on.
 *   <li>A record that is valid is acked only after its transaction committed; the throttled commit strategy
 *       commits an offset only when every record before it was acked. A crash before the commit redelivers the
 *       records, and the projector's ON CONFLICT makes the redelivery change nothing.
 *   <li>A database failure (Postgres restarting, say) is not the record's fault: the projection is retried with
 *       backoff for as long as it takes, holding the partition, never dead-lettered.
 * </ul>
 */
@ApplicationScoped
public class EventConsumer {
    private static final Logger LOG = Logger.getLogger(EventConsumer.class);

    private final EventProjector projector;
    private final EventBroadcaster broadcaster;
    private final EventsConfig config;

    EventConsumer(EventProjector projector, EventBroadcaster broadcaster, EventsConfig config) {
        this.projector = projector;
        this.broadcaster = broadcaster;
        this.config = config;
    }

    @Incoming("events")
    public Uni<Void> consume(Message<byte[]> record) {
        EventProjector.Provenance provenance = record.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> new EventProjector.Provenance(m.getTopic(), m.getPartition(), m.getOffset()))
                .orElse(null);
        EventEnvelope event;
        try {
            event = EventCodec.decode(record.getPayload());
        } catch (MalformedEventException e) {
            LOG.warnf("dead-lettering %s: %s", provenance, e.getMessage());
            return Uni.createFrom().completionStage(record.nack(e));
        }
        return Uni.createFrom().deferred(() -> projector.project(event, provenance))
                .onFailure().invoke(e -> LOG.warnf("projecting event %s failed, retrying: %s", event.eventId(), e.toString()))
                .onFailure().retry().withBackOff(config.retryInitialBackoff(), config.retryMaxBackoff()).indefinitely()
                .invoke(isNew -> {
                    if (isNew) {
                        broadcaster.publish(event);
                    }
                })
                .chain(isNew -> Uni.createFrom().completionStage(record.ack()));
    }
}
