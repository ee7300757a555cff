package dev.berth.agent.network;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.agent.sys.PrivateDirs;
import dev.berth.agent.sys.Syscalls;
import dev.berth.agent.sys.Trees;
import dev.berth.oci.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiPredicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Containers' networks beyond "none" and "host": today one bridge per node ({@code berth0}), set up through the CNI
 * plugins (bridge with host-local addresses and outbound NAT, loopback, and portmap for published ports).
 *
 * <p>A bridge task gets a network namespace of its own, kept alive by a bind mount at
 * {@code <state>/networks/<namespace>/<id>/netns} (so it outlives an agent restart, as the container does), next to
 * {@code attachment.json}: the exact plugin configurations and results, written before the first ADD, so that the
 * DEL that releases the address always has what it needs, whenever it comes.
 */
public final class Networks {

    private static final Logger LOG = Logger.getLogger(Networks.class.getName());
    /** In a spec Berth built: the network mode asked for; "bridge" is this class's business. */
    public static final String MODE_ANNOTATION = "dev.berth.network";
    /** Published ports, comma-separated "hostIP:hostPort:containerPort/proto" (hostIP may be empty). */
    public static final String PUBLISH_ANNOTATION = "dev.berth.publish";
    /** Set on the task's bundle spec: the address the task got (EtcFiles writes it into /etc/hosts). */
    public static final String ADDRESS_ANNOTATION = "dev.berth.address";
    /** The CNI network name: host-local keeps its leases under /var/lib/cni/networks/berth, shared by every agent on the host. */
    public static final String NETWORK_NAME = "berth";

    /** The bridge's settings: its interface name, its subnet, and where the CNI plugins are (a CNI_PATH). */
    public record Config(String bridge, String subnet, String cniPath) {
        public static final Config DEFAULT = new Config("berth0", "10.213.0.0/16", "/usr/lib/cni:/opt/cni/bin");
    }

    /** The plugins run for one interface, in order, and the result of the last one's ADD. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Chain(String ifname, List<ObjectNode> plugins, JsonNode result) {}

    /** One task's place on the network, as stored in attachment.json. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Attachment(String cniContainerId, String netns, List<Chain> chains, String address, List<String> ports) {
        Attachment withResults(List<Chain> c, String a) {
            return new Attachment(cniContainerId, netns, c, a, ports);
        }
    }

    private final Path root;
    private final Config config;
    private final Cni cni;
    private final Map<String, Attachment> attachments = new ConcurrentHashMap<>();
    /** One plugin sequence at a time: the plugins share the bridge, the iptables chains and host-local's store. */
    private final ReentrantLock pluginLock = new ReentrantLock();

