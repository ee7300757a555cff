package dev.berth.agent;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialises operations on one container (create, task create/start/delete, delete) without a lock object per
 * container: a fixed stripe of locks, chosen by the key's hash. Two keys may share a stripe; that only costs waiting.
 */
public final class KeyedLocks {

    private final ReentrantLock[] stripes = new ReentrantLock[256];

    public KeyedLocks() {
        for (int i = 0; i < stripes.length; i++) stripes[i] = new ReentrantLock();
    }

    public ReentrantLock lock(String namespace, String id) {
        ReentrantLock l = stripes[Math.floorMod((namespace + "/" + id).hashCode(), stripes.length)];
        l.lock();
        return l;
    }
}
