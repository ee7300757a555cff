package dev.berth.agent.runtime;

import dev.berth.agent.network.Networks;
import dev.berth.oci.ImageConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds an OCI runtime spec (config.json) from an image config and a run request, with the same defaults
 * containerd gives a container: its capability set, masked and read-only /proc paths, device rules, and
 * fresh pid, ipc, uts, mount and network namespaces.
 */
public final class SpecBuilder {

    static final List<String> DEFAULT_CAPS = List.of(
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
            "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");
    static final List<String> MASKED = List.of(
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap", "/proc/scsi");
    static final List<String> READONLY = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
    public static final String USER_ANNOTATION = "dev.berth.user";
    public static final String RESTART_ANNOTATION = "dev.berth.restart";
    public static final String STDIN_ANNOTATION = "dev.berth.stdin";
    public static final String PORTS_ANNOTATION = "dev.berth.ports";
    /** Marks a spec Berth built: the task gets its own /etc/hosts, /etc/hostname and /etc/resolv.conf. */
    public static final String ETC_ANNOTATION = "dev.berth.etc";
    static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private SpecBuilder() {}

    public static Map<String, Object> build(String namespace, String id, ImageConfig image, RunRequest req) {
        ImageConfig.Execution exec = image.execution();
        List<String> entrypoint = req.entrypoint() != null ? req.entrypoint() : nullToEmpty(exec.entrypoint());
        List<String> cmd = req.args() != null ? req.args() : (req.entrypoint() != null ? List.of() : nullToEmpty(exec.cmd()));
        List<String> args = new ArrayList<>(entrypoint);
        args.addAll(cmd);
        if (args.isEmpty()) {
            throw new IllegalArgumentException("no command to run: the image has no entrypoint or cmd; give one after the image name");
        }
        List<String> env = mergeEnv(exec.env(), req.env());
        String cwd = req.workingDir() != null ? req.workingDir() : (exec.workingDir() == null || exec.workingDir().isEmpty() ? "/" : exec.workingDir());
        cwd = workingDir(cwd);
        String user = req.user() != null ? req.user() : exec.user();

        Map<String, Object> process = new LinkedHashMap<>();
        process.put("terminal", Boolean.TRUE.equals(req.tty()));
        process.put("user", Map.of("uid", 0, "gid", 0));
        process.put("args", args);
        process.put("env", env);
        process.put("cwd", cwd);
        process.put("capabilities", Map.of("bounding", DEFAULT_CAPS, "effective", DEFAULT_CAPS, "permitted", DEFAULT_CAPS));
        process.put("rlimits", List.of(Map.of("type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024)));
        process.put("noNewPrivileges", true);

        List<Map<String, Object>> namespaces = new ArrayList<>();
        for (String ns : List.of("pid", "ipc", "uts", "mount", "cgroup")) namespaces.add(Map.of("type", ns));
        String network = req.network() == null ? "none" : req.network();
        switch (network) {
            // bridge: an empty namespace here; the agent makes it and joins it to the bridge at task create (Networks)
            case "none", "bridge" -> namespaces.add(Map.of("type", "network"));
            case "host" -> { }
            default -> throw new IllegalArgumentException("unknown network mode '" + network + "': use none, host or bridge");
        }
        List<String> published = publishedPorts(req.ports());
        if (!published.isEmpty() && !network.equals("bridge")) {
            throw new IllegalArgumentException("publishing port " + req.ports().stream().filter(p -> p.contains(":")).findFirst().orElse("")
                    + " needs --network bridge (with host networking the container's ports are the host's already)");
        }

        Map<String, Object> linux = new LinkedHashMap<>();
        linux.put("namespaces", namespaces);
        linux.put("maskedPaths", MASKED);
        linux.put("readonlyPaths", READONLY);
        linux.put("resources", resources(req.resources()));
        linux.put("cgroupsPath", "/berth/" + namespace + "/" + id);
        linux.put("seccomp", SeccompProfile.spec());

        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("ociVersion", "1.0.2");
        spec.put("process", process);
        spec.put("root", Map.of("path", "rootfs", "readonly", Boolean.TRUE.equals(req.readOnlyRootfs())));
        spec.put("hostname", req.hostname() != null ? req.hostname() : (network.equals("host") ? hostHostname() : shortId(id)));
        List<Map<String, Object>> mounts = new ArrayList<>(defaultMounts());
        if (req.mounts() != null) for (RunRequest.Mount m : req.mounts()) mounts.add(userMount(m));
        spec.put("mounts", mounts);
        spec.put("linux", linux);
        Map<String, Object> annotations = new LinkedHashMap<>();
        annotations.put(ETC_ANNOTATION, "true");
        if (user != null && !user.isEmpty()) annotations.put(USER_ANNOTATION, user);
        if (req.restart() != null) annotations.put(RESTART_ANNOTATION, RestartPolicy.parse(req.restart()).toString());
        if (Boolean.TRUE.equals(req.stdin())) annotations.put(STDIN_ANNOTATION, "true");
        List<String> ports = exposedPorts(image, req.ports());
        if (!ports.isEmpty()) annotations.put(PORTS_ANNOTATION, String.join(",", ports));
        if (network.equals("bridge")) annotations.put(Networks.MODE_ANNOTATION, network);
        if (!published.isEmpty()) annotations.put(Networks.PUBLISH_ANNOTATION, String.join(",", published));
        spec.put("annotations", annotations);
        return spec;
    }

    /** Cgroup limits, validated; the device rule denies every device node but the runtime's defaults. */
    static Map<String, Object> resources(RunRequest.Resources r) {
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("devices", List.of(Map.of("allow", false, "access", "rwm")));
        if (r == null) return res;
        if (r.memoryBytes() != null) {
            if (r.memoryBytes() < 6 * 1024 * 1024) throw new IllegalArgumentException("memory limit " + r.memoryBytes() + " bytes is too small: give at least 6m");
            // no swap beyond the limit, so that the limit is what the container can use
            res.put("memory", Map.of("limit", r.memoryBytes(), "swap", r.memoryBytes()));
        }
        Map<String, Object> cpu = new LinkedHashMap<>();
        if (r.cpus() != null) {
            if (!(r.cpus() > 0) || r.cpus() > Runtime.getRuntime().availableProcessors() * 64.0) {
                throw new IllegalArgumentException("cpus " + r.cpus() + " is out of range: give a positive number such as 0.5 or 2");
            }
            cpu.put("period", 100_000L);
            cpu.put("quota", Math.max(1_000L, Math.round(r.cpus() * 100_000)));
        }
        if (r.cpuShares() != null) {
            if (r.cpuShares() < 2 || r.cpuShares() > 262_144) throw new IllegalArgumentException("cpu shares " + r.cpuShares() + " are out of range: give 2 to 262144 (1024 is the default weight)");
            cpu.put("shares", r.cpuShares());
        }
        if (!cpu.isEmpty()) res.put("cpu", cpu);
        if (r.pidsLimit() != null) {
            if (r.pidsLimit() < 1) throw new IllegalArgumentException("pids limit " + r.pidsLimit() + " must be at least 1");
            res.put("pids", Map.of("limit", r.pidsLimit()));
        }
        return res;
    }

    static Map<String, Object> userMount(RunRequest.Mount m) {
        String type = m.type() == null ? "bind" : m.type();
        String dest = m.destination();
        if (dest == null || !dest.startsWith("/") || dest.contains("/../") || dest.endsWith("/..")) {
            throw new IllegalArgumentException("mount destination '" + dest + "' must be an absolute path inside the container");
        }
        List<String> options = new ArrayList<>();
        switch (type) {
            case "bind" -> {
                String src = m.source();
                if (src == null || !src.startsWith("/")) throw new IllegalArgumentException("bind mount source '" + src + "' must be an absolute host path");
                if (!java.nio.file.Files.exists(java.nio.file.Path.of(src))) {
                    throw new IllegalArgumentException("bind mount source " + src + " does not exist on this node; create it first");
                }
                options.add("rbind");
                options.add("rprivate");
                options.add(Boolean.TRUE.equals(m.readOnly()) ? "ro" : "rw");
                return mount(dest, "bind", src, options);
            }
            case "tmpfs" -> {
                options.addAll(List.of("nosuid", "nodev"));
                if (Boolean.TRUE.equals(m.readOnly())) options.add("ro");
                if (m.options() != null && !m.options().isBlank()) {
                    for (String o : m.options().split(",")) {
                        if (!o.matches("(size|mode|uid|gid|nr_inodes)=[0-9a-zA-Z%]+|noexec|exec|ro|rw")) {
                            throw new IllegalArgumentException("tmpfs option '" + o + "' is not allowed: use size=, mode=, uid=, gid=, nr_inodes=, noexec, exec, ro or rw");
                        }
                        options.add(o);
                    }
                }
                return mount(dest, "tmpfs", "tmpfs", options);
            }
            default -> throw new IllegalArgumentException("unknown mount type '" + type + "': use bind or tmpfs");
        }
    }

    /**
     * A process's working directory, normalised: absolute, and never in /proc, where a path such as
     * /proc/self/fd/N can name a descriptor of the runtime's that leads out of the container (CVE-2024-21626's class).
     */
    public static String workingDir(String cwd) {
        if (!cwd.startsWith("/")) throw new IllegalArgumentException("working directory '" + cwd + "' must be an absolute path");
        String normal = java.nio.file.Path.of(cwd).normalize().toString();
        if (normal.equals("/proc") || normal.startsWith("/proc/")) {
            throw new IllegalArgumentException("working directory '" + cwd + "' is in /proc, which is refused (a /proc path can lead out of the "
                    + "container, CVE-2024-21626); pick a directory of the image's own, with -w or the image's WORKDIR");
        }
        return normal;
    }

    /** The image's exposed ports and the request's (published ones too), as "80/tcp" strings. */
    static List<String> exposedPorts(ImageConfig image, List<String> requested) {
        java.util.TreeSet<String> ports = new java.util.TreeSet<>();
        if (image.execution().exposedPorts() != null) ports.addAll(image.execution().exposedPorts().keySet());
        if (requested != null) {
            for (String p : requested) {
                if (p.contains(":")) {
                    String[] f = publication(p);
                    ports.add(f[2] + "/" + f[3]);
                    continue;
                }
                if (!p.matches("[0-9]{1,5}(/(tcp|udp|sctp))?")) throw new IllegalArgumentException("port '" + p + "' must look like 80 or 53/udp");
                ports.add(p.contains("/") ? p : p + "/tcp");
            }
        }
        return new ArrayList<>(ports);
    }

    /** The request's published ports ([hostIP:]hostPort:containerPort[/proto]) as "hostIP:hostPort:containerPort/proto". */
    static List<String> publishedPorts(List<String> requested) {
        List<String> out = new ArrayList<>();
        if (requested == null) return out;
        for (String p : requested) {
            if (p.contains(":")) out.add(String.join(":", java.util.Arrays.copyOf(publication(p), 3)) + "/" + publication(p)[3]);
        }
        return out;
    }

    /** hostIP (maybe empty), hostPort, containerPort, protocol. */
    private static String[] publication(String p) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?:([0-9.]+):)?([0-9]{1,5}):([0-9]{1,5})(?:/(tcp|udp|sctp))?").matcher(p);
        if (!m.matches() || Integer.parseInt(m.group(2)) < 1 || Integer.parseInt(m.group(2)) > 65535 || Integer.parseInt(m.group(3)) < 1 || Integer.parseInt(m.group(3)) > 65535) {
            throw new IllegalArgumentException("published port '" + p + "' must look like 8080:80, 8080:80/udp or 127.0.0.1:8080:80 (ports 1-65535)");
        }
        return new String[] {m.group(1) == null ? "" : m.group(1), m.group(2), m.group(3), m.group(4) == null ? "tcp" : m.group(4)};
    }

    /**
     * Where a spec Berth builds mounts over the root filesystem itself (the mounts under /dev and /sys land in the
     * tmpfs and sysfs mounted there): the image's snapshot gets these from a shared layer when it lacks them.
     */
    public static final List<dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint> ROOTFS_MOUNT_POINTS = List.of(
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/proc", true),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/dev", true),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/sys", true),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/run", true),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/etc/hosts", false),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/etc/hostname", false),
            new dev.berth.agent.snapshot.OverlaySnapshotter.MountPoint("/etc/resolv.conf", false));

    static List<Map<String, Object>> defaultMounts() {
        return List.of(
                mount("/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev")),
                mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")),
                mount("/dev/pts", "devpts", "devpts", List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
                mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
                mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")),
                mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")),
                // the container's own cgroup (a cgroup namespace), read-only: its limits are visible inside
                mount("/sys/fs/cgroup", "cgroup", "cgroup", List.of("nosuid", "noexec", "nodev", "relatime", "ro")),
                mount("/run", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")));
    }

    private static Map<String, Object> mount(String dest, String type, String source, List<String> options) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("destination", dest);
        m.put("type", type);
        m.put("source", source);
        m.put("options", options);
        return m;
    }

    /** Image env first, request env overriding by name; PATH defaulted as Docker does. */
    static List<String> mergeEnv(List<String> image, List<String> request) {
        Map<String, String> env = new LinkedHashMap<>();
        for (List<String> src : java.util.Arrays.asList(image, request)) {
            if (src == null) continue;
            for (String kv : src) {
                int eq = kv.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("environment entry '" + kv + "' must be NAME=value");
                env.put(kv.substring(0, eq), kv);
            }
        }
        env.putIfAbsent("PATH", DEFAULT_PATH);
        return new ArrayList<>(env.values());
    }

    private static List<String> nullToEmpty(List<String> l) {
        return l == null ? List.of() : l;
    }

    private static String shortId(String id) {
        return id.length() > 12 && id.matches("[0-9a-f]+") ? id.substring(0, 12) : id;
    }

    private static String hostHostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }
}
