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
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A container's stdout and stderr as the shim writes them; with {@code follow}, new output streams until the task
 * has exited and both logs are drained.
 */
final class LogsService extends LogsGrpc.LogsImplBase {

    private static final int CHUNK = 32 * 1024;
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
        try (Tail stdout = new Tail(agent.tasks().stdoutLog(ns, id), LogChunk.Stream.STDOUT, req.getTailBytes());
             Tail stderr = new Tail(agent.tasks().stderrLog(ns, id), LogChunk.Stream.STDERR, req.getTailBytes())) {
            while (Calls.awaitReady(call)) {
                boolean exited = !req.getFollow() || isDone(ns, id);
                boolean any = stdout.pump(call) | stderr.pump(call);
                if (!any && exited) break;
                if (!any) Thread.sleep(POLL_MS);
            }
            if (!call.isCancelled()) call.onCompleted();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!call.isCancelled()) call.onError(Calls.status(e));
        }
    }

    private boolean isDone(String ns, String id) {
        Optional<TaskRecord> t = agent.tasks().get(ns, id);
        return t.isEmpty() || t.get().status().equals(TaskManager.STOPPED);
    }

    /** Reads one log file from an offset onwards; a file that does not exist yet is read once it appears. */
    private static final class Tail implements AutoCloseable {
        private final Path path;
        private final LogChunk.Stream stream;
        private final long tailBytes;
        private RandomAccessFile file;
        private final byte[] buf = new byte[CHUNK];

        Tail(Path path, LogChunk.Stream stream, long tailBytes) {
            this.path = path;
            this.stream = stream;
            this.tailBytes = tailBytes;
        }

        boolean pump(StreamObserver<LogChunk> out) throws IOException {
            if (file == null) {
                if (!Files.exists(path)) return false;
                file = new RandomAccessFile(path.toFile(), "r");
                if (tailBytes > 0 && file.length() > tailBytes) file.seek(file.length() - tailBytes);
            }
            int n = file.read(buf);
            if (n <= 0) return false;
            out.onNext(LogChunk.newBuilder().setStream(stream).setData(ByteString.copyFrom(buf, 0, n)).build());
            return true;
        }

        @Override
        public void close() throws IOException {
            if (file != null) file.close();
        }
    }
}
