package dev.berth.oci.auth;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.oci.OciException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Registry credentials by registry host, read from a file in Docker's {@code config.json} format:
 * <pre>{@code
 * {
 *   "auths": {
 *     "registry.example.com":         { "auth": "<base64 of user:password>" },
 *     "https://index.docker.io/v1/":  { "username": "alice", "password": "s3cret" },
 *     "ghcr.io":                      { "username": "bob", "identitytoken": "<OAuth2 refresh token>" }
 *   }
 * }
 * }</pre>
 * Keys are normalised with {@link RegistryHostName#canonical}: scheme and path are dropped and every spelling of
 * Docker Hub is {@code docker.io}. When an entry has {@code auth}, it wins over {@code username}/{@code password}
 * (as in Docker). An {@code identitytoken} is used, with the token flow only, as an OAuth2 refresh token.
 * Docker credential helpers ({@code credsStore}, {@code credHelpers}) are not run: hosts whose secrets live only
 * in a helper are remembered so that an error can say so. Other fields ({@code email}, {@code HttpHeaders}, …) are ignored.
 * <p>
 * Secrets never appear in {@link #toString()}, in {@link Credential#toString()} or in any exception message;
 * parse errors name the file, the registry key and the line, not the content.
 */
public final class RegistryCredentials {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final RegistryCredentials NONE = new RegistryCredentials(Map.of(), Set.of(), "no credentials file");

    private final Map<String, Credential> byHost;
    private final Set<String> inHelper;
    private final String source;

    private RegistryCredentials(Map<String, Credential> byHost, Set<String> inHelper, String source) {
        this.byHost = Collections.unmodifiableMap(new LinkedHashMap<>(byHost));
        this.inHelper = Collections.unmodifiableSet(new TreeSet<>(inHelper));
        this.source = source;
    }

    /** One registry's secret: a username with a password, or a username with an identity (refresh) token. */
    public static final class Credential {
        private final String username;
        private final String password;
        private final String identityToken;

        private Credential(String username, String password, String identityToken) {
            this.username = username;
            this.password = password;
            this.identityToken = identityToken;
        }

        public static Credential basic(String username, String password) {
            if (username == null || username.isEmpty()) throw new IllegalArgumentException("a username is required");
            if (password == null) throw new IllegalArgumentException("a password is required");
            return new Credential(username, password, null);
        }

        public static Credential identityToken(String username, String identityToken) {
            if (identityToken == null || identityToken.isEmpty()) throw new IllegalArgumentException("an identity token is required");
            return new Credential(username == null ? "" : username, null, identityToken);
        }

        public String username() {
            return username;
        }

        /** The password, or null when this credential is an identity token. */
        public String password() {
            return password;
        }

        /** The OAuth2 refresh token Docker stores as {@code identitytoken}, or null. */
        public String identityToken() {
            return identityToken;
        }

        public boolean hasPassword() {
            return password != null;
        }

        public boolean hasIdentityToken() {
            return identityToken != null;
        }

        /** The value of an {@code Authorization: Basic} header; only for credentials with a password. */
        public String basicAuthorization() {
            if (password == null) throw new IllegalStateException("this credential has no password");
            return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "Credential[username=" + username + ", " + (identityToken != null ? "identitytoken" : "password") + "=<redacted>]";
        }
    }

    /** No credentials at all: every registry is spoken to anonymously. */
    public static RegistryCredentials none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Credentials put together in code, e.g. for tests or from another secret store. */
    public static final class Builder {
        private final Map<String, Credential> byHost = new LinkedHashMap<>();

        public Builder basic(String registry, String username, String password) {
            byHost.put(RegistryHostName.canonical(registry), Credential.basic(username, password));
            return this;
        }

        public Builder identityToken(String registry, String username, String identityToken) {
            byHost.put(RegistryHostName.canonical(registry), Credential.identityToken(username, identityToken));
            return this;
        }

        public RegistryCredentials build() {
            return new RegistryCredentials(byHost, Set.of(), "credentials given in code");
        }
    }

    /** Reads a Docker-format credentials file; a missing, unreadable or malformed file is an {@link OciException}. */
    public static RegistryCredentials load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new OciException("registry credentials file " + file + " does not exist: create it (Docker's config.json format) or do not configure it");
        } catch (IOException e) {
            throw new OciException("cannot read registry credentials file " + file + ": " + e.getClass().getSimpleName(), e);
        }
        return parse(bytes, file.toString());
    }

    /** As {@link #load}, but a file that does not exist means no credentials. */
    public static RegistryCredentials loadIfPresent(Path file) {
        return Files.exists(file) ? load(file) : none();
    }

    /** Parses Docker's config.json format; {@code source} names it in errors (e.g. the file's path). */
    public static RegistryCredentials parse(byte[] json, String source) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            // Jackson's own message quotes the offending text, which may be a secret: name only the place.
            JsonLocation at = e.getLocation();
            throw new OciException("registry credentials file " + source + " is not valid JSON"
                    + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
        } catch (IOException e) {
            throw new OciException("cannot read registry credentials from " + source, e);
        }
        if (root == null || root.isMissingNode() || root.isNull()) return new RegistryCredentials(Map.of(), Set.of(), source);
        if (!root.isObject()) throw new OciException("registry credentials file " + source + " must hold a JSON object with an \"auths\" object");
        Map<String, Credential> byHost = new LinkedHashMap<>();
        Set<String> canonicalKeyed = new TreeSet<>();
        Set<String> inHelper = new TreeSet<>();
        boolean hasStore = root.path("credsStore").isTextual() && !root.path("credsStore").asText().isEmpty();
        JsonNode helpers = root.path("credHelpers");
        if (helpers.isObject()) {
            for (Iterator<String> it = helpers.fieldNames(); it.hasNext(); ) inHelper.add(canonicalKey(it.next(), source));
        }
        JsonNode auths = root.path("auths");
        if (!auths.isMissingNode() && !auths.isNull() && !auths.isObject()) {
            throw new OciException("registry credentials file " + source + ": \"auths\" must be an object keyed by registry host");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            String host = canonicalKey(key, source);
            Credential c = entry(host, key, e.getValue(), source);
            if (c == null) {
                if (hasStore) inHelper.add(host);
                continue;
            }
            boolean canonical = key.trim().equalsIgnoreCase(host);
            // "docker.io" written as such wins over "https://index.docker.io/v1/"; otherwise the first entry wins.
            if (!byHost.containsKey(host) || (canonical && !canonicalKeyed.contains(host))) {
                byHost.put(host, c);
                if (canonical) canonicalKeyed.add(host);
            }
        }
        inHelper.removeAll(byHost.keySet());
        return new RegistryCredentials(byHost, inHelper, source);
    }

    private static String canonicalKey(String key, String source) {
        try {
            return RegistryHostName.canonical(key);
        } catch (IllegalArgumentException e) {
            throw new OciException("registry credentials file " + source + " has an entry with an empty registry name");
        }
    }

    private static Credential entry(String host, String key, JsonNode node, String source) {
        String where = "registry credentials file " + source + ", entry \"" + key + "\"";
        if (!node.isObject()) throw new OciException(where + ": must be an object with \"auth\" or \"username\"/\"password\"");
        String auth = text(node, "auth", where);
        String username = text(node, "username", where);
        String password = text(node, "password", where);
        String identityToken = text(node, "identitytoken", where);
        if (auth != null && !auth.isBlank()) {
            String decoded;
            try {
                decoded = new String(Base64.getMimeDecoder().decode(auth.trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new OciException(where + ": \"auth\" is not base64 of user:password");
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) throw new OciException(where + ": \"auth\" is not base64 of user:password (it has no ':')");
            username = decoded.substring(0, colon);
            password = decoded.substring(colon + 1);
        }
        if (identityToken != null && !identityToken.isEmpty()) {
            return Credential.identityToken(username, identityToken);
        }
        if (username == null && password == null) return null;
        if (username == null || username.isEmpty()) throw new OciException(where + ": has a password but no username");
        if (password == null) throw new OciException(where + ": has a username but no password");
        return Credential.basic(username, password);
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw new OciException(where + ": \"" + field + "\" must be a string");
        return v.asText();
    }

    /** The credential for a registry host, however it is spelt (see {@link RegistryHostName#canonical}). */
    public Optional<Credential> find(String registry) {
        if (registry == null || registry.isBlank()) return Optional.empty();
        return Optional.ofNullable(byHost.get(RegistryHostName.canonical(registry)));
    }

    /** Whether the file names this host only for a Docker credential helper, which Berth does not run. */
    public boolean keptInHelper(String registry) {
        return registry != null && !registry.isBlank() && inHelper.contains(RegistryHostName.canonical(registry));
    }

    /** The canonical hosts that have credentials (host names are not secret). */
    public Set<String> hosts() {
        return Collections.unmodifiableSet(new TreeSet<>(byHost.keySet()));
    }

    public boolean isEmpty() {
        return byHost.isEmpty();
    }

    /** Where these credentials came from, e.g. the file's path. */
    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "RegistryCredentials[source=" + source + ", hosts=" + hosts() + "]";
    }
}
