package dev.berth.events.payload;

import java.time.Instant;

/**
 * {@code container.exited}: the init process ended and the shim reaped it.
 *
 * @param exitCode  the exit status; 128+n when killed by signal n, as a shell reports it
 * @param signal    the signal that killed it ({@code SIGKILL}, ...), null when it exited by itself
 * @param oomKilled true when the kernel's OOM killer ended it (cgroup memory limit)
 * @param exitedAt  when the shim saw it exit (may be earlier than the envelope's time after an agent restart)
 */
public record ContainerExited(Integer exitCode, String signal, Boolean oomKilled, Instant exitedAt) {
    public ContainerExited {
        Require.present(exitCode, "exitCode");
        Require.present(oomKilled, "oomKilled");
        Require.present(exitedAt, "exitedAt");
    }
}
