package dev.berth.events;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * How a Berth client logs in to Kafka: extra client settings read from a file in Kafka's own client format (the
 * one {@code --command-config} takes: {@code security.protocol}, {@code sasl.*}, {@code ssl.*}), added to the
 * settings Berth chooses itself (which win where both name a key, {@code bootstrap.servers} among them).
 *
 * <p>The dev stack writes one ({@code deploy/.state/kafka/auth/client.properties}) and every client finds it through
 * {@value #ENV}. Its values are secrets: {@link #toString()} names the file and the keys, never a value.
 */
public final class KafkaClientProperties {
    /** The environment variable naming the file, for every Berth process that talks to Kafka. */
    public static final String ENV = "BERTH_KAFKA_CLIENT_PROPERTIES";

    private static final KafkaClientProperties NONE = new KafkaClientProperties(null, Map.of());

    private final Path source;
    private final Map<String, String> values; // sorted by key

    private KafkaClientProperties(Path source, Map<String, String> values) {
        this.source = source;
        this.values = values;
    }

    /** No extra settings: a broker that takes anyone on a plaintext listener. */
    public static KafkaClientProperties none() {
        return NONE;
    }

    /**
     * The settings in {@code file}.
     *
     * @throws IllegalArgumentException when the file is missing, unreadable or not a properties file; the message
     *     names the file (callers add the setting that named it)
     */
    public static KafkaClientProperties load(Path file) {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file)) {
            p.load(in);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("Kafka client properties file " + file + " does not exist"
                    + " (the dev stack writes deploy/.state/kafka/auth/client.properties: run deploy/dev-services.sh up)");
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot read Kafka client properties file " + file + ": " + e.getMessage());
        }
        Map<String, String> values = new TreeMap<>();
        p.stringPropertyNames().forEach(k -> values.put(k, p.getProperty(k).trim()));
        return new KafkaClientProperties(file, Collections.unmodifiableMap(values));
    }

    /** The file named by {@value #ENV}, or {@link #none()} when it is unset or blank. */
    public static KafkaClientProperties fromEnvironment() {
        return fromSetting(Optional.ofNullable(System.getenv(ENV)), ENV);
    }

    /**
     * The file a setting names, or {@link #none()} when it is unset or blank.
     *
     * @throws IllegalArgumentException as {@link #load}, the message naming {@code setting} as well
     */
    public static KafkaClientProperties fromSetting(Optional<String> file, String setting) {
        if (file.isEmpty() || file.get().isBlank()) {
            return NONE;
        }
        try {
            return load(Path.of(file.get().trim()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + "; it is named by " + setting, e);
        }
    }

    /** The settings, to put into a producer's, consumer's or admin client's configuration. */
    public Map<String, Object> asMap() {
        return Map.copyOf(values);
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    /** Where the settings came from and which keys they set; values are left out (they hold passwords). */
    @Override
    public String toString() {
        return source == null ? "no Kafka client properties" : "Kafka client properties from " + source + " " + values.keySet();
    }
}
