package dev.berth.cli;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.types.berth.TaskOptions;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.services.tasks.v1.WaitResponse;
import dev.berth.cli.rpc.ResponseStream;
import dev.berth.cli.rpc.RpcException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.Options;

/** {@code berth run}: create a container, start it, stream its output and exit with its exit code. */
final class RunCommand extends Verb {

    /** Task create options asking for the start in the same runtime call. */
    static final Any START_OPTION = Any.newBuilder().setTypeUrl("types.berth.dev/TaskOptions/v1")
            .setValue(TaskOptions.newBuilder().setStart(true).build().toByteString()).build();

    static final String RUN_EXTENSION = "berth.dev/run";
    static final String RUN_TYPE_URL = "types.berth.dev/RunRequest/v1";

    RunCommand() {
        super("run", "IMAGE [COMMAND] [ARG...]", 1, ANY, "Run a command in a new container.");
    }

    @Override
    void options(Options o) {
        o.addOption(value(null, "name", "NAME", "Container name (default: a random id)."));
        o.addOption(flag(null, "rm", "Remove the container when it exits."));
        o.addOption(flag("d", "detach", "Start the container and print its name without waiting."));
        o.addOption(repeated("e", "env", "NAME=VALUE", "Set an environment variable."));
        o.addOption(value("w", "workdir", "DIR", "Working directory inside the container."));
        o.addOption(value("u", "user", "USER", "user[:group], by name or number."));
        o.addOption(value(null, "entrypoint", "CMD", "Override the image's entrypoint."));
        o.addOption(value(null, "hostname", "NAME", "The container's hostname."));
        o.addOption(value(null, "network", "MODE",
                "Network: none (the default: own namespace, loopback only), bridge (an address on the node's bridge, outbound NAT), "
                        + "or host (the node's own network: every port the node listens on, its loopback services included, "
                        + "reaches the container and the container's ports are the node's)."));
        o.addOption(value(null, "net", "MODE", "The same as --network."));
        o.addOption(flag(null, "read-only", "Mount the root filesystem read-only."));
        o.addOption(flag("i", "interactive", "Keep stdin open and send it to the container."));
        o.addOption(flag("t", "tty", "Give the container a terminal (with -i: an interactive shell)."));
        o.addOption(value("m", "memory", "SIZE", "Memory limit, e.g. 64m or 1g (no swap beyond it)."));
        o.addOption(value(null, "cpus", "N", "CPU limit as a number of CPUs, e.g. 0.5."));
        o.addOption(value(null, "cpu-shares", "N", "Relative CPU weight (default 1024)."));
        o.addOption(value(null, "pids-limit", "N", "Maximum number of processes."));
        o.addOption(repeated("v", "volume", "SRC:DST[:ro]", "Bind-mount a host path."));
        o.addOption(repeated(null, "tmpfs", "DST[:OPTIONS]", "Mount a tmpfs, e.g. /scratch:size=64m."));
        o.addOption(value(null, "restart", "POLICY", "Restart policy: no, always (= unless-stopped), on-failure[:N]."));
        o.addOption(repeated("p", "publish", "[[IP:]HOST_PORT:]PORT[/PROTO]",
                "Record an exposed port (PORT), or publish it on the node (HOST_PORT:PORT; needs --network bridge)."));
        o.addOption(repeated(null, "expose", "PORT[/PROTO]", "The same as --publish."));
        o.addOption(value(null, "runtime", "NAME", "OCI runtime: runc (default) or crun."));
    }

    @Override
    boolean optionsEndAtFirstOperand() {
        return true;
    }

