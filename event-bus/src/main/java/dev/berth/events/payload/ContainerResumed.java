package dev.berth.events.payload;

/** {@code container.resumed}: the frozen container runs again. */
public record ContainerResumed() {}
