package dev.berth.agent;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * Physical clean-up that need not hold up the caller: once a task or container is deleted from the metadata (what
 * every reader sees), unmounting, runtime deletion and tree removal run here, in order per container. Creating a
 * task or container of the same name, and garbage collection, wait for the pending work first; after a crash,
 * start-up finds the leftovers (directories and snapshots no record owns) and removes them.
 */
public final class Cleanups implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Cleanups.class.getName());

    /** Clean-up work. */
    public interface Work {
        void run() throws Exception;
    }

    private final Map<String, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
    private final ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "cleanup");
        t.setDaemon(true);
        return t;
    });

    /** Runs {@code work} after any clean-up already pending for this container. */
    public void schedule(String ns, String id, String what, Work work) {
        String key = ns + "/" + id;
        pending.compute(key, (k, prev) -> {
            CompletableFuture<Void> after = prev == null ? CompletableFuture.completedFuture(null) : prev.exceptionally(e -> null);
            CompletableFuture<Void> next = after.thenRunAsync(() -> {
                try {
                    work.run();
                } catch (Exception e) {
                    LOG.warning(what + " of " + key + " failed: " + e.getMessage() + " (start-up will retry)");
                }
            }, pool);
            next.whenComplete((v, e) -> pending.remove(k, next));
            return next;
        });
    }

    /** Waits for this container's pending clean-up. */
    public void await(String ns, String id) {
        CompletableFuture<Void> f = pending.get(ns + "/" + id);
        if (f != null) f.exceptionally(e -> null).join();
    }

    /** Waits for every pending clean-up. */
    public void drain() {
        for (CompletableFuture<Void> f : pending.values()) f.exceptionally(e -> null).join();
    }

    @Override
    public void close() {
        drain();
        pool.shutdown();
    }
}