    @Override
    int run(Args a) throws Exception {
        boolean rm = a.flag("rm");
        boolean detach = a.flag("detach");
        boolean interactive = a.flag("interactive");
        boolean tty = a.flag("tty");
        String name = a.value("name");
        String restart = a.value("restart");
        String image = a.operand(0);
        byte[] runRequest = runRequest(a);
        if (rm && detach) throw new CliException("--rm and -d together are not supported yet: remove the container with 'berth rm' after it exits");
        if (rm && restart != null && !restart.equals("no")) throw new CliException("--rm and --restart " + restart + " contradict each other: choose one");
        String id = name != null ? name : randomId();
        try (AgentClient c = a.connect()) {
            try {
                c.call(Rpcs.Containers.CREATE, CreateContainerRequest.newBuilder().setContainer(Container.newBuilder()
                        .setId(id)
                        .setImage(image)
                        .setRuntime(Container.Runtime.newBuilder().setName("io.containerd.runc.v2"))
                        .putExtensions(RUN_EXTENSION, Any.newBuilder().setTypeUrl(RUN_TYPE_URL).setValue(ByteString.copyFrom(runRequest)).build()))
                        .build());
            } catch (RpcException e) {
                throw new CliException(Berth.describe(e), 125);
            }
            boolean attach = (interactive || tty) && !detach;
            try {
                // one runtime call creates and starts, unless an attachment must be in place first
                CreateTaskRequest.Builder create = CreateTaskRequest.newBuilder().setContainerId(id);
                if (!attach) create.setOptions(START_OPTION);
                c.call(Rpcs.Tasks.CREATE, create.build());
            } catch (RpcException e) {
                // a run that never started leaves nothing behind
                c.call(Rpcs.Containers.DELETE, DeleteContainerRequest.newBuilder().setId(id).build());
                throw new CliException(Berth.describe(e), 125);
            }
            if (detach) {
                System.out.println(id);
                return 0;
            }
            if (attach) {
                int code = Interactive.run(c, AttachStart.newBuilder().setContainerId(id).setStartTask(true), interactive, tty);
                if (rm) remove(c, id);
                return code;
            }
            LogCopy logs = new LogCopy(c.stream(Rpcs.Logs.READ, ReadLogsRequest.newBuilder().setContainerId(id).setFollow(true).build()));
            logs.start();
            SignalProxy.install(c, id);
            WaitResponse exit = c.call(Rpcs.Tasks.WAIT, WaitRequest.newBuilder().setContainerId(id).build());
            logs.join(10_000L); // the log stream ends once the agent has copied the last output
            // the OOM killer's SIGKILL shows as 137; only then is the verdict worth a call
            dev.berth.api.types.task.Process last = exit.getExitStatus() == 137 ? ContainerCommands.task(c, id) : null;
            if (last != null && last.getOomKilled()) {
                System.err.println("berth: the container was killed for exceeding its memory limit (OOM)");
            }
            if (rm) remove(c, id);
            return exit.getExitStatus();
        }
    }

    private static void remove(AgentClient c, String id) {
        c.call(Rpcs.Tasks.DELETE, DeleteTaskRequest.newBuilder().setContainerId(id).build());
        c.call(Rpcs.Containers.DELETE, DeleteContainerRequest.newBuilder().setId(id).build());
    }

    /** Copies a followed log stream to our stdout and stderr while the main thread waits for the exit. */
    private static final class LogCopy extends Thread {
        private final ResponseStream<LogChunk> chunks;

        LogCopy(ResponseStream<LogChunk> chunks) {
            super("logs");
            setDaemon(true);
            this.chunks = chunks;
        }

        @Override
        public void run() {
            try {
                while (chunks.hasNext()) Format.write(chunks.next());
            } catch (RpcException e) {
                // the stream broke: the exit status still comes from the wait
            }
        }
    }

    /** 16 hex digits from the kernel's random pool (SecureRandom's providers would cost more to start than the run). */
    private static String randomId() throws IOException {
        try (java.io.InputStream in = new java.io.FileInputStream("/dev/urandom")) {
            return HexFormat.of().formatHex(in.readNBytes(8));
        }
    }

