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
 * N containers of {@code true} run at once, each as {@code ctr run --rm} would (create, start, wait, delete).
 * Usage: RunThroughput SOCKET IMAGE N WARMUP_BATCHES AGENT_PID
 * After the untimed warm-up batches it prints "ready", then reads commands from stdin, one per line, so that the
 * caller can interleave its batches with another runtime's: "batch" runs one timed batch and prints its wall time in
 * seconds; "cpu" prints "cpu AGENT_MS CLIENT_MS", the agent's and this client's CPU time (user + system) per container
 * over the timed batches so far, read from /proc. Ends at end of input.
 */
public final class RunThroughput {

    public static void main(String[] args) throws Exception {
        String socket = args[0];
        String image = args[1];
        int n = Integer.parseInt(args[2]);
        int warmups = Integer.parseInt(args[3]);
        long agent = Long.parseLong(args[4]);
        BenchClient client = new BenchClient(socket);
        ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(client.channel);
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(client.channel);
        Any run = Any.newBuilder().setTypeUrl("types.berth.dev/RunRequest/v1")
                .setValue(ByteString.copyFrom("{\"args\":[\"true\"]}", StandardCharsets.UTF_8)).build();
        ExecutorService pool = Executors.newFixedThreadPool(n);
        String prefix = "tp-" + ProcessHandle.current().pid() + "-";
        // warm-up batches, not timed: a node agent (like this client) runs for days, so its steady state is what counts,
        // not the JIT compiling its first few hundred requests (containerd and ctr are compiled ahead of time)
        for (int w = 0; w < warmups; w++) batch(pool, containers, tasks, image, run, prefix + "w" + w + "-", n);
        System.out.println("ready");
        System.out.flush();
        long self = ProcessHandle.current().pid();
        long agentTicks = 0, selfTicks = 0; // over the timed batches only: the other runtime's batches run in between
        int timed = 0;
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            switch (line.trim()) {
                case "batch" -> {
                    long a0 = cpuTicks(agent), s0 = cpuTicks(self), t0 = System.nanoTime();
                    batch(pool, containers, tasks, image, run, prefix + timed + "-", n);
                    double secs = (System.nanoTime() - t0) / 1e9;
                    agentTicks += cpuTicks(agent) - a0;
                    selfTicks += cpuTicks(self) - s0;
                    timed++;
                    System.out.printf("%.4f%n", secs);
                }
                case "cpu" -> {
                    double per = 1000.0 / CLOCK_TICKS / Math.max(1, n * timed);
                    System.out.printf("cpu %.1f %.1f%n", agentTicks * per, selfTicks * per);
                }
                default -> throw new IllegalArgumentException("unknown command '" + line + "': use batch or cpu");
            }
            System.out.flush();
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
