package dev.berth.oci.auth;

import java.util.Locale;
import java.util.Set;

/**
 * The one spelling of a registry's name used to key credentials and mirrors.
 * People and tools write Docker Hub many ways ({@code https://index.docker.io/v1/}, {@code registry-1.docker.io},
 * {@code docker.io}); all of them mean {@code docker.io}. For other registries the key is the lowercased
 * {@code host[:port]}, with any scheme and path dropped.
 */
public final class RegistryHostName {

    public static final String DOCKER_HUB = "docker.io";
    private static final Set<String> DOCKER_HUB_ALIASES = Set.of(
            "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com");

    private RegistryHostName() {}

    /** {@code https://index.docker.io/v1/} → {@code docker.io}; {@code HTTPS://Registry.Example.com:5000/v2/} → {@code registry.example.com:5000}. */
    public static String canonical(String name) {
        if (name == null) throw new IllegalArgumentException("a registry name is required");
        String s = name.trim();
        int scheme = s.indexOf("://");
        if (scheme >= 0) s = s.substring(scheme + 3);
        int slash = s.indexOf('/');
        if (slash >= 0) s = s.substring(0, slash);
        s = s.toLowerCase(Locale.ROOT);
        if (s.endsWith(":443") && DOCKER_HUB_ALIASES.contains(s.substring(0, s.length() - 4))) s = s.substring(0, s.length() - 4);
        if (s.isEmpty()) throw new IllegalArgumentException("'" + name + "' names no registry host");
        return DOCKER_HUB_ALIASES.contains(s) ? DOCKER_HUB : s;
    }

    /** Whether {@code host[:port]} (or {@code [v6]:port}) is on loopback, where plain HTTP is the default. */
    public static boolean isLoopback(String hostPort) {
        String host = hostPort;
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            host = end < 0 ? host.substring(1) : host.substring(1, end);
        } else if (host.indexOf(':') >= 0 && host.indexOf(':') == host.lastIndexOf(':')) {
            host = host.substring(0, host.indexOf(':'));
        }
        host = host.toLowerCase(Locale.ROOT);
        return host.equals("localhost") || host.matches("127(\\.\\d{1,3}){3}") || host.equals("::1");
    }
}
