package dev.berth.events.payload;

import java.util.List;

/**
 * {@code exec.started}: an extra process runs inside a running container.
 *
 * <p>Arguments often hold secrets (a token, a password, {@code sh -c '...'}) and an argv can be larger than Kafka
 * takes, so Berth's agent never publishes the argv: only the program ({@code executable}, argv[0] cut to
 * {@link #EXECUTABLE_LIMIT} characters) and how many arguments follow it ({@code argCount}).
 *
 * @param execId     the exec's id, unique within its container
 * @param pid        its pid on the node; optional
 * @param command    the whole argv; optional, and left out by Berth's agent (kept so older records still read)
 * @param executable argv[0], at most {@link #EXECUTABLE_LIMIT} characters; optional
 * @param argCount   the number of arguments after argv[0]; optional
 */
public record ExecStarted(String execId, Long pid, List<String> command, String executable, Integer argCount) {
    /** Most characters of argv[0] an event carries. */
    public static final int EXECUTABLE_LIMIT = 256;

    public ExecStarted {
        Require.text(execId, "execId");
        command = command == null ? null : List.copyOf(command);
    }

    /** The form Berth's agent publishes: the program and its argument count, never the arguments themselves. */
    public static ExecStarted of(String execId, Long pid, List<String> argv) {
        String executable = argv.get(0);
        if (executable.length() > EXECUTABLE_LIMIT) {
            executable = executable.substring(0, EXECUTABLE_LIMIT);
        }
        return new ExecStarted(execId, pid, null, executable, argv.size() - 1);
    }
}
