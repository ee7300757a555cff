package dev.berth.agent;

import dev.berth.agent.container.ContainerStore;
import dev.berth.agent.content.ContentStore;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.network.Networks;
import dev.berth.agent.runtime.Runtimes;
import dev.berth.agent.runtime.TaskManager;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.Platform;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.StallTimeout;
import dev.berth.oci.auth.RegistryCredentials;
import dev.berth.oci.auth.RegistryHosts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import dev.berth.agent.gc.GarbageCollector;
import dev.berth.agent.gc.Leases;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * One node's container machinery, free of any transport: content store, snapshotter, images, containers, tasks.
 * {@code root} keeps what must survive a reboot (content, snapshots, metadata); {@code state} what lives with
 * the running containers (bundles, shim sockets, logs, runtime state).
 */
public final class NodeAgent implements AutoCloseable {

    /**
     * {@code gcInterval}: how often unreferenced content and snapshots are collected (zero: only on demand);
     * {@code maxConcurrentDownloads}: layer blobs fetched at once, across all pulls; {@code pullStall}: how long a
     * registry may send nothing before the pull fails.
     */
    public record Settings(Path root, Path state, Path shim, String runtime, Duration gcInterval, int maxConcurrentDownloads,
                           RegistryHosts registryHosts, RegistryCredentials registryCredentials, String crun,
                           TaskManager.LogPolicy logPolicy, Networks.Config network, StallTimeout pullStall,
                           dev.berth.agent.unpack.UnpackLimits unpackLimits) {
        /** The setting that {@code pullStall} comes from, named in the error of a stalled pull. */
        public static final String PULL_STALL_SETTING = "berth.agent.pull-stall-timeout";

        public Settings(Path root, Path state, Path shim, String runtime) {
            this(root, state, shim, runtime, Duration.ZERO, 4, RegistryHosts.none(), RegistryCredentials.none(), "/usr/bin/crun", TaskManager.LogPolicy.DEFAULT,
                    Networks.Config.DEFAULT, pullStall(Duration.ofMinutes(1)), dev.berth.agent.unpack.UnpackLimits.DEFAULT);
        }

        public static StallTimeout pullStall(Duration limit) {
            return new StallTimeout(limit, PULL_STALL_SETTING);
        }

        public Settings withLogPolicy(TaskManager.LogPolicy p) {
            return new Settings(root, state, shim, runtime, gcInterval, maxConcurrentDownloads, registryHosts, registryCredentials, crun, p, network, pullStall, unpackLimits);
        }

        public Settings withPullStall(Duration limit) {
            return new Settings(root, state, shim, runtime, gcInterval, maxConcurrentDownloads, registryHosts, registryCredentials, crun, logPolicy, network,
                    pullStall(limit), unpackLimits);
        }
    }

    private final MetadataStore meta;
    private final ContentStore content;
    private final OverlaySnapshotter snapshots;
    private final ImageStore images;
    private final ContainerStore containers;
    private final TaskManager tasks;
    private final Networks networks;
    private final GarbageCollector gc;
    private final dev.berth.agent.gc.References references;
    private final Cleanups cleanups;
    private ScheduledExecutorService scheduler;
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(NodeAgent.class.getName());

    public NodeAgent(Settings s) throws IOException {
        this(s, meta -> { });
    }

    /**
     * {@code beforeRecovery} runs once the store is open and before the tasks are recovered: the place to install
     * the event outbox, so that exits found during recovery are published too.
     */
    public NodeAgent(Settings s, java.util.function.Consumer<MetadataStore> beforeRecovery) throws IOException {
        // like containerd: others may traverse (0711) but not list; every directory inside is root's alone
        for (Path dir : new Path[] {s.root(), s.state()}) dev.berth.agent.sys.PrivateDirs.secureStoreRoot(dir);
        Path db = s.root().resolve("metadata.db");
        if (!Files.exists(db)) Files.createFile(db, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        this.meta = new MetadataStore(db);
        KeyedLocks locks = new KeyedLocks();
        Leases leases = new Leases();
        this.content = new ContentStore(s.root().resolve("content"));
        this.snapshots = new OverlaySnapshotter(s.root().resolve("snapshots"), meta);
        this.images = new ImageStore(new RegistryClient(s.registryHosts(), s.registryCredentials(), s.pullStall()), content, snapshots, meta, Platform.host(),
                s.maxConcurrentDownloads(), s.unpackLimits(), leases);
        Runtimes runtimes = new Runtimes(s.runtime(), s.crun(), s.state());
        this.cleanups = new Cleanups();
        this.networks = new Networks(s.state(), s.network());
        this.tasks = new TaskManager(s.state(), s.root().resolve("logs"), s.shim(), runtimes, meta, snapshots, locks, s.logPolicy(), cleanups, networks);
        this.containers = new ContainerStore(meta, images, snapshots, locks, leases, tasks, s.crun(), cleanups);
        this.references = new dev.berth.agent.gc.References(meta, content);
        this.gc = new GarbageCollector(meta, content, snapshots, leases, cleanups, references);
        beforeRecovery.accept(meta);
        tasks.recover();
        networks.recover((ns, id) -> Files.exists(tasks.taskDir(ns, id)));
        if (!s.gcInterval().isZero()) {
            scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "gc");
                t.setDaemon(true);
                return t;
            });
            long every = s.gcInterval().toMillis();
            scheduler.scheduleWithFixedDelay(() -> {
                try {
                    gc.collect();
                } catch (Exception e) {
                    LOG.warning("scheduled garbage collection failed: " + e.getMessage());
                }
            }, every, every, TimeUnit.MILLISECONDS);
        }
    }

    public GarbageCollector gc() { return gc; }

    /** What each namespace's images and containers hold: what the namespace may see of the shared stores. */
    public dev.berth.agent.gc.References references() { return references; }

    public MetadataStore metadata() { return meta; }
    public ContentStore content() { return content; }
    public OverlaySnapshotter snapshots() { return snapshots; }
    public ImageStore images() { return images; }
    public ContainerStore containers() { return containers; }
    public TaskManager tasks() { return tasks; }
    public Networks networks() { return networks; }
    public Cleanups cleanups() { return cleanups; }

    @Override
    public void close() throws Exception {
        if (scheduler != null) scheduler.shutdownNow();
        tasks.close();
        cleanups.close();
        meta.close();
    }
}