    public Networks(Path stateRoot, Config config) throws IOException {
        this.root = stateRoot.resolve("networks");
        this.config = config;
        this.cni = new Cni(config.cniPath());
        if (!config.subnet().matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}")) {
            throw new IllegalArgumentException("berth.agent.bridge-subnet '" + config.subnet() + "' is not an IPv4 subnet such as 10.213.0.0/16");
        }
        PrivateDirs.create(root);
        for (Path dir : attachmentDirs()) load(dir).ifPresent(a -> attachments.put(key(dir), a));
    }

    /**
     * Before a task's runtime create: when its spec asks for the bridge, creates its network namespace, runs the
     * plugins' ADD and points the spec's network namespace at it (and records the address in an annotation).
     * A failure leaves nothing behind and says what went wrong, in the plugin's own words when a plugin failed.
     */
    @SuppressWarnings("unchecked")
    public void attach(String ns, String id, Map<String, Object> spec) throws IOException {
        if (!"bridge".equals(annotation(spec, MODE_ANNOTATION))) return;
        List<String> ports = new ArrayList<>();
        String publish = annotation(spec, PUBLISH_ANNOTATION);
        if (publish != null && !publish.isEmpty()) ports.addAll(List.of(publish.split(",")));
        requirePlugins(!ports.isEmpty());
        Path dir = dir(ns, id);
        Path netns = dir.resolve("netns");
        Attachment a;
        long started = System.nanoTime();
        pluginLock.lock();
        try {
            checkPortsFree(ns, id, ports);
            if (Files.exists(dir)) detach(ns, id); // left by a task that was never cleaned up
            if (Files.exists(dir)) {
                throw new NetworkException("the network of an earlier task of container " + id + " could not be released (the agent's log says why); "
                        + "the agent retries when it restarts, or remove " + dir + " after releasing its address by hand");
            }
            Files.createDirectories(dir);
            Files.createFile(netns);
            String cniId = cniContainerId(ns, id);
            a = new Attachment(cniId, netns.toString(), chains(ports), null, ports);
            save(dir, a);
            try {
                createNetns(netns);
                List<Chain> done = new ArrayList<>();
                for (Chain c : a.chains()) {
                    JsonNode result = null;
                    for (ObjectNode plugin : c.plugins()) result = cni.exec("ADD", invocation(plugin, result), cniId, netns.toString(), c.ifname());
                    done.add(new Chain(c.ifname(), c.plugins(), result));
                }
                a = a.withResults(done, address(done));
                save(dir, a);
            } catch (IOException | RuntimeException e) {
                detach(ns, id); // the spec: DEL every plugin of a failed ADD, even those never called
                throw e;
            }
            attachments.put(key(ns, id), a);
        } finally {
            pluginLock.unlock();
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        if (ms > 2000) LOG.warning("the bridge network of " + ns + "/" + id + " took " + ms + " ms to set up (waiting for other tasks' plugins or iptables' lock)");
        Map<String, Object> linux = (Map<String, Object>) spec.get("linux");
        List<Object> namespaces = new ArrayList<>((List<Object>) linux.get("namespaces"));
        namespaces.removeIf(n -> n instanceof Map<?, ?> m && "network".equals(m.get("type")));
        namespaces.add(Map.of("type", "network", "path", netns.toString()));
        linux.put("namespaces", namespaces);
        ((Map<String, Object>) spec.get("annotations")).put(ADDRESS_ANNOTATION, a.address());
    }

    /**
     * After a task is gone (deleted, failed to create, or found orphaned): DEL in reverse order, so the address is
     * released and the NAT and port rules removed; then the namespace goes. Never throws: a DEL that fails is logged
     * and its record kept, to be tried again when the agent next starts.
     */
    public void detach(String ns, String id) {
        Path dir = dir(ns, id);
        Optional<Attachment> a = Optional.ofNullable(attachments.remove(key(ns, id))).or(() -> load(dir));
        if (a.isEmpty() && !Files.exists(dir)) return;
        Path netns = dir.resolve("netns");
        pluginLock.lock();
        try {
            // a DEL needs the namespace while it still holds the interface (the bridge plugin finds the NAT rules to
            // remove through it); a failed one keeps both, for the retry, unless the ADD never completed: then the
            // plugins have undone their own part (the bridge plugin gives back an address it could not configure)
            if (a.isPresent() && !delete(a.get(), isMounted(netns)) && a.get().address() != null) return;
            Syscalls.unmount(netns.toString());
            Trees.remove(dir);
        } catch (IOException e) {
            LOG.warning("network namespace of " + ns + "/" + id + " not removed: " + e.getMessage());
        } finally {
            pluginLock.unlock();
        }
    }

    /** The task's address on the bridge, when it has one. */
    public Optional<String> address(String ns, String id) {
        return Optional.ofNullable(attachments.get(key(ns, id))).map(Attachment::address);
    }

    /**
     * After the tasks are recovered: attachments of tasks that no longer exist (a DEL that failed, a crash) are
     * released; the others are CHECKed in the background, and a broken one is logged.
     */
    public void recover(BiPredicate<String, String> taskExists) {
        List<Attachment> live = new ArrayList<>();
        for (Path dir : attachmentDirs()) {
            String ns = dir.getParent().getFileName().toString();
            String id = dir.getFileName().toString();
            if (!taskExists.test(ns, id)) {
                LOG.warning("releasing the network of " + ns + "/" + id + ": its task is gone");
                detach(ns, id);
            } else {
                Optional.ofNullable(attachments.get(key(ns, id))).ifPresent(live::add);
            }
        }
        if (live.isEmpty()) return;
        Thread t = new Thread(() -> {
            long whole = live.stream().filter(this::check).count();
            LOG.info("checked the bridge networks of " + live.size() + " tasks: " + whole + " whole");
        }, "network-check");
        t.setDaemon(true);
        t.start();
    }

    /** CHECK of the plugins against the ADD's result; false (and a warning) when one finds something amiss. */
    private boolean check(Attachment a) {
        if (a.address() == null) return false;
        pluginLock.lock();
        try {
            for (Chain c : a.chains()) {
                for (ObjectNode plugin : c.plugins()) {
                    // portmap up to 1.2 (Debian 12 has 1.1.1) fails every CHECK on an IPv4-only host, looking for
                    // ip6tables rules it never made (containernetworking/plugins#819): its CHECK says nothing
                    if (plugin.path("type").asText().equals("portmap")) continue;
                    cni.exec("CHECK", invocation(plugin, c.result()), a.cniContainerId(), a.netns(), c.ifname());
                }
            }
            return true;
        } catch (NetworkException e) {
            LOG.warning("the network of " + a.cniContainerId() + " (" + a.address() + ") is broken: " + e.getMessage());
            return false;
        } finally {
            pluginLock.unlock();
        }
    }

    /** DEL of every plugin, last first, each told the ADD's result; true when all succeeded. */
    private boolean delete(Attachment a, boolean netnsExists) {
        // no namespace (it was never made): an empty CNI_NETNS tells the plugins to release only what lives outside it
        String netns = netnsExists ? a.netns() : "";
        boolean ok = true;
        List<Chain> chains = new ArrayList<>(a.chains());
        java.util.Collections.reverse(chains);
        for (Chain c : chains) {
            List<ObjectNode> plugins = new ArrayList<>(c.plugins());
            java.util.Collections.reverse(plugins);
            for (ObjectNode plugin : plugins) {
                try {
                    cni.exec("DEL", invocation(plugin, c.result()), a.cniContainerId(), netns, c.ifname());
                } catch (NetworkException e) {
                    LOG.warning("releasing the network of " + a.cniContainerId() + ": " + e.getMessage());
                    ok = false;
                    break; // the spec: stop the list at the first error
                }
            }
        }
        return ok;
    }

    /** The configuration one plugin gets: its own, plus the list's name and version, plus the previous result. */
    private static ObjectNode invocation(ObjectNode plugin, JsonNode prevResult) {
        ObjectNode conf = plugin.deepCopy();
        conf.put("cniVersion", Cni.VERSION);
        conf.put("name", NETWORK_NAME);
        if (prevResult != null && !prevResult.isNull()) conf.set("prevResult", prevResult);
        return conf;
    }

    private List<Chain> chains(List<String> ports) {
        ObjectNode loopback = Json.MAPPER.createObjectNode().put("type", "loopback");
        ObjectNode bridge = Json.MAPPER.createObjectNode()
                .put("type", "bridge")
                .put("bridge", config.bridge())
                .put("isGateway", true)
                .put("ipMasq", true)
                .put("hairpinMode", true);
        ObjectNode ipam = bridge.putObject("ipam").put("type", "host-local");
        ipam.putArray("ranges").addArray().addObject().put("subnet", config.subnet());
        ipam.putArray("routes").addObject().put("dst", "0.0.0.0/0");
        List<ObjectNode> eth0 = new ArrayList<>(List.of(bridge));
        if (!ports.isEmpty()) {
            ObjectNode portmap = Json.MAPPER.createObjectNode().put("type", "portmap");
            portmap.putObject("capabilities").put("portMappings", true);
            ArrayNode mappings = portmap.putObject("runtimeConfig").putArray("portMappings");
            for (String p : ports) {
                PortMapping m = PortMapping.parse(p);
                ObjectNode o = mappings.addObject().put("hostPort", m.hostPort()).put("containerPort", m.containerPort()).put("protocol", m.protocol());
                if (!m.hostIp().isEmpty()) o.put("hostIP", m.hostIp());
            }
            eth0.add(portmap);
        }
        return List.of(new Chain("lo", List.of(loopback), null), new Chain("eth0", eth0, null));
    }

    /** A published port, "hostIP:hostPort:containerPort/proto" with hostIP possibly empty. */
    record PortMapping(String hostIp, int hostPort, int containerPort, String protocol) {
        static PortMapping parse(String s) {
            int slash = s.lastIndexOf('/');
            String proto = slash < 0 ? "tcp" : s.substring(slash + 1);
            String[] f = (slash < 0 ? s : s.substring(0, slash)).split(":");
            if (f.length != 3) throw new NetworkException("published port '" + s + "' must be hostIP:hostPort:containerPort/proto");
            return new PortMapping(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2]), proto);
        }
    }

    /** portmap would quietly stack a second DNAT behind the first: refuse a host port another task has. */
    private void checkPortsFree(String ns, String id, List<String> ports) {
        for (String p : ports) {
            PortMapping m = PortMapping.parse(p);
            for (Map.Entry<String, Attachment> e : attachments.entrySet()) {
                if (e.getKey().equals(key(ns, id)) || e.getValue().ports() == null) continue;
                for (String q : e.getValue().ports()) {
                    PortMapping o = PortMapping.parse(q);
                    boolean sameIp = m.hostIp().isEmpty() || o.hostIp().isEmpty() || m.hostIp().equals(o.hostIp());
                    if (o.hostPort() == m.hostPort() && o.protocol().equals(m.protocol()) && sameIp) {
                        throw new NetworkException("host port " + m.hostPort() + "/" + m.protocol() + " is already published by container "
                                + e.getKey().substring(e.getKey().indexOf('/') + 1) + "; choose another host port");
                    }
                }
            }
        }
    }

    private void requirePlugins(boolean portmap) {
        List<String> missing = new ArrayList<>();
        for (String p : portmap ? List.of("bridge", "host-local", "loopback", "portmap") : List.of("bridge", "host-local", "loopback")) {
            if (cni.find(p).isEmpty()) missing.add(p);
        }
        if (!missing.isEmpty()) {
            throw new NetworkException("--network bridge needs the CNI plugins " + String.join(", ", missing) + ", which are not in " + cni.path()
                    + ": install Debian's containernetworking-plugins package (apt-get install containernetworking-plugins) or set berth.agent.cni-path");
        }
        boolean iptables = Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin").anyMatch(d -> Files.isExecutable(Path.of(d, "iptables")));
        if (!iptables) throw new NetworkException("--network bridge needs iptables for its NAT rules: install Debian's iptables package (apt-get install iptables)");
    }

    /** A new network namespace, bind-mounted on {@code file} so that it lives until unmounted. */
    private static void createNetns(Path file) throws IOException {
        Process p = new ProcessBuilder("unshare", "--net=" + file, "true").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        try {
            if (p.waitFor() != 0) throw new IOException("cannot create a network namespace at " + file + ": " + out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while creating a network namespace", e);
        }
    }

    /** The first address the eth0 chain's result gives, without its prefix length. */
    private static String address(List<Chain> chains) {
        for (Chain c : chains) {
            if (!c.ifname().equals("eth0") || c.result() == null) continue;
            for (JsonNode ip : c.result().path("ips")) {
                String a = ip.path("address").asText("");
                if (!a.isEmpty()) return a.contains("/") ? a.substring(0, a.indexOf('/')) : a;
            }
        }
        throw new NetworkException("the bridge plugin gave the container no address");
    }

    /** Unique on the host across namespaces, tasks and agents (host-local releases by it), and readable in iptables. */
    private static String cniContainerId(String ns, String id) {
        byte[] r = new byte[4];
        new SecureRandom().nextBytes(r);
        return ("berth-" + ns + "-" + id).replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + HexFormat.of().formatHex(r);
    }

    private void save(Path dir, Attachment a) throws IOException {
        Path tmp = dir.resolve("attachment.json.tmp");
        Files.write(tmp, Json.write(a));
        Files.move(tmp, dir.resolve("attachment.json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static Optional<Attachment> load(Path dir) {
        try {
            return Optional.of(Json.MAPPER.readValue(Files.readAllBytes(dir.resolve("attachment.json")), Attachment.class));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "unreadable network attachment in " + dir + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    private List<Path> attachmentDirs() {
        List<Path> dirs = new ArrayList<>();
        try (Stream<Path> nss = Files.list(root)) {
            for (Path nsDir : nss.toList()) {
                try (Stream<Path> ids = Files.list(nsDir)) {
                    dirs.addAll(ids.toList());
                }
            }
        } catch (IOException e) {
            LOG.warning("cannot list network attachments under " + root + ": " + e.getMessage());
        }
        return dirs;
    }

    private Path dir(String ns, String id) {
        return root.resolve(ns).resolve(id);
    }

    private static String key(Path dir) {
        return dir.getParent().getFileName() + "/" + dir.getFileName();
    }

    private static String key(String ns, String id) {
        return ns + "/" + id;
    }

    private static String annotation(Map<String, Object> spec, String name) {
        return spec.get("annotations") instanceof Map<?, ?> a && a.get(name) != null ? a.get(name).toString() : null;
    }

    /** Whether {@code file} is a mount point (the namespace's bind mount is in place). */
    private static boolean isMounted(Path file) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[4].equals(file.toString())) return true;
            }
        } catch (IOException e) {
            LOG.fine("cannot read /proc/self/mountinfo: " + e.getMessage());
        }
        return false;
    }
}
