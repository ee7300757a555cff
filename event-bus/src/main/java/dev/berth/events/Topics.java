package dev.berth.events;

import java.util.List;

/**
 * Kafka topic names, record keys and header names, in one place.
 *
 * <p>Every event goes to the topic of its subject and is keyed by its subjectId (container id, image digest,
 * node name), so all events of one subject land in one partition, in the order they were published. Changing a
 * topic's partition count moves keys between partitions: create the topics once with their final count.
 */
public final class Topics {
    private Topics() {}

    public static final String CONTAINER_EVENTS = "berth.container-events.v1";
    public static final String IMAGE_EVENTS = "berth.image-events.v1";
    public static final String NODE_EVENTS = "berth.node-events.v1";
    /** Records a consumer could not read, as they were, with the reason in {@link #DEAD_LETTER_REASON}. */
    public static final String DEAD_LETTER = "berth.events.dead-letter.v1";

    /** The topics that carry events (not the dead-letter topic). */
    public static final List<String> EVENT_TOPICS = List.of(CONTAINER_EVENTS, IMAGE_EVENTS, NODE_EVENTS);

    /** Header set by the publisher: the event's type, so a consumer can skip types without parsing. */
    public static final String HEADER_TYPE = "berth-event-type";
    /** Header set by the publisher: the event's id. */
    public static final String HEADER_EVENT_ID = "berth-event-id";
    /** Header set by the publisher: the envelope's schema version, as a decimal string. */
    public static final String HEADER_SCHEMA_VERSION = "berth-schema-version";

    /** Dead-letter headers (SmallRye Reactive Messaging's names): why the record was rejected... */
    public static final String DEAD_LETTER_REASON = "dead-letter-reason";
    /** ...and where it came from. */
    public static final String DEAD_LETTER_TOPIC = "dead-letter-topic";
    public static final String DEAD_LETTER_PARTITION = "dead-letter-partition";
    public static final String DEAD_LETTER_OFFSET = "dead-letter-offset";

    /** The topic an event of this subject goes to. */
    public static String forSubject(EventTypes.Subject subject) {
        return switch (subject) {
            case CONTAINER -> CONTAINER_EVENTS;
            case IMAGE -> IMAGE_EVENTS;
            case NODE -> NODE_EVENTS;
        };
    }

    /** The topic this event goes to. */
    public static String forEvent(EventEnvelope event) {
        return EventTypes.require(event.type()).topic();
    }

    /** The record key: the subject id, so one subject's events stay in one partition, in order. */
    public static String key(EventEnvelope event) {
        return event.subjectId();
    }
}
