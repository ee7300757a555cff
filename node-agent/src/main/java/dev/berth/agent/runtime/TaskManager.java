package dev.berth.agent.runtime;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.agent.sys.Syscalls;
import dev.berth.oci.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs containers' init processes (tasks): mounts the container's snapshot, writes the OCI bundle, and hands the
 * container to a shim that outlives this agent. Exits come back from each shim over its socket, or from its exit
 * file when the agent was down; either way the recorded exit is the true one.
 */
public final class TaskManager implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(TaskManager.class.getName());
    public static final String CREATED = "CREATED";
    public static final String RUNNING = "RUNNING";
    public static final String STOPPED = "STOPPED";

    private final Path tasksRoot;
    private final Path shim;
    private final Runc runc;
    private final MetadataStore meta;
    private final OverlaySnapshotter snapshots;
    private final Map<String, CompletableFuture<TaskExit>> exits = new ConcurrentHashMap<>();
    private volatile Consumer<TaskEvent> listener = e -> { };
    private volatile boolean closed;

    /** A change of a task's state, for the event stream. */
    public record TaskEvent(String namespace, String containerId, String type, TaskExit exit) {}

    public TaskManager(Path stateRoot, Path shim, Runc runc, MetadataStore meta, OverlaySnapshotter snapshots) throws IOException {
        this.tasksRoot = stateRoot.resolve("tasks");
        this.shim = shim;
        this.runc = runc;
        this.meta = meta;
        this.snapshots = snapshots;
        Files.createDirectories(tasksRoot);
        if (!Files.isExecutable(shim)) throw new IOException("shim binary " + shim + " is missing or not executable; build the node agent (mvn package) or set berth.shim.path");
    }

    public void onEvent(Consumer<TaskEvent> l) {
        this.listener = l;
    }

    public Path taskDir(String ns, String id) {
        return tasksRoot.resolve(ns).resolve(id);
    }

    /** Creates the task of a container: rootfs mounted, bundle written, runtime create done by the shim. */
    public TaskRecord create(ContainerRecord c) throws IOException {
        String ns = c.namespace();
        Optional<TaskRecord> existing = meta.task(ns, c.id());
        if (existing.isPresent()) {
            throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "container " + c.id() + " already has a task (" + existing.get().status().toLowerCase() + "); delete it first");
        }
        Path dir = taskDir(ns, c.id());
        if (Files.exists(dir)) cleanup(ns, c.id());
        Files.createDirectories(dir);
        Path rootfs = dir.resolve("rootfs");
        boolean mounted = false;
        try {
            snapshots.mount(c.snapshotKey(), rootfs);
            mounted = true;
            Map<String, Object> spec = Json.MAPPER.readValue(c.spec(), new TypeReference<Map<String, Object>>() { });
            resolveUser(spec, rootfs);
            Files.write(dir.resolve("config.json"), Json.write(spec));
            int pid = launchShim(ns, c.id(), dir);
            TaskRecord t = new TaskRecord(ns, c.id(), pid, CREATED, null, null, null, System.currentTimeMillis());
            meta.putTask(t);
            watch(ns, c.id());
            listener.accept(new TaskEvent(ns, c.id(), "created", null));
            return t;
        } catch (IOException | RuntimeException e) {
            if (mounted) Syscalls.unmount(rootfs.toString());
            deleteTree(dir);
            throw e;
        }
    }

    public TaskRecord start(String ns, String id) throws IOException {
        TaskRecord t = require(ns, id);
        if (!t.status().equals(CREATED)) {
            throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + ", not created: it cannot be started again; delete it and create a new one");
        }
        runc.start(ns, id);
        // The exit may already be recorded if the process was very short; never overwrite it.
        TaskRecord now = require(ns, id);
        if (now.status().equals(CREATED)) {
            now = new TaskRecord(ns, id, t.pid(), RUNNING, null, null, null, t.createdAt());
            meta.putTask(now);
        }
        listener.accept(new TaskEvent(ns, id, "started", null));
        return now;
    }

    public void kill(String ns, String id, int signal, boolean all) throws IOException {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) return;
        try {
            runc.kill(ns, id, signal, all);
        } catch (IOException e) {
            // the process may have exited between our check and the signal
            if (!require(ns, id).status().equals(STOPPED)) throw e;
        }
    }

    /** Completes when the task's init process has exited. */
    public CompletableFuture<TaskExit> waitFor(String ns, String id) {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) return CompletableFuture.completedFuture(exitOf(t));
        return exits.computeIfAbsent(key(ns, id), k -> new CompletableFuture<>());
    }

    /** Deletes a stopped task (or any task with {@code force}, killing it): runtime state, rootfs mount, bundle. */
    public TaskRecord delete(String ns, String id, boolean force) throws IOException {
        TaskRecord t = require(ns, id);
        if (!t.status().equals(STOPPED)) {
            if (!force) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + "; stop it first or force the delete");
            kill(ns, id, 9, true);
            try {
                waitFor(ns, id).get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IOException("task " + id + " did not exit after SIGKILL", e);
            }
            t = require(ns, id);
        }
        try {
            runc.delete(ns, id, true);
        } catch (IOException e) {
            LOG.log(Level.FINE, "runtime delete of " + id + ": " + e.getMessage());
        }
        cleanup(ns, id);
        meta.deleteTask(ns, id);
        exits.remove(key(ns, id));
        listener.accept(new TaskEvent(ns, id, "deleted", exitOf(t)));
        return t;
    }

    public Optional<TaskRecord> get(String ns, String id) {
        return meta.task(ns, id);
    }

    /** After an agent restart: learn every shim's fate, from its exit file or by watching it again. */
    public void recover() {
        for (TaskRecord t : meta.tasks()) {
            if (t.status().equals(STOPPED)) continue;
            Path dir = taskDir(t.namespace(), t.containerId());
            if (readExitFile(dir).isPresent()) {
                recordExit(t.namespace(), t.containerId(), readExitFile(dir).get());
            } else {
                watch(t.namespace(), t.containerId());
            }
        }
    }

    public Path stdoutLog(String ns, String id) {
        return taskDir(ns, id).resolve("stdout.log");
    }

    public Path stderrLog(String ns, String id) {
        return taskDir(ns, id).resolve("stderr.log");
    }

    private int launchShim(String ns, String id, Path dir) throws IOException {
        Files.createDirectories(runc.root(ns));
        Process p = new ProcessBuilder(shim.toString(), "--id", id, "--bundle", dir.toString(), "--state", dir.toString(),
                "--runtime", runc.binary(), "--runtime-root", runc.root(ns).toString())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        String out;
        String err;
        try (InputStream o = p.getInputStream(); InputStream e = p.getErrorStream()) {
            out = new String(o.readAllBytes(), StandardCharsets.UTF_8).trim();
            err = new String(e.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) {
            throw new TaskException(TaskException.Kind.FAILED, err.isEmpty() ? "shim failed to create the container" : err);
        }
        try {
            return Integer.parseInt(out);
        } catch (NumberFormatException e) {
            throw new IOException("shim reported no pid (said '" + out + "')");
        }
    }

    /** Waits for the shim's exit line on a daemon thread; a lost shim with no exit file is recorded as such. */
    private void watch(String ns, String id) {
        Path dir = taskDir(ns, id);
        Thread th = new Thread(() -> {
            String line = null;
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("shim.sock")))) {
                InputStream in = Channels.newInputStream(ch);
                line = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            } catch (IOException e) {
                LOG.log(Level.FINE, "shim socket of " + id + ": " + e.getMessage());
            }
            if (closed) return;
            Optional<TaskExit> exit = line != null && !line.isEmpty() ? Optional.of(TaskExit.parse(line)) : readExitFile(dir);
            if (exit.isEmpty()) {
                // the socket went away without an exit line or file: give the shim a moment to finish the file
                for (int i = 0; i < 50 && exit.isEmpty(); i++) {
                    sleep(20);
                    exit = readExitFile(dir);
                }
            }
            recordExit(ns, id, exit.orElseGet(() -> {
                LOG.warning("shim of " + ns + "/" + id + " vanished without recording an exit; reporting exit 255");
                return new TaskExit(255, 0, System.currentTimeMillis() * 1_000_000L);
            }));
        }, "exit-watch-" + id);
        th.setDaemon(true);
        th.start();
    }

    private synchronized void recordExit(String ns, String id, TaskExit exit) {
        Optional<TaskRecord> t = meta.task(ns, id);
        if (t.isPresent() && !t.get().status().equals(STOPPED)) {
            meta.putTask(new TaskRecord(ns, id, t.get().pid(), STOPPED, exit.exitCode(), exit.signal(), exit.exitedAtNanos(), t.get().createdAt()));
            listener.accept(new TaskEvent(ns, id, "exited", exit));
        }
        exits.computeIfAbsent(key(ns, id), k -> new CompletableFuture<>()).complete(exit);
    }

    private static Optional<TaskExit> readExitFile(Path dir) {
        try {
            return Optional.of(TaskExit.parse(Files.readString(dir.resolve("exit"))));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | IllegalArgumentException e) {
            LOG.warning("unreadable exit file in " + dir + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private void cleanup(String ns, String id) throws IOException {
        Path dir = taskDir(ns, id);
        Syscalls.unmount(dir.resolve("rootfs").toString());
        deleteTree(dir);
    }

    private TaskRecord require(String ns, String id) {
        return meta.task(ns, id).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + id + " has no task in namespace " + ns + "; start it first"));
    }

    private static TaskExit exitOf(TaskRecord t) {
        return t.exitCode() == null ? null : new TaskExit(t.exitCode(), t.exitSignal() == null ? 0 : t.exitSignal(), t.exitedAt() == null ? 0 : t.exitedAt());
    }

    @SuppressWarnings("unchecked")
    private static void resolveUser(Map<String, Object> spec, Path rootfs) throws IOException {
        Object ann = spec.get("annotations");
        if (!(ann instanceof Map)) return;
        Object user = ((Map<String, Object>) ann).get(SpecBuilder.USER_ANNOTATION);
        if (user == null) return;
        UserResolver.Ids ids;
        try {
            ids = UserResolver.resolve(rootfs, user.toString());
        } catch (IllegalArgumentException e) {
            throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
        }
        Map<String, Object> process = (Map<String, Object>) spec.get("process");
        process.put("user", Map.of("uid", ids.uid(), "gid", ids.gid()));
    }

    private static String key(String ns, String id) {
        return ns + "/" + id;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path x : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
    }

}
