package dev.berth.agent.grpc;

import dev.berth.api.services.attach.v1.AttachGrpc;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.content.v1.ContentGrpc;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ImagesGrpc;
import dev.berth.api.services.logs.v1.LogsGrpc;
import dev.berth.api.services.snapshots.v1.SnapshotsGrpc;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.version.v1.VersionGrpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Which threads serve which calls, so that a quick call never waits behind slow ones: calls that only read records,
 * signal or register a waiter ({@link #QUICK}: kill, wait, list, get, version...) run on a small pool of their own;
 * calls that may block on disk, the network, runc or a lock (pull, import, create, start, Content.Read...) run on
 * threads made as needed, their number bounded by {@link CallAdmission} rather than by a queue. Attach sessions
 * last as long as their process and hold a thread only while stdin reaches the shim: they run beside the long calls
 * but are not counted against them.
 */
final class CallPools implements ServerCallExecutorSupplier, AutoCloseable {

    /** Calls that never block for long: served at once on their own threads, never queued behind long ones. */
    static final Set<String> QUICK = Stream.<MethodDescriptor<?, ?>>of(
            VersionGrpc.getVersionMethod(),
            TasksGrpc.getKillMethod(), TasksGrpc.getWaitMethod(), TasksGrpc.getGetMethod(), TasksGrpc.getListMethod(),
            TasksGrpc.getListPidsMethod(), TasksGrpc.getResizePtyMethod(),
            ContainersGrpc.getGetMethod(), ContainersGrpc.getListMethod(),
            ImagesGrpc.getGetMethod(), ImagesGrpc.getListMethod(),
            ImageToolsGrpc.getListMethod(), ImageToolsGrpc.getInspectMethod(),
            ContentGrpc.getInfoMethod(), ContentGrpc.getListMethod(),
            SnapshotsGrpc.getStatMethod(), SnapshotsGrpc.getListMethod(),
            // its handler only checks the container and hands the stream to a follower thread of its own
            LogsGrpc.getReadMethod()).map(MethodDescriptor::getFullMethodName).collect(Collectors.toUnmodifiableSet());

    /** Sessions: long-lived, mostly idle, not admitted against the long calls' bound. */
    static final Set<String> SESSIONS = Set.of(AttachGrpc.getAttachMethod().getFullMethodName());

    /**
     * Kill waits for its container's lock (a create or start of that container, itself bounded by runc's timeout):
     * enough threads that a few such kills leave the rest of the quick calls served.
     */
    private static final int QUICK_THREADS = 16;

    private final ExecutorService quick;
    private final ExecutorService slow;

    CallPools() {
        // quick calls drain fast, so a queue in front of them stays short; they never share it with a long call
        ThreadPoolExecutor q = new ThreadPoolExecutor(QUICK_THREADS, QUICK_THREADS, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), threads("agent-quick-"));
        q.allowCoreThreadTimeOut(true);
        this.quick = q;
        // never refuses a task (a refused task would leave its call hanging): CallAdmission bounds how many run
        this.slow = Executors.newCachedThreadPool(threads("agent-call-"));
    }

    static boolean isQuick(String fullMethodName) {
        return QUICK.contains(fullMethodName);
    }

    static boolean isSession(String fullMethodName) {
        return SESSIONS.contains(fullMethodName);
    }

    /** Where method lookup runs (before a call is routed): quick work. */
    Executor lookup() {
        return quick;
    }

    @Override
    public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
        return isQuick(call.getMethodDescriptor().getFullMethodName()) ? quick : slow;
    }

    @Override
    public void close() {
        quick.shutdownNow();
        slow.shutdownNow();
    }

    private static java.util.concurrent.ThreadFactory threads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
