package dev.berth.oci.auth;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.oci.OciException;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * How to reach registries: per upstream registry, an ordered list of mirrors to pull from first, the
 * registries on a private network that speak plain HTTP, and CA files for registries whose certificates the system
 * trust store does not know. It is read from a JSON file:
 * <pre>{@code
 * {
 *   "mirrors": {
 *     "docker.io": [
 *       "http://127.0.0.1:5001",
 *       "mirror.internal.example:5000",
 *       { "url": "https://pull-through.example.com", "resolve": false }
 *     ],
 *     "registry.example.com": ["https://cache.example.com/registry-example"]
 *   },
 *   "insecure": ["registry.lan:5000", "10.0.0.7:5000"],
 *   "ca": { "registry.internal.example:5000": "/etc/berth/certs/internal-ca.pem" }
 * }
 * }</pre>
 * <ul>
 * <li>{@code mirrors}: keys are upstream registries as image references name them, normalised with
 * {@link RegistryHostName#canonical} (so {@code index.docker.io} and {@code https://index.docker.io/v1/} mean
 * {@code docker.io}). Each mirror is a URL {@code scheme://host[:port][/path-prefix]} (requests go to
 * {@code <url>/v2/<repository>/...}), or a bare {@code host[:port]}, which is spoken to over plain HTTP when it
 * is listed in {@code insecure} or is on loopback without a CA file, and over HTTPS otherwise. The object form takes {@code url} and
 * {@code resolve} (default true): with {@code "resolve": false} a mirror serves content by digest only and tags
 * are always looked up upstream, as containerd's {@code capabilities = ["pull"]}.</li>
 * <li>Mirrors are tried in order for pulls (tag lookups, manifests by digest, blobs); a mirror that cannot be
 * reached, answers 5xx or 404, refuses access or serves content that does not verify is skipped for the next one,
 * and finally the upstream registry itself is used. Pushes always go upstream.</li>
 * <li>{@code insecure}: {@code host[:port]} of registries (upstreams or mirrors) spoken to over plain HTTP instead
 * of HTTPS. Loopback registries are plain HTTP without being listed (unless they have a CA file); everything
 * else is HTTPS with the JDK's system trust store.</li>
 * <li>{@code ca}: per {@code host[:port]} (an upstream or a mirror), a PEM file of one or more CA certificates that
 * its TLS certificate may chain to, trusted in addition to the system trust store, never instead of it. A relative
 * path is taken from the hosts file's folder. A registry with a CA file is spoken to over HTTPS even on loopback;
 * listing it in {@code insecure} as well is an error. A CA file that is missing or not PEM is an error at load.</li>
 * <li>Credentials for a mirror are looked up under the mirror's own {@code host[:port]}: the upstream's
 * credentials are never sent to a mirror.</li>
 * </ul>
 * Unknown top-level fields are an error, so that a misspelt key does not silently disable mirrors.
 */
public final class RegistryHosts {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final RegistryHosts NONE = new RegistryHosts(Map.of(), Set.of(), Map.of(), "no hosts file");

    private final Map<String, List<Mirror>> mirrors;
    private final Set<String> insecure;
    private final Map<String, CaFile> cas;
    private final String source;

    private RegistryHosts(Map<String, List<Mirror>> mirrors, Set<String> insecure, Map<String, CaFile> cas, String source) {
        Map<String, List<Mirror>> copy = new LinkedHashMap<>();
        mirrors.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        this.mirrors = Collections.unmodifiableMap(copy);
        this.insecure = Collections.unmodifiableSet(new TreeSet<>(insecure));
        this.cas = Map.copyOf(cas);
        this.source = source;
    }

    /** A registry's own CA file and the certificates read from it when the hosts were loaded. */
    public record CaFile(Path file, List<X509Certificate> certificates) {
        public CaFile {
            certificates = List.copyOf(certificates);
        }
    }

