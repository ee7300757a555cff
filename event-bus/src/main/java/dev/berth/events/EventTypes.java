package dev.berth.events;

/** Event type names, as they appear in {@link EventEnvelope#type()}. */
public final class EventTypes {
    private EventTypes() {}

    public static final String IMAGE_PULLED = "image.pulled";
    public static final String IMAGE_REMOVED = "image.removed";
    public static final String CONTAINER_CREATED = "container.created";
    public static final String CONTAINER_DELETED = "container.deleted";
    public static final String TASK_CREATED = "task.created";
    public static final String TASK_STARTED = "task.started";
    public static final String TASK_EXITED = "task.exited";
    public static final String TASK_DELETED = "task.deleted";
}
