package dev.berth.cli;

import com.google.protobuf.Any;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.services.attach.v1.ExecProcess;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.ListPidsRequest;
import dev.berth.api.services.tasks.v1.MetricsRequest;
import dev.berth.api.services.tasks.v1.PauseTaskRequest;
import dev.berth.api.services.tasks.v1.ResumeTaskRequest;
import dev.berth.api.services.tasks.v1.UpdateTaskRequest;
import dev.berth.api.types.Metric;
import dev.berth.api.types.berth.ContainerMetrics;
import dev.berth.api.types.berth.Resources;
import dev.berth.api.types.task.ProcessInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.cli.Options;

/** Verbs on a running container's processes: exec, attach, kill, pause, unpause, top, stats, update. */
final class TaskCommands {
    private TaskCommands() {}

    /** A verb applying one call to each container named, printing each name as docker does. */
    abstract static class EachContainer extends ContainerCommands.OnContainers {
        EachContainer(String name, String summary) {
            super(name, summary);
        }

        /** What the verb does to one container. */
        abstract void apply(AgentClient c, String id, Args a);

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                for (String id : a.operands()) {
                    apply(c, id, a);
                    System.out.println(id);
                }
                return 0;
            }
        }
    }

    static final class Exec extends Verb {
        Exec() {
            super("exec", "CONTAINER COMMAND [ARG...]", 2, ANY, "Run a command in a running container.");
        }

        @Override
        void options(Options o) {
            o.addOption(flag("i", "interactive", "Send stdin to the process."));
            o.addOption(flag("t", "tty", "Give the process a terminal."));
            o.addOption(repeated("e", "env", "NAME=VALUE", "Set an environment variable."));
            o.addOption(value("w", "workdir", "DIR", "Working directory."));
            o.addOption(value("u", "user", "USER", "user[:group], by name or number."));
        }

        @Override
        boolean optionsEndAtFirstOperand() {
            return true;
        }

        @Override
        int run(Args a) throws IOException {
            boolean interactive = a.flag("interactive");
            boolean tty = a.flag("tty");
            List<String> command = a.operands().subList(1, a.operands().size());
            try (AgentClient c = a.connect()) {
                ExecProcess.Builder e = ExecProcess.newBuilder().addAllArgs(command).addAllEnv(a.values("env")).setTty(tty).setStdin(interactive);
                if (a.value("workdir") != null) e.setCwd(a.value("workdir"));
                if (a.value("user") != null) e.setUser(a.value("user"));
                return Interactive.run(c, AttachStart.newBuilder().setContainerId(a.operand(0)).setExec(e), interactive, tty);
            }
        }
    }

    static final class Attach extends Verb {
        Attach() {
            super("attach", "CONTAINER", 1, 1, "Attach to a running container's stdio (its output from now on).");
        }

        @Override
        void options(Options o) {
            o.addOption(flag(null, "no-stdin", "Do not send stdin."));
        }

        @Override
        int run(Args a) throws IOException {
            String id = a.operand(0);
            try (AgentClient c = a.connect()) {
                ContainerCommands.container(c, id);
                return Interactive.run(c, AttachStart.newBuilder().setContainerId(id), !a.flag("no-stdin"), true);
            }
        }
    }

    static final class Kill extends EachContainer {
        Kill() {
            super("kill", "Send a signal to containers (default SIGKILL).");
        }

        @Override
        void options(Options o) {
            o.addOption(value("s", "signal", "SIGNAL", "Signal name or number (default KILL)."));
        }

        @Override
        int run(Args a) {
            signalNumber(a.value("signal", "KILL")); // a bad signal is refused before any container is touched
            return super.run(a);
        }

        @Override
        void apply(AgentClient c, String id, Args a) {
            int sig = signalNumber(a.value("signal", "KILL"));
            c.call(Rpcs.Tasks.KILL, KillRequest.newBuilder().setContainerId(id).setSignal(sig).setAll(sig == 9).build());
        }
    }

    private static final List<String> SIGNALS = List.of("HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
            "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
            "VTALRM", "PROF", "WINCH");

    /** TERM, SIGTERM, term or 15 as 15. */
    static int signalNumber(String s) {
        String name = s.toUpperCase();
        if (name.startsWith("SIG")) name = name.substring(3);
        int i = SIGNALS.indexOf(name);
        if (i >= 0) return i + 1;
        try {
            int n = Integer.parseInt(name);
            if (n >= 1 && n <= 64) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new Args.UsageException("unknown signal '" + s + "': use a name such as TERM, HUP, USR1 or a number 1-64");
    }

    static final class Pause extends EachContainer {
        Pause() {
            super("pause", "Freeze every process of containers.");
        }

        @Override
        void apply(AgentClient c, String id, Args a) {
            c.call(Rpcs.Tasks.PAUSE, PauseTaskRequest.newBuilder().setContainerId(id).build());
        }
    }

    static final class Unpause extends EachContainer {
        Unpause() {
            super("unpause", "Thaw paused containers.");
        }

        @Override
        void apply(AgentClient c, String id, Args a) {
            c.call(Rpcs.Tasks.RESUME, ResumeTaskRequest.newBuilder().setContainerId(id).build());
        }
    }

    static final class Top extends Verb {
        Top() {
            super("top", "CONTAINER", 1, 1, "List a container's processes.");
        }

        @Override
        int run(Args a) {
            try (AgentClient c = a.connect()) {
                Format.Table t = new Format.Table("PID", "COMMAND");
                for (ProcessInfo p : c.call(Rpcs.Tasks.LIST_PIDS, ListPidsRequest.newBuilder().setContainerId(a.operand(0)).build()).getProcessesList()) {
                    String cmd;
                    try {
                        cmd = Files.readString(Path.of("/proc/" + p.getPid() + "/cmdline")).replace('\0', ' ').trim();
                    } catch (IOException e) {
                        cmd = "?";
                    }
                    t.row(Integer.toString(p.getPid()), cmd);
                }
                t.print(System.out);
                return 0;
            }
        }
    }

    static final class Stats extends Verb {
        Stats() {
            super("stats", "[CONTAINER...]", 0, ANY, "CPU, memory, pids and I/O of running containers (one sample).");
        }

        @Override
        int run(Args a) throws IOException {
            try (AgentClient c = a.connect()) {
                MetricsRequest.Builder r = MetricsRequest.newBuilder();
                for (String id : a.operands()) r.addFilters("id==" + id);
                Format.Table t = new Format.Table("CONTAINER", "CPU TIME", "MEM USAGE / LIMIT", "OOM KILLS", "PIDS", "BLOCK I/O");
                for (Metric m : c.call(Rpcs.Tasks.METRICS, r.build()).getMetricsList()) {
                    ContainerMetrics x = ContainerMetrics.parseFrom(m.getData().getValue());
                    t.row(m.getId(), Format.seconds(x.getCpuUsageUsec() * 1000),
                            Format.size(x.getMemoryBytes()) + " / " + (x.getMemoryLimitBytes() < 0 ? "-" : Format.size(x.getMemoryLimitBytes())),
                            Long.toString(x.getOomKills()), x.getPids() + (x.getPidsLimit() < 0 ? "" : " / " + x.getPidsLimit()),
                            Format.size(x.getIoReadBytes()) + " / " + Format.size(x.getIoWriteBytes()));
                }
                t.print(System.out);
                return 0;
            }
        }
    }

    static final class Update extends EachContainer {
        Update() {
            super("update", "Change a running container's limits.");
        }

        @Override
        void options(Options o) {
            o.addOption(value("m", "memory", "SIZE", "Memory limit, e.g. 64m or 1g."));
            o.addOption(value(null, "cpus", "N", "CPU limit as a number of CPUs."));
            o.addOption(value(null, "cpu-shares", "N", "Relative CPU weight."));
            o.addOption(value(null, "pids-limit", "N", "Maximum number of processes."));
        }

        @Override
        int run(Args a) {
            resources(a); // nothing to update, or a bad value, is refused before any container is touched
            return super.run(a);
        }

        @Override
        void apply(AgentClient c, String id, Args a) {
            c.call(Rpcs.Tasks.UPDATE, UpdateTaskRequest.newBuilder().setContainerId(id).setResources(resources(a)).build());
        }

        private static Any resources(Args a) {
            Resources.Builder r = Resources.newBuilder();
            if (a.value("memory") != null) r.setMemoryBytes(RunCommand.bytes(a.value("memory")));
            if (a.doubleValue("cpus") != null) r.setCpus(a.doubleValue("cpus"));
            if (a.longValue("cpu-shares") != null) r.setCpuShares(a.longValue("cpu-shares"));
            if (a.longValue("pids-limit") != null) r.setPidsLimit(a.longValue("pids-limit"));
            if (r.build().equals(Resources.getDefaultInstance())) {
                throw new Args.UsageException("nothing to update: give --memory, --cpus, --cpu-shares or --pids-limit");
            }
            return Any.newBuilder().setTypeUrl("types.berth.dev/Resources/v1").setValue(r.build().toByteString()).build();
        }
    }
}
