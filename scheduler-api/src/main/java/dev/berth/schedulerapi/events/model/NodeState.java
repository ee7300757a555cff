package dev.berth.schedulerapi.events.model;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;

/** A node as its events say it is (observed state), kept by {@code NodeStateProjection}. */
@Entity
@Table(name = "node_state")
public class NodeState extends PanacheEntityBase {
    @Id
    public String node;

    public String status;

    @Column(name = "agent_version")
    public String agentVersion;

    @Column(name = "last_heartbeat_at")
    public Instant lastHeartbeatAt;

    @Column(name = "containers_running")
    public Integer containersRunning;

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
