package dev.berth.oci.auth;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A JDK HttpServer on loopback in front of a real registry: it records every request, can be told to answer some
 * itself (to play a failing mirror), and can play the registry's edge of Docker's token authentication: it demands
 * {@code Bearer} tokens scoped per repository and action, and serves them at {@code /token} (HTTP Basic, or an
 * OAuth2 refresh token by POST), with an {@code expires_in} it enforces.
 */
final class RegistryEdge implements AutoCloseable {

    /** One request as the edge saw it, with the status it got. */
    record Seen(String method, String target, String authorization, int status) {
        boolean isToken() {
            return target.startsWith("/token");
        }

        boolean isBlob() {
            return target.contains("/blobs/");
        }

        boolean isManifest() {
            return target.contains("/manifests/");
        }
    }

    /** Answers a request itself (returning true) or lets it through (false). */
    interface Interceptor {
        boolean answer(HttpExchange ex) throws IOException;
    }

    private record Issued(Set<String> grants, long expiresAtNanos) {}

    private final HttpServer server;
    private final ExecutorService pool;
    private final String upstream;
    private final HttpClient forwarder = HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final Map<String, Issued> tokens = new ConcurrentHashMap<>();
    private final AtomicInteger counter = new AtomicInteger();
    volatile Interceptor override;

    // token authentication; off until bearer() is called
    private volatile boolean bearer;
    private volatile String user;
    private volatile String password;
    private volatile String refreshToken;
    private volatile long expiresIn = 300;
    private volatile String tokenField = "token";

