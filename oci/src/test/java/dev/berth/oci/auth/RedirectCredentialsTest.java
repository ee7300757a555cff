package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.Digest;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Registries redirect blob downloads to storage elsewhere (S3, a CDN). The JDK's HttpClient would carry the
 * Authorization header along; RegistryClient must not hand a registry password or token to another origin.
 */
class RedirectCredentialsTest {

    private static final String PASSWORD = "Never-To-The-Cdn";
    private static final byte[] BLOB = "blob content served by the storage".getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256(BLOB);

    private RegistryEdge registry;
    private RegistryEdge cdn;
    private RegistryClient client;
    private Reference ref;

    @BeforeEach
    void start() throws IOException {
        registry = RegistryEdge.forwardingTo(null);
        cdn = RegistryEdge.forwardingTo(null);
        String expected = RegistryCredentials.Credential.basic("alice", PASSWORD).basicAuthorization();
        registry.override = ex -> {
            if (!expected.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"test\"");
                registry.respond(ex, 401, "application/json", "{}".getBytes(StandardCharsets.UTF_8));
            } else if (ex.getRequestURI().getPath().equals("/v2/app/blobs/" + DIGEST)) {
                ex.getResponseHeaders().set("Location", cdn.url() + "/storage/" + DIGEST.hex() + "?signature=abc");
                registry.respond(ex, 307, null, new byte[0]);
            } else if (ex.getRequestURI().getPath().equals("/v2/same/blobs/" + DIGEST)) {
                ex.getResponseHeaders().set("Location", "/internal/" + DIGEST.hex());
                registry.respond(ex, 302, null, new byte[0]);
            } else if (ex.getRequestURI().getPath().equals("/internal/" + DIGEST.hex())) {
                registry.respond(ex, 200, "application/octet-stream", BLOB);
            } else {
                registry.respond(ex, 404, "application/json", "{}".getBytes(StandardCharsets.UTF_8));
            }
            return true;
        };
        cdn.override = ex -> {
            cdn.respond(ex, 200, "application/octet-stream", BLOB);
            return true;
        };
        client = new RegistryClient(RegistryHosts.none(), RegistryCredentials.builder().basic(registry.address(), "alice", PASSWORD).build());
        ref = Reference.parse(registry.address() + "/app:v1");
    }

    @AfterEach
    void stop() {
        registry.close();
        cdn.close();
    }

    @Test
    void aRedirectToAnotherOriginDropsTheAuthorizationHeader() throws IOException {
        try (InputStream in = client.openBlob(ref, DIGEST, 0)) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertEquals(1, cdn.seen.size(), cdn.seen.toString());
        assertTrue(cdn.seen.get(0).target().contains("signature=abc"), "the redirect was followed as given: " + cdn.seen);
        assertNull(cdn.seen.get(0).authorization(), "the CDN got no credentials");
    }

    @Test
    void aRedirectWithinTheRegistryKeepsIt() throws IOException {
        Reference same = Reference.parse(registry.address() + "/same:v1");
        try (InputStream in = client.openBlob(same, DIGEST, 0)) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertTrue(registry.seen.stream().anyMatch(s -> s.target().startsWith("/internal/") && s.status() == 200),
                "the same-origin redirect carried the credentials and was served: " + registry.seen);
        assertTrue(cdn.seen.isEmpty());
    }
}
