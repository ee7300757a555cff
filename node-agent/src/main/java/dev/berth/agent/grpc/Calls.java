package dev.berth.agent.grpc;

import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.runtime.TaskException;
import dev.berth.oci.OciException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Runs one unary call against the core and turns Berth's typed errors into gRPC statuses with their message. */
final class Calls {

    private static final Logger LOG = Logger.getLogger(Calls.class.getName());

    interface Body<T> {
        T call() throws Exception;
    }

    private Calls() {}

    static <T> void unary(StreamObserver<T> out, Body<T> body) {
        T result;
        try {
            result = body.call();
        } catch (Exception e) {
            out.onError(status(e));
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }

    static StatusRuntimeException status(Throwable e) {
        if (e instanceof StatusRuntimeException s) return s;
        Status st;
        if (e instanceof TaskException t) {
            st = switch (t.kind()) {
                case NOT_FOUND -> Status.NOT_FOUND;
                case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
                case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
                case INVALID -> Status.INVALID_ARGUMENT;
                case FAILED -> Status.UNKNOWN;
            };
        } else if (e instanceof OciException o) {
            st = o instanceof OciException.NotFound ? Status.NOT_FOUND : Status.FAILED_PRECONDITION;
        } else if (e instanceof dev.berth.oci.RegistryStalledException) {
            st = Status.UNAVAILABLE;
        } else if (e instanceof IllegalArgumentException) {
            st = Status.INVALID_ARGUMENT;
        } else {
            LOG.log(Level.WARNING, "internal error serving a call", e);
            st = Status.INTERNAL;
        }
        return st.withDescription(e.getMessage()).asRuntimeException();
    }

    /**
     * Waits while a streaming client cannot take more (flow control), so a slow reader is waited for rather than
     * buffered for without bound; false once the client has gone away.
     */
    static boolean awaitReady(io.grpc.stub.ServerCallStreamObserver<?> call) throws java.io.InterruptedIOException {
        while (!call.isReady()) {
            if (call.isCancelled()) return false;
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            }
        }
        return !call.isCancelled();
    }

    static String require(String value, String what) {
        if (value == null || value.isEmpty()) throw new IllegalArgumentException(what + " is required");
        return value;
    }

    static dev.berth.api.types.task.Status taskStatus(TaskRecord t) {
        return switch (t.status()) {
            case "CREATED" -> dev.berth.api.types.task.Status.CREATED;
            case "RUNNING" -> dev.berth.api.types.task.Status.RUNNING;
            case "STOPPED" -> dev.berth.api.types.task.Status.STOPPED;
            case "PAUSED" -> dev.berth.api.types.task.Status.PAUSED;
            default -> dev.berth.api.types.task.Status.UNKNOWN;
        };
    }

    static com.google.protobuf.Timestamp millis(long ms) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(Math.floorDiv(ms, 1000)).setNanos((int) Math.floorMod(ms, 1000) * 1_000_000).build();
    }

    static com.google.protobuf.Timestamp nanos(long ns) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(Math.floorDiv(ns, 1_000_000_000L)).setNanos((int) Math.floorMod(ns, 1_000_000_000L)).build();
    }
}
