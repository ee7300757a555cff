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

    /** One run of {@code true} as ctr run --rm does it; returns the exit code. */
    static int runOnce(ContainersGrpc.ContainersBlockingStub containers, TasksGrpc.TasksBlockingStub tasks, String id, String image, Any run) {
        containers.create(CreateContainerRequest.newBuilder().setContainer(Container.newBuilder().setId(id).setImage(image)
                .putExtensions("berth.dev/run", run)).build());
        tasks.create(CreateTaskRequest.newBuilder().setContainerId(id).setOptions(START).build());
        int code = tasks.wait(WaitRequest.newBuilder().setContainerId(id).build()).getExitStatus();
        tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
        containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
        return code;
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
        int warmup = 3;
        double[] secs = new double[rounds];
        for (int i = -warmup; i < rounds; i++) {
            String id = "bench-" + ProcessHandle.current().pid() + "-" + (i + warmup);
            long t0 = System.nanoTime();
            int code = runOnce(containers, tasks, id, image, run);
            double s = (System.nanoTime() - t0) / 1e9;
            if (code != 0) throw new IllegalStateException("true exited " + code);
            if (i >= 0) {
                secs[i] = s;
                System.out.printf("%.4f%n", s);
            }
        }
        client.close();
    }
}
