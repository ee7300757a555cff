package dev.berth.agent.runtime;

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
            "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi");
    static final List<String> READONLY = List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
    public static final String USER_ANNOTATION = "dev.berth.user";
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
        if (!cwd.startsWith("/")) throw new IllegalArgumentException("working directory '" + cwd + "' must be an absolute path");
        String user = req.user() != null ? req.user() : exec.user();

        Map<String, Object> process = new LinkedHashMap<>();
        process.put("terminal", false);
        process.put("user", Map.of("uid", 0, "gid", 0));
        process.put("args", args);
        process.put("env", env);
        process.put("cwd", cwd);
        process.put("capabilities", Map.of("bounding", DEFAULT_CAPS, "effective", DEFAULT_CAPS, "permitted", DEFAULT_CAPS));
        process.put("rlimits", List.of(Map.of("type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024)));
        process.put("noNewPrivileges", true);

        List<Map<String, Object>> namespaces = new ArrayList<>();
        for (String ns : List.of("pid", "ipc", "uts", "mount")) namespaces.add(Map.of("type", ns));
        String network = req.network() == null ? "none" : req.network();
        switch (network) {
            case "none" -> namespaces.add(Map.of("type", "network"));
            case "host" -> { }
            default -> throw new IllegalArgumentException("unknown network mode '" + network + "': use none or host");
        }

        Map<String, Object> linux = new LinkedHashMap<>();
        linux.put("namespaces", namespaces);
        linux.put("maskedPaths", MASKED);
        linux.put("readonlyPaths", READONLY);
        linux.put("resources", Map.of("devices", List.of(Map.of("allow", false, "access", "rwm"))));
        linux.put("cgroupsPath", "/berth/" + namespace + "/" + id);

        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("ociVersion", "1.0.2");
        spec.put("process", process);
        spec.put("root", Map.of("path", "rootfs", "readonly", Boolean.TRUE.equals(req.readOnlyRootfs())));
        spec.put("hostname", req.hostname() != null ? req.hostname() : (network.equals("host") ? hostHostname() : shortId(id)));
        spec.put("mounts", defaultMounts());
        spec.put("linux", linux);
        if (user != null && !user.isEmpty()) spec.put("annotations", Map.of(USER_ANNOTATION, user));
        return spec;
    }

    static List<Map<String, Object>> defaultMounts() {
        return List.of(
                mount("/proc", "proc", "proc", List.of("nosuid", "noexec", "nodev")),
                mount("/dev", "tmpfs", "tmpfs", List.of("nosuid", "strictatime", "mode=755", "size=65536k")),
                mount("/dev/pts", "devpts", "devpts", List.of("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
                mount("/dev/shm", "tmpfs", "shm", List.of("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
                mount("/dev/mqueue", "mqueue", "mqueue", List.of("nosuid", "noexec", "nodev")),
                mount("/sys", "sysfs", "sysfs", List.of("nosuid", "noexec", "nodev", "ro")),
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
