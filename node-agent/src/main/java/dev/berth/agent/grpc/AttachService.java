package dev.berth.agent.grpc;

import dev.berth.agent.NodeAgent;
import dev.berth.agent.runtime.ShimConnection;
import dev.berth.agent.runtime.TaskExit;
import dev.berth.agent.runtime.TaskManager;
import dev.berth.api.services.attach.v1.AttachGrpc;
import dev.berth.api.services.attach.v1.AttachInput;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.services.attach.v1.ExecProcess;
import dev.berth.api.services.attach.v1.Exited;
import dev.berth.api.services.attach.v1.Started;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Interactive stdio over one gRPC stream: attach to a container's init process (optionally starting it once
 * attached, so that nothing is missed), or run a new exec process. Frames from the shim become output messages;
 * input messages become frames to the shim.
 */
final class AttachService extends AttachGrpc.AttachImplBase {

    private static final Logger LOG = Logger.getLogger(AttachService.class.getName());
    private final NodeAgent agent;

    AttachService(NodeAgent agent) {
        this.agent = agent;
    }

    @Override
    public StreamObserver<AttachInput> attach(StreamObserver<AttachOutput> out) {
        String ns = Namespaces.current();
        ServerCallStreamObserver<AttachOutput> call = (ServerCallStreamObserver<AttachOutput>) out;
        // inbound flow control: the next message is asked for only once the last one reached the shim, so a process
        // that reads its stdin slowly holds its client back through gRPC's window instead of filling the agent's memory
        call.disableAutoRequest();
        call.request(1);
        StreamObserver<AttachInput> in = new StreamObserver<>() {
            private volatile ShimConnection conn;

            @Override
            public void onNext(AttachInput in) {
                try {
                    if (conn == null) {
                        if (!in.hasStart()) throw new IllegalArgumentException("the first attach message must say what to attach to (start)");
                        conn = begin(ns, in.getStart(), call);
                        if (call.isCancelled()) closeQuietly();
                        call.request(1);
                        return;
                    }
                    switch (in.getKindCase()) {
                        case STDIN -> conn.send(ShimConnection.STDIN, in.getStdin().toByteArray(), 0, in.getStdin().size());
                        case CLOSE_STDIN -> conn.send(ShimConnection.CLOSE_STDIN, new byte[0], 0, 0);
                        case RESIZE -> conn.resize(in.getResize().getRows(), in.getResize().getCols());
                        default -> throw new IllegalArgumentException("attach already started");
                    }
                } catch (IOException | RuntimeException e) {
                    closeQuietly();
                    synchronized (call) {
                        call.onError(Calls.status(e));
                    }
                    return;
                }
                call.request(1);
            }

            @Override
            public void onError(Throwable t) {
                closeQuietly();
            }

            @Override
            public void onCompleted() {
                // the client has nothing more to send; output keeps flowing until the process exits
            }

            private void closeQuietly() {
                if (conn == null) return;
                try {
                    conn.close();
                } catch (IOException e) {
                    LOG.log(Level.FINE, "closing attach: " + e.getMessage());
                }
            }
        };
        call.setOnCancelHandler(() -> in.onError(null));
        return in;
    }

    private ShimConnection begin(String ns, AttachStart start, ServerCallStreamObserver<AttachOutput> call) throws IOException {
        String id = start.getContainerId();
        agent.containers().require(ns, id);
        TaskManager tasks = agent.tasks();
        AttachRelay relay = new AttachRelay(call, (start.hasExec() ? "exec in " : "attach to ") + ns + "/" + id);
        if (start.hasExec()) {
            ExecProcess e = start.getExec();
            String execId = e.getExecId().isEmpty() ? "exec-" + UUID.randomUUID().toString().substring(0, 12) : e.getExecId();
            TaskManager.Session s = tasks.exec(ns, id, execId, e.getArgsList(), e.getEnvList(), e.getCwd(), e.getUser(), e.getTty(), e.getStdin(),
                    // the exit comes from the recorded exit below, which follows every output frame, and also comes
                    // when the shim has cut this reader off (a full socket): the client never waits for an exit frame
                    f -> {
                        if (f.type() != ShimConnection.EXIT) relay.relay(f, null);
                    });
            // one wait for both uses below: a short exec may end, and its record go, before a second wait is asked
            var exited = tasks.waitForExec(ns, id, execId);
            // an id this call made up is known to no one else: once its exit is recorded, its record and files go
            // (as ctr exec deletes its process), so that a container exec'd into all day does not pile them up
            if (e.getExecId().isEmpty()) exited.whenCompleteAsync((exit, err) -> {
                try {
                    if (err == null) tasks.deleteExec(ns, id, execId);
                } catch (IOException | RuntimeException gone) {
                    LOG.log(Level.FINE, "exec " + execId + " of " + id + " already gone: " + gone.getMessage());
                }
            });
            if (start.hasSize()) s.connection().resize(start.getSize().getRows(), start.getSize().getCols());
            relay.started(AttachOutput.newBuilder().setStarted(Started.newBuilder().setPid(s.pid()).setExecId(execId)).build());
            exited.whenComplete((exit, err) ->
                    relay.exit(Exited.newBuilder().setExitStatus(err == null ? exit.exitCode() : 255).setSignal(err == null ? exit.signal() : 0).build()));
            return s.connection();
        }
        ShimConnection conn = tasks.attach(ns, id);
        try {
            if (start.hasSize()) conn.resize(start.getSize().getRows(), start.getSize().getCols());
            int pid = start.getStartTask() ? tasks.start(ns, id).pid() : tasks.get(ns, id).orElseThrow().pid();
            relay.started(AttachOutput.newBuilder().setStarted(Started.newBuilder().setPid(pid)).build());
        } catch (IOException | RuntimeException e) {
            conn.close();
            throw e;
        }
        Thread reader = new Thread(() -> {
            try (conn) {
                for (ShimConnection.Frame f; (f = conn.read()) != null; ) {
                    relay.relay(f, () -> initExit(ns, id));
                    if (f.type() == ShimConnection.EXIT) return;
                }
                // the shim went away without an exit frame (the task had already exited): report what is recorded
                relay.relay(new ShimConnection.Frame(ShimConnection.EXIT, new byte[0]), () -> initExit(ns, id));
            } catch (IOException e) {
                if (!call.isCancelled()) relay.relay(new ShimConnection.Frame(ShimConnection.EXIT, new byte[0]), () -> initExit(ns, id));
            }
        }, "attach-" + id);
        reader.setDaemon(true);
        reader.start();
        return conn;
    }

    /** The init's exit as recorded (with the OOM verdict), once the agent has recorded it. */
    private Exited initExit(String ns, String id) {
        try {
            TaskExit exit = agent.tasks().waitFor(ns, id).get(10, TimeUnit.SECONDS);
            boolean oom = agent.tasks().get(ns, id).map(t -> t.oomKilled()).orElse(false);
            return Exited.newBuilder().setExitStatus(exit.exitCode()).setSignal(exit.signal()).setOomKilled(oom).build();
        } catch (Exception e) {
            return Exited.newBuilder().setExitStatus(255).build();
        }
    }
}
