package dev.berth.schedulerapi.events.service;

import dev.berth.schedulerapi.config.EventsConfig;
import dev.berth.schedulerapi.events.model.NodeState;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;

/**
 * Whether a node is alive, judged when asked: an agent that crashed (SIGKILL, power loss) sends no
 * {@code node.down}, so its projected status stays "up"; only the silence of its heartbeats tells. A node that is up
 * but sent no sign of life ({@code node.up} or {@code node.heartbeat}) for {@link #timeout()} is stale: not ready,
 * though what it last said (and what its containers last said) is kept as it was. Its next heartbeat makes it ready
 * again. Computed on read, not stored, so it needs no timer and is never behind the clock.
 *
 * <p>The heartbeat's own time (the agent's clock) is compared with this server's clock: the timeout is several
 * heartbeat intervals, far more than the skew of synchronised clocks.
 */
@ApplicationScoped
public class NodeLiveness {

    /** What the API says of a node's liveness; {@code staleSince} is set only while stale. */
    public record Liveness(boolean ready, boolean stale, Instant lastHeartbeatAt, Instant staleSince) {}

    private final Duration timeout;

    NodeLiveness(EventsConfig config) {
        this.timeout = config.nodeHeartbeatInterval().multipliedBy(config.nodeMissedHeartbeats());
    }

    /** How long an up node may stay silent before it is stale: missed heartbeats times the heartbeat interval. */
    public Duration timeout() {
        return timeout;
    }

    public Liveness of(NodeState node, Instant now) {
        // rows projected before node.up counted as a sign of life have no heartbeat yet: their last event then
        Instant lastSign = node.lastHeartbeatAt != null ? node.lastHeartbeatAt : node.updatedAt;
        if (!"up".equals(node.status)) {
            return new Liveness(false, false, node.lastHeartbeatAt, null); // down on purpose: not ready, not stale
        }
        Instant deadline = lastSign.plus(timeout);
        boolean stale = now.isAfter(deadline);
        return new Liveness(!stale, stale, node.lastHeartbeatAt, stale ? deadline : null);
    }
}
