package dev.berth.agent.grpc;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes a streaming service has taken from its source (a blob, a log, a shim) for its clients, and how many it has
 * left out for clients too slow to take them. Read by tests to show what the agent holds for a client that does not
 * read: taken minus what the client received is what sits in the agent.
 */
final class StreamMeter {

    static final StreamMeter CONTENT_READ = new StreamMeter();
    static final StreamMeter LOGS = new StreamMeter();
    static final StreamMeter ATTACH = new StreamMeter();

    private final AtomicLong taken = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();

    void took(long bytes) {
        taken.addAndGet(bytes);
    }

    void dropped(long bytes) {
        dropped.addAndGet(bytes);
    }

    long taken() {
        return taken.get();
    }

    long dropped() {
        return dropped.get();
    }
}
