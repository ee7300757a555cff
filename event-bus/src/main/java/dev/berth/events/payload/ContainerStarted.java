package dev.berth.events.payload;

import java.time.Instant;

/** {@code container.started}: the container's init process runs. {@code pid} is on the node, optional. */
public record ContainerStarted(Long pid, Instant startedAt) {
    public ContainerStarted {
        Require.present(startedAt, "startedAt");
    }
}
