package dev.berth.agent.runtime;

import dev.berth.agent.network.Networks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The container's /etc/hosts, /etc/hostname and /etc/resolv.conf, written into its task directory and bind-mounted
 * over the image's, as Docker does; only for specs Berth built (a client's own spec is used as given).
 */
final class EtcFiles {

    private EtcFiles() {}

    @SuppressWarnings("unchecked")
    static void add(Map<String, Object> spec, Path taskDir) throws IOException {
        if (!(spec.get("annotations") instanceof Map<?, ?> a) || !a.containsKey(SpecBuilder.ETC_ANNOTATION)) return;
        List<Map<String, Object>> mounts = new ArrayList<>((List<Map<String, Object>>) spec.getOrDefault("mounts", List.of()));
        String hostname = String.valueOf(spec.getOrDefault("hostname", "localhost"));
        boolean hostNet = !(spec.get("linux") instanceof Map<?, ?> linux && linux.get("namespaces") instanceof List<?> nss
                && nss.stream().anyMatch(n -> n instanceof Map<?, ?> m && "network".equals(m.get("type"))));
        String hosts = hostNet ? readOr(Path.of("/etc/hosts"), "") : "";
        if (hosts.isEmpty()) {
            // on the bridge the container's own address names it, as Docker writes it
            Object address = a.get(Networks.ADDRESS_ANNOTATION);
            hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    + (address != null ? address : "127.0.1.1") + "\t" + hostname + "\n";
        }
        write(taskDir.resolve("hosts"), hosts);
        write(taskDir.resolve("hostname"), hostname + "\n");
        write(taskDir.resolve("resolv.conf"), readOr(Path.of("/etc/resolv.conf"), ""));
        for (String f : List.of("hosts", "hostname", "resolv.conf")) {
            String dest = "/etc/" + f;
            if (mounts.stream().anyMatch(m -> dest.equals(m.get("destination")))) continue; // the user's own wins
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("destination", dest);
            m.put("type", "bind");
            m.put("source", taskDir.resolve(f).toString());
            m.put("options", List.of("rbind", "rprivate", "rw"));
            mounts.add(m);
        }
        spec.put("mounts", mounts);
    }

    private static void write(Path p, String s) throws IOException {
        Files.writeString(p, s);
    }

    private static String readOr(Path p, String dflt) {
        try {
            return Files.readString(p);
        } catch (NoSuchFileException e) {
            return dflt;
        } catch (IOException e) {
            return dflt;
        }
    }
}
