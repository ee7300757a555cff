package dev.berth.agent.gc;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * What keeps garbage collection away from work in progress: a pull or a container create holds a lease (the
 * read side) for as long as it runs, and collection (the write side) waits for all of them and runs alone.
 */
public final class Leases {

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);

    /** A lease on everything a running operation touches; close it when the operation ends. */
    public AutoCloseable acquire() {
        lock.readLock().lock();
        return () -> lock.readLock().unlock();
    }

    public AutoCloseable exclusive() {
        lock.writeLock().lock();
        return () -> lock.writeLock().unlock();
    }
}
