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
 * prints the wall time in seconds of each timed batch. Given the agent's pid, also prints "cpu MS": the agent's CPU time
 * (user + system) per container over the timed batches, read from /proc.
 * Usage: RunThroughput SOCKET IMAGE N [ROUNDS [WARMUP_BATCHES [AGENT_PID]]]
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
        Long agent = args.length > 5 ? Long.valueOf(args[5]) : null;
        long cpu0 = agent == null ? 0 : cpuTicks(agent);
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            batch(pool, containers, tasks, image, run, prefix + r + "-", n);
            System.out.printf("%.4f%n", (System.nanoTime() - t0) / 1e9);
        }
        if (agent != null && rounds > 0) {
            System.out.printf("cpu %.1f%n", (cpuTicks(agent) - cpu0) * 1000.0 / CLOCK_TICKS / (n * rounds));
        }
        pool.shutdown();
        client.close();
    }

    /** USER_HZ: what /proc/PID/stat counts CPU time in (100 on every Linux architecture Berth runs on). */
    private static final int CLOCK_TICKS = 100;

    /** A process's user + system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat, after the command name). */
    static long cpuTicks(long pid) throws java.io.IOException {
        String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
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
