package dev.berth.agent.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.util.Optional;

/** The node agent's settings; each has its default and comment in application.properties. */
@ConfigMapping(prefix = "berth.agent")
public interface AgentConfig {
    String root();

    String state();

    String socket();

    String runtime();

    /** The shim binary; when unset, the agent looks next to its own jar, then on PATH. */
    Optional<String> shim();

    @WithDefault("64")
    int maxConcurrentCalls();

    /** How often unreferenced content and snapshots are collected; 0 turns the schedule off. */
    @WithDefault("10m")
    java.time.Duration gcInterval();

    /** Registry credentials in Docker's config.json format; read at start, never logged. */
    Optional<String> registryCredentialsFile();

    /** Registry mirrors, plain-HTTP registries and per-registry CA files (JSON, see RegistryHosts). */
    Optional<String> registryHostsFile();

    /** Lets a runc older than the container-escape fixes run containers (see RuntimeVersion); off by default. */
    @WithDefault("false")
    boolean allowUnpatchedRuntime();

    /** crun, for containers that choose it (runc stays the default). */
    @WithDefault("/usr/bin/crun")
    String crun();

    /** A container log file is rotated when it reaches this size. */
    @WithDefault("10485760")
    long logMaxBytes();

    /** Log files kept per container, the live one included. */
    @WithDefault("3")
    int logMaxFiles();

    /** Kafka to publish the node's lifecycle events to (through the agent's outbox); unset: no events. */
    Optional<String> kafkaBootstrapServers();

    /**
     * How the agent logs in to that Kafka: a file of Kafka client settings ({@code security.protocol}, {@code sasl.*},
     * {@code ssl.*}; see {@code dev.berth.events.KafkaClientProperties}); unset: a broker that takes anyone.
     */
    Optional<String> kafkaClientProperties();

    /** This node's name in events; the host name when unset. */
    Optional<String> nodeName();

    /** How often a node.heartbeat event is recorded; 0 turns it off. */
    @WithDefault("30s")
    java.time.Duration heartbeatInterval();

    /** Layer blobs fetched at once, across all pulls. */
    @WithDefault("4")
    int maxConcurrentDownloads();

    /** A pull whose registry sends nothing for this long fails (a progress deadline: slow pulls go on). */
    @WithDefault("1m")
    java.time.Duration pullStallTimeout();

    /** A tar header record (PAX, GNU long name) larger than this is refused: it would be read into memory whole. */
    @WithDefault("1M")
    io.quarkus.runtime.configuration.MemorySize maxTarHeaderBytes();

    /** Entries one layer may hold. */
    @WithDefault("1000000")
    long maxLayerEntries();

    /** Bytes one layer may write into files (a sparse file counts at its full size). */
    @WithDefault("64G")
    io.quarkus.runtime.configuration.MemorySize maxLayerBytes();

    /** Bytes all of one image's layers may write into files. */
    @WithDefault("128G")
    io.quarkus.runtime.configuration.MemorySize maxImageBytes();

    /** Free disk space an unpack must leave on the store's filesystem. */
    @WithDefault("1G")
    io.quarkus.runtime.configuration.MemorySize minFreeDiskBytes();

    /** The bridge that --network bridge containers join. */
    @WithDefault("berth0")
    String bridgeName();

    /** The bridge's subnet: containers get addresses from it (host-local), the bridge the first one. */
    @WithDefault("10.213.0.0/16")
    String bridgeSubnet();

    /** Where the CNI plugins are (bridge, host-local, loopback, portmap), colon-separated. */
    @WithDefault("/usr/lib/cni:/opt/cni/bin")
    String cniPath();
}