    /**
     * One mirror: its base URL (scheme, authority and an optional path prefix, no trailing slash) and whether
     * tags may be resolved on it.
     */
    public record Mirror(URI url, boolean resolve) {
        /** {@code host[:port]}, lowercased: the key its credentials are looked up under. */
        public String host() {
            return url.getRawAuthority().toLowerCase(Locale.ROOT);
        }

        @Override
        public String toString() {
            return url + (resolve ? "" : " (by digest only)");
        }
    }

    /** No mirrors and no insecure registries. */
    public static RegistryHosts none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Hosts configuration put together in code. */
    public static final class Builder {
        private final Map<String, List<Object[]>> raw = new LinkedHashMap<>();
        private final Set<String> insecure = new TreeSet<>();
        private final Map<String, CaFile> cas = new LinkedHashMap<>();

        /** Adds a mirror (URL or bare {@code host[:port]}) after those already given for {@code upstream}. */
        public Builder mirror(String upstream, String endpoint) {
            return mirror(upstream, endpoint, true);
        }

        public Builder mirror(String upstream, String endpoint, boolean resolve) {
            raw.computeIfAbsent(RegistryHostName.canonical(upstream), k -> new ArrayList<>()).add(new Object[] {endpoint, resolve});
            return this;
        }

        /** Declares {@code host[:port]} plain HTTP. */
        public Builder insecure(String hostPort) {
            insecure.add(insecureKey(hostPort));
            return this;
        }

        /** Trusts the CA certificates of a PEM file for {@code host[:port]}, besides the system trust store; read now. */
        public Builder ca(String hostPort, Path pemFile) {
            String host = hostKey(hostPort, "registry of a CA file");
            cas.put(host, new CaFile(pemFile, RegistryTrust.readCaFile(pemFile, "for " + host)));
            return this;
        }

        public RegistryHosts build() {
            checkNotBoth(insecure, cas, "hosts given in code");
            Map<String, List<Mirror>> m = new LinkedHashMap<>();
            raw.forEach((up, list) -> {
                List<Mirror> out = new ArrayList<>();
                for (Object[] e : list) out.add(parseMirror((String) e[0], (Boolean) e[1], insecure, cas, "mirror of " + up));
                m.put(up, out);
            });
            return new RegistryHosts(m, insecure, cas, "hosts given in code");
        }
    }

