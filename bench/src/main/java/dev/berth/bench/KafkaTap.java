package dev.berth.bench;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.MalformedEventException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A second reader of one event topic, beside scheduler-api's consumers, that notes for each event when its producer
 * sent it (the record's CreateTime, set by the relay's send) and when a plain consumer on this machine got it: where
 * the latency pass's time goes between the outbox commit and scheduler-api's transaction. Reads from the end of every
 * partition as it stood at {@link #start}; no group, no commits.
 */
final class KafkaTap implements AutoCloseable {
    /** Milliseconds since the epoch: the producer's send, and this reader's receipt. */
    record Seen(long sentMillis, long tappedMillis) {}

    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<SyntheticNode.EventKey, Seen> seen = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    KafkaTap(String bootstrap, KafkaClientProperties login, String topic) {
        Map<String, Object> config = new HashMap<>(login.asMap());
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        consumer = new KafkaConsumer<>(config);
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map((PartitionInfo p) -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // the end now, before any event of the pass is sent
        thread = new Thread(this::run, "kafka-tap");
        thread.setDaemon(true);
    }

    KafkaTap start() {
        thread.start();
        return this;
    }

    /** When the event was sent and tapped, or null if the tap has not seen it (yet). */
    Seen seen(SyntheticNode.EventKey key) {
        return seen.get(key);
    }

    private void run() {
        while (running) {
            ConsumerRecords<String, byte[]> records;
            try {
                records = consumer.poll(Duration.ofMillis(100));
            } catch (WakeupException stopping) {
                break;
            }
            for (ConsumerRecord<String, byte[]> r : records) {
                long now = System.currentTimeMillis();
                try {
                    EventEnvelope e = EventCodec.decode(r.value());
                    seen.put(new SyntheticNode.EventKey(e.subjectId(), e.sequence()), new Seen(r.timestamp(), now));
                } catch (MalformedEventException ignored) {
                    // not one of the pass's events: nothing to time
                }
            }
        }
        consumer.close(Duration.ZERO);
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(5_000);
    }
}
