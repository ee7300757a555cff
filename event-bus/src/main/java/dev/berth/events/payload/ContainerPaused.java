package dev.berth.events.payload;

/** {@code container.paused}: every process of the container is frozen (cgroup freezer). */
public record ContainerPaused() {}
