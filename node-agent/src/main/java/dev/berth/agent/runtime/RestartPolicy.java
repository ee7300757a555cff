package dev.berth.agent.runtime;

/**
 * When the node restarts a container whose task exited, as Docker spells it: {@code no}, {@code always},
 * {@code unless-stopped}, {@code on-failure} or {@code on-failure:N} (at most N restarts). A container stopped by its
 * user is never restarted, not even after the agent restarts, until the user starts it: so {@code always} behaves as
 * Docker's {@code unless-stopped}, and {@code unless-stopped} is accepted as the same policy.
 */
public record RestartPolicy(Mode mode, int maxRetries) {

    public enum Mode { NO, ALWAYS, ON_FAILURE }

    public static final RestartPolicy NO = new RestartPolicy(Mode.NO, 0);
    /** First delay before a restart; it doubles on every quick failure up to {@link #MAX_BACKOFF_MS}. */
    public static final long FIRST_BACKOFF_MS = 100;
    public static final long MAX_BACKOFF_MS = 10_000;
    /** A task that ran this long before exiting resets the backoff, as a healthy run. */
    public static final long HEALTHY_RUN_MS = 10_000;

    public static RestartPolicy parse(String s) {
        if (s == null || s.isEmpty() || s.equals("no")) return NO;
        if (s.equals("always") || s.equals("unless-stopped")) return new RestartPolicy(Mode.ALWAYS, 0);
        if (s.equals("on-failure")) return new RestartPolicy(Mode.ON_FAILURE, 0);
        if (s.startsWith("on-failure:")) {
            try {
                int n = Integer.parseInt(s.substring("on-failure:".length()));
                if (n >= 1) return new RestartPolicy(Mode.ON_FAILURE, n);
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("restart policy '" + s + "' is not valid: use no, always, unless-stopped, on-failure or on-failure:N (N >= 1)");
    }

    /** Whether a task that exited with this code, after {@code restarts} restarts so far, is started again. */
    public boolean restarts(int exitCode, int restarts) {
        return switch (mode) {
            case NO -> false;
            case ALWAYS -> true;
            case ON_FAILURE -> exitCode != 0 && (maxRetries == 0 || restarts < maxRetries);
        };
    }

    /** The delay before restart number {@code restarts + 1}. */
    public static long backoffMs(int quickFailures) {
        long d = FIRST_BACKOFF_MS << Math.min(quickFailures, 20);
        return Math.min(d, MAX_BACKOFF_MS);
    }

    @Override
    public String toString() {
        return switch (mode) {
            case NO -> "no";
            case ALWAYS -> "always";
            case ON_FAILURE -> maxRetries == 0 ? "on-failure" : "on-failure:" + maxRetries;
        };
    }
}