    /** "64m", "1g", "1048576", "512kb" as bytes. */
    static long bytes(String s) {
        String t = s.trim().toLowerCase();
        if (t.endsWith("b")) t = t.substring(0, t.length() - 1);
        int shift = 0;
        if (!t.isEmpty()) {
            char unit = t.charAt(t.length() - 1);
            shift = unit == 'k' ? 10 : unit == 'm' ? 20 : unit == 'g' ? 30 : 0;
            if (shift > 0) t = t.substring(0, t.length() - 1);
        }
        long n;
        try {
            n = Long.parseLong(t);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0 || t.startsWith("+") || n > (Long.MAX_VALUE >> shift)) {
            throw new Args.UsageException("size '" + s + "' is not valid: use a number with an optional k, m or g suffix, e.g. 64m");
        }
        return n << shift;
    }

    /** The run request the agent builds the container's spec from (entrypoint, args, env, resources, mounts...). */
    private static byte[] runRequest(Args a) throws IOException {
        String entrypoint = a.value("entrypoint");
        List<String> command = a.operands().subList(1, a.operands().size());
        List<String> env = a.values("env");
        String workdir = a.value("workdir");
        String user = a.value("user");
        String hostname = a.value("hostname");
        boolean readOnly = a.flag("read-only");
        String network = a.value("network", a.value("net", "none"));
        boolean tty = a.flag("tty");
        boolean interactive = a.flag("interactive");
        String memory = a.value("memory");
        Double cpus = a.doubleValue("cpus");
        Long cpuShares = a.longValue("cpu-shares");
        Long pidsLimit = a.longValue("pids-limit");
        List<String> volumes = a.values("volume");
        List<String> tmpfs = a.values("tmpfs");
        String restart = a.value("restart");
        List<String> ports = a.values("publish");
        ports.addAll(a.values("expose"));
        String runtime = a.value("runtime");
        Map<String, Object> r = new LinkedHashMap<>();
        if (entrypoint != null) r.put("entrypoint", entrypoint.isEmpty() ? List.of() : List.of(entrypoint));
        if (!command.isEmpty()) r.put("args", new ArrayList<>(command));
        if (!env.isEmpty()) r.put("env", env);
        if (workdir != null) r.put("workingDir", workdir);
        if (user != null) r.put("user", user);
        if (hostname != null) r.put("hostname", hostname);
        if (readOnly) r.put("readOnlyRootfs", true);
        r.put("network", network);
        if (tty) r.put("tty", true);
        if (interactive) r.put("stdin", true);
        Map<String, Object> res = new LinkedHashMap<>();
        if (memory != null) res.put("memoryBytes", bytes(memory));
        if (cpus != null) res.put("cpus", cpus);
        if (cpuShares != null) res.put("cpuShares", cpuShares);
        if (pidsLimit != null) res.put("pidsLimit", pidsLimit);
        if (!res.isEmpty()) r.put("resources", res);
        List<Map<String, Object>> mounts = new ArrayList<>();
        for (String v : volumes) {
            String[] f = v.split(":");
            if (f.length < 2 || f.length > 3 || (f.length == 3 && !f[2].equals("ro") && !f[2].equals("rw"))) throw new Args.UsageException("volume '" + v + "' must be SRC:DST or SRC:DST:ro");
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "bind");
            m.put("source", f[0]);
            m.put("destination", f[1]);
            m.put("readOnly", f.length == 3 && f[2].equals("ro"));
            mounts.add(m);
        }
        for (String t : tmpfs) {
            int colon = t.indexOf(':');
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "tmpfs");
            m.put("destination", colon < 0 ? t : t.substring(0, colon));
            if (colon >= 0) m.put("options", t.substring(colon + 1));
            mounts.add(m);
        }
        if (!mounts.isEmpty()) r.put("mounts", mounts);
        if (restart != null) r.put("restart", restart);
        if (!ports.isEmpty()) r.put("ports", ports);
        if (runtime != null) r.put("runtime", runtime);
        return Json.write(r);
    }
}
