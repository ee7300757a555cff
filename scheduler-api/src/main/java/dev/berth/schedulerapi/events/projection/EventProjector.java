package dev.berth.schedulerapi.events.projection;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.schedulerapi.events.model.ContainerKey;
import dev.berth.schedulerapi.events.model.ContainerState;
import dev.berth.schedulerapi.events.model.NodeState;
import io.quarkus.hibernate.reactive.panache.Panache;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.persistence.LockModeType;
import java.time.Instant;
import java.util.Locale;

/**
 * Projects one event into Postgres in one transaction: the event row (ignored if its id is already there) and,
 * only for a new event, the observed state of its container or node. A redelivered event therefore changes
 * nothing, and the caller acknowledges the Kafka record only after this transaction committed.
 */
@ApplicationScoped
public class EventProjector {

    /** Where a record was read from, kept beside the event for whoever has to trace it back. */
    public record Provenance(String topic, int partition, long offset) {}

    private static final String INSERT_EVENT = """
            INSERT INTO event (event_id, type, schema_version, namespace, node, subject_kind, subject_id, sequence,
                               occurred_at, payload, kafka_topic, kafka_partition, kafka_offset)
            VALUES (:eventId, :type, :schemaVersion, :namespace, :node, :subjectKind, :subjectId, :sequence,
                    :occurredAt, CAST(CAST(:payload AS text) AS jsonb), :topic, :partition, :offset)
            ON CONFLICT (event_id) DO NOTHING""";
    // the inner CAST makes the parameter text: bound straight to jsonb, a Java string would be stored as a JSON string

    /** True when the event was new (and applied); false for an event id already projected. */
    public Uni<Boolean> project(EventEnvelope event, Provenance provenance) {
        EventTypes.Spec spec = EventTypes.require(event.type());
        return Panache.withTransaction(() -> insertEvent(event, spec, provenance)
                .chain(inserted -> inserted ? applyState(event, spec).replaceWith(Boolean.TRUE) : Uni.createFrom().item(Boolean.FALSE)));
    }

    private Uni<Boolean> insertEvent(EventEnvelope event, EventTypes.Spec spec, Provenance provenance) {
        return Panache.getSession().chain(session -> session.createNativeQuery(INSERT_EVENT)
                .setParameter("eventId", event.eventId())
                .setParameter("type", event.type())
                .setParameter("schemaVersion", event.schemaVersion())
                .setParameter("namespace", event.namespace())
                .setParameter("node", event.node())
                .setParameter("subjectKind", subjectKind(spec.subject()))
                .setParameter("subjectId", event.subjectId())
                .setParameter("sequence", event.sequence())
                .setParameter("occurredAt", event.time())
                .setParameter("payload", EventCodec.payloadJson(event))
                .setParameter("topic", provenance == null ? null : provenance.topic())
                .setParameter("partition", provenance == null ? null : provenance.partition())
                .setParameter("offset", provenance == null ? null : provenance.offset())
                .executeUpdate()
                .map(rows -> rows == 1));
    }

    private Uni<Void> applyState(EventEnvelope event, EventTypes.Spec spec) {
        Instant now = Instant.now();
        return switch (spec.subject()) {
            case CONTAINER -> {
                if (!ContainerStateProjection.changesState(event.type())) {
                    yield Uni.createFrom().voidItem();
                }
                yield ContainerState.<ContainerState>findById(new ContainerKey(event.namespace(), event.subjectId()), LockModeType.PESSIMISTIC_WRITE)
                        .chain(found -> {
                            ContainerState state = found != null ? found : ContainerStateProjection.newState(event);
                            ContainerStateProjection.apply(state, event, now);
                            return found != null ? Uni.createFrom().voidItem() : state.persist().replaceWithVoid();
                        });
            }
            case NODE -> NodeState.<NodeState>findById(event.node(), LockModeType.PESSIMISTIC_WRITE)
                    .chain(found -> {
                        NodeState state = found != null ? found : NodeStateProjection.newState(event);
                        NodeStateProjection.apply(state, event, now);
                        return found != null ? Uni.createFrom().voidItem() : state.persist().replaceWithVoid();
                    });
            case IMAGE -> Uni.createFrom().voidItem(); // image events are kept in the event table only (for now)
        };
    }

    public static String subjectKind(EventTypes.Subject subject) {
        return subject.name().toLowerCase(Locale.ROOT);
    }
}
