package dev.berth.schedulerapi.events.model;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.Table;
import java.time.Instant;

/** A container as the events say it is (observed state), kept by {@code ContainerStateProjection}. */
@Entity
@Table(name = "container_state")
@IdClass(ContainerKey.class)
public class ContainerState extends PanacheEntityBase {
    @Id
    public String namespace;

    @Id
    @Column(name = "container_id")
    public String containerId;

    @Id
    public String node;
    public String image;
    public String status;

    @Column(name = "exit_code")
    public Integer exitCode;

    public String signal;

    @Column(name = "oom_killed")
    public Boolean oomKilled;

    @Column(name = "created_at")
    public Instant createdAt;

    @Column(name = "started_at")
    public Instant startedAt;

    @Column(name = "exited_at")
    public Instant exitedAt;

    /** The incarnation of the agent's store that numbered {@link #lastSequence}. */
    public long incarnation;

    @Column(name = "last_sequence")
    public long lastSequence;

    @Column(name = "last_event_id")
    public String lastEventId;

    @Column(name = "last_event_type")
    public String lastEventType;

    @Column(name = "updated_at")
    public Instant updatedAt;

    @Column(name = "projected_at")
    public Instant projectedAt;
}
