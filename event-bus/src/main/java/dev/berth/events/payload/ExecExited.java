package dev.berth.events.payload;

import java.time.Instant;

/** {@code exec.exited}: an exec process ended; fields mean what they mean in {@link ContainerExited}. */
public record ExecExited(String execId, Integer exitCode, String signal, Instant exitedAt) {
    public ExecExited {
        Require.text(execId, "execId");
        Require.present(exitCode, "exitCode");
        Require.present(exitedAt, "exitedAt");
    }
}
