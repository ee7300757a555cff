package dev.berth.agent;

import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.TaskExit;
import dev.berth.agent.sys.Syscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real node agent on temporary directories, and the clean-up that leaves no mount or container behind. */
final class AgentFixture implements AutoCloseable {

    final Path base;
    final NodeAgent agent;

    private final java.util.function.UnaryOperator<NodeAgent.Settings> tuning;

    AgentFixture() throws IOException {
        this(s -> s);
    }

    /** An agent whose settings are the defaults as {@code tuning} changes them. */
    AgentFixture(java.util.function.UnaryOperator<NodeAgent.Settings> tuning) throws IOException {
        this.tuning = tuning;
        // short paths: shim sockets live under the state dir and unix socket paths are limited to 108 bytes
        base = Files.createTempDirectory(Path.of("/tmp"), "bt");
        agent = open();
    }

    NodeAgent open() throws IOException {
        return new NodeAgent(tuning.apply(settings()));
    }

    NodeAgent.Settings settings() {
        return new NodeAgent.Settings(base.resolve("root"), base.resolve("state"), shimPath(), "/usr/sbin/runc");
    }

    static Path shimPath() {
        String p = System.getProperty("berth.shim.path");
        if (p == null) throw new IllegalStateException("berth.shim.path is not set: run the tests through Maven, which builds the shim");
        return Path.of(p);
    }

    static RunRequest args(String... args) {
        return RunRequest.ofArgs(List.of(args));
    }

    /** Runs a container to completion and returns its exit; the container and task stay for inspection. */
    TaskExit run(String ns, String id, String image, RunRequest req) throws Exception {
        ContainerRecord c = agent.containers().create(ns, id, image, null, req, null, null);
        TaskRecord t = agent.tasks().create(c);
        agent.tasks().start(ns, t.containerId());
        return agent.tasks().waitFor(ns, id).get(30, TimeUnit.SECONDS);
    }

    String stdout(String ns, String id) throws IOException {
        return dev.berth.agent.runtime.ContainerLog.text(agent.tasks().logDir(ns, id), "stdout");
    }

    void remove(String ns, String id) throws IOException {
        if (agent.tasks().get(ns, id).isPresent()) agent.tasks().delete(ns, id, true);
        if (agent.containers().get(ns, id).isPresent()) agent.containers().delete(ns, id);
        agent.cleanups().await(ns, id);
    }

    @Override
    public void close() throws Exception {
        for (String ns : List.of("default", "other")) {
            for (ContainerRecord c : agent.containers().list(ns)) remove(ns, c.id());
        }
        agent.close();
        // anything still mounted under the fixture (a failed test's rootfs) is detached before the tree goes
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String target = line.split(" ")[1];
            if (target.startsWith(base.toString())) Syscalls.unmount(target);
        }
        new ProcessBuilder("rm", "-rf", "--one-file-system", base.toString()).inheritIO().start().waitFor();
    }
}
