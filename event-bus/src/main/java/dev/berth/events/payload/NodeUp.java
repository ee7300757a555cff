package dev.berth.events.payload;

import java.util.Map;

/** {@code node.up}: the agent started (or came back) and accepts work. Both fields optional. */
public record NodeUp(String agentVersion, Map<String, String> labels) {
    public NodeUp {
        labels = labels == null ? null : Map.copyOf(labels);
    }
}
