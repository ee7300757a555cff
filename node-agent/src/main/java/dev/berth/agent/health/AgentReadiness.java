package dev.berth.agent.health;

import dev.berth.agent.AgentLifecycle;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready once the gRPC API answers on its socket. */
@Readiness
@ApplicationScoped
public class AgentReadiness implements HealthCheck {

    private final AgentLifecycle lifecycle;

    AgentReadiness(AgentLifecycle lifecycle) {
        this.lifecycle = lifecycle;
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("agent-api").status(lifecycle.isServing()).build();
    }
}
