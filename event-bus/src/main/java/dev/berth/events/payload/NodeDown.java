package dev.berth.events.payload;

/** {@code node.down}: the agent is shutting down on purpose ({@code reason}, optional, says why). */
public record NodeDown(String reason) {}
