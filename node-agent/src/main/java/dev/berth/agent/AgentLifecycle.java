package dev.berth.agent;

import dev.berth.agent.config.AgentConfig;
import dev.berth.agent.network.Networks;
import dev.berth.agent.events.EventPublisher;
import dev.berth.agent.grpc.AgentGrpcServer;
import dev.berth.events.KafkaClientProperties;
import dev.berth.oci.auth.RegistryCredentials;
import dev.berth.oci.auth.RegistryHosts;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.berth.agent.runtime.TaskManager;
import java.nio.file.StandardOpenOption;
import java.util.logging.Logger;

/** Starts the node's machinery and its API with Quarkus, and stops the API (never the containers) with it. */
@ApplicationScoped
public class AgentLifecycle {

    private static final Logger LOG = Logger.getLogger(AgentLifecycle.class.getName());

    private final AgentConfig config;
    private NodeAgent agent;
    private AgentGrpcServer server;
    private EventPublisher events;
    private FileChannel lockFile;
    private FileLock lock;

    AgentLifecycle(AgentConfig config) {
        this.config = config;
    }

    void start(@Observes StartupEvent ev) throws Exception {
        Path root = Path.of(config.root());
        Files.createDirectories(root);
        lockFile = FileChannel.open(root.resolve("agent.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        lock = lockFile.tryLock();
        if (lock == null) {
            throw new IllegalStateException("another node agent is already running on " + root + "; stop it first or set berth.agent.root to another directory");
        }
        Path shim = resolveShim();
        String runtimeWarning = dev.berth.agent.runtime.RuntimeVersion.check(config.runtime(), config.allowUnpatchedRuntime());
        if (runtimeWarning != null) LOG.warning(runtimeWarning);
        agent = new NodeAgent(new NodeAgent.Settings(root, Path.of(config.state()), shim, config.runtime(),
                config.gcInterval(), config.maxConcurrentDownloads(),
                config.registryHostsFile().map(f -> RegistryHosts.load(Path.of(f))).orElse(RegistryHosts.none()),
                config.registryCredentialsFile().map(f -> RegistryCredentials.load(Path.of(f))).orElse(RegistryCredentials.none()),
                config.crun(), new TaskManager.LogPolicy(config.logMaxBytes(), config.logMaxFiles()),
                new Networks.Config(config.bridgeName(), config.bridgeSubnet(), config.cniPath()),
                NodeAgent.Settings.pullStall(config.pullStallTimeout()),
                new dev.berth.agent.unpack.UnpackLimits(config.maxTarHeaderBytes().asLongValue(), config.maxLayerEntries(),
                        config.maxLayerBytes().asLongValue(), config.maxImageBytes().asLongValue(), config.minFreeDiskBytes().asLongValue())),
                meta -> config.kafkaBootstrapServers().ifPresent(kafka -> {
                    String node = config.nodeName().orElseGet(AgentLifecycle::hostName);
                    KafkaClientProperties login = KafkaClientProperties.fromSetting(config.kafkaClientProperties(),
                            "berth.agent.kafka-client-properties (env " + KafkaClientProperties.ENV + ")");
                    events = new EventPublisher(meta, node, kafka, login, config.heartbeatInterval(), "0.1.0");
                    LOG.info("publishing node " + node + "'s events to Kafka at " + kafka + " through the outbox ("
                            + (login.isEmpty() ? "no login" : login) + ")");
                }));
        agent.tasks().onEvent(e -> LOG.info("task " + e.type() + ": " + e.namespace() + "/" + e.containerId()
                + (e.execId() == null ? "" : " exec " + e.execId())
                + (e.exit() == null ? "" : " exit " + e.exit().exitCode()) + (e.oomKilled() ? " (OOM-killed)" : "")));
        server = new AgentGrpcServer(agent, Path.of(config.socket()), config.maxConcurrentCalls());
        FirstUseReadiness.startInBackground();
        LOG.info("node agent serving on unix://" + config.socket() + " (root " + root + ", state " + config.state() + ", shim " + shim + ")");
    }

    void stop(@Observes ShutdownEvent ev) throws Exception {
        // Containers keep running under their shims: only the API and the agent's own resources stop.
        if (server != null) server.close();
        if (agent != null) agent.tasks().close(); // no exit recorded after this, so none misses the relay
        if (events != null) events.close();
        if (agent != null) agent.close();
        if (lock != null) lock.release();
        if (lockFile != null) lockFile.close();
    }

    public boolean isServing() {
        return server != null && server.isRunning();
    }

    public NodeAgent agent() {
        return agent;
    }

    private Path resolveShim() throws IOException {
        if (config.shim().isPresent()) return Path.of(config.shim().get());
        try {
            Path jar = Path.of(AgentLifecycle.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path dir = jar.getParent(); dir != null; dir = dir.getParent()) {
                if (Files.isExecutable(dir.resolve("berth-shim"))) return dir.resolve("berth-shim");
                if (dir.getFileName() != null && dir.getFileName().toString().equals("target")) break;
            }
        } catch (URISyntaxException | RuntimeException ignored) {
            // fall through to PATH
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "berth-shim");
            if (Files.isExecutable(p)) return p;
        }
        throw new IOException("berth-shim not found next to the agent or on PATH; build it (mvn package) or set berth.agent.shim");
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "node";
        }
    }
}
