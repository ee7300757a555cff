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

/**
 * A container's stdout and stderr as the shim writes them; with {@code follow}, new output streams until the task
 * has exited and both logs are drained.
 */
final class LogsService extends LogsGrpc.LogsImplBase {

    private static final int CHUNK = 32 * 1024;
    private static final long POLL_MS = 10;

    private final NodeAgent agent;

    LogsService(NodeAgent agent) {
        this.agent = agent;
    }

    @Override
    public void read(ReadLogsRequest req, StreamObserver<LogChunk> out) {
        String ns = Namespaces.current();
        ServerCallStreamObserver<LogChunk> call = (ServerCallStreamObserver<LogChunk>) out;
        try {
            agent.containers().require(ns, req.getContainerId());
            String id = req.getContainerId();
            Tail stdout = new Tail(agent.tasks().stdoutLog(ns, id), LogChunk.Stream.STDOUT, req.getTailBytes());
            Tail stderr = new Tail(agent.tasks().stderrLog(ns, id), LogChunk.Stream.STDERR, req.getTailBytes());
            while (!call.isCancelled()) {
                boolean exited = !req.getFollow() || isDone(ns, id);
                boolean any = stdout.pump(out) | stderr.pump(out);
                if (!any && exited) break;
                if (!any) Thread.sleep(POLL_MS);
            }
            stdout.close();
            stderr.close();
            if (!call.isCancelled()) out.onCompleted();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.onError(Calls.status(e));
        } catch (Exception e) {
            out.onError(Calls.status(e));
        }
    }

    private boolean isDone(String ns, String id) {
        Optional<TaskRecord> t = agent.tasks().get(ns, id);
        return t.isEmpty() || t.get().status().equals(TaskManager.STOPPED);
    }

    /** Reads one log file from an offset onwards; a file that does not exist yet is read once it appears. */
    private static final class Tail {
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

        void close() throws IOException {
            if (file != null) file.close();
        }
    }
}
