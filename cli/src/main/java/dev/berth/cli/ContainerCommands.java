package dev.berth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** Container verbs as docker users know them: ps, logs, start, stop, restart, wait, rm. */
final class ContainerCommands {
    private ContainerCommands() {}

    static Optional<Process> task(AgentClient c, String id) {
        try {
            return Optional.of(c.tasks.get(GetRequest.newBuilder().setContainerId(id).build()).getProcess());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Code.NOT_FOUND) return Optional.empty();
            throw e;
        }
    }

    /** Fails with the agent's own words when the container does not exist. */
    static Container container(AgentClient c, String id) {
        return c.containers.get(GetContainerRequest.newBuilder().setId(id).build()).getContainer();
    }

    /** Signals a task and waits for its exit up to {@code seconds}; then kills it. */
    static void stop(AgentClient c, String id, int seconds) {
        Optional<Process> t = task(c, id);
        if (t.isEmpty() || t.get().getStatus() == Status.STOPPED) {
            // nothing running now, but a restart may be due: the signal tells the agent the user stopped it
            try {
                c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(15).build());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Code.NOT_FOUND) throw e;
            }
            return;
        }
        c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(15).build());
        try {
            c.tasks.withDeadlineAfter(seconds, TimeUnit.SECONDS).wait(WaitRequest.newBuilder().setContainerId(id).build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != Code.DEADLINE_EXCEEDED) throw e;
            c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(9).setAll(true).build());
            c.tasks.wait(WaitRequest.newBuilder().setContainerId(id).build());
        }
    }

    @Command(name = "ps", description = "List containers (running ones; -a for all).")
    static final class Ps implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-a", "--all"}, description = "Show all containers, not only running ones.")
        boolean all;

        @Override
        public Integer call() throws IOException {
            try (AgentClient c = berth.connect()) {
                Map<String, Process> tasks = new HashMap<>();
                for (Process p : c.tasks.list(ListTasksRequest.getDefaultInstance()).getTasksList()) tasks.put(p.getContainerId(), p);
                Format.Table t = new Format.Table("CONTAINER", "IMAGE", "COMMAND", "CREATED", "STATUS", "ADDRESS");
                ObjectMapper json = new ObjectMapper();
                for (Container ct : c.containers.list(ListContainersRequest.getDefaultInstance()).getContainersList()) {
                    Process p = tasks.get(ct.getId());
                    boolean running = p != null && (p.getStatus() == Status.RUNNING || p.getStatus() == Status.PAUSED);
                    if (!all && !running) continue;
                    String status = p == null ? "created" : switch (p.getStatus()) {
                        case RUNNING -> "running (pid " + p.getPid() + ")" + (p.getRestartCount() > 0 ? ", restarted " + p.getRestartCount() + "x" : "");
                        case STOPPED -> "exited (" + p.getExitStatus() + ")" + (p.getOomKilled() ? " OOM-killed" : "")
                                + (p.getRestartCount() > 0 ? ", restarted " + p.getRestartCount() + "x" : "");
                        case CREATED -> "created";
                        case PAUSED -> "paused";
                        default -> p.getStatus().toString().toLowerCase();
                    };
                    String cmd = "";
                    JsonNode spec = json.readTree(ct.getSpec().getValue().toByteArray());
                    JsonNode args = spec.path("process").path("args");
                    if (args.isArray()) {
                        StringBuilder b = new StringBuilder();
                        for (Iterator<JsonNode> it = args.elements(); it.hasNext(); ) b.append(b.length() == 0 ? "" : " ").append(it.next().asText());
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
    static String address(Process p, JsonNode spec) {
        StringBuilder b = new StringBuilder(p == null ? "" : p.getIpAddress());
        String published = spec.path("annotations").path("dev.berth.publish").asText("");
        for (String port : published.isEmpty() ? new String[0] : published.split(",")) {
            String[] f = port.split(":"); // hostIP:hostPort:containerPort/proto
            if (f.length == 3) b.append(b.length() == 0 ? "" : " ").append(f[0].isEmpty() ? "" : f[0] + ":").append(f[1]).append("->").append(f[2]);
        }
        return b.toString();
    }

    @Command(name = "logs", description = "Print a container's output.")
    static final class Logs implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-f", "--follow"}, description = "Keep printing new output until the container exits.")
        boolean follow;

        @Option(names = "--tail-bytes", defaultValue = "0", description = "Only about the last N bytes (whole records; 0: all).")
        long tailBytes;

        @Option(names = "--tail", defaultValue = "all", description = "Only the last N lines (default all; 0: none, with -f only new output).")
        String tail;

        @Option(names = "--since", description = "Only output since a time: RFC 3339 (2026-11-28T07:00:00Z) or a duration ago (30s, 5m, 2h).")
        String since;

        @Option(names = {"-t", "--timestamps"}, description = "Prefix each line with the time it was written.")
        boolean timestamps;

        @Parameters(paramLabel = "CONTAINER")
        String id;

        @Override
        public Integer call() throws IOException {
            try (AgentClient c = berth.connect()) {
                int tailLines = 0;
                long sinceNanos = since == null ? 0 : sinceNanos(since);
                if (!tail.equals("all")) {
                    try {
                        tailLines = Integer.parseInt(tail);
                    } catch (NumberFormatException e) {
                        throw new CliException("--tail '" + tail + "' must be a number of lines or 'all'");
                    }
                    if (tailLines < 0) throw new CliException("--tail must not be negative");
                    // none of what is stored: only what comes from now on
                    if (tailLines == 0) sinceNanos = Math.max(sinceNanos, System.currentTimeMillis() * 1_000_000L);
                }
                Iterator<LogChunk> it = c.logs.read(ReadLogsRequest.newBuilder().setContainerId(id).setFollow(follow).setTailBytes(tailBytes)
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
                    lineStart = chunk.getData().endsWith(com.google.protobuf.ByteString.copyFromUtf8("\n"));
                }
                return 0;
            }
        }
    }

    static long sinceNanos(String s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+)(ms|s|m|h)").matcher(s);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            long ms = switch (m.group(2)) {
                case "ms" -> n;
                case "s" -> n * 1000;
                case "m" -> n * 60_000;
                default -> n * 3_600_000;
            };
            return (System.currentTimeMillis() - ms) * 1_000_000L;
        }
        try {
            java.time.Instant t = java.time.Instant.parse(s);
            return t.getEpochSecond() * 1_000_000_000L + t.getNano();
        } catch (java.time.format.DateTimeParseException e) {
            throw new CliException("--since '" + s + "' is not a time: use RFC 3339 (2026-11-28T07:00:00Z) or a duration such as 30s, 5m, 2h");
        }
    }

    /** A verb on one or more containers named on the command line. */
    abstract static class OnContainers implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;
    }

    /** stop and restart: which containers, and the grace between SIGTERM and SIGKILL; what follows the stop. */
    abstract static class Graceful extends OnContainers {
        @Option(names = {"-t", "--time"}, defaultValue = "10", description = "Seconds to wait before killing (default 10).")
        int seconds;

        abstract void afterStop(AgentClient c, String id);

        @Override
        public Integer call() {
            return TaskCommands.each(berth, ids, (c, id) -> {
                container(c, id);
                stop(c, id, seconds);
                afterStop(c, id);
            });
        }
    }

    @Command(name = "stop", description = "Stop containers: SIGTERM, then SIGKILL after the grace period.")
    static final class Stop extends Graceful {
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
        Optional<Process> t = task(c, id);
        if (t.isPresent() && (t.get().getStatus() == Status.RUNNING || t.get().getStatus() == Status.PAUSED)) return;
        if (t.isPresent() && t.get().getStatus() == Status.CREATED) {
            c.tasks.start(StartRequest.newBuilder().setContainerId(id).build());
            return;
        }
        if (t.isPresent()) c.tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
        c.tasks.create(CreateTaskRequest.newBuilder().setContainerId(id).setOptions(RunCommand.START_OPTION).build());
    }

    @Command(name = "start", description = "Start containers that are created or have exited (their logs continue).")
    static final class Start extends OnContainers {
        @Override
        public Integer call() {
            return TaskCommands.each(berth, ids, (c, id) -> start(c, id));
        }
    }

    @Command(name = "restart", description = "Stop containers (TERM, then KILL after -t seconds) and start them again.")
    static final class Restart extends Graceful {
        @Override
        void afterStop(AgentClient c, String id) {
            start(c, id);
        }
    }

    @Command(name = "wait", description = "Wait until containers exit; print each one's exit code.")
    static final class Wait extends OnContainers {
        @Override
        public Integer call() {
            try (AgentClient c = berth.connect()) {
                for (String id : ids) {
                    System.out.println(c.tasks.wait(WaitRequest.newBuilder().setContainerId(id).build()).getExitStatus());
                }
                return 0;
            }
        }
    }

    @Command(name = "rm", description = "Remove containers (and their stopped tasks).")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-f", "--force"}, description = "Kill a running container first.")
        boolean force;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;

        @Override
        public Integer call() {
            try (AgentClient c = berth.connect()) {
                for (String id : ids) {
                    container(c, id);
                    Optional<Process> t = task(c, id);
                    if (t.isPresent()) {
                        if (t.get().getStatus() != Status.STOPPED) {
                            if (!force) throw new CliException("container " + id + " is running: stop it first (berth stop " + id + ") or use rm -f");
                            c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(9).setAll(true).build());
                            c.tasks.wait(WaitRequest.newBuilder().setContainerId(id).build());
                        }
                        c.tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
                    }
                    c.containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
                    System.out.println(id);
                }
                return 0;
            }
        }
    }
}
