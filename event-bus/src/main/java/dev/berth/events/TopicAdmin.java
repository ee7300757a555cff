package dev.berth.events;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates Berth's topics before anyone relies on the broker creating them on first use: the partition count fixes
 * which partition each key lands in, so it is chosen once, here, not by whichever client came first.
 */
public final class TopicAdmin {
    private TopicAdmin() {}

    /** Event topics and the dead-letter topic, on a broker that needs no login; existing topics are left as they are. */
    public static void ensureTopics(String bootstrapServers, int partitions, short replicationFactor, Duration timeout)
            throws InterruptedException, ExecutionException, TimeoutException {
        ensureTopics(bootstrapServers, Map.of(), partitions, replicationFactor, timeout);
    }

    /**
     * Event topics and the dead-letter topic; {@code clientProperties} are the client's extra settings (its login:
     * {@link KafkaClientProperties#asMap()}, or a client configuration that already holds one).
     */
    public static void ensureTopics(String bootstrapServers, Map<String, ?> clientProperties, int partitions,
            short replicationFactor, Duration timeout) throws InterruptedException, ExecutionException, TimeoutException {
        List<String> names = new java.util.ArrayList<>(Topics.EVENT_TOPICS);
        names.add(Topics.DEAD_LETTER);
        Map<String, Object> config = new HashMap<>(clientProperties);
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.min(timeout.toMillis(), 30_000));
        try (Admin admin = Admin.create(config)) {
            Set<String> existing = new HashSet<>(admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS));
            List<NewTopic> missing = names.stream()
                    .filter(n -> !existing.contains(n))
                    .map(n -> new NewTopic(n, partitions, replicationFactor))
                    .toList();
            if (missing.isEmpty()) {
                return;
            }
            for (var result : admin.createTopics(missing).values().values()) {
                try {
                    result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) { // created meanwhile by someone else: fine
                        throw e;
                    }
                }
            }
        }
    }
}
