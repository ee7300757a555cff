package dev.berth.agent.runtime;

/** How a container's init process ended: exit code (128+signal when killed), the signal, and when. */
public record TaskExit(int exitCode, int signal, long exitedAtNanos) {

    /** Parses the shim's exit line, {@code EXIT_CODE SIGNAL EXITED_AT_UNIX_NANOS}. */
    public static TaskExit parse(String line) {
        String[] f = line.trim().split(" ");
        if (f.length != 3) throw new IllegalArgumentException("malformed exit record '" + line.trim() + "'");
        return new TaskExit(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]));
    }
}
