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
 * (started in the same runtime call, as {@code berth run} asks), wait, delete task, delete container. With
 * {@code -Dwarmup=200,1000} it runs untimed up to 200 runs, times ROUNDS, runs untimed up to 1000, times ROUNDS again,
 * printing "CHECKPOINT SECONDS" per timed run for the bench script. Usage: RunLatency SOCKET IMAGE ROUNDS
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

    private static void check(int code) {
        if (code != 0) throw new IllegalStateException("true exited " + code);
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
        // untimed warm-up runs up to each checkpoint, then ROUNDS timed ones; a line "CHECKPOINT SECONDS" per timed run
        int[] checkpoints = java.util.Arrays.stream(System.getProperty("warmup", "3").split(",")).mapToInt(Integer::parseInt).toArray();
        long[][] phases = new long[PHASES.length][rounds];
        long[] lap = new long[PHASES.length];
        int done = 0;
        for (int checkpoint : checkpoints) {
            for (; done < checkpoint; done++) check(runOnce(containers, tasks, "bench-" + ProcessHandle.current().pid() + "-w" + done, image, run, lap));
            for (int i = 0; i < rounds; i++) {
                long t0 = System.nanoTime();
                check(runOnce(containers, tasks, "bench-" + ProcessHandle.current().pid() + "-" + checkpoint + "-" + i, image, run, lap));
                double s = (System.nanoTime() - t0) / 1e9;
                for (int p = 0; p < PHASES.length; p++) phases[p][i] = lap[p];
                System.out.printf("%d %.4f%n", checkpoint, s);
            }
        }
        // where the time goes (the last checkpoint's runs), for the reader of the bench output (stderr: the script reads stdout)
        for (int p = 0; p < PHASES.length; p++) {
            long[] ns = phases[p].clone();
            java.util.Arrays.sort(ns);
            System.err.printf("  berth phase %-18s median %6.1f ms%n", PHASES[p], ns[ns.length / 2] / 1e6);
        }
        client.close();
    }
}
