package dev.berth.agent.runtime;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.berth.agent.KeyedLocks;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.TaskRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.agent.sys.PrivateDirs;
import dev.berth.agent.sys.Syscalls;
import dev.berth.agent.sys.Trees;
import dev.berth.oci.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import dev.berth.events.payload.ContainerExited;
import dev.berth.events.payload.ContainerPaused;
import dev.berth.events.payload.ContainerResumed;
import dev.berth.events.payload.ContainerStarted;
import dev.berth.events.payload.ExecExited;
import dev.berth.events.payload.ExecStarted;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
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
    public static final String PAUSED = "PAUSED";
    private static final java.util.regex.Pattern EXEC_ID = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private final Path tasksRoot;
    private final Path logsRoot;
    private final Path shim;
    private final Runtimes runtimes;
    private final MetadataStore meta;
    private final OverlaySnapshotter snapshots;
    private final KeyedLocks locks;
    private final LogPolicy logPolicy;
    private final dev.berth.agent.Cleanups cleanups;
    private final dev.berth.agent.network.Networks networks;
    private final Map<String, CompletableFuture<TaskExit>> exits = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<TaskExit>> execExits = new ConcurrentHashMap<>();
    private final Map<String, Integer> quickFailures = new ConcurrentHashMap<>();
    /** Tasks whose start has been asked of the runtime but not yet recorded: an exit in between was a run. */
    private final java.util.Set<String> starting = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.ScheduledExecutorService restarter = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "restarter");
        t.setDaemon(true);
        return t;
    });
    private volatile Consumer<TaskEvent> listener = e -> { };
    private volatile boolean closed;

    /** A change of a task's (or one of its exec processes') state, for the event stream. */
    public record TaskEvent(String namespace, String containerId, String type, TaskExit exit, boolean oomKilled, String execId) {
        TaskEvent(String namespace, String containerId, String type, TaskExit exit) {
            this(namespace, containerId, type, exit, false, null);
        }
    }

    /** Size-based rotation of container logs: at most {@code maxFiles} files of {@code maxBytes} each. */
    public record LogPolicy(long maxBytes, int maxFiles) {
        public static final LogPolicy DEFAULT = new LogPolicy(10L * 1024 * 1024, 3);
    }

    public TaskManager(Path stateRoot, Path logsRoot, Path shim, Runtimes runtimes, MetadataStore meta, OverlaySnapshotter snapshots,
                       KeyedLocks locks, LogPolicy logPolicy, dev.berth.agent.Cleanups cleanups, dev.berth.agent.network.Networks networks) throws IOException {
        this.cleanups = cleanups;
        this.networks = networks;
        this.tasksRoot = stateRoot.resolve("tasks");
        this.logsRoot = logsRoot;
        this.shim = shim;
        this.runtimes = runtimes;
        this.meta = meta;
        this.snapshots = snapshots;
        this.locks = locks;
        this.logPolicy = logPolicy;
        PrivateDirs.create(tasksRoot);
        PrivateDirs.create(logsRoot);
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
        return createTask(c, false, true, null);
    }

    /** Creates and starts the task in one runtime call (what {@code berth run} wants: one process start saved). */
    public TaskRecord run(ContainerRecord c) throws IOException {
        return createTask(c, true, true, null);
    }

    /**
     * Creates a container's task. A policy restart passes the stopped task it {@code replaces}: that record stays
     * until the new one takes its place in one commit, so no reader ever sees the container without a task.
     */
    private TaskRecord createTask(ContainerRecord c, boolean start, boolean byUser, TaskRecord replaces) throws IOException {
        String ns = c.namespace();
        ReentrantLock lock = locks.lock(ns, c.id());
        try {
            cleanups.await(ns, c.id()); // a deleted task of the same name may still be unmounting (its clean-up takes no lock)
            Optional<TaskRecord> existing = meta.task(ns, c.id());
            if (existing.isPresent() && !existing.get().equals(replaces)) {
                throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "container " + c.id() + " already has a task (" + existing.get().status().toLowerCase() + "); delete it first");
            }
            Runc runc = runtimes.forContainer(c);
            Path dir = taskDir(ns, c.id());
            if (Files.exists(dir)) discardOrphan(ns, c.id(), runc); // left by a crash between launch and record
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
                networks.attach(ns, c.id(), spec); // a bridge task's network namespace, joined to the bridge (before /etc/hosts: its address)
                EtcFiles.add(spec, dir);
                Path config = dir.resolve("config.json");
                Files.createFile(config, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.write(config, Json.write(spec));
                if (byUser) meta.resetRestartState(ns, c.id());
                Instant launchedAt = Instant.now();
                launched = true; // from here a failure (a timeout too) may leave a shim and a container: discard them
                int pid = launchShim(ns, c.id(), dir, runc, terminal(spec), annotation(spec, SpecBuilder.STDIN_ANNOTATION) != null, start);
                TaskRecord t = new TaskRecord(ns, c.id(), pid, start ? RUNNING : CREATED, null, null, null, System.currentTimeMillis(), false);
                synchronized (this) {
                    if (replaces != null) {
                        failExecWaiters(ns, c.id());
                        exits.remove(key(ns, c.id())); // the stopped task's exit, told already: waiters now wait for the new one
                    }
                    meta.inTransaction(() -> {
                        if (replaces != null) meta.deleteTask(ns, c.id());
                        meta.putTask(t);
                        if (start) meta.event(ns, c.id(), new ContainerStarted((long) pid, launchedAt));
                        return null;
                    });
                }
                watch(ns, c.id());
                listener.accept(new TaskEvent(ns, c.id(), "created", null));
                if (start) listener.accept(new TaskEvent(ns, c.id(), "started", null));
                return t;
            } catch (IOException | RuntimeException e) {
                if (launched) discardOrphan(ns, c.id(), runc);
                else {
                    networks.detach(ns, c.id());
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
            starting.add(key(ns, id));
            try {
                runtimes.forContainer(container(ns, id)).start(ns, id);
            } catch (IOException | RuntimeException e) {
                starting.remove(key(ns, id));
                throw e;
            }
            // A process that exits at once may be recorded STOPPED already: the update never overwrites that.
            int pid = t.pid();
            synchronized (this) {
                // an exit recorded meanwhile has already told the start (see recordExit)
                if (starting.remove(key(ns, id))) {
                    meta.inTransaction(() -> {
                        if (meta.markRunning(ns, id)) meta.event(ns, id, new ContainerStarted((long) pid, Instant.now()));
                        return null;
                    });
                }
            }
            listener.accept(new TaskEvent(ns, id, "started", null));
            return require(ns, id);
        } finally {
            lock.unlock();
        }
    }

    public void kill(String ns, String id, int signal, boolean all) throws IOException {
        boolean stopping = signal == 15 || signal == 9 || signal == 2 || signal == 3;
        // a user's TERM, KILL, INT or QUIT ends the container for good: no restart policy brings it back, not even
        // one already scheduled (set before anything else, with or without a task at this moment)
        if (stopping && meta.container(ns, id).isPresent()) meta.setStoppedByUser(ns, id, true);
        ReentrantLock lock = locks.lock(ns, id); // ordered with a restart in progress
        try {
            killLocked(ns, id, signal, all, stopping);
        } finally {
            lock.unlock();
        }
    }

    private void killLocked(String ns, String id, int signal, boolean all, boolean stopping) throws IOException {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) return;
        try {
            Runc runc = runtimes.forContainer(container(ns, id));
            runc.kill(ns, id, signal, all);
            // a frozen container cannot act on the signal: thaw it, as docker stop does
            if (stopping && t.status().equals(PAUSED) && meta.setLiveStatus(ns, id, PAUSED, RUNNING)) runc.run(ns, "resume", id);
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
            Runc runc = runtimes.forContainer(container(ns, id));
            synchronized (this) {
                failExecWaiters(ns, id);
                meta.deleteTask(ns, id);
                CompletableFuture<TaskExit> f = exits.remove(key(ns, id));
                if (f != null && !f.isDone()) f.complete(exitOf(t));
            }
            // gone for every reader now; the runtime's record, the mount and the directory go in the background
            cleanups.schedule(ns, id, "task clean-up", () -> removeRuntimeState(ns, id, runc));
            listener.accept(new TaskEvent(ns, id, "deleted", exitOf(t), t.oomKilled(), null));
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
        // orphans first: once restarts are scheduled, a task being re-created would look like one
        discardOrphans();
        for (TaskRecord t : meta.tasks()) {
            if (t.status().equals(STOPPED)) {
                Path dir = taskDir(t.namespace(), t.containerId());
                if (shimAlive(dir) && readExitFile(dir).isEmpty()) { // a restart's new shim, launched but never recorded
                    LOG.warning("discarding the unrecorded restart of " + t.namespace() + "/" + t.containerId() + "; it is restarted again");
                    discardOrphan(t.namespace(), t.containerId(), runtimeOf(t.namespace(), t.containerId()));
                }
                maybeRestart(t.namespace(), t.containerId()); // its restart was due when the agent went down
                continue;
            }
            Optional<TaskExit> exit = readExitFile(taskDir(t.namespace(), t.containerId()));
            if (exit.isPresent()) recordExit(t.namespace(), t.containerId(), exit.get());
            else watch(t.namespace(), t.containerId());
        }
        for (MetadataStore.ExecRecord e : meta.liveExecs()) watchExecFile(e.namespace(), e.containerId(), e.execId());
    }

    private void discardOrphans() throws IOException {
        try (Stream<Path> nss = Files.list(tasksRoot)) {
            for (Path nsDir : nss.toList()) {
                try (Stream<Path> ids = Files.list(nsDir)) {
                    for (Path dir : ids.toList()) {
                        String ns = nsDir.getFileName().toString();
                        String id = dir.getFileName().toString();
                        if (meta.task(ns, id).isEmpty()) {
                            LOG.warning("discarding task " + ns + "/" + id + ": its shim was launched but never recorded");
                            discardOrphan(ns, id, runtimeOf(ns, id));
                        }
                    }
                }
            }
        }
    }

    /** Where a container's log files live: they outlive its tasks (restarts append) until the container is removed. */
    public Path logDir(String ns, String id) {
        return logsRoot.resolve(ns).resolve(id);
    }

    /** Removes a deleted container's logs. */
    public void removeLogs(String ns, String id) throws IOException {
        Trees.remove(logDir(ns, id));
    }

    private int launchShim(String ns, String id, Path dir, Runc runc, boolean tty, boolean stdin, boolean start) throws IOException {
        PrivateDirs.ensure(runc.root(ns));
        Path logs = logDir(ns, id);
        Files.createDirectories(logs);
        List<String> cmd = new ArrayList<>(List.of(shim.toString(), "--id", id, "--bundle", dir.toString(), "--state", dir.toString(),
                "--runtime", runc.binary(), "--runtime-root", runc.root(ns).toString(), "--log-dir", logs.toString(),
                "--log-max-bytes", Long.toString(logPolicy.maxBytes()), "--log-max-files", Integer.toString(logPolicy.maxFiles())));
        if (tty) cmd.add("--tty");
        if (stdin) cmd.add("--stdin");
        if (start) cmd.add("--start");
        // pipes: the launcher writes one short line (the pid, or the error) and exits once the shim has reported,
        // and the shim itself holds neither pipe (its stdio is /dev/null), so both are read to their end after the exit
        Process p = Runc.process(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        if (!Runc.waitFor(p, Runc.TIMEOUT_SECONDS)) {
            p.destroyForcibly();
            throw new TaskException(TaskException.Kind.FAILED, "the runtime did not create container " + id + " within " + Runc.TIMEOUT_SECONDS + " s");
        }
        String stdout;
        String stderr;
        try (var o = p.getInputStream(); var e = p.getErrorStream()) {
            stdout = new String(o.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
            stderr = new String(e.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        }
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
            try (ShimConnection conn = ShimConnection.open(dir)) {
                line = conn.readAll().trim();
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

    private void recordExit(String ns, String id, TaskExit exit) {
        synchronized (this) {
            Optional<TaskRecord> t = meta.task(ns, id);
            if (t.isEmpty()) return;
            if (!t.get().status().equals(STOPPED)) {
                // the cgroup stays until the runtime's delete: its OOM count tells a memory kill from any other SIGKILL
                // any exit: a shell whose child was OOM-killed exits 137 without a signal of its own
                boolean oom = Cgroups.oomKilled(cgroupOf(ns, id));
                // exited before its start was recorded: it did start, and the timeline says so first
                boolean startedUnrecorded = t.get().status().equals(CREATED) && starting.remove(key(ns, id));
                meta.inTransaction(() -> {
                    if (startedUnrecorded) meta.event(ns, id, new ContainerStarted((long) t.get().pid(), instant(exit.exitedAtNanos())));
                    meta.putTask(new TaskRecord(ns, id, t.get().pid(), STOPPED, exit.exitCode(), exit.signal(), exit.exitedAtNanos(), t.get().createdAt(), oom));
                    meta.event(ns, id, new ContainerExited(exit.exitCode(), signalName(exit.signal()), oom, instant(exit.exitedAtNanos())));
                    return null;
                });
                listener.accept(new TaskEvent(ns, id, "exited", exit, oom, null));
            }
            exits.computeIfAbsent(key(ns, id), k -> new CompletableFuture<>()).complete(exit);
        }
        maybeRestart(ns, id);
    }

    // ---- restart policies

    /** Schedules a restart when the container's policy asks for one, after a backoff that grows with quick failures. */
    private void maybeRestart(String ns, String id) {
        if (closed) return;
        Optional<ContainerRecord> c = meta.container(ns, id);
        Optional<TaskRecord> t = meta.task(ns, id);
        if (c.isEmpty() || t.isEmpty() || !t.get().status().equals(STOPPED)) return;
        String spec = c.get().spec();
        // no policy (its name appears nowhere, and no unicode escape could spell it): no need to parse the spec on every exit
        if (!spec.contains(SpecBuilder.RESTART_ANNOTATION) && !spec.contains("\\u")) return;
        RestartPolicy policy;
        try {
            policy = RestartPolicy.parse(annotation(Json.MAPPER.readValue(spec, new TypeReference<Map<String, Object>>() { }), SpecBuilder.RESTART_ANNOTATION));
        } catch (IOException | IllegalArgumentException e) {
            return;
        }
        MetadataStore.RestartState state = meta.restartState(ns, id);
        if (state.stoppedByUser() || !policy.restarts(t.get().exitCode() == null ? 255 : t.get().exitCode(), state.restartCount())) return;
        long ranMs = t.get().exitedAt() == null ? 0 : t.get().exitedAt() / 1_000_000 - t.get().createdAt();
        int quick = 0;
        if (ranMs >= RestartPolicy.HEALTHY_RUN_MS) quickFailures.remove(key(ns, id)); // a healthy run resets the backoff
        else quick = quickFailures.merge(key(ns, id), 1, Integer::sum) - 1;
        long delay = RestartPolicy.backoffMs(quick);
        Long exitedAt = t.get().exitedAt();
        restarter.schedule(() -> restart(ns, id, exitedAt), delay, TimeUnit.MILLISECONDS);
    }

    /** Replaces the stopped task with a new one, unless its user acted in between (deleted, started or stopped it). */
    private void restart(String ns, String id, Long exitedAt) {
        if (closed) return;
        ReentrantLock lock = locks.lock(ns, id);
        try {
            Optional<TaskRecord> t = meta.task(ns, id);
            Optional<ContainerRecord> c = meta.container(ns, id);
            if (c.isEmpty() || t.isEmpty() || !t.get().status().equals(STOPPED) || !java.util.Objects.equals(t.get().exitedAt(), exitedAt)
                    || meta.restartState(ns, id).stoppedByUser()) {
                return;
            }
            removeRuntimeState(ns, id);
            meta.countRestart(ns, id);
            listener.accept(new TaskEvent(ns, id, "restarting", exitOf(t.get())));
            // on failure the stopped task stays as it was: the container keeps how it last ended, and the policy stops here
            createTask(c.get(), true, false, t.get());
        } catch (IOException | RuntimeException e) {
            LOG.warning("restart of " + ns + "/" + id + " failed: " + e.getMessage() + "; it stays exited with its last status");
        } finally {
            lock.unlock();
        }
    }

    // ---- pause, resume, processes, resources, metrics

    public void pause(String ns, String id) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
            TaskRecord t = require(ns, id);
            if (!t.status().equals(RUNNING)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + ", not running: only a running task can be paused");
            runtimes.forContainer(container(ns, id)).run(ns, "pause", id);
            boolean paused = meta.inTransaction(() -> {
                boolean changed = meta.setLiveStatus(ns, id, RUNNING, PAUSED);
                if (changed) meta.event(ns, id, new ContainerPaused());
                return changed;
            });
            if (paused) listener.accept(new TaskEvent(ns, id, "paused", null));
        } finally {
            lock.unlock();
        }
    }

    public void resume(String ns, String id) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
            TaskRecord t = require(ns, id);
            if (!t.status().equals(PAUSED)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + ", not paused");
            runtimes.forContainer(container(ns, id)).run(ns, "resume", id);
            boolean resumed = meta.inTransaction(() -> {
                boolean changed = meta.setLiveStatus(ns, id, PAUSED, RUNNING);
                if (changed) meta.event(ns, id, new ContainerResumed());
                return changed;
            });
            if (resumed) listener.accept(new TaskEvent(ns, id, "resumed", null));
        } finally {
            lock.unlock();
        }
    }

    /** Host pids of every process in the container. */
    public List<Integer> pids(String ns, String id) throws IOException {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) return List.of();
        String json = runtimes.forContainer(container(ns, id)).run(ns, "ps", "--format", "json", id);
        return Json.MAPPER.readValue(json.isEmpty() || json.equals("null") ? "[]" : json, new TypeReference<List<Integer>>() { });
    }

    /** Changes a live task's cgroup limits. */
    public void update(String ns, String id, RunRequest.Resources resources) throws IOException {
        ReentrantLock lock = locks.lock(ns, id);
        try {
            TaskRecord t = require(ns, id);
            if (t.status().equals(STOPPED)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " has exited; its limits can no longer change");
            Map<String, Object> res;
            try {
                res = new java.util.LinkedHashMap<>(SpecBuilder.resources(resources));
            } catch (IllegalArgumentException e) {
                throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
            }
            res.remove("devices");
            Path file = taskDir(ns, id).resolve("resources.json");
            Files.write(file, Json.write(res));
            runtimes.forContainer(container(ns, id)).run(ns, "update", "--resources", file.toString(), id);
        } finally {
            lock.unlock();
        }
    }

    /** CPU, memory, pids and I/O figures of a task's cgroup. */
    public Cgroups.Stats metrics(String ns, String id) throws IOException {
        require(ns, id);
        return Cgroups.read(cgroupOf(ns, id));
    }

    private String cgroupOf(String ns, String id) {
        Optional<ContainerRecord> c = meta.container(ns, id);
        String path = "/" + id;
        if (c.isPresent()) {
            try {
                Map<String, Object> spec = Json.MAPPER.readValue(c.get().spec(), new TypeReference<Map<String, Object>>() { });
                Object linux = spec.get("linux");
                if (linux instanceof Map<?, ?> l && l.get("cgroupsPath") instanceof String p && !p.isEmpty()) path = p;
            } catch (IOException e) {
                // the default path then
            }
        }
        return path;
    }

    // ---- exec processes and attach

    /** An exec process or an attachment to the init process: frames flow over its shim connection. */
    public record Session(int pid, String execId, ShimConnection connection) {}

    /**
     * Starts another process in a running container (as {@code runc exec}, supervised by the container's shim).
     * The returned session carries its output; the process's exit is recorded whether or not anyone reads it.
     */
    public Session exec(String ns, String id, String execId, List<String> args, List<String> env, String cwd, String user,
                        boolean tty, boolean stdin, Consumer<ShimConnection.Frame> output) throws IOException {
        if (execId == null || !EXEC_ID.matcher(execId).matches()) throw new TaskException(TaskException.Kind.INVALID, "exec id '" + execId + "' must be 1-64 letters, digits, '.', '_' or '-'");
        if (args == null || args.isEmpty()) throw new TaskException(TaskException.Kind.INVALID, "exec needs a command to run");
        ReentrantLock lock = locks.lock(ns, id);
        try {
            TaskRecord t = require(ns, id);
            if (!t.status().equals(RUNNING)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " is " + t.status().toLowerCase() + ", not running: exec needs a running container");
            if (meta.exec(ns, id, execId).isPresent()) throw new TaskException(TaskException.Kind.ALREADY_EXISTS, "exec id " + execId + " is in use in container " + id + "; choose another");
            Path dir = taskDir(ns, id);
            Map<String, Object> spec = Json.MAPPER.readValue(Files.readAllBytes(dir.resolve("config.json")), new TypeReference<Map<String, Object>>() { });
            @SuppressWarnings("unchecked")
            Map<String, Object> process = new java.util.LinkedHashMap<>((Map<String, Object>) spec.get("process"));
            process.put("args", args);
            process.put("terminal", tty);
            if (env != null && !env.isEmpty()) {
                @SuppressWarnings("unchecked")
                List<String> base = (List<String>) process.get("env");
                try {
                    process.put("env", SpecBuilder.mergeEnv(base, env));
                } catch (IllegalArgumentException e) {
                    throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
                }
            }
            if (cwd != null && !cwd.isEmpty()) {
                try {
                    process.put("cwd", SpecBuilder.workingDir(cwd));
                } catch (IllegalArgumentException e) {
                    throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
                }
            }
            if (user != null && !user.isEmpty()) {
                try {
                    UserResolver.Ids ids = UserResolver.resolve(dir.resolve("rootfs"), user);
                    process.put("user", Map.of("uid", ids.uid(), "gid", ids.gid(), "additionalGids", ids.additionalGids()));
                } catch (IllegalArgumentException e) {
                    throw new TaskException(TaskException.Kind.INVALID, e.getMessage());
                }
            }
            Path processFile = dir.resolve("exec-" + execId + ".json");
            Files.deleteIfExists(processFile);
            Files.createFile(processFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(processFile, Json.write(process));
            ShimConnection conn = ShimConnection.open(dir);
            String reply;
            try {
                reply = conn.command("EXEC " + execId + " " + processFile + (tty ? " tty" : "") + (stdin ? " stdin" : ""), true);
            } catch (IOException e) {
                conn.close();
                throw e;
            }
            if (!reply.startsWith("OK ")) {
                conn.close();
                removeExecFiles(ns, id, execId); // the process file, and the runtime's log of the refusal
                throw new TaskException(TaskException.Kind.FAILED, reply.startsWith("ER ") ? reply.substring(3) : "the shim refused the exec: " + reply);
            }
            int pid = Integer.parseInt(reply.substring(3).trim());
            meta.inTransaction(() -> {
                meta.putExec(new MetadataStore.ExecRecord(ns, id, execId, pid, RUNNING, null, null, null));
                meta.event(ns, id, ExecStarted.of(execId, (long) pid, args));
                return null;
            });
            listener.accept(new TaskEvent(ns, id, "exec-started", null, false, execId));
            Thread reader = new Thread(() -> pumpExec(ns, id, execId, conn, output), "exec-" + id + "-" + execId);
            reader.setDaemon(true);
            reader.start();
            return new Session(pid, execId, conn);
        } finally {
            lock.unlock();
        }
    }

    private void pumpExec(String ns, String id, String execId, ShimConnection conn, Consumer<ShimConnection.Frame> output) {
        TaskExit exit = null;
        try (conn) {
            for (ShimConnection.Frame f; (f = conn.read()) != null; ) {
                if (f.type() == ShimConnection.EXIT) exit = TaskExit.parse(new String(f.payload(), StandardCharsets.UTF_8));
                if (output != null) {
                    try {
                        output.accept(f);
                    } catch (RuntimeException e) {
                        LOG.log(Level.FINE, "exec output consumer: " + e.getMessage());
                    }
                }
                if (exit != null) break;
            }
        } catch (IOException | IllegalArgumentException e) {
            LOG.log(Level.FINE, "exec " + execId + " of " + id + ": " + e.getMessage());
        }
        if (exit == null) exit = readExecExitFile(ns, id, execId).orElse(null);
        if (exit == null) {
            watchExecFile(ns, id, execId);
            return;
        }
        recordExecExit(ns, id, execId, exit);
    }

    /** For an exec whose shim connection is gone (after an agent restart): its exit file tells, when it appears. */
    private void watchExecFile(String ns, String id, String execId) {
        Thread th = new Thread(() -> {
            while (!closed) {
                Optional<TaskExit> exit = readExecExitFile(ns, id, execId);
                if (exit.isPresent()) {
                    recordExecExit(ns, id, execId, exit.get());
                    return;
                }
                Optional<TaskRecord> t = meta.task(ns, id);
                if (t.isEmpty() || meta.exec(ns, id, execId).isEmpty()) return;
                if (t.get().status().equals(STOPPED) && !shimAlive(taskDir(ns, id))) {
                    recordExecExit(ns, id, execId, new TaskExit(255, 0, System.currentTimeMillis() * 1_000_000L));
                    return;
                }
                sleep(200);
            }
        }, "exec-file-" + id + "-" + execId);
        th.setDaemon(true);
        th.start();
    }

    private Optional<TaskExit> readExecExitFile(String ns, String id, String execId) {
        Path f = taskDir(ns, id).resolve("exec-" + execId + ".exit");
        try {
            return Optional.of(TaskExit.parse(Files.readString(f)));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private synchronized void recordExecExit(String ns, String id, String execId, TaskExit exit) {
        Optional<MetadataStore.ExecRecord> e = meta.exec(ns, id, execId);
        if (e.isEmpty()) return;
        if (!e.get().status().equals(STOPPED)) {
            meta.inTransaction(() -> {
                meta.putExec(new MetadataStore.ExecRecord(ns, id, execId, e.get().pid(), STOPPED, exit.exitCode(), exit.signal(), exit.exitedAtNanos()));
                meta.event(ns, id, new ExecExited(execId, exit.exitCode(), signalName(exit.signal()), instant(exit.exitedAtNanos())));
                return null;
            });
            listener.accept(new TaskEvent(ns, id, "exec-exited", exit, false, execId));
        }
        execExits.computeIfAbsent(execKey(ns, id, execId), k -> new CompletableFuture<>()).complete(exit);
    }

    public Optional<MetadataStore.ExecRecord> execRecord(String ns, String id, String execId) {
        return meta.exec(ns, id, execId);
    }

    /** Completes when the exec process has exited. */
    public synchronized CompletableFuture<TaskExit> waitForExec(String ns, String id, String execId) {
        MetadataStore.ExecRecord e = meta.exec(ns, id, execId).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + id + " has no exec process " + execId));
        if (e.status().equals(STOPPED)) return CompletableFuture.completedFuture(new TaskExit(e.exitCode(), e.exitSignal() == null ? 0 : e.exitSignal(), e.exitedAt() == null ? 0 : e.exitedAt()));
        return execExits.computeIfAbsent(execKey(ns, id, execId), k -> new CompletableFuture<>());
    }

    public void killExec(String ns, String id, String execId, int signal) throws IOException {
        MetadataStore.ExecRecord e = meta.exec(ns, id, execId).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + id + " has no exec process " + execId));
        if (e.status().equals(STOPPED)) return;
        // the pid may have been reaped and reused since: signal it only while it is still in this container's cgroup
        String cg = cgroupOf(ns, id);
        String procCgroup;
        try {
            procCgroup = Files.readString(Path.of("/proc/" + e.pid() + "/cgroup"));
        } catch (IOException gone) {
            return;
        }
        if (!procCgroup.contains(cg)) return;
        Syscalls.kill(e.pid(), signal);
    }

    public MetadataStore.ExecRecord deleteExec(String ns, String id, String execId) throws IOException {
        MetadataStore.ExecRecord e = meta.exec(ns, id, execId).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + id + " has no exec process " + execId));
        if (!e.status().equals(STOPPED)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "exec " + execId + " is still running; kill it first");
        meta.deleteExec(ns, id, execId);
        execExits.remove(execKey(ns, id, execId));
        removeExecFiles(ns, id, execId);
        return e;
    }

    private void removeExecFiles(String ns, String id, String execId) throws IOException {
        for (String f : List.of(".json", ".exit", ".pid", ".log")) Files.deleteIfExists(taskDir(ns, id).resolve("exec-" + execId + f));
    }

    /** Attaches to the init process's stdio: output from now on, input if the container was created with stdin. */
    public ShimConnection attach(String ns, String id) throws IOException {
        TaskRecord t = require(ns, id);
        if (t.status().equals(STOPPED)) throw new TaskException(TaskException.Kind.FAILED_PRECONDITION, "task " + id + " has exited; read its output with logs");
        ShimConnection conn = ShimConnection.open(taskDir(ns, id));
        conn.command("ATTACH", false);
        return conn;
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
    private void discardOrphan(String ns, String id, Runc runc) throws IOException {
        Path dir = taskDir(ns, id);
        try {
            runc.delete(ns, id, true);
        } catch (IOException e) {
            LOG.log(Level.FINE, "runtime delete of orphan " + id + ": " + e.getMessage());
        }
        shimPid(dir).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
        cleanup(ns, id);
    }

    /** The runtime's record of a stopped task, its rootfs mount and its directory (logs stay). */
    private void removeRuntimeState(String ns, String id) throws IOException {
        removeRuntimeState(ns, id, runtimeOf(ns, id));
    }

    /** The runtime a container runs with, or the default one when its record is gone. */
    private Runc runtimeOf(String ns, String id) {
        return meta.container(ns, id).map(runtimes::forContainer).orElse(runtimes.defaultRuntime());
    }

    private void removeRuntimeState(String ns, String id, Runc runc) throws IOException {
        try {
            runc.deleteStopped(ns, id);
        } catch (IOException e) {
            LOG.log(Level.FINE, "runtime delete of " + id + ": " + e.getMessage());
        }
        cleanup(ns, id);
    }

    private void cleanup(String ns, String id) throws IOException {
        Path dir = taskDir(ns, id);
        Syscalls.unmount(dir.resolve("rootfs").toString());
        networks.detach(ns, id); // releases its address: every way a task ends comes through here
        Trees.remove(dir);
    }

    private TaskRecord require(String ns, String id) {
        return meta.task(ns, id).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "container " + id + " has no task in namespace " + ns + "; start it first"));
    }

    private ContainerRecord container(String ns, String id) {
        return meta.container(ns, id).orElseThrow(() -> new TaskException(TaskException.Kind.NOT_FOUND, "no container named '" + id + "' in namespace " + ns));
    }

    private static boolean terminal(Map<String, Object> spec) {
        return spec.get("process") instanceof Map<?, ?> p && Boolean.TRUE.equals(p.get("terminal"));
    }

    private static String annotation(Map<String, Object> spec, String name) {
        return spec.get("annotations") instanceof Map<?, ?> a && a.get(name) != null ? a.get(name).toString() : null;
    }

    private static String execKey(String ns, String id, String execId) {
        return ns + "/" + id + "/" + execId;
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

    /** Exec processes die with their task: waiters still pending hear it (their exit file's word, or 255). */
    private void failExecWaiters(String ns, String id) {
        for (MetadataStore.ExecRecord e : meta.execs(ns, id)) {
            if (e.status().equals(STOPPED)) continue;
            TaskExit exit = readExecExitFile(ns, id, e.execId()).orElse(new TaskExit(255, 0, System.currentTimeMillis() * 1_000_000L));
            recordExecExit(ns, id, e.execId(), exit);
        }
        String prefix = ns + "/" + id + "/";
        execExits.keySet().removeIf(k -> k.startsWith(prefix));
    }

    private static Instant instant(long nanos) {
        return Instant.ofEpochSecond(nanos / 1_000_000_000L, nanos % 1_000_000_000L);
    }

    private static final List<String> SIGNALS = List.of("SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
            "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM");

    private static String signalName(int signal) {
        if (signal <= 0) return null;
        return signal <= SIGNALS.size() ? SIGNALS.get(signal - 1) : "SIG" + signal;
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
        restarter.shutdownNow();
    }
}
