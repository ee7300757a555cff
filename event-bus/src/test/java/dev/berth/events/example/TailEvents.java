package dev.berth.events.example;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.MalformedEventException;
import dev.berth.events.Topics;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * An outside consumer of Berth's events, as small as a correct one gets (see docs/events.md): it reads the three
 * event topics, skips an event id it has already seen, tells a late event (sequence not above the last one of
 * its subject) from a new one, reports records that are not events, and commits offsets after handling them.
 *
 * <pre>
 * mvn -q -pl event-bus test-compile exec:java -Dexec.classpathScope=test \
 *     -Dexec.mainClass=dev.berth.events.example.TailEvents \
 *     -Dexec.args="--bootstrap 127.0.0.1:9092 --command-config deploy/.state/kafka/auth/client.properties --max-events 20"
 * </pre>
 *
 * Options: {@code --bootstrap host:port} (127.0.0.1:9092), {@code --command-config file} (how to log in: Kafka
 * client settings, as the Kafka console tools take them; default the file $BERTH_KAFKA_CLIENT_PROPERTIES names, if
 * any), {@code --group id} (berth-tail-events),
 * {@code --from-beginning} (a new group starts at the oldest event instead of the newest),
 * {@code --namespace ns} (print only that namespace), {@code --max-events n} (stop after n printed events).
 */
public final class TailEvents {
    private final PrintStream out;
    private final String namespace;
    /** Event ids already handled; a real consumer keeps these (or a unique key) in its own store. */
    private final Map<String, Boolean> seen = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > 100_000;
        }
    };
    /** Last sequence per subject (kind of topic + subject id): what makes an event late. */
    private final Map<String, Long> lastSequence = new HashMap<>();

    TailEvents(PrintStream out, String namespace) {
        this.out = out;
        this.namespace = namespace;
    }

    public static void main(String[] args) {
        String bootstrap = "127.0.0.1:9092";
        String group = "berth-tail-events";
        String namespace = null;
        boolean fromBeginning = false;
        long maxEvents = Long.MAX_VALUE;
        KafkaClientProperties login = KafkaClientProperties.fromEnvironment();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bootstrap" -> bootstrap = args[++i];
                case "--command-config" -> login = KafkaClientProperties.load(Path.of(args[++i]));
                case "--group" -> group = args[++i];
                case "--namespace" -> namespace = args[++i];
                case "--from-beginning" -> fromBeginning = true;
                case "--max-events" -> maxEvents = Long.parseLong(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + " (see the class comment)");
                    System.exit(2);
                }
            }
        }
        new TailEvents(System.out, namespace).run(bootstrap, login, group, fromBeginning, maxEvents, Duration.ofDays(365));
    }

    /** Consumes until {@code maxEvents} were printed or nothing arrived for {@code idle}; returns how many were printed. */
    long run(String bootstrap, KafkaClientProperties login, String group, boolean fromBeginning, long maxEvents, Duration idle) {
        Properties config = new Properties();
        config.putAll(login.asMap());
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, fromBeginning ? "earliest" : "latest");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false); // commit after handling, never before
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        long printed = 0;
        long quietSince = System.nanoTime();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(config)) {
            consumer.subscribe(Topics.EVENT_TOPICS);
            while (printed < maxEvents && System.nanoTime() - quietSince < idle.toNanos()) {
                var records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, byte[]> record : records) {
                    quietSince = System.nanoTime();
                    if (handle(record) && ++printed >= maxEvents) {
                        break;
                    }
                }
                if (!records.isEmpty()) {
                    consumer.commitSync(); // at least once: a crash before this line means those records come again
                }
            }
        }
        return printed;
    }

    /** Prints one record; true when it was printed as an event. */
    boolean handle(ConsumerRecord<String, byte[]> record) {
        EventEnvelope event;
        try {
            event = EventCodec.decode(record.value());
        } catch (MalformedEventException e) {
            out.printf("MALFORMED %s-%d@%d: %s%n", record.topic(), record.partition(), record.offset(), e.getMessage());
            return false;
        }
        if (namespace != null && !namespace.equals(event.namespace())) {
            return false;
        }
        if (seen.put(event.eventId(), Boolean.TRUE) != null) {
            return false; // a repeat (the publisher retried): already handled
        }
        String subject = record.topic() + "/" + event.subjectId();
        long last = lastSequence.getOrDefault(subject, 0L);
        boolean late = event.sequence() <= last;
        if (!late) {
            lastSequence.put(subject, event.sequence());
        }
        out.printf("%s %-18s %s/%s #%d%s %s%n", event.time(), event.type(),
                event.namespace() == null ? "-" : event.namespace(), event.subjectId(), event.sequence(),
                late ? " (late: " + last + " already seen)" : "", event.payload());
        return true;
    }
}
