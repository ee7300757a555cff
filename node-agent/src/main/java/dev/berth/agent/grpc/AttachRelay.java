package dev.berth.agent.grpc;

import com.google.protobuf.ByteString;
import dev.berth.agent.runtime.ShimConnection;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.Exited;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Frames from a shim to one attach (or exec) stream, holding at most what gRPC buffers before it says the client is
 * not ready (its 32 KiB threshold, plus one frame of at most 32 KiB from the shim).
 *
 * <p>Output a client is not ready for is dropped for that client alone, never waited for: the shim never blocks the
 * container on a client either (it drops one whose socket is full), so pausing this reader would only get this
 * stream cut off by the shim. A user who wants every byte reads the log, which holds all of it; the drop is counted
 * and logged when the stream ends. {@code Started} and {@code Exited} are always sent: a client that catches up
 * learns how its process ended.
 */
final class AttachRelay {

    private static final Logger LOG = Logger.getLogger(AttachRelay.class.getName());

    private final ServerCallStreamObserver<AttachOutput> call;
    private final String what;
    private long dropped;

    AttachRelay(ServerCallStreamObserver<AttachOutput> call, String what) {
        this.call = call;
        this.what = what;
    }

    void relay(ShimConnection.Frame f, Supplier<Exited> exit) {
        if (call.isCancelled()) return;
        switch (f.type()) {
            case ShimConnection.STDOUT -> output(f, AttachOutput.newBuilder().setStdout(ByteString.copyFrom(f.payload())));
            case ShimConnection.STDERR -> output(f, AttachOutput.newBuilder().setStderr(ByteString.copyFrom(f.payload())));
            case ShimConnection.EXIT -> {
                send(AttachOutput.newBuilder().setExit(exit.get()).build());
                if (dropped > 0) LOG.info(what + ": " + dropped + " bytes of output left out for a client that did not read them (they are in the log)");
                synchronized (call) {
                    call.onCompleted();
                }
            }
            default -> LOG.fine("unknown frame type " + f.type() + " from the shim");
        }
    }

    private void output(ShimConnection.Frame f, AttachOutput.Builder o) {
        StreamMeter.ATTACH.took(f.payload().length);
        if (!call.isReady()) {
            dropped += f.payload().length;
            StreamMeter.ATTACH.dropped(f.payload().length);
            return;
        }
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
