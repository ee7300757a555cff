package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTP Basic auth against a real docker-registry with {@code auth: htpasswd:}. */
class BasicAuthRegistryTest {

    private static final String USER = "alice";
    private static final String PASSWORD = "Corr3ct-Horse-Battery";
    private static final String WRONG = "Wr0ng-Staple-Guess";

    @TempDir
    static Path work;

    private static AuthRegistry registry;
    private static Reference ref;
    private static ImageBuilder.Pushed pushed;

    @BeforeAll
    static void startAndPush() throws IOException {
        registry = AuthRegistry.htpasswd(Map.of(USER, PASSWORD));
        ref = Reference.parse(registry.address() + "/private/app:v1");
        RegistryClient pusher = new RegistryClient(RegistryHosts.none(), RegistryCredentials.builder().basic(registry.address(), USER, PASSWORD).build());
        pushed = Images.small("basic").push(pusher, ref, work.resolve("push"));
    }

    @AfterAll
    static void stop() throws IOException {
        if (registry != null) registry.close();
    }

    private static RegistryClient clientWith(String password) {
        return new RegistryClient(RegistryHosts.none(), RegistryCredentials.builder().basic(registry.address(), USER, password).build());
    }

    private static void assertNoSecret(Throwable e, String... secrets) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (String s : secrets) {
                assertFalse(String.valueOf(t.getMessage()).contains(s), "the message must not carry a secret: " + t.getMessage());
            }
        }
    }

    @Test
    void pullWithTheRightCredentials() {
        RegistryClient.ResolvedImage img = Images.pullAll(clientWith(PASSWORD), ref);
        assertEquals(pushed.topDigest(), img.target().digest(), "the tag resolves to what was pushed with the same credentials");
        assertEquals(pushed.layerDigests(), img.manifest().layers().stream().map(d -> d.digest()).toList());
    }

    @Test
    void pullWithCredentialsFromADockerConfigFile() throws IOException {
        String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
        Path file = work.resolve("config.json");
        // keyed the way `docker login http://host:port` writes it: with the scheme
        Files.writeString(file, "{\"auths\":{\"http://" + registry.address() + "\":{\"auth\":\"" + auth + "\"}}}");
        RegistryClient client = new RegistryClient(RegistryHosts.none(), RegistryCredentials.load(file));
        assertEquals(pushed.topDigest(), Images.pullAll(client, ref).target().digest());
    }

    @Test
    void wrongPasswordIsRefusedClearlyWithoutEchoingIt() {
        OciException e = assertThrows(OciException.class, () -> clientWith(WRONG).resolve(ref, Platform.host()));
        String m = e.getMessage();
        assertTrue(m.contains("registry " + registry.address() + " refused the credentials for private/app (HTTP 401)"), m);
        assertTrue(m.contains("check the credentials file"), m);
        assertNoSecret(e, WRONG, PASSWORD, Base64.getEncoder().encodeToString((USER + ":" + WRONG).getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void wrongPasswordIsRefusedForPushesToo() throws IOException {
        Reference other = Reference.parse(registry.address() + "/private/other:v1");
        OciException e = assertThrows(OciException.class, () -> Images.small("wrong").push(clientWith(WRONG), other, work.resolve("wrong")));
        assertTrue(e.getMessage().contains("refused the credentials for private/other"), e.getMessage());
        assertNoSecret(e, WRONG);
    }

    @Test
    void missingCredentialsSayAuthenticationIsRequired() {
        for (RegistryClient client : List.of(new RegistryClient(),
                new RegistryClient(RegistryHosts.none(), RegistryCredentials.builder().basic("registry.example.com", USER, PASSWORD).build()))) {
            OciException e = assertThrows(OciException.class, () -> client.resolve(ref, Platform.host()));
            assertTrue(e.getMessage().contains("requires authentication for private/app"), e.getMessage());
            assertTrue(e.getMessage().contains("configure credentials"), e.getMessage());
            assertNoSecret(e, PASSWORD);
        }
    }

    @Test
    void credentialsGoUpFrontOnceTheRegistryAskedForThem() throws IOException {
        try (RegistryEdge edge = RegistryEdge.forwardingTo(registry.url())) {
            Reference viaEdge = Reference.parse(edge.address() + "/private/app:v1");
            RegistryClient client = new RegistryClient(RegistryHosts.none(),
                    RegistryCredentials.builder().basic(edge.address(), USER, PASSWORD).build());
            Images.pullAll(client, viaEdge);
            Images.pullAll(client, viaEdge);
            List<RegistryEdge.Seen> seen = edge.seen;
            assertEquals(1, seen.stream().filter(s -> s.status() == 401).count(), "one challenge, then Basic up front: " + seen);
            assertEquals(401, seen.get(0).status(), "the first request was anonymous and challenged: " + seen);
            assertTrue(seen.stream().skip(1).allMatch(s -> s.authorization() != null && s.authorization().startsWith("Basic ")),
                    "every later request carried Basic credentials: " + seen);
        }
    }
}
