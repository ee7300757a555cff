package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.MalformedEventException;
import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.service.EventBroadcaster;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.kafka.KafkaRecord;
import io.smallrye.reactive.messaging.kafka.KafkaRecordBatch;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * Reads every event topic a poll at a time (a batch of up to {@code max.poll.records}, each partition in order)
 * and projects each batch in one transaction.
 *
 * <ul>
 *   <li>Records are acknowledged only after the batch's transaction committed; the throttled commit strategy then
 *       commits the batch's offsets. A crash before that redelivers the batch, and the projector's
 *       ON CONFLICT makes the redelivery change nothing.
 *   <li>A database failure (Postgres restarting, say) is not the records' fault: the batch is retried with
 *       backoff for as long as it takes, holding its partitions, never dead-lettered.
 *   <li>A record that is not a valid event is nacked on its own: the channel's dead-letter-queue failure strategy
 *       writes it to the dead-letter topic with the reason in {@code dead-letter-reason}, and the valid records
 *       around it are projected. So is poison, a valid event the projection refuses ({@link BatchProjection},
 *       {@link SequenceBounds}): a position no real agent gives, data Postgres cannot keep. The nack comes after
 *       the commit, because acknowledging a batch's last record (which the dead-letter strategy does once the copy
 *       is written) commits its partition's offset.
 * </ul>
 */
@ApplicationScoped
public class EventConsumer {
    private static final Logger LOG = Logger.getLogger(EventConsumer.class);

    private final BatchProjection projector;
    private final EventBroadcaster broadcaster;
    private final EventsConfig config;

    EventConsumer(BatchProjection projector, EventBroadcaster broadcaster, EventsConfig config) {
        this.projector = projector;
        this.broadcaster = broadcaster;
        this.config = config;
    }

    private record Rejected(KafkaRecord<String, byte[]> record, Exception reason) {}

    @Incoming("events")
    public Uni<Void> consume(KafkaRecordBatch<String, byte[]> batch) {
        List<EventProjector.Incoming> valid = new ArrayList<>(batch.getRecords().size());
        List<KafkaRecord<String, byte[]>> validRecords = new ArrayList<>(batch.getRecords().size());
        List<Rejected> rejected = new ArrayList<>();
        for (KafkaRecord<String, byte[]> record : batch) {
            EventProjector.Provenance provenance = record.getMetadata(IncomingKafkaRecordMetadata.class)
                    .map(m -> new EventProjector.Provenance(m.getTopic(), m.getPartition(), m.getOffset()))
                    .orElse(null);
            try {
                valid.add(new EventProjector.Incoming(EventCodec.decode(record.getPayload()), provenance));
                validRecords.add(record);
            } catch (MalformedEventException e) {
                LOG.warnf("dead-lettering %s: %s", provenance, e.getMessage());
                rejected.add(new Rejected(record, e));
            }
        }
        return Uni.createFrom().deferred(() -> projector.project(valid))
                .onFailure().invoke(e -> LOG.warnf("projecting a batch of %d events failed, retrying: %s", valid.size(), e.toString()))
                .onFailure().retry().withBackOff(config.retryInitialBackoff(), config.retryMaxBackoff()).indefinitely()
                .invoke(projected -> projected.fresh().forEach(broadcaster::publish))
                .chain(projected -> deadLetter(withPoison(rejected, valid, validRecords, projected.poisoned())))
                .chain(() -> Uni.createFrom().completionStage(batch.ack()));
    }

    /** The rejected records and, after them, every record of a poisoned event (a repeat too), with the reason. */
    private static List<Rejected> withPoison(List<Rejected> rejected, List<EventProjector.Incoming> valid,
            List<KafkaRecord<String, byte[]>> validRecords, Map<String, String> poisoned) {
        if (poisoned.isEmpty()) {
            return rejected;
        }
        List<Rejected> all = new ArrayList<>(rejected);
        for (int i = 0; i < valid.size(); i++) {
            String reason = poisoned.get(valid.get(i).event().eventId());
            if (reason != null) {
                LOG.warnf("dead-lettering %s: %s", valid.get(i).provenance(), reason);
                all.add(new Rejected(validRecords.get(i), new RefusedEventException(reason)));
            }
        }
        return all;
    }

    /** Nacks each rejected record, one after the other; completes when the dead-letter topic has them all. */
    private static Uni<Void> deadLetter(List<Rejected> rejected) {
        if (rejected.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Multi.createFrom().iterable(rejected)
                .onItem().transformToUniAndConcatenate(r -> Uni.createFrom().completionStage(r.record().nack(r.reason())))
                .collect().last()
                .replaceWithVoid();
    }
}
