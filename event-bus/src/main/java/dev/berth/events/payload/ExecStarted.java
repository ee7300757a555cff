package dev.berth.events.payload;

import java.util.List;

/**
 * {@code exec.started}: an extra process runs inside a running container.
 *
 * @param execId  the exec's id, unique within its container
 * @param pid     its pid on the node; optional
 * @param command argv; optional (may be left out when it could hold secrets)
 */
public record ExecStarted(String execId, Long pid, List<String> command) {
    public ExecStarted {
        Require.text(execId, "execId");
        command = command == null ? null : List.copyOf(command);
    }
}