    private RegistryEdge(String upstream) throws IOException {
        this.upstream = upstream;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "registry-edge");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", ex -> {
            try (ex) {
                handle(ex);
            } catch (IOException | RuntimeException e) {
                // the client went away, or the upstream did: the test's assertions tell
            }
        });
        server.start();
    }

    /** An edge that forwards to the registry at {@code upstreamUrl} (e.g. http://127.0.0.1:5000), or answers 404 if null. */
    static RegistryEdge forwardingTo(String upstreamUrl) throws IOException {
        return new RegistryEdge(upstreamUrl);
    }

    /**
     * Demands bearer tokens. {@code user}/{@code password} null: the token service gives tokens to anyone;
     * otherwise only to that user (HTTP Basic), or to the holder of {@code refreshToken} when it is set.
     */
    RegistryEdge bearer(String user, String password, String refreshToken, long expiresIn, String tokenField) {
        this.user = user;
        this.password = password;
        this.refreshToken = refreshToken;
        this.expiresIn = expiresIn;
        this.tokenField = tokenField;
        this.bearer = true;
        return this;
    }

    /** Forgets every token issued, as a registry whose signing key rotated. */
    void revokeTokens() {
        tokens.clear();
    }

    String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    String url() {
        return "http://" + address();
    }

    List<Seen> tokenRequests() {
        return seen.stream().filter(Seen::isToken).toList();
    }

    List<Seen> registryRequests() {
        return seen.stream().filter(s -> !s.isToken()).toList();
    }

    private void handle(HttpExchange ex) throws IOException {
        Interceptor o = override;
        if (o != null && o.answer(ex)) return;
        String path = ex.getRequestURI().getRawPath();
        if (bearer && path.equals("/token")) {
            token(ex);
            return;
        }
        if (bearer && !authorized(ex)) {
            String repo = repository(path);
            String actions = needsPush(ex) ? "pull,push" : "pull";
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + url() + "/token\",service=\"berth-edge\""
                    + (repo == null ? "" : ",scope=\"repository:" + repo + ":" + actions + "\""));
            respond(ex, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        forward(ex);
    }

    private static boolean needsPush(HttpExchange ex) {
        return !ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD");
    }

    /** The repository a /v2/NAME/(manifests|blobs|tags)/... path names. */
    private static String repository(String path) {
        if (!path.startsWith("/v2/")) return null;
        String rest = path.substring(4);
        for (String marker : new String[] {"/manifests/", "/blobs/", "/tags/"}) {
            int i = rest.lastIndexOf(marker);
            if (i > 0) return rest.substring(0, i);
        }
        return null;
    }

    private boolean authorized(HttpExchange ex) {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth == null || !auth.startsWith("Bearer ")) return false;
        Issued t = tokens.get(auth.substring(7));
        if (t == null || System.nanoTime() - t.expiresAtNanos() >= 0) return false;
        String repo = repository(ex.getRequestURI().getRawPath());
        if (repo == null) return true;
        return t.grants().contains(repo + ":pull") && (!needsPush(ex) || t.grants().contains(repo + ":push"));
    }

    private void token(HttpExchange ex) throws IOException {
        List<String> scopes = new ArrayList<>();
        boolean allowed;
        if (ex.getRequestMethod().equals("POST")) {
            Map<String, List<String>> form = params(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            for (String s : form.getOrDefault("scope", List.of())) scopes.addAll(List.of(s.split(" ")));
            allowed = refreshToken != null && form.getOrDefault("grant_type", List.of()).contains("refresh_token")
                    && form.getOrDefault("refresh_token", List.of()).contains(refreshToken);
        } else {
            scopes.addAll(params(ex.getRequestURI().getRawQuery()).getOrDefault("scope", List.of()));
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (user == null) {
                allowed = true;
            } else {
                String expected = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
                allowed = expected.equals(auth);
            }
        }
        if (!allowed) {
            respond(ex, 401, "application/json", "{\"details\":\"incorrect username or password\"}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        Set<String> grants = ConcurrentHashMap.newKeySet();
        for (String s : scopes) {
            String[] parts = s.split(":");
            if (parts.length == 3 && parts[0].equals("repository")) {
                for (String a : parts[2].split(",")) grants.add(parts[1] + ":" + a);
            }
        }
        String t = "tok-" + counter.incrementAndGet();
        tokens.put(t, new Issued(grants, System.nanoTime() + Duration.ofSeconds(expiresIn).toNanos()));
        respond(ex, 200, "application/json", ("{\"" + tokenField + "\":\"" + t + "\",\"expires_in\":" + expiresIn + "}").getBytes(StandardCharsets.UTF_8));
    }

    private static Map<String, List<String>> params(String query) {
        Map<String, List<String>> out = new ConcurrentHashMap<>();
        if (query == null || query.isEmpty()) return out;
        for (String kv : query.split("&")) {
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            out.computeIfAbsent(k, x -> new CopyOnWriteArrayList<>()).add(v);
        }
        return out;
    }

    private void forward(HttpExchange ex) throws IOException {
        if (upstream == null) {
            respond(ex, 404, "application/json", "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        URI target = URI.create(upstream + ex.getRequestURI().getRawPath()
                + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery()));
        byte[] body = ex.getRequestBody().readAllBytes();
        HttpRequest.Builder rb = HttpRequest.newBuilder(target).timeout(Duration.ofMinutes(1))
                .method(ex.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        ex.getRequestHeaders().forEach((name, values) -> {
            String n = name.toLowerCase();
            if (Set.of("host", "connection", "content-length", "expect", "upgrade", "transfer-encoding").contains(n)) return;
            if (bearer && n.equals("authorization")) return; // the edge did the authentication
            for (String v : values) rb.header(name, v);
        });
        HttpResponse<byte[]> resp;
        try {
            resp = forwarder.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        resp.headers().map().forEach((name, values) -> {
            String n = name.toLowerCase();
            if (Set.of("content-length", "transfer-encoding", "connection", "date", ":status").contains(n)) return;
            for (String v : values) {
                if (n.equals("location") && v.startsWith(upstream)) v = url() + v.substring(upstream.length());
                ex.getResponseHeaders().add(name, v);
            }
        });
        respond(ex, resp.statusCode(), null, resp.body());
    }

    /** Sends a response and records the request with its status. */
    void respond(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
        String target = ex.getRequestURI().getRawPath() + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery());
        seen.add(new Seen(ex.getRequestMethod(), target, ex.getRequestHeaders().getFirst("Authorization"), status));
        if (contentType != null) ex.getResponseHeaders().set("Content-Type", contentType);
        boolean noBody = ex.getRequestMethod().equals("HEAD") || body.length == 0 || status == 204 || status == 304;
        ex.sendResponseHeaders(status, noBody ? -1 : body.length);
        if (!noBody) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
