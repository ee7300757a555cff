package dev.berth.bench;

import java.util.Map;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Sends the relay's records to {@code <prefix><topic>} instead of Berth's own topics, so a benchmark's hundreds of
 * thousands of events never reach the consumers of the shared broker (a dev scheduler-api, the test group).
 * A Kafka producer interceptor, so the relay under test runs unchanged. Config key: {@value #PREFIX}.
 */
public final class TopicPrefixInterceptor implements ProducerInterceptor<String, byte[]> {
    public static final String PREFIX = "berth.bench.topic-prefix";

    private String prefix = "";

    @Override
    public void configure(Map<String, ?> configs) {
        Object p = configs.get(PREFIX);
        prefix = p == null ? "" : p.toString();
    }

    @Override
    public ProducerRecord<String, byte[]> onSend(ProducerRecord<String, byte[]> r) {
        return new ProducerRecord<>(prefix + r.topic(), r.partition(), r.timestamp(), r.key(), r.value(), r.headers());
    }

    @Override
    public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
    }

    @Override
    public void close() {
    }
}
