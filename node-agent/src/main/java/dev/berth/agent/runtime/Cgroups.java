package dev.berth.agent.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Figures read from a container's cgroup, on the unified hierarchy (v2) or on per-controller v1 hierarchies
 * (as runc's cgroupfs driver lays them out: {@code /sys/fs/cgroup/<controller>/<cgroupsPath>}).
 */
public final class Cgroups {

    public static final Path ROOT = Path.of("/sys/fs/cgroup");

    private Cgroups() {}

    /** A cgroup's usage and limits; a limit of -1 means none. */
    public record Stats(long cpuUsageUsec, long cpuUserUsec, long cpuSystemUsec, long cpuThrottledPeriods, long cpuThrottledUsec,
                        long memoryBytes, long memoryLimitBytes, long oomEvents, long oomKills,
                        long pids, long pidsLimit, long ioReadBytes, long ioWriteBytes) {}

    public static boolean unified() {
        return Files.exists(ROOT.resolve("cgroup.controllers"));
    }

    /** cgroup v1 controllers with a v2 hierarchy beside them: what crun refuses. */
    public static boolean hybrid() {
        return !unified() && Files.exists(ROOT.resolve("unified/cgroup.controllers"));
    }

    /** The stats of the cgroup at {@code cgroupsPath} (relative to the hierarchy root). */
    public static Stats read(String cgroupsPath) throws IOException {
        String rel = cgroupsPath.startsWith("/") ? cgroupsPath.substring(1) : cgroupsPath;
        return unified() ? readV2(ROOT.resolve(rel)) : readV1(rel);
    }

    /** Whether the kernel's OOM killer killed a process of this cgroup. */
    public static boolean oomKilled(String cgroupsPath) {
        String rel = cgroupsPath.startsWith("/") ? cgroupsPath.substring(1) : cgroupsPath;
        try {
            return unified()
                    ? keyed(ROOT.resolve(rel).resolve("memory.events")).getOrDefault("oom_kill", 0L) > 0
                    : keyed(ROOT.resolve("memory").resolve(rel).resolve("memory.oom_control")).getOrDefault("oom_kill", 0L) > 0;
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }

    private static Stats readV2(Path cg) throws IOException {
        if (!Files.isDirectory(cg)) throw gone(cg);
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

    private static Stats readV1(String rel) throws IOException {
        Path mem = ROOT.resolve("memory").resolve(rel);
        if (!Files.isDirectory(mem)) throw gone(mem);
        Path cpuacct = ROOT.resolve("cpuacct").resolve(rel);
        Map<String, Long> ticks = keyed(cpuacct.resolve("cpuacct.stat"));
        long usecPerTick = 10_000; // USER_HZ is 100 on Linux
        Map<String, Long> cpu = keyed(ROOT.resolve("cpu").resolve(rel).resolve("cpu.stat"));
        Map<String, Long> oom = keyed(mem.resolve("memory.oom_control"));
        long limit = single(mem.resolve("memory.limit_in_bytes"));
        long rbytes = 0;
        long wbytes = 0;
        for (String line : lines(ROOT.resolve("blkio").resolve(rel).resolve("blkio.throttle.io_service_bytes"))) {
            String[] f = line.split(" ");
            if (f.length == 3 && f[1].equals("Read")) rbytes += Long.parseLong(f[2]);
            if (f.length == 3 && f[1].equals("Write")) wbytes += Long.parseLong(f[2]);
        }
        return new Stats(single(cpuacct.resolve("cpuacct.usage")) / 1000, ticks.getOrDefault("user", 0L) * usecPerTick,
                ticks.getOrDefault("system", 0L) * usecPerTick, cpu.getOrDefault("nr_throttled", 0L), cpu.getOrDefault("throttled_time", 0L) / 1000,
                single(mem.resolve("memory.usage_in_bytes")), limit >= (1L << 62) ? -1 : limit, single(mem.resolve("memory.failcnt")),
                oom.getOrDefault("oom_kill", 0L), single(ROOT.resolve("pids").resolve(rel).resolve("pids.current")),
                single(ROOT.resolve("pids").resolve(rel).resolve("pids.max")), rbytes, wbytes);
    }

    private static TaskException gone(Path p) {
        return new TaskException(TaskException.Kind.NOT_FOUND, "the task's cgroup " + p + " does not exist (has the task been deleted?)");
    }

    private static Map<String, Long> keyed(Path f) throws IOException {
        Map<String, Long> m = new HashMap<>();
        for (String line : lines(f)) {
            String[] kv = line.trim().split(" ");
            if (kv.length == 2 && kv[1].matches("[0-9]+")) m.put(kv[0], Long.parseLong(kv[1]));
        }
        return m;
    }

    private static long single(Path f) throws IOException {
        List<String> l = lines(f);
        if (l.isEmpty()) return -1;
        String v = l.get(0).trim();
        return v.equals("max") ? -1 : Long.parseLong(v);
    }

    private static List<String> lines(Path f) throws IOException {
        try {
            return Files.readAllLines(f);
        } catch (NoSuchFileException e) {
            return List.of();
        }
    }
}
