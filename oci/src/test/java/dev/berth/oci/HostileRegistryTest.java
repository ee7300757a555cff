package dev.berth.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The registry is the edge Berth does not own: a JDK HttpServer on loopback serves hostile answers and
 * RegistryClient must refuse each one with a clear OciException, promptly.
 */
class HostileRegistryTest {

    private static final Duration PROMPTLY = Duration.ofSeconds(20);
    private static final String CONFIG_DIGEST = "sha256:" + "a".repeat(64);
    private static final String LAYER_DIGEST = "sha256:" + "b".repeat(64);

    /** A handler for one path: answers the exchange. */
    private interface Answer {
        void answer(HttpExchange ex) throws IOException;
    }

    private HttpServer server;
    private ExecutorService pool;
    private final Map<String, Answer> routes = new ConcurrentHashMap<>();
    /** Every request seen: "METHOD path?query" plus the Authorization header it carried, if any. */
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private final RegistryClient client = new RegistryClient();
    private Reference ref;

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "hostile-registry");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", ex -> {
            try (ex) {
                String target = ex.getRequestURI().getRawPath() + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery());
                requests.add(ex.getRequestMethod() + " " + target);
                String auth = ex.getRequestHeaders().getFirst("Authorization");
                if (auth != null) authorizations.add(ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + " " + auth);
                Answer a = routes.get(ex.getRequestURI().getRawPath());
                if (a == null) {
                    send(ex, 404, "application/json", "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}");
                } else {
                    a.answer(ex);
                }
            } catch (IOException clientWentAway) {
                // the client may close early (e.g. an oversized manifest): nothing to do
            }
        });
        server.start();
        ref = Reference.parse("127.0.0.1:" + server.getAddress().getPort() + "/hostile/app:v1");
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
        pool.shutdownNow();
    }

    private static void send(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
        if (contentType != null) ex.getResponseHeaders().set("Content-Type", contentType);
        ex.getResponseHeaders().set("Docker-Distribution-Api-Version", "registry/2.0");
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static void send(HttpExchange ex, int status, String contentType, String body) throws IOException {
        send(ex, status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void serve(String path, String contentType, byte[] body) {
        routes.put(path, ex -> send(ex, 200, contentType, body));
    }

    private String manifestPath(String reference) {
        return "/v2/hostile/app/manifests/" + reference;
    }

    private static String validManifest() {
        return """
                {"schemaVersion":2,"mediaType":"%s",\
                "config":{"mediaType":"%s","digest":"%s","size":2},\
                "layers":[{"mediaType":"%s","digest":"%s","size":3}]}"""
                .formatted(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, CONFIG_DIGEST, MediaTypes.OCI_LAYER_GZIP, LAYER_DIGEST);
    }

    private static String index(String manifestDigest, long size, String platformJson) {
        return """
                {"schemaVersion":2,"mediaType":"%s","manifests":[\
                {"mediaType":"%s","digest":"%s","size":%d,"platform":%s}]}"""
                .formatted(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, manifestDigest, size, platformJson);
    }

    private static String hostPlatformJson() {
        Platform h = Platform.host();
        return "{\"architecture\":\"" + h.architecture() + "\",\"os\":\"" + h.os() + "\""
                + (h.variant() == null ? "" : ",\"variant\":\"" + h.variant() + "\"") + "}";
    }

    /** Resolves {@code r}, expects an OciException promptly, and returns it. */
    private OciException refused(Reference r, String what) {
        return assertTimeoutPreemptively(PROMPTLY,
                () -> assertThrows(OciException.class, () -> client.resolve(r, Platform.host()), "client must refuse " + what),
                "client must not hang on " + what);
    }

    private static void assertMessage(OciException e, String what, String... fragments) {
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), what + ": message should contain \"" + f + "\" but was: " + e.getMessage());
        }
    }

    @Test
    void sanityValidManifestIsAccepted() {
        serve(manifestPath("v1"), MediaTypes.OCI_MANIFEST, bytes(validManifest()));
        RegistryClient.ResolvedImage img = client.resolve(ref, Platform.host());
        assertEquals(LAYER_DIGEST, img.manifest().layers().get(0).digest().toString(),
                "the hostile-server harness itself serves a manifest the client accepts (so the refusals below are real)");
    }

    @Test
    void a_manifestThatIsNotJsonIsRefused() {
        serve(manifestPath("v1"), MediaTypes.OCI_MANIFEST, bytes("<html><body>502 Bad Gateway</body></html>"));
        OciException e = refused(ref, "a manifest that is not JSON (manifest Content-Type)");
        assertMessage(e, "non-JSON manifest", "malformed", ref.toString());

        serve(manifestPath("v1"), "application/json", bytes("this is not json {"));
        OciException e2 = refused(ref, "a manifest that is not JSON (generic Content-Type)");
        assertMessage(e2, "non-JSON manifest served as application/json", "malformed manifest", "not JSON");

        serve(manifestPath("v1"), "application/json", bytes("{\"schemaVersion\":2}"));
        OciException e3 = refused(ref, "JSON that is neither a manifest nor an index, served as application/json");
        assertMessage(e3, "shapeless JSON served as application/json", "malformed manifest", "neither a manifest nor an index");
    }

    @Test
    void a_manifestThatIsJsonNullIsRefused() {
        serve(manifestPath("v1"), MediaTypes.OCI_MANIFEST, bytes("null"));
        OciException e = refused(ref, "a manifest whose body is the JSON literal null");
        assertMessage(e, "JSON null manifest", "malformed", ref.toString());

        serve(manifestPath("v1"), MediaTypes.OCI_INDEX, bytes("null"));
        OciException e2 = refused(ref, "an index whose body is the JSON literal null");
        assertMessage(e2, "JSON null index", "malformed", ref.toString());
    }

    @Test
    void b_oversizedManifestIsRefusedWithoutReadingItAll() {
        long total = RegistryClient.MAX_MANIFEST_BYTES + (64L << 20);
        AtomicLong written = new AtomicLong();
        routes.put(manifestPath("v1"), ex -> {
            ex.getResponseHeaders().set("Content-Type", MediaTypes.OCI_MANIFEST);
            ex.sendResponseHeaders(200, total);
            byte[] chunk = new byte[1 << 16];
            java.util.Arrays.fill(chunk, (byte) ' ');
            chunk[0] = '{';
            try (OutputStream out = ex.getResponseBody()) {
                for (long sent = 0; sent < total; sent += chunk.length) {
                    out.write(chunk, 0, (int) Math.min(chunk.length, total - sent));
                    written.addAndGet(chunk.length);
                    chunk[0] = ' ';
                }
            }
        });
        OciException e = refused(ref, "a manifest larger than MAX_MANIFEST_BYTES");
        assertMessage(e, "oversized manifest", "larger than " + RegistryClient.MAX_MANIFEST_BYTES + " bytes");
        assertTrue(written.get() < total, "the client stopped reading an oversized manifest early (server wrote "
                + written.get() + " of " + total + " bytes)");
    }

    @Test
    void c_manifestByDigestWhoseBytesDoNotMatchIsRefused() {
        byte[] real = bytes(validManifest());
        Digest asked = Digest.sha256(bytes(validManifest().replace("\"size\":3", "\"size\":4")));
        serve(manifestPath(asked.toString()), MediaTypes.OCI_MANIFEST, real);
        Reference byDigest = Reference.parse(ref.registry() + "/hostile/app@" + asked);
        OciException e = refused(byDigest, "a manifest whose bytes do not hash to the digest asked for");
        assertMessage(e, "digest mismatch", "does not match", asked.toString().substring(0, 20), Digest.sha256(real).toString());
    }

    @Test
    void d_indexWithoutHostPlatformListsWhatItHas() {
        byte[] manifest = bytes(validManifest());
        Digest md = Digest.sha256(manifest);
        String idx = """
                {"schemaVersion":2,"mediaType":"%s","manifests":[\
                {"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"s390x","os":"linux"}},\
                {"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"riscv64","os":"linux"}},\
                {"mediaType":"%s","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"windows"}}]}"""
                .formatted(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, md, manifest.length,
                        MediaTypes.OCI_MANIFEST, md, manifest.length, MediaTypes.OCI_MANIFEST, md, manifest.length);
        serve(manifestPath("v1"), MediaTypes.OCI_INDEX, bytes(idx));
        serve(manifestPath(md.toString()), MediaTypes.OCI_MANIFEST, manifest);
        OciException e = refused(ref, "an index with no entry for the host platform");
        assertMessage(e, "index without host platform", "no manifest for platform " + Platform.host(),
                "linux/s390x", "linux/riscv64", "windows/amd64");
        assertTrue(requests.stream().noneMatch(r -> r.contains("/manifests/sha256:")),
                "no platform manifest is fetched when none fits; requests were " + requests);
    }

    @Test
    void e_indexEntryWhoseManifestDoesNotMatchItsDigestIsRefused() {
        byte[] claimed = bytes(validManifest());
        Digest md = Digest.sha256(claimed);
        byte[] served = bytes(validManifest().replace(LAYER_DIGEST, "sha256:" + "c".repeat(64)));
        serve(manifestPath("v1"), MediaTypes.OCI_INDEX, bytes(index(md.toString(), claimed.length, hostPlatformJson())));
        serve(manifestPath(md.toString()), MediaTypes.OCI_MANIFEST, served);
        OciException e = refused(ref, "an index entry whose manifest bytes do not match the entry's digest");
        assertMessage(e, "index entry digest mismatch", "does not match", Digest.sha256(served).toString());
    }

    @Test
    void f_manifestWithoutConfigOrLayersIsRefused() {
        for (String body : List.of(
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\"}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"layers\":[]}",
                "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":\""
                        + MediaTypes.OCI_CONFIG + "\",\"digest\":\"" + CONFIG_DIGEST + "\",\"size\":2}}")) {
            serve(manifestPath("v1"), MediaTypes.OCI_MANIFEST, bytes(body));
            OciException e = refused(ref, "manifest " + body);
            assertMessage(e, "manifest lacking config or layers: " + body, "lacks a config or layers");
        }
    }

    @Test
    void g_unsupportedManifestMediaTypeIsRefused() {
        String schema1 = "{\"schemaVersion\":1,\"name\":\"hostile/app\",\"tag\":\"v1\",\"architecture\":\"amd64\","
                + "\"fsLayers\":[{\"blobSum\":\"" + LAYER_DIGEST + "\"}],\"history\":[{\"v1Compatibility\":\"{}\"}]}";
        serve(manifestPath("v1"), "application/vnd.docker.distribution.manifest.v1+prettyjws", bytes(schema1));
        OciException e = refused(ref, "a Docker schema 1 manifest");
        assertMessage(e, "schema 1 manifest", "unsupported manifest media type",
                "application/vnd.docker.distribution.manifest.v1+prettyjws");

        String artifact = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.example.artifact.v1+json\",\"blobs\":[]}";
        serve(manifestPath("v1"), "application/vnd.example.artifact.v1+json", bytes(artifact));
        OciException e2 = refused(ref, "an unknown artifact media type");
        assertMessage(e2, "unknown media type", "unsupported manifest media type 'application/vnd.example.artifact.v1+json'");
    }

    @Test
    void h_bearerChallengeIsAnsweredWithAToken() {
        String token = "tok-" + System.nanoTime();
        String realm = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        routes.put("/token", ex -> send(ex, 200, "application/json", "{\"token\":\"" + token + "\",\"expires_in\":300}"));
        byte[] manifest = bytes(validManifest());
        routes.put(manifestPath("v1"), ex -> {
            if (("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                send(ex, 200, MediaTypes.OCI_MANIFEST, manifest);
            } else {
                ex.getResponseHeaders().set("WWW-Authenticate",
                        "Bearer realm=\"" + realm + "\",service=\"hostile.test\",scope=\"repository:hostile/app:pull\"");
                send(ex, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
            }
        });
        RegistryClient.ResolvedImage img = assertTimeoutPreemptively(PROMPTLY, () -> client.resolve(ref, Platform.host()),
                "a bearer-protected manifest resolves without hanging");
        assertEquals(Digest.sha256(manifest), img.target().digest(), "after the token dance the real manifest is resolved");
        assertTrue(authorizations.contains("GET " + manifestPath("v1") + " Bearer " + token),
                "the manifest request was retried with 'Authorization: Bearer <token>'; seen: " + authorizations);
        String tokenRequest = requests.stream().filter(r -> r.startsWith("GET /token")).findFirst().orElse(null);
        assertNotNull(tokenRequest, "the client asked the challenge's realm for a token; requests were " + requests);
        assertTrue(tokenRequest.contains("service=hostile.test"), "the token request carries the challenge's service: " + tokenRequest);
        assertTrue(tokenRequest.contains("scope=repository%3Ahostile%2Fapp%3Apull"), "the token request carries the challenge's scope: " + tokenRequest);
    }

    @Test
    void h_tokenIsReusedForLaterRequests() {
        String token = "tok-reuse";
        String realm = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        routes.put("/token", ex -> send(ex, 200, "application/json", "{\"access_token\":\"" + token + "\"}"));
        byte[] manifest = bytes(validManifest());
        routes.put(manifestPath("v1"), ex -> {
            if (("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                send(ex, 200, MediaTypes.OCI_MANIFEST, manifest);
            } else {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"hostile.test\"");
                send(ex, 401, "application/json", "{}");
            }
        });
        client.resolve(ref, Platform.host());
        client.resolve(ref, Platform.host());
        assertEquals(1, requests.stream().filter(r -> r.startsWith("GET /token")).count(),
                "an access_token is fetched once and reused; requests were " + requests);
        String tokenRequest = requests.stream().filter(r -> r.startsWith("GET /token")).findFirst().orElseThrow();
        assertTrue(tokenRequest.contains("scope=repository:hostile/app:pull"),
                "without a scope in the challenge the client asks for pull on the repository: " + tokenRequest);
    }

    @Test
    void i_unauthorizedWithoutUsableChallengeRequiresAuthentication() {
        for (String challenge : new String[] {null, "Basic realm=\"hostile\""}) {
            routes.put(manifestPath("v1"), ex -> {
                if (challenge != null) ex.getResponseHeaders().set("WWW-Authenticate", challenge);
                send(ex, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
            });
            OciException e = refused(ref, "401 with challenge " + challenge);
            assertMessage(e, "401 with challenge " + challenge, "requires authentication", "hostile/app");
        }
    }

    @Test
    void tokenRealmRefusingIsReportedAsPrivate() {
        String realm = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        routes.put("/token", ex -> send(ex, 403, "application/json", "{}"));
        routes.put(manifestPath("v1"), ex -> {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
            send(ex, 401, "application/json", "{}");
        });
        OciException e = refused(ref, "a realm that refuses an anonymous token");
        assertMessage(e, "token refused", "refused an anonymous token", "HTTP 403");
    }

    @Test
    void tokenResponseThatIsNotJsonIsRefusedWithoutQuotingIt() {
        String realm = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        routes.put("/token", ex -> send(ex, 200, "text/html", "<html>session=SECRET-COOKIE-42</html>"));
        routes.put(manifestPath("v1"), ex -> {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"hostile.test\"");
            send(ex, 401, "application/json", "{}");
        });
        OciException e = refused(ref, "a token service answering HTML");
        assertMessage(e, "non-JSON token response", "token service answered with something that is not JSON");
        assertTrue(!e.getMessage().contains("SECRET-COOKIE-42"), "the body is not quoted: " + e.getMessage());
    }

    @Test
    void tokenStillRefusedAfterAFreshOneSaysAuthenticationIsRequired() {
        String realm = "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
        routes.put("/token", ex -> send(ex, 200, "application/json", "{\"token\":\"useless\"}"));
        routes.put(manifestPath("v1"), ex -> {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
            send(ex, 401, "application/json", "{}");
        });
        OciException e = refused(ref, "a registry that refuses its own anonymous token");
        assertMessage(e, "token not accepted", "requires authentication for hostile/app");
        assertEquals(1, requests.stream().filter(r -> r.startsWith("GET /token")).count(), "one token, one retry, no loop: " + requests);
    }

    @Test
    void serverErrorIsReportedWithStatus() {
        routes.put(manifestPath("v1"), ex -> send(ex, 503, "text/plain", "down for maintenance"));
        OciException e = refused(ref, "HTTP 503");
        assertMessage(e, "HTTP 503", "answered HTTP 503", "manifest");
    }
}
