package dev.berth.schedulerapi.config;

import dev.berth.events.TopicAdmin;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Map;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Creates the event topics at start if they are missing, so their partition count is chosen here rather than by
 * the broker's default on first use. A broker that is down at start is not fatal: the consumer waits for it.
 */
@Singleton
class TopicSetup {
    private static final Logger LOG = Logger.getLogger(TopicSetup.class);

    /** {@code login}: how to log in to the broker ({@link KafkaLogin}). */
    void onStart(@Observes StartupEvent start, EventsConfig config,
            @ConfigProperty(name = "kafka.bootstrap.servers") String bootstrap,
            @Identifier(KafkaLogin.BEAN) Map<String, Object> login) {
        if (!config.createTopics()) {
            return;
        }
        try {
            TopicAdmin.ensureTopics(bootstrap, login, config.topicPartitions(), (short) 1, Duration.ofSeconds(10));
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.warnf("could not check or create the event topics on %s (%s); the broker will create them on first use",
                    bootstrap, e.toString());
        }
    }
}
