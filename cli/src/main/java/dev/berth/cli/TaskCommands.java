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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** Verbs on a running container's processes: exec, attach, kill, pause, unpause, top, stats, update. */
final class TaskCommands {
    private TaskCommands() {}

    /** Applies one call to each named container, printing each name as docker does. */
    static int each(Berth berth, List<String> ids, java.util.function.BiConsumer<AgentClient, String> call) {
        try (AgentClient c = berth.connect()) {
            for (String id : ids) {
                call.accept(c, id);
                System.out.println(id);
            }
            return 0;
        }
    }

    @Command(name = "exec", description = "Run a command in a running container.")
    static final class Exec implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-i", "--interactive"}, description = "Send stdin to the process.")
        boolean interactive;

        @Option(names = {"-t", "--tty"}, description = "Give the process a terminal.")
        boolean tty;

        @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE")
        List<String> env = new ArrayList<>();

        @Option(names = {"-w", "--workdir"})
        String workdir;

        @Option(names = {"-u", "--user"}, description = "user[:group], by name or number.")
        String user;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String id;

        @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND")
        List<String> command = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            try (AgentClient c = berth.connect()) {
                ExecProcess.Builder e = ExecProcess.newBuilder().addAllArgs(command).addAllEnv(env).setTty(tty).setStdin(interactive);
                if (workdir != null) e.setCwd(workdir);
                if (user != null) e.setUser(user);
                return Interactive.run(c, AttachStart.newBuilder().setContainerId(id).setExec(e), interactive, tty);
            }
        }
    }

    @Command(name = "attach", description = "Attach to a running container's stdio (its output from now on).")
    static final class Attach implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = "--no-stdin", description = "Do not send stdin.")
        boolean noStdin;

        @Parameters(paramLabel = "CONTAINER")
        String id;

        @Override
        public Integer call() throws IOException {
            try (AgentClient c = berth.connect()) {
                ContainerCommands.container(c, id);
                return Interactive.run(c, AttachStart.newBuilder().setContainerId(id), !noStdin, true);
            }
        }
    }

    @Command(name = "kill", description = "Send a signal to containers (default SIGKILL).")
    static final class Kill implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-s", "--signal"}, defaultValue = "KILL", description = "Signal name or number (default KILL).")
        String signal;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;

        @Override
        public Integer call() {
            int sig = signalNumber(signal);
            return each(berth, ids, (c, id) -> c.tasks.kill(KillRequest.newBuilder().setContainerId(id).setSignal(sig).setAll(sig == 9).build()));
        }
    }

    static int signalNumber(String s) {
        String name = s.toUpperCase().replaceFirst("^SIG", "");
        List<String> names = List.of("HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
                "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH");
        int i = names.indexOf(name);
        if (i >= 0) return i + 1;
        try {
            int n = Integer.parseInt(name);
            if (n >= 1 && n <= 64) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new CliException("unknown signal '" + s + "': use a name such as TERM, HUP, USR1 or a number 1-64");
    }

    @Command(name = "pause", description = "Freeze every process of containers.")
    static final class Pause implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;

        @Override
        public Integer call() {
            return each(berth, ids, (c, id) -> c.tasks.pause(PauseTaskRequest.newBuilder().setContainerId(id).build()));
        }
    }

    @Command(name = "unpause", description = "Thaw paused containers.")
    static final class Unpause implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;

        @Override
        public Integer call() {
            return each(berth, ids, (c, id) -> c.tasks.resume(ResumeTaskRequest.newBuilder().setContainerId(id).build()));
        }
    }

    @Command(name = "top", description = "List a container's processes.")
    static final class Top implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Parameters(paramLabel = "CONTAINER")
        String id;

        @Override
        public Integer call() {
            try (AgentClient c = berth.connect()) {
                Format.Table t = new Format.Table("PID", "COMMAND");
                for (ProcessInfo p : c.tasks.listPids(ListPidsRequest.newBuilder().setContainerId(id).build()).getProcessesList()) {
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

    @Command(name = "stats", description = "CPU, memory, pids and I/O of running containers (one sample).")
    static final class Stats implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Parameters(arity = "0..*", paramLabel = "CONTAINER")
        List<String> ids = new ArrayList<>();

        @Override
        public Integer call() throws IOException {
            try (AgentClient c = berth.connect()) {
                MetricsRequest.Builder r = MetricsRequest.newBuilder();
                for (String id : ids) r.addFilters("id==" + id);
                Format.Table t = new Format.Table("CONTAINER", "CPU TIME", "MEM USAGE / LIMIT", "OOM KILLS", "PIDS", "BLOCK I/O");
                for (Metric m : c.tasks.metrics(r.build()).getMetricsList()) {
                    ContainerMetrics x = ContainerMetrics.parseFrom(m.getData().getValue());
                    t.row(m.getId(), String.format("%.2fs", x.getCpuUsageUsec() / 1e6),
                            Format.size(x.getMemoryBytes()) + " / " + (x.getMemoryLimitBytes() < 0 ? "-" : Format.size(x.getMemoryLimitBytes())),
                            Long.toString(x.getOomKills()), x.getPids() + (x.getPidsLimit() < 0 ? "" : " / " + x.getPidsLimit()),
                            Format.size(x.getIoReadBytes()) + " / " + Format.size(x.getIoWriteBytes()));
                }
                t.print(System.out);
                return 0;
            }
        }
    }

    @Command(name = "update", description = "Change a running container's limits.")
    static final class Update implements Callable<Integer> {
        @ParentCommand
        Berth berth;

        @Option(names = {"-m", "--memory"})
        String memory;

        @Option(names = "--cpus")
        Double cpus;

        @Option(names = "--cpu-shares")
        Long cpuShares;

        @Option(names = "--pids-limit")
        Long pidsLimit;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> ids;

        @Override
        public Integer call() {
            Resources.Builder r = Resources.newBuilder();
            if (memory != null) r.setMemoryBytes(RunCommand.bytes(memory));
            if (cpus != null) r.setCpus(cpus);
            if (cpuShares != null) r.setCpuShares(cpuShares);
            if (pidsLimit != null) r.setPidsLimit(pidsLimit);
            if (r.build().equals(Resources.getDefaultInstance())) throw new CliException("nothing to update: give --memory, --cpus, --cpu-shares or --pids-limit");
            Any resources = Any.newBuilder().setTypeUrl("types.berth.dev/Resources/v1").setValue(r.build().toByteString()).build();
            return each(berth, ids, (c, id) -> c.tasks.update(UpdateTaskRequest.newBuilder().setContainerId(id).setResources(resources).build()));
        }
    }
}
