package dev.berth.schedulerapi.events.model;

import dev.berth.events.EventEnvelope;
import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.Map;
import org.hibernate.annotations.Immutable;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

/** One row of the {@code event} table: an envelope as it arrived. Inserted by the projector with plain SQL. */
@Entity
@Immutable
@Table(name = "event")
public class EventRecord extends PanacheEntityBase {
    @Id
    @Column(name = "event_id")
    public String eventId;

    @Column(name = "ingest_seq")
    public long ingestSeq;

    public String type;

    @Column(name = "schema_version")
    public int schemaVersion;

    public String namespace;

    public String node;

    @Column(name = "subject_kind")
    public String subjectKind;

    @Column(name = "subject_id")
    public String subjectId;

    public long incarnation;

    public long sequence;

    @Column(name = "occurred_at")
    public Instant occurredAt;

    @JdbcTypeCode(SqlTypes.JSON)
    public Map<String, Object> payload;

    @Column(name = "received_at")
    public Instant receivedAt;

    public EventEnvelope toEnvelope() {
        return new EventEnvelope(eventId, type, schemaVersion, namespace, node, incarnation, subjectId, sequence, occurredAt, payload);
    }
}
