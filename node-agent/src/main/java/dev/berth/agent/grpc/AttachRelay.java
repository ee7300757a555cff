package dev.berth.agent.grpc;

import com.google.protobuf.ByteString;
import dev.berth.agent.runtime.ShimConnection;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.Exited;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Frames from a shim to one attach (or exec) stream, holding at most {@link #SLACK} beyond what gRPC buffers before it
 * says the client is not ready (its 32 KiB threshold), plus one frame of at most 32 KiB from the shim.
 *
 * <p>Output a client is not ready for is dropped for that client alone, never waited for: the shim never blocks the
 * container on a client either (it drops one whose socket is full), so pausing this reader would only get this
 * stream cut off by the shim. A user who wants every byte reads the log, which holds all of it; the drop is counted
 * and logged when the stream ends. {@code Started} and {@code Exited} are always sent: a client that catches up
 * learns how its process ended.
 */
final class AttachRelay {

    private static final Logger LOG = Logger.getLogger(AttachRelay.class.getName());
    /** Longer than the agent takes to answer once the shim has started the process. */
    private static final long STARTED_WAIT_SECONDS = 10;
    /**
     * What may be handed to gRPC beyond its threshold before output is left out: a burst while the transport writes
     * to a client that keeps up is not lost, a client that stops reading costs this much.
     */
    private static final long SLACK = 256 * 1024;

    private final ServerCallStreamObserver<AttachOutput> call;
    private final String what;
    private final CountDownLatch started = new CountDownLatch(1);
    private long dropped;
    /** Bytes handed to gRPC since it last said the client was ready. */
    private long unflushed;

    AttachRelay(ServerCallStreamObserver<AttachOutput> call, String what) {
        this.call = call;
        this.what = what;
    }

    void relay(ShimConnection.Frame f, Supplier<Exited> exit) {
        if (call.isCancelled()) return;
        switch (f.type()) {
            case ShimConnection.STDOUT -> output(f, AttachOutput.newBuilder().setStdout(ByteString.copyFrom(f.payload())));
            case ShimConnection.STDERR -> output(f, AttachOutput.newBuilder().setStderr(ByteString.copyFrom(f.payload())));
            case ShimConnection.EXIT -> exit(exit.get());
            default -> LOG.fine("unknown frame type " + f.type() + " from the shim");
        }
    }

    /** The first message: output relayed before it (an exec's reader starts with the process) waits for it. */
    void started(AttachOutput o) {
        send(o);
        started.countDown();
    }

    /** The last message, then the end of the stream. */
    void exit(Exited exit) {
        send(AttachOutput.newBuilder().setExit(exit).build());
        if (dropped > 0) LOG.info(what + ": " + dropped + " bytes of output left out for a client that did not read them (they are in the log)");
        synchronized (call) {
            try {
                call.onCompleted();
            } catch (IllegalStateException e) {
                LOG.log(Level.FINE, "attach client gone: " + e.getMessage());
            }
        }
    }

    private void output(ShimConnection.Frame f, AttachOutput.Builder o) {
        StreamMeter.ATTACH.took(f.payload().length);
        try {
            started.await(STARTED_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int n = f.payload().length;
        if (call.isReady()) {
            unflushed = 0; // gRPC holds under its 32 KiB threshold: the client keeps up
        } else if (unflushed + n > SLACK) {
            dropped += n;
            StreamMeter.ATTACH.dropped(n);
            return;
        }
        unflushed += n;
        send(o.build());
    }

    void send(AttachOutput o) {
        synchronized (call) {
            try {
                call.onNext(o);
            } catch (IllegalStateException | io.grpc.StatusRuntimeException e) {
                LOG.log(Level.FINE, "attach client gone: " + e.getMessage());
            }
        }
    }
}
