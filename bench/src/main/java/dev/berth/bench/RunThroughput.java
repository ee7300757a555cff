package dev.berth.bench;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * N containers of {@code true} run at once, each as {@code ctr run --rm} would (create, start, wait, delete);
 * prints the wall time in seconds of each timed batch. Usage: RunThroughput SOCKET IMAGE N [ROUNDS [WARMUP_BATCHES]]
 */
public final class RunThroughput {

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String image = args[1];
        int n = Integer.parseInt(args[2]);
        BenchClient client = new BenchClient(socket);
        ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(client.channel);
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(client.channel);
        Any run = Any.newBuilder().setTypeUrl("types.berth.dev/RunRequest/v1")
                .setValue(ByteString.copyFrom("{\"args\":[\"true\"]}", StandardCharsets.UTF_8)).build();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        String prefix = "tp-" + ProcessHandle.current().pid() + "-";
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        int warmups = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        // warm-up batches, not timed: a node agent (like this client) runs for days, so its steady state is what counts,
        // not the JIT compiling its first few hundred requests (containerd and ctr are compiled ahead of time)
        for (int w = 0; w < warmups; w++) batch(pool, containers, tasks, image, run, prefix + "w" + w + "-", n);
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            batch(pool, containers, tasks, image, run, prefix + r + "-", n);
            System.out.printf("%.4f%n", (System.nanoTime() - t0) / 1e9);
        }
        pool.shutdown();
        client.close();
    }

    private static void batch(ExecutorService pool, ContainersGrpc.ContainersBlockingStub containers, TasksGrpc.TasksBlockingStub tasks,
                              String image, Any run, String prefix, int n) throws Exception {
        List<Future<Integer>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = prefix + i;
            all.add(pool.submit(() -> RunLatency.runOnce(containers, tasks, id, image, run, null)));
        }
        for (Future<Integer> f : all) {
            int code = f.get();
            if (code != 0) throw new IllegalStateException("true exited " + code);
        }
    }
}
