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
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.runtime.Cgroups;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.ShimConnection;
import dev.berth.api.services.tasks.v1.CloseIORequest;
import dev.berth.api.services.tasks.v1.DeleteProcessRequest;
import dev.berth.api.services.tasks.v1.ExecProcessRequest;
import dev.berth.api.services.tasks.v1.ListPidsRequest;
import dev.berth.api.services.tasks.v1.ListPidsResponse;
import dev.berth.api.services.tasks.v1.MetricsRequest;
import dev.berth.api.services.tasks.v1.MetricsResponse;
import dev.berth.api.services.tasks.v1.PauseTaskRequest;
import dev.berth.api.services.tasks.v1.ResizePtyRequest;
import dev.berth.api.services.tasks.v1.ResumeTaskRequest;
import dev.berth.api.services.tasks.v1.UpdateTaskRequest;
import dev.berth.api.types.Metric;
import dev.berth.api.types.berth.ContainerMetrics;
import dev.berth.api.types.berth.Resources;
import dev.berth.api.types.berth.TaskOptions;
import dev.berth.api.types.task.ProcessInfo;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;

/** containerd's Tasks service: a container's init process, from create to delete. */
final class TasksService extends TasksGrpc.TasksImplBase {

    private final NodeAgent agent;
    /** Exec processes registered (Exec) but not started (Start with their exec id). */
    private final java.util.Map<String, ExecProcessRequest> pendingExecs = new java.util.concurrent.ConcurrentHashMap<>();

    TasksService(NodeAgent agent) {
        this.agent = agent;
    }

    static Process toProto(TaskRecord t) {
        Process.Builder b = Process.newBuilder().setContainerId(t.containerId()).setId(t.containerId()).setPid(t.pid()).setStatus(Calls.taskStatus(t));
        if (t.exitCode() != null) b.setExitStatus(t.exitCode());
        if (t.exitedAt() != null) b.setExitedAt(Calls.nanos(t.exitedAt()));
        return b.setOomKilled(t.oomKilled()).build();
    }

