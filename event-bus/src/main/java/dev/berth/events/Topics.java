package dev.berth.events;

/** Kafka topic names, in one place; records are keyed by container (or image) id so each stays ordered. */
public final class Topics {
    private Topics() {}

    public static final String CONTAINER_EVENTS = "berth.container-events.v1";
    public static final String IMAGE_EVENTS = "berth.image-events.v1";
    public static final String NODE_EVENTS = "berth.node-events.v1";
    public static final String DEAD_LETTER = "berth.events.dead-letter.v1";
}
