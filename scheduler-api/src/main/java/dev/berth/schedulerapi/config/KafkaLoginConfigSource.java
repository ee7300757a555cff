package dev.berth.schedulerapi.config;

import dev.berth.events.KafkaClientProperties;
import io.smallrye.config.ConfigSourceContext;
import io.smallrye.config.ConfigSourceFactory;
import io.smallrye.config.ConfigValue;
import io.smallrye.config.common.MapBackedConfigSource;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.config.spi.ConfigSource;

/**
 * How scheduler-api logs in to Kafka: the file named by {@value #FILE_PROPERTY} (Kafka's client format, see
 * {@link KafkaClientProperties}) becomes {@code kafka.*} configuration, which the messaging connector gives every
 * consumer and producer it makes and {@link TopicSetup} gives its admin client.
 *
 * <p>Its ordinal is above application.properties (250) and below the environment (300) and system properties
 * (400), so a {@code -Dkafka.sasl.jaas.config=...} still wins over the file. Values are secrets; none is logged.
 */
public class KafkaLoginConfigSource implements ConfigSourceFactory {
    /** The setting naming the file; application.properties fills it from $BERTH_KAFKA_CLIENT_PROPERTIES. */
    public static final String FILE_PROPERTY = "berth.kafka.client-properties";
    static final int ORDINAL = 260;

    @Override
    public Iterable<ConfigSource> getConfigSources(ConfigSourceContext context) {
        ConfigValue file = context.getValue(FILE_PROPERTY);
        if (file == null || file.getValue() == null || file.getValue().isBlank()) {
            return List.of();
        }
        KafkaClientProperties login;
        try {
            login = KafkaClientProperties.load(Path.of(file.getValue().trim()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; it is named by " + FILE_PROPERTY
                    + " (env " + KafkaClientProperties.ENV + ")", e);
        }
        Map<String, String> kafka = new HashMap<>();
        login.asMap().forEach((k, v) -> kafka.put("kafka." + k, v.toString()));
        return List.of(new MapBackedConfigSource(login.toString(), kafka, ORDINAL) {});
    }
}