    @Override
    public void create(CreateTaskRequest req, StreamObserver<CreateTaskResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (req.getRootfsCount() > 0) {
                throw new IllegalArgumentException("explicit rootfs mounts are not supported yet: the agent mounts the container's own snapshot");
            }
            if (!req.getStdin().isEmpty() || !req.getStdout().isEmpty() || !req.getStderr().isEmpty()) {
                throw new IllegalArgumentException("stdio FIFO paths are not used by Berth: the shim keeps the container's log; attach with the berth.services.attach.v1.Attach service");
            }
            var c = agent.containers().require(ns, Calls.require(req.getContainerId(), "container id"));
            boolean start = req.hasOptions() && req.getOptions().getTypeUrl().endsWith("TaskOptions/v1")
                    && TaskOptions.parseFrom(req.getOptions().getValue()).getStart();
            TaskRecord t = start ? agent.tasks().run(c) : agent.tasks().create(c);
            return CreateTaskResponse.newBuilder().setContainerId(t.containerId()).setPid(t.pid()).build();
        });
    }

    @Override
    public void start(StartRequest req, StreamObserver<StartResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) {
                ExecProcessRequest e = pendingExecs.remove(ns + "/" + req.getContainerId() + "/" + req.getExecId());
                if (e == null) throw new TaskException(TaskException.Kind.NOT_FOUND, "no exec process " + req.getExecId() + " was registered for container " + req.getContainerId() + "; call Exec first");
                ExecSpec spec = ExecSpec.of(e);
                return StartResponse.newBuilder().setPid(agent.tasks().exec(ns, req.getContainerId(), req.getExecId(), spec.args, spec.env, spec.cwd, spec.user,
                        e.getTerminal(), false, null).pid()).build();
            }
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
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) {
                MetadataStore.ExecRecord e = agent.tasks().execRecord(ns, req.getContainerId(), req.getExecId())
                        .orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + req.getContainerId() + " has no exec process " + req.getExecId()));
                return GetResponse.newBuilder().setProcess(execProto(e)).build();
            }
            Process p = toProto(agent.tasks().get(ns, req.getContainerId())
                    .orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + req.getContainerId() + " has no task")));
            return GetResponse.newBuilder().setProcess(p.toBuilder().setIpAddress(agent.networks().address(ns, req.getContainerId()).orElse(""))).build();
        });
    }

    @Override
    public void list(ListTasksRequest req, StreamObserver<ListTasksResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListTasksResponse.Builder b = ListTasksResponse.newBuilder();
            for (TaskRecord t : agent.metadata().tasks(ns)) {
                b.addTasks(toProto(t).toBuilder().setRestartCount(agent.metadata().restartState(ns, t.containerId()).restartCount())
                        .setIpAddress(agent.networks().address(ns, t.containerId()).orElse("")));
            }
            return b.build();
        });
    }

    @Override
    public void kill(KillRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) {
                agent.tasks().killExec(ns, req.getContainerId(), req.getExecId(), req.getSignal());
                return Empty.getDefaultInstance();
            }
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
            var future = (req.getExecId().isEmpty() ? agent.tasks().waitFor(ns, req.getContainerId())
                    : agent.tasks().waitForExec(ns, req.getContainerId(), req.getExecId())).thenApply(exit -> exit);
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

    @Override
    public void exec(ExecProcessRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            Calls.require(req.getExecId(), "exec id");
            if (!req.getStdin().isEmpty() || !req.getStdout().isEmpty() || !req.getStderr().isEmpty()) {
                throw new IllegalArgumentException("stdio FIFO paths are not used by Berth: exec through the berth.services.attach.v1.Attach service to see the process's output");
            }
            ExecSpec.of(req); // refuse a bad spec now, not at Start
            agent.tasks().get(ns, req.getContainerId()).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + req.getContainerId() + " has no task; start it first"));
            if (pendingExecs.putIfAbsent(ns + "/" + req.getContainerId() + "/" + req.getExecId(), req) != null
                    || agent.tasks().execRecord(ns, req.getContainerId(), req.getExecId()).isPresent()) {
                throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "exec id " + req.getExecId() + " is in use in container " + req.getContainerId());
            }
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void deleteProcess(DeleteProcessRequest req, StreamObserver<DeleteResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (pendingExecs.remove(ns + "/" + req.getContainerId() + "/" + req.getExecId()) != null) {
                return DeleteResponse.newBuilder().setId(req.getExecId()).build();
            }
            MetadataStore.ExecRecord e = agent.tasks().deleteExec(ns, req.getContainerId(), req.getExecId());
            DeleteResponse.Builder b = DeleteResponse.newBuilder().setId(e.execId()).setPid(e.pid());
            if (e.exitCode() != null) b.setExitStatus(e.exitCode());
            if (e.exitedAt() != null) b.setExitedAt(Calls.nanos(e.exitedAt()));
            return b.build();
        });
    }

    @Override
    public void pause(PauseTaskRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            agent.tasks().pause(ns, req.getContainerId());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void resume(ResumeTaskRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            agent.tasks().resume(ns, req.getContainerId());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void listPids(ListPidsRequest req, StreamObserver<ListPidsResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListPidsResponse.Builder b = ListPidsResponse.newBuilder();
            for (int pid : agent.tasks().pids(ns, req.getContainerId())) b.addProcesses(ProcessInfo.newBuilder().setPid(pid));
            return b.build();
        });
    }

    @Override
    public void update(UpdateTaskRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.hasResources() || !req.getResources().getTypeUrl().endsWith("Resources/v1")) {
                throw new IllegalArgumentException("update needs resources of type types.berth.dev/Resources/v1 (memory_bytes, cpus, cpu_shares, pids_limit)");
            }
            Resources r = Resources.parseFrom(req.getResources().getValue());
            agent.tasks().update(ns, req.getContainerId(), new RunRequest.Resources(
                    r.getMemoryBytes() == 0 ? null : r.getMemoryBytes(), r.getCpus() == 0 ? null : r.getCpus(),
                    r.getCpuShares() == 0 ? null : r.getCpuShares(), r.getPidsLimit() == 0 ? null : r.getPidsLimit()));
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void metrics(MetricsRequest req, StreamObserver<MetricsResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            java.util.Set<String> ids = new java.util.HashSet<>();
            for (String f : req.getFiltersList()) {
                if (!f.startsWith("id==")) throw new IllegalArgumentException("filter '" + f + "' is not supported: use id==CONTAINER");
                ids.add(f.substring(4));
            }
            MetricsResponse.Builder b = MetricsResponse.newBuilder();
            for (TaskRecord t : agent.metadata().tasks(ns)) {
                if (!ids.isEmpty() && !ids.contains(t.containerId())) continue;
                if (t.status().equals(dev.berth.agent.runtime.TaskManager.STOPPED)) continue;
                Cgroups.Stats st;
                try {
                    st = agent.tasks().metrics(ns, t.containerId());
                } catch (TaskException e) {
                    continue; // it went away meanwhile
                }
                ContainerMetrics m = ContainerMetrics.newBuilder().setCpuUsageUsec(st.cpuUsageUsec()).setCpuUserUsec(st.cpuUserUsec())
                        .setCpuSystemUsec(st.cpuSystemUsec()).setCpuThrottledPeriods(st.cpuThrottledPeriods()).setCpuThrottledUsec(st.cpuThrottledUsec())
                        .setMemoryBytes(st.memoryBytes()).setMemoryLimitBytes(st.memoryLimitBytes()).setOomEvents(st.oomEvents()).setOomKills(st.oomKills())
                        .setPids(st.pids()).setPidsLimit(st.pidsLimit()).setIoReadBytes(st.ioReadBytes()).setIoWriteBytes(st.ioWriteBytes()).build();
                b.addMetrics(Metric.newBuilder().setId(t.containerId()).setTimestamp(Calls.millis(System.currentTimeMillis()))
                        .setData(com.google.protobuf.Any.newBuilder().setTypeUrl("types.berth.dev/ContainerMetrics/v1").setValue(m.toByteString())));
            }
            return b.build();
        });
    }

    @Override
    public void resizePty(ResizePtyRequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) throw new IllegalArgumentException("resize an exec process's terminal through its Attach stream");
            try (ShimConnection c = agent.tasks().attach(ns, req.getContainerId())) {
                c.resize(req.getHeight(), req.getWidth());
            }
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void closeIO(CloseIORequest req, StreamObserver<Empty> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            if (!req.getExecId().isEmpty()) throw new IllegalArgumentException("close an exec process's stdin through its Attach stream");
            if (req.getStdin()) {
                try (ShimConnection c = agent.tasks().attach(ns, req.getContainerId())) {
                    c.send(ShimConnection.CLOSE_STDIN, new byte[0], 0, 0);
                }
            }
            return Empty.getDefaultInstance();
        });
    }

    static Process execProto(MetadataStore.ExecRecord e) {
        Process.Builder b = Process.newBuilder().setContainerId(e.containerId()).setId(e.execId()).setPid(e.pid())
                .setStatus(e.status().equals("STOPPED") ? dev.berth.api.types.task.Status.STOPPED : dev.berth.api.types.task.Status.RUNNING);
        if (e.exitCode() != null) b.setExitStatus(e.exitCode());
        if (e.exitedAt() != null) b.setExitedAt(Calls.nanos(e.exitedAt()));
        return b.build();
    }

    /** The parts of an OCI Process (containerd sends it as JSON in an Any) that an exec takes. */
    static final class ExecSpec {
        java.util.List<String> args;
        java.util.List<String> env;
        String cwd;
        String user;

        static ExecSpec of(ExecProcessRequest req) {
            if (!req.hasSpec()) throw new IllegalArgumentException("exec needs a process spec (an OCI Process as JSON)");
            try {
                com.fasterxml.jackson.databind.JsonNode n = dev.berth.oci.Json.MAPPER.readTree(req.getSpec().getValue().toByteArray());
                ExecSpec s = new ExecSpec();
                s.args = new java.util.ArrayList<>();
                n.path("args").forEach(a -> s.args.add(a.asText()));
                if (s.args.isEmpty()) throw new IllegalArgumentException("the exec process spec has no args");
                s.env = new java.util.ArrayList<>();
                n.path("env").forEach(a -> s.env.add(a.asText()));
                s.cwd = n.path("cwd").asText("");
                if (n.has("user")) s.user = n.path("user").path("uid").asInt(0) + ":" + n.path("user").path("gid").asInt(0);
                return s;
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("the exec process spec is not valid JSON: " + e.getMessage());
            }
        }
    }
}
