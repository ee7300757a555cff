package dev.berth.cli;

import dev.berth.api.services.tasks.v1.KillRequest;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What {@code docker run}'s signal proxy does for a container in the foreground: Ctrl-C, TERM and HUP sent to
 * {@code berth run} go to the container instead of ending the CLI and leaving the container behind. A process that
 * ignores them (a shell or sleep as PID 1 has no default action) keeps running: the third Ctrl-C then detaches.
 */
final class SignalProxy {

    static final int DETACH_AFTER_INTERRUPTS = 3;

    private SignalProxy() {}

    @SuppressWarnings("restriction")
    static void install(AgentClient c, String id) {
        AtomicInteger interrupts = new AtomicInteger();
        for (String name : List.of("INT", "TERM", "HUP")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                    if (name.equals("INT") && interrupts.incrementAndGet() >= DETACH_AFTER_INTERRUPTS) {
                        System.err.println("berth: detached; container " + id + " may still be running (berth stop " + id + ")");
                        System.exit(130);
                    }
                    try {
                        c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(sig.getNumber()).build());
                    } catch (StatusRuntimeException e) {
                        // it has exited already: the wait in progress reports how
                    }
                });
            } catch (IllegalArgumentException e) {
                // ignored when the CLI started (a background job of a shell without job control): not passed on either
            }
        }
    }
}
