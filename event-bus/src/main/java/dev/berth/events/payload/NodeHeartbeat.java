package dev.berth.events.payload;

/** {@code node.heartbeat}: the agent is alive; sent periodically. {@code containersRunning} is optional. */
public record NodeHeartbeat(Integer containersRunning) {}
