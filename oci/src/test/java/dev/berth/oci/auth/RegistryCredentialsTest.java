package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.OciException;
import dev.berth.oci.Reference;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Docker's config.json as Berth reads it. */
class RegistryCredentialsTest {

    @TempDir
    Path dir;

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static RegistryCredentials parse(String json) {
        return RegistryCredentials.parse(json.getBytes(StandardCharsets.UTF_8), "test.json");
    }

    @Test
    void readsAuthUsernamePasswordAndIdentityToken() {
        RegistryCredentials c = parse("""
                {"auths": {
                  "registry.example.com": {"auth": "%s", "email": "ignored@example.com"},
                  "ghcr.io": {"username": "bob", "password": "p:with:colons"},
                  "quay.io": {"auth": "%s", "identitytoken": "refresh-123"}
                }, "HttpHeaders": {"User-Agent": "x"}}""".formatted(b64("alice:s3cret"), b64("carol:")));
        var r = c.find("registry.example.com").orElseThrow();
        assertEquals("alice", r.username());
        assertEquals("s3cret", r.password());
        assertTrue(r.hasPassword());
        var g = c.find("ghcr.io").orElseThrow();
        assertEquals("bob", g.username());
        assertEquals("p:with:colons", g.password(), "only the first colon separates user from password");
        var q = c.find("quay.io").orElseThrow();
        assertEquals("carol", q.username());
        assertEquals("refresh-123", q.identityToken());
        assertFalse(q.hasPassword());
        assertEquals(Set.of("registry.example.com", "ghcr.io", "quay.io"), c.hosts());
    }

    @Test
    void authWinsOverUsernameAndPasswordAsInDocker() {
        var c = parse("{\"auths\":{\"r.example\":{\"auth\":\"" + b64("fromauth:pw1") + "\",\"username\":\"other\",\"password\":\"pw2\"}}}");
        assertEquals("fromauth", c.find("r.example").orElseThrow().username());
        assertEquals("pw1", c.find("r.example").orElseThrow().password());
    }

    @Test
    void dockerHubKeysAreNormalised() {
        var c = parse("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + b64("hubuser:hubpw") + "\"}}}");
        for (String name : new String[] {"docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "DOCKER.IO"}) {
            assertEquals("hubuser", c.find(name).orElseThrow(() -> new AssertionError(name)).username(), name);
        }
        assertEquals("hubuser", c.find(Reference.parse("busybox").registry()).orElseThrow().username(), "a Docker Hub reference finds it");
        assertEquals(Set.of("docker.io"), c.hosts());
    }

    @Test
    void otherKeysLoseSchemeAndPathButKeepThePort() {
        var c = parse("{\"auths\":{\"https://Registry.Example.com:5000/v2/\":{\"username\":\"u\",\"password\":\"p\"}}}");
        assertTrue(c.find("registry.example.com:5000").isPresent());
        assertTrue(c.find("registry.example.com").isEmpty(), "another port is another registry");
    }

    @Test
    void aCanonicalKeyWinsOverALegacySpelling() {
        var c = parse("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + b64("legacy:1") + "\"},"
                + "\"docker.io\":{\"auth\":\"" + b64("modern:2") + "\"}}}");
        assertEquals("modern", c.find("docker.io").orElseThrow().username());
    }

    @Test
    void credentialHelperEntriesAreRememberedForTheErrorMessage() {
        var c = parse("{\"auths\":{\"ghcr.io\":{}},\"credsStore\":\"desktop\",\"credHelpers\":{\"123.dkr.ecr.example.com\":\"ecr-login\"}}");
        assertTrue(c.find("ghcr.io").isEmpty());
        assertTrue(c.keptInHelper("ghcr.io"));
        assertTrue(c.keptInHelper("123.dkr.ecr.example.com"));
        assertFalse(c.keptInHelper("quay.io"));
        assertTrue(c.isEmpty());
    }

    @Test
    void secretsStayOutOfToStringAndErrors() {
        var c = parse("{\"auths\":{\"r.example\":{\"auth\":\"" + b64("alice:TopSecret9") + "\"},\"q.example\":{\"identitytoken\":\"Refresh777\"}}}");
        assertFalse(c.toString().contains("TopSecret9"), c.toString());
        assertFalse(c.find("r.example").orElseThrow().toString().contains("TopSecret9"));
        assertFalse(c.find("q.example").orElseThrow().toString().contains("Refresh777"));
        assertTrue(c.find("r.example").orElseThrow().toString().contains("alice"));

        // Jackson would quote the bad token; the error names only the place
        OciException broken = assertThrows(OciException.class, () -> parse("{\"auths\":{\"r.example\":{\"password\": TopSecret9}}}"));
        assertFalse(broken.getMessage().contains("TopSecret9"), broken.getMessage());
        assertTrue(broken.getMessage().contains("not valid JSON (line 1"), broken.getMessage());

        OciException notBase64 = assertThrows(OciException.class, () -> parse("{\"auths\":{\"r.example\":{\"auth\":\"TopSecret9!!\"}}}"));
        assertFalse(notBase64.getMessage().contains("TopSecret9"), notBase64.getMessage());
        assertTrue(notBase64.getMessage().contains("\"r.example\""), notBase64.getMessage());

        OciException noColon = assertThrows(OciException.class, () -> parse("{\"auths\":{\"r.example\":{\"auth\":\"" + b64("TopSecret9") + "\"}}}"));
        assertFalse(noColon.getMessage().contains("TopSecret9"), noColon.getMessage());
    }

    @Test
    void incompleteEntriesAreErrors() {
        assertThrows(OciException.class, () -> parse("{\"auths\":{\"r.example\":{\"username\":\"u\"}}}"));
        assertThrows(OciException.class, () -> parse("{\"auths\":{\"r.example\":{\"password\":\"p\"}}}"));
        assertThrows(OciException.class, () -> parse("{\"auths\":[]}"));
        assertThrows(OciException.class, () -> parse("[1]"));
        assertTrue(parse("{}").isEmpty());
        assertTrue(parse("{\"auths\":{}}").isEmpty());
    }

    @Test
    void loadingFiles() throws IOException {
        Path f = dir.resolve("config.json");
        assertTrue(RegistryCredentials.loadIfPresent(f).isEmpty(), "a missing file is no credentials");
        OciException missing = assertThrows(OciException.class, () -> RegistryCredentials.load(f));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        Files.writeString(f, "{\"auths\":{\"r.example\":{\"username\":\"u\",\"password\":\"p\"}}}");
        RegistryCredentials c = RegistryCredentials.load(f);
        assertEquals("u", c.find("r.example").orElseThrow().username());
        assertEquals(f.toString(), c.source());
    }

    @Test
    void builderAndBasicHeader() {
        var c = RegistryCredentials.builder().basic("https://index.docker.io/v1/", "u", "p").identityToken("ghcr.io", "x", "t").build();
        assertEquals("Basic " + b64("u:p"), c.find("docker.io").orElseThrow().basicAuthorization());
        assertNull(c.find("ghcr.io").orElseThrow().password());
        assertTrue(RegistryCredentials.none().find("docker.io").isEmpty());
    }
}
