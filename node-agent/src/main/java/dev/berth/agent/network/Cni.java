package dev.berth.agent.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.oci.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs CNI plugins as the CNI spec asks of a runtime: the plugin is an executable named by the configuration's
 * {@code type}, found on CNI_PATH; the verb, container id, netns path and interface name go in the environment,
 * the network configuration on stdin; a result (or an error object with code, msg and details) comes on stdout.
 */
final class Cni {

    static final String VERSION = "1.0.0";
    private static final long TIMEOUT_SECONDS = 60;

    private final List<Path> path;

    Cni(String cniPath) {
        List<Path> dirs = new ArrayList<>();
        for (String d : cniPath.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
        this.path = List.copyOf(dirs);
    }

    String path() {
        return String.join(":", path.stream().map(Path::toString).toList());
    }

    Optional<Path> find(String type) {
        return path.stream().map(d -> d.resolve(type)).filter(Files::isExecutable).findFirst();
    }

    /**
     * Runs {@code command} (ADD, DEL or CHECK) of the plugin {@code conf.type}; the result for ADD (null
     * otherwise). {@code netns} may name a namespace that is gone: DEL must still release what it can.
     */
    JsonNode exec(String command, ObjectNode conf, String containerId, String netns, String ifname) throws NetworkException {
        String type = conf.path("type").asText();
        Path plugin = find(type).orElseThrow(() -> new NetworkException("CNI plugin '" + type + "' is not in " + path()
                + ": install Debian's containernetworking-plugins (apt-get install containernetworking-plugins) or set berth.agent.cni-path"));
        ProcessBuilder pb = new ProcessBuilder(plugin.toString());
        Map<String, String> env = pb.environment();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", containerId);
        env.put("CNI_NETNS", netns);
        env.put("CNI_IFNAME", ifname);
        env.put("CNI_PATH", path());
        // the plugins run iptables and ip from PATH: an agent started with a short PATH must not hide them
        env.put("PATH", env.getOrDefault("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin");
        String what = type + " " + command + " for " + containerId;
        String stdout;
        String stderr;
        int code;
        try {
            Process p = pb.start();
            try (OutputStream in = p.getOutputStream()) {
                in.write(Json.write(conf));
            }
            // results and error objects are a few hundred bytes: they fit in the pipes until the plugin exits
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new NetworkException("CNI plugin " + what + " did not finish within " + TIMEOUT_SECONDS + " s and was killed");
            }
            try (var o = p.getInputStream(); var e = p.getErrorStream()) {
                stdout = new String(o.readAllBytes(), StandardCharsets.UTF_8).trim();
                stderr = new String(e.readAllBytes(), StandardCharsets.UTF_8).trim();
            }
            code = p.exitValue();
        } catch (IOException e) {
            throw new NetworkException("cannot run CNI plugin " + plugin + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NetworkException("interrupted while CNI plugin " + what + " ran");
        }
        if (code != 0) throw new NetworkException("CNI plugin " + what + " failed: " + describeError(stdout, stderr));
        if (!command.equals("ADD")) return null;
        try {
            return Json.MAPPER.readTree(stdout);
        } catch (IOException e) {
            throw new NetworkException("CNI plugin " + what + " printed no result JSON (said '" + stdout + "')");
        }
    }

    /** The spec's error object as one line: "msg: details (CNI error code N)"; whatever was printed otherwise. */
    static String describeError(String stdout, String stderr) {
        try {
            JsonNode err = Json.MAPPER.readTree(stdout);
            if (err != null && err.has("msg")) {
                String details = err.path("details").asText("");
                return err.path("msg").asText() + (details.isEmpty() ? "" : ": " + details) + " (CNI error code " + err.path("code").asInt() + ")";
            }
        } catch (IOException notJson) {
            // fall through to the raw text
        }
        String said = (stdout + " " + stderr).trim();
        return said.isEmpty() ? "it exited with an error and said nothing" : said;
    }
}
