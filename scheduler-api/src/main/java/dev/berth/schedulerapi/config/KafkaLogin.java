package dev.berth.schedulerapi.config;

import dev.berth.events.KafkaClientProperties;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * How scheduler-api logs in to Kafka: the file {@value #FILE_PROPERTY} names (Kafka's client format, see
 * {@link KafkaClientProperties}), read when the app starts, never when it is built. The channel takes it as its
 * {@code kafka-configuration} (so its consumers, dead-letter producer and health check log in), and
 * {@link TopicSetup} gives it to its admin client.
 *
 * <p>A bean rather than a config source on purpose: Quarkus records the values config sources give at build time
 * into the packaged app, and the login holds a password.
 */
@Singleton
class KafkaLogin {
    static final String FILE_PROPERTY = "berth.kafka.client-properties";
    /** The name channels give as {@code kafka-configuration}. */
    static final String BEAN = "berth-kafka-login";

    @Produces
    @Singleton
    @Identifier(BEAN)
    Map<String, Object> configuration(@ConfigProperty(name = FILE_PROPERTY) Optional<String> file) {
        return KafkaClientProperties.fromSetting(file, FILE_PROPERTY + " (env " + KafkaClientProperties.ENV + ")").asMap();
    }
}
