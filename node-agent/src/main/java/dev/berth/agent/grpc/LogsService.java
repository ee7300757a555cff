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
            // what is stored now, filtered by time and cut to the requested tail
            ArrayDeque<ContainerLog.Entry> backlog = new ArrayDeque<>();
            long bytes = 0;
            for (List<ContainerLog.Entry> batch; !(batch = log.poll()).isEmpty(); ) {
                for (ContainerLog.Entry e : batch) {
                    if (!wanted(req, e)) continue;
                    backlog.addLast(e);
                    bytes += e.content().length;
                    while (req.getTailLines() > 0 && backlog.size() > req.getTailLines()) bytes -= backlog.removeFirst().content().length;
                    while (req.getTailBytes() > 0 && bytes > req.getTailBytes() && backlog.size() > 1) bytes -= backlog.removeFirst().content().length;
                }
            }
            for (ContainerLog.Entry e : backlog) {
                if (!Calls.awaitReady(call)) return;
                call.onNext(chunk(e));
            }
            while (req.getFollow()) {
                if (call.isCancelled()) return; // the client went away: no thread, no file left polling
                boolean exited = isDone(ns, id);
                List<ContainerLog.Entry> batch = log.poll();
                for (ContainerLog.Entry e : batch) {
                    if (!wanted(req, e)) continue;
                    if (!Calls.awaitReady(call)) return;
                    call.onNext(chunk(e));
                }
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
