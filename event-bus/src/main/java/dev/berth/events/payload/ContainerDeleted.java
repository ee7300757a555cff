package dev.berth.events.payload;

/** {@code container.deleted}: bundle and writable snapshot are gone; the last event of a container. */
public record ContainerDeleted() {}