    /** Reads the hosts file; a missing, unreadable or malformed file is an {@link OciException}. */
    public static RegistryHosts load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new OciException("registry hosts file " + file + " does not exist: create it or do not configure it");
        } catch (IOException e) {
            throw new OciException("cannot read registry hosts file " + file + ": " + e.getClass().getSimpleName(), e);
        }
        return parse(bytes, file.toString(), file.toAbsolutePath().getParent());
    }

    /** As {@link #load}, but a file that does not exist means no mirrors and no insecure registries. */
    public static RegistryHosts loadIfPresent(Path file) {
        return Files.exists(file) ? load(file) : none();
    }

    /** Parses a hosts file's content; relative CA file paths are taken from the working directory. */
    public static RegistryHosts parse(byte[] json, String source) {
        return parse(json, source, null);
    }

    private static RegistryHosts parse(byte[] json, String source, Path folder) {
        String where = "registry hosts file " + source;
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new OciException(where + " is not valid JSON" + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
        } catch (IOException e) {
            throw new OciException("cannot read " + where, e);
        }
        if (root == null || root.isMissingNode() || root.isNull()) return new RegistryHosts(Map.of(), Set.of(), Map.of(), source);
        if (!root.isObject()) throw new OciException(where + " must hold a JSON object with \"mirrors\", \"insecure\" and/or \"ca\"");
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!f.equals("mirrors") && !f.equals("insecure") && !f.equals("ca")) {
                throw new OciException(where + " has an unknown field \"" + f + "\": the fields are \"mirrors\", \"insecure\" and \"ca\"");
            }
        }
        Set<String> insecure = new TreeSet<>();
        JsonNode ins = root.path("insecure");
        if (!ins.isMissingNode() && !ins.isNull()) {
            if (!ins.isArray()) throw new OciException(where + ": \"insecure\" must be a list of host[:port]");
            for (JsonNode h : ins) {
                if (!h.isTextual() || h.asText().isBlank()) throw new OciException(where + ": \"insecure\" must be a list of host[:port]");
                insecure.add(insecureKey(h.asText()));
            }
        }
        Map<String, CaFile> cas = new LinkedHashMap<>();
        JsonNode ca = root.path("ca");
        if (!ca.isMissingNode() && !ca.isNull()) {
            if (!ca.isObject()) throw new OciException(where + ": \"ca\" must be an object of host[:port] to a PEM file");
            for (Iterator<Map.Entry<String, JsonNode>> it = ca.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String host;
                try {
                    host = hostKey(e.getKey(), "registry of a CA file");
                } catch (OciException bad) {
                    throw new OciException(where + ": " + bad.getMessage());
                }
                if (!e.getValue().isTextual() || e.getValue().asText().isBlank()) {
                    throw new OciException(where + ": the CA of \"" + e.getKey() + "\" must be the path of a PEM file");
                }
                Path file = Path.of(e.getValue().asText().trim());
                if (!file.isAbsolute() && folder != null) file = folder.resolve(file);
                try {
                    cas.put(host, new CaFile(file, RegistryTrust.readCaFile(file, "for " + host)));
                } catch (OciException bad) {
                    throw new OciException(where + ": " + bad.getMessage(), bad.getCause());
                }
            }
        }
        checkNotBoth(insecure, cas, where);
        Map<String, List<Mirror>> mirrors = new LinkedHashMap<>();
        JsonNode ms = root.path("mirrors");
        if (!ms.isMissingNode() && !ms.isNull()) {
            if (!ms.isObject()) throw new OciException(where + ": \"mirrors\" must be an object keyed by upstream registry");
            for (Iterator<Map.Entry<String, JsonNode>> it = ms.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String upstream;
                try {
                    upstream = RegistryHostName.canonical(e.getKey());
                } catch (IllegalArgumentException bad) {
                    throw new OciException(where + ": a \"mirrors\" key names no registry");
                }
                String ctx = where + ", mirrors of \"" + e.getKey() + "\"";
                JsonNode list = e.getValue();
                if (!list.isArray()) throw new OciException(ctx + ": must be a list of mirror URLs");
                List<Mirror> out = mirrors.computeIfAbsent(upstream, k -> new ArrayList<>());
                for (JsonNode m : list) {
                    if (m.isTextual()) {
                        out.add(parseMirror(m.asText(), true, insecure, cas, ctx));
                    } else if (m.isObject()) {
                        for (Iterator<String> f = m.fieldNames(); f.hasNext(); ) {
                            String name = f.next();
                            if (!name.equals("url") && !name.equals("resolve")) {
                                throw new OciException(ctx + ": unknown mirror field \"" + name + "\" (the fields are \"url\" and \"resolve\")");
                            }
                        }
                        if (!m.path("url").isTextual()) throw new OciException(ctx + ": a mirror object needs a \"url\" string");
                        JsonNode r = m.path("resolve");
                        if (!r.isMissingNode() && !r.isBoolean()) throw new OciException(ctx + ": \"resolve\" must be true or false");
                        out.add(parseMirror(m.path("url").asText(), r.isMissingNode() || r.asBoolean(), insecure, cas, ctx));
                    } else {
                        throw new OciException(ctx + ": each mirror is a URL string or an object with \"url\"");
                    }
                }
            }
        }
        return new RegistryHosts(mirrors, insecure, cas, source);
    }

    private static String insecureKey(String hostPort) {
        return hostKey(hostPort, "insecure registry");
    }

    private static String hostKey(String hostPort, String what) {
        String s = hostPort.trim();
        if (s.contains("://") || s.contains("/")) {
            throw new OciException(what + " '" + hostPort + "' must be written host[:port], without scheme or path");
        }
        if (s.isEmpty()) throw new OciException(what + " is empty");
        return RegistryHostName.canonical(s);
    }

    /** Plain HTTP and a CA to check certificates against contradict each other: refuse rather than pick one. */
    private static void checkNotBoth(Set<String> insecure, Map<String, CaFile> cas, String where) {
        for (String host : cas.keySet()) {
            if (insecure.contains(host)) {
                throw new OciException(where + ": " + host + " is both \"insecure\" (plain HTTP) and given a CA file (HTTPS): keep one");
            }
        }
    }

    private static Mirror parseMirror(String text, boolean resolve, Set<String> insecure, Map<String, CaFile> cas, String ctx) {
        String s = text.trim();
        if (s.isEmpty()) throw new OciException(ctx + ": a mirror URL is empty");
        if (!s.contains("://")) {
            int slash = s.indexOf('/');
            String hostPort = (slash < 0 ? s : s.substring(0, slash)).toLowerCase(Locale.ROOT);
            boolean plain = !cas.containsKey(RegistryHostName.canonical(hostPort))
                    && (RegistryHostName.isLoopback(hostPort) || insecure.contains(hostPort));
            s = (plain ? "http://" : "https://") + s;
        }
        URI u;
        try {
            u = new URI(s);
        } catch (URISyntaxException e) {
            throw new OciException(ctx + ": '" + text + "' is not a URL");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new OciException(ctx + ": mirror '" + text + "' must be an http:// or https:// URL");
        }
        if (u.getHost() == null) throw new OciException(ctx + ": mirror '" + text + "' has no host");
        if (u.getRawUserInfo() != null) {
            // do not echo it: the user-info part may hold a password
            throw new OciException(ctx + ": a mirror URL must not carry user:password; put credentials in the credentials file under its host");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null) {
            throw new OciException(ctx + ": mirror '" + text + "' must not have a query or fragment");
        }
        String path = u.getRawPath() == null ? "" : u.getRawPath();
        while (path.endsWith("/")) path = path.substring(0, path.length() - 1);
        return new Mirror(URI.create(scheme + "://" + u.getRawAuthority().toLowerCase(Locale.ROOT) + path), resolve);
    }

    /** The mirrors of an upstream registry (however it is spelt), in the order to try them; empty if none. */
    public List<Mirror> mirrors(String registry) {
        return mirrors.getOrDefault(RegistryHostName.canonical(registry), List.of());
    }

    /** Whether {@code host[:port]} was declared plain HTTP. */
    public boolean isInsecure(String hostPort) {
        return insecure.contains(RegistryHostName.canonical(hostPort));
    }

    /** Whether {@code host[:port]} is spoken to over plain HTTP: on loopback (unless given a CA file), or declared insecure. */
    public boolean plainHttp(String hostPort) {
        return isInsecure(hostPort) || RegistryHostName.isLoopback(hostPort) && ca(hostPort).isEmpty();
    }

    /** The CA file configured for {@code host[:port]} (however it is spelt), trusted besides the system trust store. */
    public Optional<CaFile> ca(String hostPort) {
        return Optional.ofNullable(cas.get(RegistryHostName.canonical(hostPort)));
    }

    /** The registries that have a CA file. */
    public Set<String> caRegistries() {
        return Collections.unmodifiableSet(new TreeSet<>(cas.keySet()));
    }

    /** The upstream registries that have mirrors. */
    public Set<String> mirroredRegistries() {
        return Collections.unmodifiableSet(new TreeSet<>(mirrors.keySet()));
    }

    public Set<String> insecureRegistries() {
        return insecure;
    }

    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "RegistryHosts[source=" + source + ", mirrors=" + mirrors + ", insecure=" + insecure + ", ca=" + caRegistries() + "]";
    }
}
