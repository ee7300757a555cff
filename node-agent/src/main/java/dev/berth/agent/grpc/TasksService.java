package dev.berth.agent.grpc;

import com.google.protobuf.Empty;
import dev.berth.agent.NodeAgent;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.runtime.TaskException;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.CreateTaskResponse;
import dev.berth.api.services.tasks.v1.DeleteResponse;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.GetRequest;
import dev.berth.api.services.tasks.v1.GetResponse;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.ListTasksRequest;
import dev.berth.api.services.tasks.v1.ListTasksResponse;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.StartResponse;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.services.tasks.v1.WaitResponse;
import dev.berth.api.types.task.Process;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;

/** containerd's Tasks service: a container's init process, from create to delete. */
final class TasksService extends TasksGrpc.TasksImplBase {

    private final NodeAgent agent;

    TasksService(NodeAgent agent) {
        this.agent = agent;
    }

    static Process toProto(TaskRecord t) {
        Process.Builder b = Process.newBuilder().setContainerId(t.containerId()).setId(t.containerId()).setPid(t.pid()).setStatus(Calls.taskStatus(t));
        if (t.exitCode() != null) b.setExitStatus(t.exitCode());
        if (t.exitedAt() != null) b.setExitedAt(Calls.nanos(t.exitedAt()));
        return b.build();
    }

    @Override
    public void create(CreateTaskRequest req, StreamObserver<CreateTaskResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (req.getRootfsCount() > 0) {
                throw new IllegalArgumentException("explicit rootfs mounts are not supported yet: the agent mounts the container's own snapshot");
            }
            if (req.getTerminal()) throw new IllegalArgumentException("terminals are not supported yet");
            TaskRecord t = agent.tasks().create(agent.containers().require(ns, Calls.require(req.getContainerId(), "container id")));
            return CreateTaskResponse.newBuilder().setContainerId(t.containerId()).setPid(t.pid()).build();
        });
    }

    @Override
    public void start(StartRequest req, StreamObserver<StartResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) throw new IllegalArgumentException("exec processes are not supported yet");
            return StartResponse.newBuilder().setPid(agent.tasks().start(ns, req.getContainerId()).pid()).build();
        });
    }

    @Override
    public void delete(DeleteTaskRequest req, StreamObserver<DeleteResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            TaskRecord t = agent.tasks().delete(ns, req.getContainerId(), false);
            DeleteResponse.Builder b = DeleteResponse.newBuilder().setId(t.containerId()).setPid(t.pid());
            if (t.exitCode() != null) b.setExitStatus(t.exitCode());
            if (t.exitedAt() != null) b.setExitedAt(Calls.nanos(t.exitedAt()));
            return b.build();
        });
    }

    @Override
    public void get(GetRequest req, StreamObserver<GetResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> GetResponse.newBuilder().setProcess(toProto(agent.tasks().get(ns, req.getContainerId())
                .orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + req.getContainerId() + " has no task")))).build());
    }

    @Override
    public void list(ListTasksRequest req, StreamObserver<ListTasksResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListTasksResponse.Builder b = ListTasksResponse.newBuilder();
            for (TaskRecord t : agent.metadata().tasks(ns)) b.addTasks(toProto(t));
            return b.build();
        });
    }

    @Override
    public void kill(KillRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) throw new IllegalArgumentException("exec processes are not supported yet");
            // signal 0 is passed on as given: it probes, it does not terminate
            agent.tasks().kill(ns, req.getContainerId(), req.getSignal(), req.getAll());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void wait(WaitRequest req, StreamObserver<WaitResponse> out) {
        String ns = Namespaces.current();
        try {
            // this call's own view of the shared exit future: cancelling it never touches other waiters
            var future = agent.tasks().waitFor(ns, req.getContainerId()).thenApply(exit -> exit);
            Context.current().addListener(ctx -> future.cancel(false), Runnable::run);
            future.whenComplete((exit, err) -> {
                if (err != null) {
                    if (!(err instanceof java.util.concurrent.CancellationException)) out.onError(Calls.status(err));
                    return;
                }
                out.onNext(WaitResponse.newBuilder().setExitStatus(exit.exitCode()).setExitedAt(Calls.nanos(exit.exitedAtNanos())).build());
                out.onCompleted();
            });
        } catch (RuntimeException e) {
            out.onError(Calls.status(e));
        }
    }
}
