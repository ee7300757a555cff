package dev.berth.agent.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Figures read from a container's cgroup (v2, the unified hierarchy). */
public final class Cgroups {

    public static final Path ROOT = Path.of("/sys/fs/cgroup");

    private Cgroups() {}

    /** A cgroup's usage and limits; a limit of -1 means none. */
    public record Stats(long cpuUsageUsec, long cpuUserUsec, long cpuSystemUsec, long cpuThrottledPeriods, long cpuThrottledUsec,
                        long memoryBytes, long memoryLimitBytes, long oomEvents, long oomKills,
                        long pids, long pidsLimit, long ioReadBytes, long ioWriteBytes) {}

    public static Stats read(Path cg) throws IOException {
        if (!Files.isDirectory(cg)) throw new TaskException(TaskException.Kind.NOT_FOUND, "the task's cgroup " + cg + " does not exist (has the task been deleted?)");
        Map<String, Long> cpu = keyed(cg.resolve("cpu.stat"));
        Map<String, Long> mem = keyed(cg.resolve("memory.events"));
        long rbytes = 0;
        long wbytes = 0;
        for (String line : lines(cg.resolve("io.stat"))) {
            for (String f : line.split(" ")) {
                if (f.startsWith("rbytes=")) rbytes += Long.parseLong(f.substring(7));
                if (f.startsWith("wbytes=")) wbytes += Long.parseLong(f.substring(7));
            }
        }
        return new Stats(cpu.getOrDefault("usage_usec", 0L), cpu.getOrDefault("user_usec", 0L), cpu.getOrDefault("system_usec", 0L),
                cpu.getOrDefault("nr_throttled", 0L), cpu.getOrDefault("throttled_usec", 0L),
                single(cg.resolve("memory.current")), single(cg.resolve("memory.max")), mem.getOrDefault("oom", 0L), mem.getOrDefault("oom_kill", 0L),
                single(cg.resolve("pids.current")), single(cg.resolve("pids.max")), rbytes, wbytes);
    }

    /** Whether the kernel's OOM killer killed a process of this cgroup. */
    public static boolean oomKilled(Path cg) {
        try {
            return keyed(cg.resolve("memory.events")).getOrDefault("oom_kill", 0L) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static Map<String, Long> keyed(Path f) throws IOException {
        Map<String, Long> m = new HashMap<>();
        for (String line : lines(f)) {
            String[] kv = line.trim().split(" ");
            if (kv.length == 2) m.put(kv[0], Long.parseLong(kv[1]));
        }
        return m;
    }

    private static long single(Path f) throws IOException {
        java.util.List<String> l = lines(f);
        if (l.isEmpty()) return -1;
        String v = l.get(0).trim();
        return v.equals("max") ? -1 : Long.parseLong(v);
    }

    private static java.util.List<String> lines(Path f) throws IOException {
        try {
            return Files.readAllLines(f);
        } catch (NoSuchFileException e) {
            return java.util.List.of();
        }
    }
}
