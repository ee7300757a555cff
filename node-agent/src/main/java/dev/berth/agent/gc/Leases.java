package dev.berth.agent.gc;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What keeps garbage collection away from work in progress: a pull or a container create holds a lease for as long
 * as it runs, and a collection runs only while no lease is held, alone. A collection never waits for leases (a pull
 * may take as long as its registry does): it is put off instead, and so it never queues new leases behind it. Only
 * while a collection actually runs (local disk work, no network) does a new lease wait.
 */
public final class Leases {

    private int held;
    private boolean collecting;

    /** A lease on everything a running operation touches; close it when the operation ends. */
    public AutoCloseable acquire() {
        synchronized (this) {
            boolean interrupted = false;
            while (collecting) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // a lease is taken as a lock is: the interrupt is kept for later
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            held++;
        }
        AtomicBoolean closed = new AtomicBoolean();
        return () -> {
            if (closed.compareAndSet(false, true)) release();
        };
    }

    private synchronized void release() {
        held--;
    }

    /** The node to one collection, if no lease is held now; empty otherwise. Close it when the collection ends. */
    public synchronized Optional<AutoCloseable> tryExclusive() {
        if (held > 0 || collecting) return Optional.empty();
        collecting = true;
        AtomicBoolean closed = new AtomicBoolean();
        return Optional.of(() -> {
            if (closed.compareAndSet(false, true)) endCollection();
        });
    }

    private synchronized void endCollection() {
        collecting = false;
        notifyAll();
    }

    /** Leases held now: pulls, imports, exports and creates in progress. */
    public synchronized int held() {
        return held;
    }
}
