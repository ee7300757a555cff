package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.OciException;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Docker's token authentication with credentials: a JDK HttpServer plays the registry's edge and token service
 * (as Docker Hub's auth.docker.io) in front of a real docker-registry that holds the content.
 */
class BearerAuthTest {

    private static final String USER = "bob";
    private static final String PASSWORD = "T0ken-Server-Secret";
    private static final String REFRESH = "refresh-9f8e7d6c5b4a";

    @TempDir
    static Path work;

    private static AuthRegistry backend;
    private static ImageBuilder.Pushed pushed;
    private RegistryEdge edge;
    private Reference ref;

    @BeforeAll
    static void startBackend() throws IOException {
        backend = AuthRegistry.open();
        pushed = Images.small("bearer").push(new RegistryClient(), Reference.parse(backend.address() + "/private/app:v1"), work.resolve("seed"));
    }

    @AfterAll
    static void stopBackend() throws IOException {
        if (backend != null) backend.close();
    }

    @BeforeEach
    void startEdge() throws IOException {
        edge = RegistryEdge.forwardingTo(backend.url());
        ref = Reference.parse(edge.address() + "/private/app:v1");
    }

    @AfterEach
    void stopEdge() {
        edge.close();
    }

    private RegistryClient clientWith(String user, String password) {
        return new RegistryClient(RegistryHosts.none(), RegistryCredentials.builder().basic(edge.address(), user, password).build());
    }

    private long challenges() {
        return edge.registryRequests().stream().filter(s -> s.status() == 401).count();
    }

    private static void assertNoSecret(Throwable e, String... secrets) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (String s : secrets) assertFalse(String.valueOf(t.getMessage()).contains(s), "secret in message: " + t.getMessage());
        }
    }

    @Test
    void pullWithCredentialsGetsATokenWithBasicAuth() {
        edge.bearer(USER, PASSWORD, null, 300, "token");
        RegistryClient.ResolvedImage img = Images.pullAll(clientWith(USER, PASSWORD), ref);
        assertEquals(pushed.topDigest(), img.target().digest());
        List<RegistryEdge.Seen> tokens = edge.tokenRequests();
        assertEquals(1, tokens.size(), "one token serves the manifest and every blob: " + edge.seen);
        RegistryEdge.Seen t = tokens.get(0);
        assertEquals("GET", t.method());
        assertEquals("Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)), t.authorization(),
                "the token was asked for with the user's password as HTTP Basic");
        assertTrue(t.target().contains("service=berth-edge"), t.target());
        assertTrue(t.target().contains("scope=repository%3Aprivate%2Fapp%3Apull"), "pull scope for the repository: " + t.target());
        assertEquals(200, t.status());
        assertEquals(1, challenges(), "only the very first request was challenged: " + edge.seen);
    }

    @Test
    void pushAsksForPullAndPushOnTheRepository() throws IOException {
        edge.bearer(USER, PASSWORD, null, 300, "access_token");
        Reference target = Reference.parse(edge.address() + "/private/pushed:v2");
        ImageBuilder.Pushed p = Images.small("pushed").push(clientWith(USER, PASSWORD), target, work.resolve("push"));
        assertTrue(edge.tokenRequests().stream().anyMatch(t -> java.net.URLDecoder.decode(t.target(), StandardCharsets.UTF_8)
                        .contains("scope=repository:private/pushed:pull,push")),
                "a push asks for repository:private/pushed:pull,push: " + edge.tokenRequests());
        assertTrue(edge.seen.stream().anyMatch(s -> s.method().equals("PUT") && s.target().contains("/manifests/v2") && s.status() == 201),
                "the manifest PUT went through the edge: " + edge.seen);
        RegistryClient.ResolvedImage back = Images.pullAll(new RegistryClient(), Reference.parse(backend.address() + "/private/pushed:v2"));
        assertEquals(p.topDigest(), back.target().digest(), "the registry behind the edge holds what was pushed");
    }

    @Test
    void wrongPasswordIsRefusedClearlyWithoutEchoingIt() {
        edge.bearer(USER, PASSWORD, null, 300, "token");
        String wrong = "Not-The-Password-42";
        OciException e = assertThrows(OciException.class, () -> clientWith(USER, wrong).resolve(ref, Platform.host()));
        assertTrue(e.getMessage().contains("registry " + edge.address() + " refused the credentials for private/app (HTTP 401)"), e.getMessage());
        assertTrue(e.getMessage().contains("check the credentials file"), e.getMessage());
        assertNoSecret(e, wrong, PASSWORD, Base64.getEncoder().encodeToString((USER + ":" + wrong).getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void privateRepositoryWithoutCredentialsAsksForThem() {
        edge.bearer(USER, PASSWORD, null, 300, "token");
        OciException e = assertThrows(OciException.class, () -> new RegistryClient().resolve(ref, Platform.host()));
        assertTrue(e.getMessage().contains("refused an anonymous token for private/app (HTTP 401)"), e.getMessage());
        assertTrue(e.getMessage().contains("configure credentials"), e.getMessage());
        assertNull(edge.tokenRequests().get(0).authorization(), "no credentials were sent: there are none");
    }

    @Test
    void anonymousTokensStillWork() {
        edge.bearer(null, null, null, 300, "token");
        assertEquals(pushed.topDigest(), Images.pullAll(new RegistryClient(), ref).target().digest());
        assertNull(edge.tokenRequests().get(0).authorization());
    }

    @Test
    void anExpiredTokenIsReplacedBeforeItIsSent() throws InterruptedException {
        edge.bearer(USER, PASSWORD, null, 2, "token");
        RegistryClient client = clientWith(USER, PASSWORD);
        Images.pullAll(client, ref);
        String first = edge.registryRequests().stream().filter(s -> s.status() == 200).findFirst().orElseThrow().authorization();
        Thread.sleep(2500);
        int before = edge.seen.size();
        Images.pullAll(client, ref);
        List<RegistryEdge.Seen> second = edge.seen.subList(before, edge.seen.size());
        assertTrue(second.get(0).isToken(), "after expires_in the client fetched a new token before asking the registry: " + second);
        assertTrue(second.stream().noneMatch(s -> s.status() == 401), "the expired token was never sent: " + second);
        RegistryEdge.Seen next = second.stream().filter(s -> !s.isToken()).findFirst().orElseThrow();
        assertNotEquals(first, next.authorization(), "a new token was used");
        assertTrue(edge.tokenRequests().size() >= 2);
    }

    @Test
    void aTokenTheRegistryNoLongerTakesIsReplacedOnTheNext401() {
        edge.bearer(USER, PASSWORD, null, 300, "token");
        RegistryClient client = clientWith(USER, PASSWORD);
        Images.pullAll(client, ref);
        edge.revokeTokens();
        RegistryClient.ResolvedImage img = Images.pullAll(client, ref);
        assertEquals(pushed.topDigest(), img.target().digest(), "the pull goes on with a fresh token");
        assertEquals(2, edge.tokenRequests().size(), "one token before, one after the revocation: " + edge.seen);
        assertEquals(2, challenges(), "one challenge each time: " + edge.seen);
    }

    @Test
    void identityTokenIsExchangedAsAnOAuth2RefreshToken() throws IOException {
        edge.bearer(USER, "unused-password", REFRESH, 300, "access_token");
        Path file = work.resolve("identity.json");
        Files.writeString(file, "{\"auths\":{\"" + edge.address() + "\":{\"auth\":\""
                + Base64.getEncoder().encodeToString((USER + ":").getBytes(StandardCharsets.UTF_8)) + "\",\"identitytoken\":\"" + REFRESH + "\"}}}");
        RegistryClient client = new RegistryClient(RegistryHosts.none(), RegistryCredentials.load(file));
        assertEquals(pushed.topDigest(), Images.pullAll(client, ref).target().digest());
        RegistryEdge.Seen t = edge.tokenRequests().get(0);
        assertEquals("POST", t.method(), "the refresh token is POSTed, not put in a URL");
        assertEquals("/token", t.target(), "nothing secret in the query string");
        assertNull(t.authorization());

        edge.revokeTokens();
        RegistryClient wrong = new RegistryClient(RegistryHosts.none(),
                RegistryCredentials.builder().identityToken(edge.address(), USER, "refresh-revoked").build());
        OciException e = assertThrows(OciException.class, () -> wrong.resolve(ref, Platform.host()));
        assertTrue(e.getMessage().contains("refused the credentials for private/app"), e.getMessage());
        assertNoSecret(e, "refresh-revoked", REFRESH);
    }

    @Test
    void credentialsAreNotSentToAPlainHttpTokenServiceElsewhere() {
        // an HTTPS-less token realm on a non-loopback host: the client must refuse before sending anything
        edge.override = ex -> {
            if (!ex.getRequestURI().getPath().startsWith("/v2/")) return false;
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"http://auth.example.invalid/token\",service=\"x\"");
            edge.respond(ex, 401, "application/json", "{}".getBytes(StandardCharsets.UTF_8));
            return true;
        };
        OciException e = assertThrows(OciException.class, () -> clientWith(USER, PASSWORD).resolve(ref, Platform.host()));
        assertTrue(e.getMessage().contains("plain-HTTP token service"), e.getMessage());
        assertNoSecret(e, PASSWORD);
    }
}
