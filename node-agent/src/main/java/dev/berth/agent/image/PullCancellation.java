package dev.berth.agent.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Set when whoever asked for a pull has gone away (a client that cancelled its call). The pull lets go of what it
 * shares with other pulls at once: its share of a download is given up, and the download goes on for the others.
 */
public final class PullCancellation {

    private final List<Runnable> hooks = new ArrayList<>();
    private boolean cancelled;

    /** For a pull whose caller stays until it ends. */
    public static PullCancellation never() {
        return new PullCancellation();
    }

    public void cancel() {
        List<Runnable> run;
        synchronized (this) {
            if (cancelled) return;
            cancelled = true;
            run = List.copyOf(hooks);
            hooks.clear();
        }
        run.forEach(Runnable::run);
    }

    public synchronized boolean isCancelled() {
        return cancelled;
    }

    /** Runs {@code hook} when the pull is cancelled, or now if it already is. */
    void whenCancelled(Runnable hook) {
        synchronized (this) {
            if (!cancelled) {
                hooks.add(hook);
                return;
            }
        }
        hook.run();
    }
}
