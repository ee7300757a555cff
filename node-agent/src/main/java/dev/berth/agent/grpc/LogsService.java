package dev.berth.agent.grpc;

import com.google.protobuf.ByteString;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.runtime.TaskManager;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.LogsGrpc;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import dev.berth.agent.runtime.ContainerLog;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A container's stdout and stderr records as the shim writes them (timestamped, across rotated files and restarts);
 * with {@code follow}, new records stream until the task has exited and the log is drained.
 */
final class LogsService extends LogsGrpc.LogsImplBase {

    private static final long POLL_MS = 10;

    private final NodeAgent agent;
    /** Followers live as long as their containers: they get threads of their own, never the API's workers. */
    private final ExecutorService followers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "log-follow");
        t.setDaemon(true);
        return t;
    });

    LogsService(NodeAgent agent) {
        this.agent = agent;
    }

    @Override
    public void read(ReadLogsRequest req, StreamObserver<LogChunk> out) {
        String ns = Namespaces.current();
        ServerCallStreamObserver<LogChunk> call = (ServerCallStreamObserver<LogChunk>) out;
        call.setOnCancelHandler(() -> { });
        try {
            agent.containers().require(ns, req.getContainerId());
        } catch (RuntimeException e) {
            out.onError(Calls.status(e));
            return;
        }
        followers.execute(() -> stream(ns, req, call));
    }

    private void stream(String ns, ReadLogsRequest req, ServerCallStreamObserver<LogChunk> call) {
        String id = req.getContainerId();
        try (ContainerLog log = new ContainerLog(agent.tasks().logDir(ns, id))) {
            if (!sendStored(req, log, call)) return;
            while (req.getFollow()) {
                if (call.isCancelled()) return; // the client went away: no thread, no file left polling
                boolean exited = isDone(ns, id);
                List<ContainerLog.Entry> batch = poll(log);
                if (!send(req, batch, call)) return;
                if (batch.isEmpty()) {
                    if (exited) break;
                    Thread.sleep(POLL_MS);
                }
            }
            if (!call.isCancelled()) call.onCompleted();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!call.isCancelled()) call.onError(Calls.status(e));
        }
    }

    /**
     * What is stored now. Without a tail it streams one poll's batch (a 64 KiB read of the file) at a time, each
     * record once the client can take it, so a long log is never held whole; a tail keeps only the records it may
     * still send (bounded by the tail asked for).
     */
    private static boolean sendStored(ReadLogsRequest req, ContainerLog log, ServerCallStreamObserver<LogChunk> call) throws Exception {
        boolean tail = req.getTailLines() > 0 || req.getTailBytes() > 0;
        ArrayDeque<ContainerLog.Entry> backlog = new ArrayDeque<>();
        long bytes = 0;
        for (List<ContainerLog.Entry> batch; !(batch = poll(log)).isEmpty(); ) {
            if (!tail) {
                if (!send(req, batch, call)) return false;
                continue;
            }
            for (ContainerLog.Entry e : batch) {
                if (!wanted(req, e)) continue;
                backlog.addLast(e);
                bytes += e.content().length;
                while (req.getTailLines() > 0 && backlog.size() > req.getTailLines()) bytes -= backlog.removeFirst().content().length;
                while (req.getTailBytes() > 0 && bytes > req.getTailBytes() && backlog.size() > 1) bytes -= backlog.removeFirst().content().length;
            }
        }
        return send(req, backlog, call);
    }

    private static List<ContainerLog.Entry> poll(ContainerLog log) throws java.io.IOException {
        List<ContainerLog.Entry> batch = log.poll();
        for (ContainerLog.Entry e : batch) StreamMeter.LOGS.took(e.content().length);
        return batch;
    }

    /** Sends the wanted records, each once the client can take it; false once the client has gone away. */
    private static boolean send(ReadLogsRequest req, Iterable<ContainerLog.Entry> entries, ServerCallStreamObserver<LogChunk> call) throws Exception {
        for (ContainerLog.Entry e : entries) {
            if (!wanted(req, e)) continue;
            if (!Calls.awaitReady(call)) return false;
            call.onNext(chunk(e));
        }
        return true;
    }

    private static boolean wanted(ReadLogsRequest req, ContainerLog.Entry e) {
        return req.getSinceUnixNanos() == 0 || nanos(e) >= req.getSinceUnixNanos();
    }

    private static long nanos(ContainerLog.Entry e) {
        return e.time().getEpochSecond() * 1_000_000_000L + e.time().getNano();
    }

    private static LogChunk chunk(ContainerLog.Entry e) {
        return LogChunk.newBuilder().setStream(e.stream().equals("stderr") ? LogChunk.Stream.STDERR : LogChunk.Stream.STDOUT)
                .setData(ByteString.copyFrom(e.content())).setTimeUnixNanos(nanos(e)).build();
    }

    private boolean isDone(String ns, String id) {
        Optional<TaskRecord> t = agent.tasks().get(ns, id);
        return t.isEmpty() || t.get().status().equals(TaskManager.STOPPED);
    }
}
