package dev.berth.schedulerapi.faults;

import dev.berth.events.EventEnvelope;
import dev.berth.events.payload.ContainerCreated;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.testing.InMemoryOutbox;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What a node agent does to the event stream: each container start or stop commits its events to an outbox
 * (here in memory; the relay that publishes it is the real one). Remembers what it did, so a test can compare
 * the projection with what actually happened.
 */
final class SimulatedAgent {
    /** The state the projection must end up with for one container. */
    record Expected(String status, Integer exitCode, long lastSequence) {}

    final String namespace = "it-" + UUID.randomUUID();
    final String node = "node-" + UUID.randomUUID();
    final InMemoryOutbox outbox = new InMemoryOutbox();
    private final Map<String, Expected> containers = new LinkedHashMap<>();
    private final Deque<String> running = new ArrayDeque<>();
    private long events;
    private int stops;

    /** created + started, committed together as the agent would after runc start. */
    synchronized void startContainer() {
        String id = "c-" + UUID.randomUUID();
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        outbox.add(EventEnvelope.of(namespace, node, id, 1, now, new ContainerCreated("registry.local/app:1", null, null)),
                EventEnvelope.of(namespace, node, id, 2, now, new ContainerStarted(100L, now)));
        containers.put(id, new Expected("running", null, 2));
        running.addLast(id);
        events += 2;
    }

    /** The oldest running container exits, with an exit code that identifies it (the n-th stop exits n % 256). */
    synchronized void stopContainer() {
        String id = running.pollFirst();
        if (id == null) {
            return;
        }
        int exitCode = stops++ % 256;
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        outbox.add(EventEnvelope.of(namespace, node, id, 3, now, new ContainerExited(exitCode, exitCode > 128 ? "SIGKILL" : null, false, now)));
        containers.put(id, new Expected("exited", exitCode, 3));
        events += 1;
    }

    /** One step of a busy node: start containers while few run, otherwise start or stop one at random. */
    synchronized void step() {
        if (running.size() < 5 || Math.random() < 0.5) {
            startContainer();
        } else {
            stopContainer();
        }
    }

    /** {@code count} containers that start and exit: 3 events each. */
    synchronized void shortLives(int count) {
        for (int i = 0; i < count; i++) {
            startContainer();
            stopContainer();
        }
    }

    synchronized long eventCount() {
        return events;
    }

    synchronized Map<String, Expected> expected() {
        return Map.copyOf(containers);
    }

    synchronized List<String> containerIds() {
        return List.copyOf(containers.keySet());
    }
}
