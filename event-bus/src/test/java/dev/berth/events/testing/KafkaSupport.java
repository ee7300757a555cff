package dev.berth.events.testing;

import dev.berth.events.KafkaClientProperties;
import dev.berth.events.TopicAdmin;
import dev.berth.events.outbox.OutboxRelay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Reading and writing the real broker from tests: where a topic ends now, and what appeared after that. */
public final class KafkaSupport {
    private KafkaSupport() {}

    /** The broker the tests use: -Dberth.kafka.bootstrap, $BERTH_KAFKA_BOOTSTRAP, or the dev services' one. */
    public static String bootstrap() {
        String fromProperty = System.getProperty("berth.kafka.bootstrap");
        if (fromProperty != null && !fromProperty.isBlank()) {
            return fromProperty;
        }
        String fromEnv = System.getenv("BERTH_KAFKA_BOOTSTRAP");
        return fromEnv != null && !fromEnv.isBlank() ? fromEnv : "127.0.0.1:9092";
    }

    /**
     * How tests log in to the shared broker: the file $BERTH_KAFKA_CLIENT_PROPERTIES names, else the dev services'
     * one in this checkout (deploy/.state/kafka/auth/client.properties, looked for from the working directory up),
     * else none.
     */
    public static KafkaClientProperties login() {
        KafkaClientProperties fromEnv = KafkaClientProperties.fromEnvironment();
        if (!fromEnv.isEmpty()) {
            return fromEnv;
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve("deploy/.state/kafka/auth/client.properties");
            if (Files.isRegularFile(file)) {
                return KafkaClientProperties.load(file);
            }
        }
        return KafkaClientProperties.none();
    }

    /** The login for {@code bootstrap}: the shared broker's ({@link #login()}), none for another (a {@link PrivateKafka}). */
    public static KafkaClientProperties loginFor(String bootstrap) {
        return bootstrap.equals(bootstrap()) ? login() : KafkaClientProperties.none();
    }

    /** The relay's default settings for {@code bootstrap}, logged in as {@link #loginFor} says. */
    public static OutboxRelay.Settings relaySettings(String bootstrap) {
        return OutboxRelay.Settings.defaults(bootstrap).withLogin(loginFor(bootstrap));
    }

    /** Berth's topics on {@code bootstrap}, created if missing (3 partitions, as the apps create them). */
    public static void ensureTopics(String bootstrap) throws Exception {
        TopicAdmin.ensureTopics(bootstrap, loginFor(bootstrap).asMap(), 3, (short) 1, Duration.ofSeconds(30));
    }

    /** An admin client of {@code bootstrap}, logged in. */
    public static Admin admin(String bootstrap) {
        Map<String, Object> config = new HashMap<>(loginFor(bootstrap).asMap());
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(config);
    }

    public static KafkaConsumer<String, byte[]> consumer(String bootstrap) {
        Properties p = new Properties();
        p.putAll(loginFor(bootstrap).asMap());
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "berth-test-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    public static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.putAll(loginFor(bootstrap).asMap());
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    /** Where each partition of {@code topic} ends now (the topic is created by the broker if it does not exist). */
    public static Map<TopicPartition, Long> endOffsets(String bootstrap, String topic) {
        try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
            List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(30));
            List<TopicPartition> partitions = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            return new HashMap<>(c.endOffsets(partitions, Duration.ofSeconds(30)));
        }
    }

    /**
     * Records after {@code from} that match {@code filter}, read until {@code expected} of them arrived and then
     * {@code settle} longer (to catch extras), or until {@code timeout}.
     */
    public static List<ConsumerRecord<String, byte[]>> readAfter(String bootstrap, Map<TopicPartition, Long> from,
            Predicate<ConsumerRecord<String, byte[]>> filter, int expected, Duration settle, Duration timeout) {
        List<ConsumerRecord<String, byte[]>> found = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = consumer(bootstrap)) {
            c.assign(from.keySet());
            from.forEach(c::seek);
            long deadline = System.nanoTime() + timeout.toNanos();
            long settleUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, settleUntil)) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (filter.test(r)) {
                        found.add(r);
                    }
                }
                if (found.size() >= expected && settleUntil == Long.MAX_VALUE) {
                    settleUntil = System.nanoTime() + settle.toNanos();
                }
            }
        }
        return found;
    }
}
