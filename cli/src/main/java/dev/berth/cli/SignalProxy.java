package dev.berth.cli;

import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.cli.rpc.RpcException;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * What {@code docker run}'s signal proxy does for a container in the foreground: Ctrl-C, TERM and HUP sent to
 * {@code berth run} go to the container instead of ending the CLI and leaving the container behind. A process that
 * ignores them (a shell or sleep as PID 1 has no default action) keeps running: the third Ctrl-C then detaches.
 */
@SuppressWarnings("restriction")
final class SignalProxy implements SignalHandler {

    static final int DETACH_AFTER_INTERRUPTS = 3;

    private final AgentClient client;
    private final String id;
    private final AtomicInteger interrupts = new AtomicInteger();

    private SignalProxy(AgentClient client, String id) {
        this.client = client;
        this.id = id;
    }

    static void install(AgentClient c, String id) {
        SignalProxy proxy = new SignalProxy(c, id);
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            try {
                Signal.handle(new Signal(name), proxy);
            } catch (IllegalArgumentException e) {
                // ignored when the CLI started (a background job of a shell without job control): not passed on either
            }
        }
    }

    @Override
    public void handle(Signal sig) {
        if (sig.getName().equals("INT") && interrupts.incrementAndGet() >= DETACH_AFTER_INTERRUPTS) {
            System.err.println("berth: detached; container " + id + " may still be running (berth stop " + id + ")");
            System.exit(130);
        }
        try {
            client.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(sig.getNumber()).build());
        } catch (RpcException e) {
            // it has exited already: the wait in progress reports how
        }
    }
}
