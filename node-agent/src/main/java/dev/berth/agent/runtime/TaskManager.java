package dev.berth.agent.runtime;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.berth.agent.KeyedLocks;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.agent.sys.Syscalls;
import dev.berth.agent.sys.Trees;
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
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Runs containers' init processes (tasks): mounts the container's snapshot, writes the OCI bundle, and hands the
 * container to a shim that outlives this agent. Exits come back from each shim over its socket, or from its exit
 * file when the agent was down; either way the recorded exit is the true one. Operations on one container are
 * serialised by {@link KeyedLocks}; exits are recorded under this object's monitor.
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
    private final KeyedLocks locks;
    private final Map<String, CompletableFuture<TaskExit>> exits = new ConcurrentHashMap<>();
    private volatile Consumer<TaskEvent> listener = e -> { };
    private volatile boolean closed;

    /** A change of a task's state, for the event stream. */
    public record TaskEvent(String namespace, String containerId, String type, TaskExit exit) {}

    public TaskManager(Path stateRoot, Path shim, Runc runc, MetadataStore meta, OverlaySnapshotter snapshots, KeyedLocks locks) throws IOException {
        this.tasksRoot = stateRoot.resolve("tasks");
        this.shim = shim;
        this.runc = runc;
        this.meta = meta;
        this.snapshots = snapshots;
        this.locks = locks;
        Files.createDirectories(tasksRoot);
        Files.setPosixFilePermissions(tasksRoot, PosixFilePermissions.fromString("rwx--x--x"));
        if (!Files.isExecutable(shim)) throw new IOException("shim binary " + shim + " is missing or not executable; build the node agent (mvn package) or set berth.agent.shim");
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
        ReentrantLock lock = locks.lock(ns, c.id());
        try {
            Optional<TaskRecord> existing = meta.task(ns, c.id());
            if (existing.isPresent()) {
                throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "container " + c.id() + " already has a task (" + existing.get().status().toLowerCase() + "); delete it first");
            }
            Path dir = taskDir(ns, c.id());
            if (Files.exists(dir)) discardOrphan(ns, c.id()); // left by a crash between launch and record
            Files.createDirectories(dir.getParent());
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path rootfs = dir.resolve("rootfs");
            boolean mounted = false;
            boolean launched = false;
            try {
                snapshots.mount(c.snapshotKey(), rootfs);
                mounted = true;
                Map<String, Object> spec = Json.MAPPER.readValue(c.spec(), new TypeReference<Map<String, Object>>() { });
                resolveUser(spec, rootfs);
                Path config = dir.resolve("config.json");
                Files.createFile(config, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.write(config, Json.write(spec));
                int pid = launchShim(ns, c.id(), dir);
                launched = true;
                TaskRecord t = new TaskRecord(ns, c.id(), pid, CREATED, null, null, null, System.currentTimeMillis());
                meta.putTask(t);
                watch(ns, c.id());
                listener.accept(new TaskEvent(ns, c.id(), "created", null));
                return t;
            } catch (IOException | RuntimeException e) {
                if (launched) discardOrphan(ns, c.id());
                else {
                    if (mounted) Syscalls.unmount(rootfs.toString());
                    Trees.remove(dir);
                }
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    public TaskRecord start(String ns, String id) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
            TaskRecord t = require(ns, id);
            if (!t.status().equals(CREATED)) {
                throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + ", not created: it cannot be started again; delete it and create a new one");
            }
            runc.start(ns, id);
            // A process that exits at once may be recorded STOPPED already: the update never overwrites that.
            meta.markRunning(ns, id);
            listener.accept(new TaskEvent(ns, id, "started", null));
            return require(ns, id);
        } finally {
            lock.unlock();
        }
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
    public synchronized CompletableFuture<TaskExit> waitFor(String ns, String id) {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) return CompletableFuture.completedFuture(exitOf(t));
        return exits.computeIfAbsent(key(ns, id), k -> new CompletableFuture<>());
    }

    /** Deletes a stopped task (or any task with {@code force}, killing it): runtime state, rootfs mount, bundle. */
    public TaskRecord delete(String ns, String id, boolean force) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
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
            synchronized (this) {
                meta.deleteTask(ns, id);
                CompletableFuture<TaskExit> f = exits.remove(key(ns, id));
                if (f != null && !f.isDone()) f.complete(exitOf(t));
            }
            listener.accept(new TaskEvent(ns, id, "deleted", exitOf(t)));
            return t;
        } finally {
            lock.unlock();
        }
    }

    public Optional<TaskRecord> get(String ns, String id) {
        return meta.task(ns, id);
    }

    /**
     * After an agent restart: learn every shim's fate, from its exit file or by watching it again; and clear away
     * task directories no record knows (a crash between launching a shim and recording it).
     */
    public void recover() throws IOException {
        for (TaskRecord t : meta.tasks()) {
            if (t.status().equals(STOPPED)) continue;
            Optional<TaskExit> exit = readExitFile(taskDir(t.namespace(), t.containerId()));
            if (exit.isPresent()) recordExit(t.namespace(), t.containerId(), exit.get());
            else watch(t.namespace(), t.containerId());
        }
        try (Stream<Path> nss = Files.list(tasksRoot)) {
            for (Path nsDir : nss.toList()) {
                try (Stream<Path> ids = Files.list(nsDir)) {
                    for (Path dir : ids.toList()) {
                        String ns = nsDir.getFileName().toString();
                        String id = dir.getFileName().toString();
                        if (meta.task(ns, id).isEmpty()) {
                            LOG.warning("discarding task " + ns + "/" + id + ": its shim was launched but never recorded");
                            discardOrphan(ns, id);
                        }
                    }
                }
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
        Path out = dir.resolve("launch.out");
        Path err = dir.resolve("launch.err");
        Process p = new ProcessBuilder(shim.toString(), "--id", id, "--bundle", dir.toString(), "--state", dir.toString(),
                "--runtime", runc.binary(), "--runtime-root", runc.root(ns).toString())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        if (!Runc.waitFor(p, Runc.TIMEOUT_SECONDS)) {
            p.destroyForcibly();
            throw new TaskException(TaskException.Kind.FAILED, "the runtime did not create container " + id + " within " + Runc.TIMEOUT_SECONDS + " s");
        }
        String stdout = Files.readString(out).trim();
        String stderr = Files.readString(err).trim();
        Files.delete(out);
        Files.delete(err);
        if (p.exitValue() != 0) {
            throw new TaskException(TaskException.Kind.FAILED, stderr.isEmpty() ? "shim failed to create the container" : stderr);
        }
        try {
            return Integer.parseInt(stdout);
        } catch (NumberFormatException e) {
            throw new IOException("shim reported no pid (said '" + stdout + "')");
        }
    }

    /** Waits for the shim's exit line on a daemon thread; a lost shim with no exit file is recorded as such. */
    private void watch(String ns, String id) {
        Path dir = taskDir(ns, id);
        Thread th = new Thread(() -> {
            String line = null;
            // connect through the directory's fd: the socket's full path may exceed what unix sockets allow
            try (Syscalls.DirHandle h = new Syscalls.DirHandle(dir.toString());
                 SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(h.entry("shim.sock")))) {
                InputStream in = Channels.newInputStream(ch);
                line = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            } catch (IOException e) {
                LOG.log(Level.FINE, "shim socket of " + id + ": " + e.getMessage());
            }
            if (closed) return;
            Optional<TaskExit> exit = line != null && !line.isEmpty() ? Optional.of(TaskExit.parse(line)) : readExitFile(dir);
            // the socket went away without an exit line: give the shim a moment to finish its file
            for (int i = 0; i < 50 && exit.isEmpty() && shimAlive(dir); i++) {
                sleep(20);
                exit = readExitFile(dir);
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
        if (t.isEmpty()) return;
        if (!t.get().status().equals(STOPPED)) {
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

    private static Optional<Long> shimPid(Path dir) {
        try {
            long pid = Long.parseLong(Files.readString(dir.resolve("shim.pid")).trim());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .filter(h -> h.info().command().map(c -> c.endsWith("berth-shim")).orElse(false))
                    .map(ProcessHandle::pid);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean shimAlive(Path dir) {
        return shimPid(dir).isPresent();
    }

    /** Removes every trace of a task no record owns: its runtime container, its shim, its mount, its directory. */
    private void discardOrphan(String ns, String id) throws IOException {
        Path dir = taskDir(ns, id);
        try {
            runc.delete(ns, id, true);
        } catch (IOException e) {
            LOG.log(Level.FINE, "runtime delete of orphan " + id + ": " + e.getMessage());
        }
        shimPid(dir).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
        cleanup(ns, id);
    }

    private void cleanup(String ns, String id) throws IOException {
        Path dir = taskDir(ns, id);
        Syscalls.unmount(dir.resolve("rootfs").toString());
        Trees.remove(dir);
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
        process.put("user", Map.of("uid", ids.uid(), "gid", ids.gid(), "additionalGids", ids.additionalGids()));
    }

    private static String key(String ns, String id) {
        return ns + "/" + id;
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
