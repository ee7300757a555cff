package dev.berth.events.outbox;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import dev.berth.events.EventTypes;
import dev.berth.events.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.errors.InvalidTimestampException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * What the relay sends for an outbox record: the event to its topic, or, for a record that cannot go there, a copy
 * to {@link Topics#DEAD_LETTER} with the reason. Kept apart from {@link OutboxRelay}, which only moves batches.
 */
final class RelayRecords {
    private RelayRecords() {}

    /** Most bytes of a refused record's value kept in its dead-letter copy: far below any broker's limit. */
    static final int DEAD_LETTER_VALUE_LIMIT = 64 * 1024;

    /** The record an outbox row is published as: its event on its topic, or a dead letter when it is not one. */
    static ProducerRecord<String, byte[]> toProducerRecord(OutboxRecord record) {
        if (record.malformedReason() != null) {
            return deadLetter(null, null, record.json(), "outbox relay: outbox row " + record.id()
                    + " is not a valid event: " + record.malformedReason());
        }
        EventEnvelope event = record.event();
        byte[] value = value(record);
        if (EventTypes.spec(event.type()).isEmpty()) {
            return deadLetter(event, Topics.key(event), value, "outbox relay: unknown event type '" + event.type() + "'");
        }
        RecordHeaders headers = eventHeaders(event);
        return new ProducerRecord<>(Topics.forEvent(event), null, Topics.key(event), value, headers);
    }

    /**
     * True when Kafka refused this one record for good, for something in the record itself (too large, a timestamp
     * or a form the broker rejects): sending it again can never succeed. Everything else (the broker unreachable,
     * not authorised, a fenced producer...) is the cluster's state, not the record's, and is retried.
     */
    static boolean refusedForGood(Throwable error) {
        return error instanceof RecordTooLargeException
                || error instanceof RecordBatchTooLargeException
                || error instanceof InvalidRecordException
                || error instanceof InvalidTimestampException;
    }

    /**
     * The stand-in for a record Kafka refused for good: a copy on the dead-letter topic, same key and event headers,
     * the reason naming the refusal and the record's size, the value cut to {@link #DEAD_LETTER_VALUE_LIMIT} bytes
     * (a cut value is no longer valid JSON, so no reader can take it for the event).
     */
    static ProducerRecord<String, byte[]> refused(OutboxRecord record, ProducerRecord<String, byte[]> sent, Throwable error) {
        byte[] value = sent.value();
        String reason = "outbox relay: Kafka refused the record for good (" + error.getClass().getSimpleName() + ": "
                + error.getMessage() + "); " + value.length + " bytes"
                + (value.length > DEAD_LETTER_VALUE_LIMIT ? ", the value cut to its first " + DEAD_LETTER_VALUE_LIMIT : "");
        if (record.event() == null) {
            reason += "; outbox row " + record.id();
        }
        byte[] kept = value.length > DEAD_LETTER_VALUE_LIMIT ? Arrays.copyOf(value, DEAD_LETTER_VALUE_LIMIT) : value;
        ProducerRecord<String, byte[]> copy = deadLetter(record.event(), sent.key(), kept, reason);
        copy.headers().add(Topics.DEAD_LETTER_TOPIC, utf8(sent.topic()));
        return copy;
    }

    private static ProducerRecord<String, byte[]> deadLetter(EventEnvelope event, String key, byte[] value, String reason) {
        RecordHeaders headers = event == null ? new RecordHeaders() : eventHeaders(event);
        headers.add(Topics.DEAD_LETTER_REASON, utf8(reason));
        return new ProducerRecord<>(Topics.DEAD_LETTER, null, key, value, headers);
    }

    private static RecordHeaders eventHeaders(EventEnvelope event) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(Topics.HEADER_EVENT_ID, utf8(event.eventId()));
        headers.add(Topics.HEADER_TYPE, utf8(event.type()));
        headers.add(Topics.HEADER_SCHEMA_VERSION, utf8(Integer.toString(event.schemaVersion())));
        return headers;
    }

    private static byte[] value(OutboxRecord record) {
        return record.json() != null ? record.json() : EventCodec.encode(record.event());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
