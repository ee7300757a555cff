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
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth run}: create a container, start it, stream its output and exit with its exit code. */
@Command(name = "run", description = "Run a command in a new container.")
final class RunCommand implements Callable<Integer> {

    /** Task create options asking for the start in the same runtime call. */
    static final Any START_OPTION = Any.newBuilder().setTypeUrl("types.berth.dev/TaskOptions/v1")
            .setValue(TaskOptions.newBuilder().setStart(true).build().toByteString()).build();

    static final String RUN_EXTENSION = "berth.dev/run";
    static final String RUN_TYPE_URL = "types.berth.dev/RunRequest/v1";

    @ParentCommand
    Berth berth;

    @Option(names = "--name", description = "Container name (default: a random id).")
    String name;

    @Option(names = "--rm", description = "Remove the container when it exits.")
    boolean rm;

    @Option(names = {"-d", "--detach"}, description = "Start the container and print its name without waiting.")
    boolean detach;

    @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE", description = "Set an environment variable.")
    List<String> env = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, description = "Working directory inside the container.")
    String workdir;

    @Option(names = {"-u", "--user"}, description = "user[:group], by name or number.")
    String user;

    @Option(names = "--entrypoint", description = "Override the image's entrypoint.")
    String entrypoint;

    @Option(names = "--hostname", description = "The container's hostname.")
    String hostname;

    @Option(names = {"--network", "--net"}, defaultValue = "none",
            description = "Network: none (own namespace, loopback only), host, or bridge (an address on the node's bridge, outbound NAT).")
    String network;

    @Option(names = "--read-only", description = "Mount the root filesystem read-only.")
    boolean readOnly;

    @Option(names = {"-i", "--interactive"}, description = "Keep stdin open and send it to the container.")
    boolean interactive;

    @Option(names = {"-t", "--tty"}, description = "Give the container a terminal (with -i: an interactive shell).")
    boolean tty;

    @Option(names = {"-m", "--memory"}, description = "Memory limit, e.g. 64m or 1g (no swap beyond it).")
    String memory;

    @Option(names = "--cpus", description = "CPU limit as a number of CPUs, e.g. 0.5.")
    Double cpus;

    @Option(names = "--cpu-shares", description = "Relative CPU weight (default 1024).")
    Long cpuShares;

    @Option(names = "--pids-limit", description = "Maximum number of processes.")
    Long pidsLimit;

    @Option(names = {"-v", "--volume"}, paramLabel = "SRC:DST[:ro]", description = "Bind-mount a host path.")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--tmpfs", paramLabel = "DST[:OPTIONS]", description = "Mount a tmpfs, e.g. /scratch:size=64m.")
    List<String> tmpfs = new ArrayList<>();

    @Option(names = "--restart", description = "Restart policy: no, always (= unless-stopped), on-failure[:N].")
    String restart;

    @Option(names = {"--expose", "-p", "--publish"}, paramLabel = "[[IP:]HOST_PORT:]PORT[/PROTO]",
            description = "Record an exposed port (PORT), or publish it on the node (HOST_PORT:PORT; needs --network bridge).")
    List<String> ports = new ArrayList<>();

    @Option(names = "--runtime", description = "OCI runtime: runc (default) or crun.")
    String runtime;

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "Command and arguments (default: the image's).")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (rm && detach) throw new CliException("--rm and -d together are not supported yet: remove the container with 'berth rm' after it exits");
        if (rm && restart != null && !restart.equals("no")) throw new CliException("--rm and --restart " + restart + " contradict each other: choose one");
        String id = name != null ? name : HexFormat.of().formatHex(new SecureRandom().generateSeed(8));
        try (AgentClient c = berth.connect()) {
            try {
                c.containers.create(CreateContainerRequest.newBuilder().setContainer(Container.newBuilder()
                        .setId(id)
                        .setImage(image)
                        .setRuntime(Container.Runtime.newBuilder().setName("io.containerd.runc.v2"))
                        .putExtensions(RUN_EXTENSION, Any.newBuilder().setTypeUrl(RUN_TYPE_URL).setValue(ByteString.copyFrom(runRequest())).build()))
                        .build());
            } catch (StatusRuntimeException e) {
                throw new CliException(Berth.describe(e), 125);
            }
            boolean attach = (interactive || tty) && !detach;
            try {
                // one runtime call creates and starts, unless an attachment must be in place first
                CreateTaskRequest.Builder create = CreateTaskRequest.newBuilder().setContainerId(id);
                if (!attach) create.setOptions(START_OPTION);
                c.tasks.create(create.build());
            } catch (StatusRuntimeException e) {
                // a run that never started leaves nothing behind
                c.containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
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
            CountDownLatch logsDone = new CountDownLatch(1);
            c.logsAsync.read(ReadLogsRequest.newBuilder().setContainerId(id).setFollow(true).build(), new StreamObserver<>() {
                @Override
                public void onNext(LogChunk chunk) {
                    Format.write(chunk);
                }

                @Override
                public void onError(Throwable t) {
                    logsDone.countDown();
                }

                @Override
                public void onCompleted() {
                    logsDone.countDown();
                }
            });
            SignalProxy.install(c, id);
            WaitResponse exit = c.tasks.wait(WaitRequest.newBuilder().setContainerId(id).build());
            logsDone.await(10, TimeUnit.SECONDS);
            if (ContainerCommands.task(c, id).map(p -> p.getOomKilled()).orElse(false)) {
                System.err.println("berth: the container was killed for exceeding its memory limit (OOM)");
            }
            if (rm) remove(c, id);
            return exit.getExitStatus();
        }
    }

    private static void remove(AgentClient c, String id) {
        c.tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
        c.containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
    }

    /** "64m", "1g", "1048576" as bytes. */
    static long bytes(String s) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)([0-9]+)([kmg]?)b?").matcher(s.trim());
        if (!m.matches()) throw new CliException("size '" + s + "' is not valid: use a number with an optional k, m or g suffix, e.g. 64m");
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2).toLowerCase()) {
            case "k" -> n << 10;
            case "m" -> n << 20;
            case "g" -> n << 30;
            default -> n;
        };
    }

    private byte[] runRequest() throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        if (entrypoint != null) r.put("entrypoint", entrypoint.isEmpty() ? List.of() : List.of(entrypoint));
        if (!command.isEmpty()) r.put("args", command);
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
            if (f.length < 2 || f.length > 3 || (f.length == 3 && !f[2].matches("ro|rw"))) throw new CliException("volume '" + v + "' must be SRC:DST or SRC:DST:ro");
            mounts.add(Map.of("type", "bind", "source", f[0], "destination", f[1], "readOnly", f.length == 3 && f[2].equals("ro")));
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
        return new ObjectMapper().writeValueAsBytes(r);
    }
}
