package dev.berth.bench;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.tasks.v1.WaitRequest;
import io.grpc.Channel;
import java.nio.charset.StandardCharsets;

/**
 * Request to observed exit of {@code true}, as {@code ctr run --rm} does it: create container, create task
 * (started in the same runtime call, as {@code berth run} asks), wait, delete task, delete container. Prints one line per round (seconds) for the bench script.
 * Usage: RunLatency SOCKET IMAGE ROUNDS
 */
public final class RunLatency {

    static final Any START = Any.newBuilder().setTypeUrl("types.berth.dev/TaskOptions/v1")
            .setValue(dev.berth.api.types.berth.TaskOptions.newBuilder().setStart(true).build().toByteString()).build();

    static final String[] PHASES = {"container create", "task create+start", "wait", "task delete", "container delete"};

    /** One run of {@code true} as ctr run --rm does it; returns the exit code. {@code phases}, when given, gets each call's nanoseconds. */
    static int runOnce(ContainersGrpc.ContainersBlockingStub containers, TasksGrpc.TasksBlockingStub tasks, String id, String image, Any run,
            long[] phases) {
        long t = System.nanoTime();
        containers.create(CreateContainerRequest.newBuilder().setContainer(Container.newBuilder().setId(id).setImage(image)
                .putExtensions("berth.dev/run", run)).build());
        t = lap(phases, 0, t);
        tasks.create(CreateTaskRequest.newBuilder().setContainerId(id).setOptions(START).build());
        t = lap(phases, 1, t);
        int code = tasks.wait(WaitRequest.newBuilder().setContainerId(id).build()).getExitStatus();
        t = lap(phases, 2, t);
        tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
        t = lap(phases, 3, t);
        containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
        lap(phases, 4, t);
        return code;
    }

    private static long lap(long[] phases, int i, long since) {
        long now = System.nanoTime();
        if (phases != null) phases[i] = now - since;
        return now;
    }

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String image = args[1];
        int rounds = Integer.parseInt(args[2]);
        BenchClient client = new BenchClient(socket);
        Channel ch = client.channel;
        ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(ch);
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ch);
        Any run = Any.newBuilder().setTypeUrl("types.berth.dev/RunRequest/v1")
                .setValue(ByteString.copyFrom("{\"args\":[\"true\"]}", StandardCharsets.UTF_8)).build();
        int warmup = Integer.parseInt(System.getProperty("warmup", "3"));
        double[] secs = new double[rounds];
        long[][] phases = new long[PHASES.length][rounds];
        long[] lap = new long[PHASES.length];
        for (int i = -warmup; i < rounds; i++) {
            String id = "bench-" + ProcessHandle.current().pid() + "-" + (i + warmup);
            long t0 = System.nanoTime();
            int code = runOnce(containers, tasks, id, image, run, lap);
            double s = (System.nanoTime() - t0) / 1e9;
            if (code != 0) throw new IllegalStateException("true exited " + code);
            if (i >= 0) {
                secs[i] = s;
                for (int p = 0; p < PHASES.length; p++) phases[p][i] = lap[p];
                System.out.printf("%.4f%n", s);
            }
        }
        // where the time goes, for the reader of the bench output (stderr: the script reads the rounds from stdout)
        for (int p = 0; p < PHASES.length; p++) {
            long[] ns = phases[p].clone();
            java.util.Arrays.sort(ns);
            System.err.printf("  berth phase %-18s median %6.1f ms%n", PHASES[p], ns[ns.length / 2] / 1e6);
        }
        client.close();
    }
}
