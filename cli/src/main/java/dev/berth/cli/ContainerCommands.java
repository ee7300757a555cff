package dev.berth.cli;

import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.containers.v1.GetContainerRequest;
import dev.berth.api.services.containers.v1.ListContainersRequest;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.GetRequest;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.ListTasksRequest;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.types.task.Process;
import dev.berth.api.types.task.Status;
import dev.berth.cli.rpc.Code;
import dev.berth.cli.rpc.ResponseStream;
import dev.berth.cli.rpc.RpcException;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.Options;

/** Container verbs as docker users know them: ps, logs, start, stop, restart, wait, rm. */
final class ContainerCommands {
    private ContainerCommands() {}

    /** The container's task, or null when it has none. */
    static Process task(AgentClient c, String id) {
        try {
            return c.call(Rpcs.Tasks.GET, GetRequest.newBuilder().setContainerId(id).build()).getProcess();
        } catch (RpcException e) {
            if (e.code() == Code.NOT_FOUND) return null;
            throw e;
        }
    }

    /** Fails with the agent's own words when the container does not exist. */
    static Container container(AgentClient c, String id) {
        return c.call(Rpcs.Containers.GET, GetContainerRequest.newBuilder().setId(id).build()).getContainer();
    }

    /** Signals a task and waits for its exit up to {@code seconds}; then kills it. */
    static void stop(AgentClient c, String id, int seconds) {
        Process t = task(c, id);
        if (t == null || t.getStatus() == Status.STOPPED) {
            // nothing running now, but a restart may be due: the signal tells the agent the user stopped it
            try {
                c.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(15).build());
            } catch (RpcException e) {
                if (e.code() != Code.NOT_FOUND) throw e;
            }
            return;
        }
        c.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(15).build());
        try {
            c.call(Rpcs.Tasks.WAIT, WaitRequest.newBuilder().setContainerId(id).build(), Duration.ofSeconds(seconds));
        } catch (RpcException e) {
            if (e.code() != Code.DEADLINE_EXCEEDED) throw e;
            c.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(9).setAll(true).build());
            c.call(Rpcs.Tasks.WAIT, WaitRequest.newBuilder().setContainerId(id).build());
        }
    }

    static final class Ps extends Verb {
        Ps() {
            super("ps", "", 0, 0, "List containers (running ones; -a for all).");
        }

        @Override
        void options(Options o) {
            o.addOption(flag("a", "all", "Show all containers, not only running ones."));
        }

        @Override
        int run(Args a) throws IOException {
            boolean all = a.flag("all");
            try (AgentClient c = a.connect()) {
                Map<String, Process> tasks = new HashMap<>();
                for (Process p : c.call(Rpcs.Tasks.LIST, ListTasksRequest.getDefaultInstance()).getTasksList()) tasks.put(p.getContainerId(), p);
                Format.Table t = new Format.Table("CONTAINER", "IMAGE", "COMMAND", "CREATED", "STATUS", "ADDRESS");
                for (Container ct : c.call(Rpcs.Containers.LIST, ListContainersRequest.getDefaultInstance()).getContainersList()) {
                    Process p = tasks.get(ct.getId());
                    boolean running = p != null && (p.getStatus() == Status.RUNNING || p.getStatus() == Status.PAUSED);
                    if (!all && !running) continue;
                    String status = p == null ? "created" : switch (p.getStatus()) {
                        case RUNNING -> "running (pid " + p.getPid() + ")" + (p.getRestartCount() > 0 ? ", restarted " + p.getRestartCount() + "x" : "");
                        case STOPPED -> "exited (" + p.getExitStatus() + ")" + (p.getOomKilled() ? " OOM-killed" : "")
                                + (p.getRestartCount() > 0 ? ", restarted " + p.getRestartCount() + "x" : "");
                        case CREATED -> "created";
                        case PAUSED -> "paused";
                        default -> p.getStatus().name().toLowerCase();
                    };
                    String cmd = "";
                    Object spec = Json.parse(ct.getSpec().getValue().toByteArray());
                    if (Json.at(spec, "process", "args") instanceof List<?> args) {
                        StringBuilder b = new StringBuilder();
                        for (Object arg : args) b.append(b.length() == 0 ? "" : " ").append(arg);
                        cmd = b.length() > 30 ? b.substring(0, 29) + "…" : b.toString();
                    }
                    t.row(ct.getId(), ct.getImage(), "\"" + cmd + "\"", Format.ago(ct.getCreatedAt().getSeconds()), status, address(p, spec));
                }
                t.print(System.out);
                return 0;
            }
        }
    }

    /** A bridge task's address and its published ports: "10.213.0.5 8080->80/tcp". */
    static String address(Process p, Object spec) {
        StringBuilder b = new StringBuilder(p == null ? "" : p.getIpAddress());
        Object annotation = Json.at(spec, "annotations", "dev.berth.publish");
        String published = annotation instanceof String str ? str : "";
        for (String port : published.isEmpty() ? new String[0] : published.split(",")) {
            String[] f = port.split(":"); // hostIP:hostPort:containerPort/proto
            if (f.length == 3) b.append(b.length() == 0 ? "" : " ").append(f[0].isEmpty() ? "" : f[0] + ":").append(f[1]).append("->").append(f[2]);
        }
        return b.toString();
    }

    static final class Logs extends Verb {
        Logs() {
            super("logs", "CONTAINER", 1, 1, "Print a container's output.");
        }

        @Override
        void options(Options o) {
            o.addOption(flag("f", "follow", "Keep printing new output until the container exits."));
            o.addOption(value(null, "tail-bytes", "N", "Only about the last N bytes (whole records; 0: all)."));
            o.addOption(value(null, "tail", "N", "Only the last N lines (default all; 0: none, with -f only new output)."));
            o.addOption(value(null, "since", "TIME", "Only output since a time: RFC 3339 (2026-11-28T07:00:00Z) or a duration ago (30s, 5m, 2h)."));
            o.addOption(flag("t", "timestamps", "Prefix each line with the time it was written."));
        }

        @Override
        int run(Args a) throws IOException {
            boolean follow = a.flag("follow");
            long tailBytes = a.longValue("tail-bytes") == null ? 0 : a.longValue("tail-bytes");
            String tail = a.value("tail", "all");
            String since = a.value("since");
            boolean timestamps = a.flag("timestamps");
            String id = a.operand(0);
            int tailLines = 0;
            long sinceNanos = since == null ? 0 : sinceNanos(since);
            if (!tail.equals("all")) {
                try {
                    tailLines = Integer.parseInt(tail);
                } catch (NumberFormatException e) {
                    throw new Args.UsageException("--tail '" + tail + "' must be a number of lines or 'all'");
                }
                if (tailLines < 0) throw new Args.UsageException("--tail must not be negative");
                // none of what is stored: only what comes from now on
                if (tailLines == 0) sinceNanos = Math.max(sinceNanos, System.currentTimeMillis() * 1_000_000L);
            }
            try (AgentClient c = a.connect()) {
                ResponseStream<LogChunk> it = c.stream(Rpcs.Logs.READ, ReadLogsRequest.newBuilder().setContainerId(id).setFollow(follow).setTailBytes(tailBytes)
                        .setTailLines(tailLines).setSinceUnixNanos(sinceNanos).build());
                boolean lineStart = true;
                while (it.hasNext()) {
                    LogChunk chunk = it.next();
                    if (timestamps && lineStart) {
                        long n = chunk.getTimeUnixNanos();
                        (chunk.getStream() == LogChunk.Stream.STDERR ? System.err : System.out)
                                .print(java.time.Instant.ofEpochSecond(n / 1_000_000_000L, n % 1_000_000_000L) + " ");
                    }
                    Format.write(chunk);
                    int size = chunk.getData().size();
                    lineStart = size > 0 && chunk.getData().byteAt(size - 1) == '\n';
                }
                return 0;
            }
        }
    }

    /** Nanoseconds since the epoch of "30s", "5m", "2h", "250ms" ago, or of an RFC 3339 time. */
    static long sinceNanos(String s) {
        int digits = 0;
        while (digits < s.length() && Character.isDigit(s.charAt(digits))) digits++;
        String unit = s.substring(digits);
        long perUnit = switch (unit) {
            case "ms" -> 1;
            case "s" -> 1000;
            case "m" -> 60_000;
            case "h" -> 3_600_000;
            default -> 0;
        };
        if (digits > 0 && digits <= 12 && perUnit > 0) {
            return (System.currentTimeMillis() - Long.parseLong(s.substring(0, digits)) * perUnit) * 1_000_000L;
        }
        try {
            java.time.Instant t = java.time.Instant.parse(s);
            return t.getEpochSecond() * 1_000_000_000L + t.getNano();
        } catch (java.time.format.DateTimeParseException e) {
            throw new Args.UsageException("--since '" + s + "' is not a time: use RFC 3339 (2026-11-28T07:00:00Z) or a duration such as 30s, 5m, 2h");
        }
    }

    /** A verb on one or more containers named on the command line. */
    abstract static class OnContainers extends Verb {
        OnContainers(String name, String summary) {
            super(name, "CONTAINER...", 1, ANY, summary);
        }

    }

    /** stop and restart: which containers, and the grace between SIGTERM and SIGKILL; what follows the stop. */
    abstract static class Graceful extends OnContainers {
        Graceful(String name, String summary) {
            super(name, summary);
        }

        @Override
        void options(Options o) {
            o.addOption(value("t", "time", "SECONDS", "Seconds to wait before killing (default 10)."));
        }

        abstract void afterStop(AgentClient c, String id);

        @Override
        int run(Args a) {
            int seconds = a.intValue("time", 10);
            if (seconds < 0) throw new Args.UsageException("--time must not be negative");
            try (AgentClient c = a.connect()) {
                for (String id : a.operands()) {
                    container(c, id);
                    stop(c, id, seconds);
                    afterStop(c, id);
                    System.out.println(id);
                }
                return 0;
            }
        }
    }

    static final class Stop extends Graceful {
        Stop() {
            super("stop", "Stop containers: SIGTERM, then SIGKILL after the grace period.");
        }

        @Override
        void afterStop(AgentClient c, String id) {
        }
    }

    /**
     * Starts a container as docker start does: a new task when it has none or its last one has exited (whose exit
     * status the new one replaces), the start of a created one, nothing for one already running.
     */
    static void start(AgentClient c, String id) {
        container(c, id);
        Process t = task(c, id);
        if (t != null && (t.getStatus() == Status.RUNNING || t.getStatus() == Status.PAUSED)) return;
        if (t != null && t.getStatus() == Status.CREATED) {
            c.call(Rpcs.Tasks.START, StartRequest.newBuilder().setContainerId(id).build());
            return;
        }
        if (t != null) c.call(Rpcs.Tasks.DELETE, DeleteTaskRequest.newBuilder().setContainerId(id).build());
        c.call(Rpcs.Tasks.CREATE, CreateTaskRequest.newBuilder().setContainerId(id).setOptions(RunCommand.START_OPTION).build());
    }

    static final class Start extends OnContainers {
        Start() {
            super("start", "Start containers that are created or have exited (their logs continue).");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                for (String id : a.operands()) {
                    start(c, id);
                    System.out.println(id);
                }
                return 0;
            }
        }
    }

    static final class Restart extends Graceful {
        Restart() {
            super("restart", "Stop containers (TERM, then KILL after -t seconds) and start them again.");
        }

        @Override
        void afterStop(AgentClient c, String id) {
            start(c, id);
        }
    }

    static final class Wait extends OnContainers {
        Wait() {
            super("wait", "Wait until containers exit; print each one's exit code.");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                for (String id : a.operands()) {
                    System.out.println(c.call(Rpcs.Tasks.WAIT, WaitRequest.newBuilder().setContainerId(id).build()).getExitStatus());
                }
                return 0;
            }
        }
    }

    static final class Rm extends OnContainers {
        Rm() {
            super("rm", "Remove containers (and their stopped tasks).");
        }

        @Override
        void options(Options o) {
            o.addOption(flag("f", "force", "Kill a running container first."));
        }

        @Override
        int run(Args a) {
            boolean force = a.flag("force");
            try (AgentClient c = a.connect()) {
                for (String id : a.operands()) {
                    container(c, id);
                    Process t = task(c, id);
                    if (t != null) {
                        if (t.getStatus() != Status.STOPPED) {
                            if (!force) throw new CliException("container " + id + " is running: stop it first (berth stop " + id + ") or use rm -f");
                            c.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(9).setAll(true).build());
                            c.call(Rpcs.Tasks.WAIT, WaitRequest.newBuilder().setContainerId(id).build());
                        }
                        c.call(Rpcs.Tasks.DELETE, DeleteTaskRequest.newBuilder().setContainerId(id).build());
                    }
                    c.call(Rpcs.Containers.DELETE, DeleteContainerRequest.newBuilder().setId(id).build());
                    System.out.println(id);
                }
                return 0;
            }
        }
    }
}
