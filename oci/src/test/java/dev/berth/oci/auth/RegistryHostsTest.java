package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.OciException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The hosts file: mirrors per upstream and insecure registries. */
class RegistryHostsTest {

    private static RegistryHosts parse(String json) {
        return RegistryHosts.parse(json.getBytes(StandardCharsets.UTF_8), "hosts.json");
    }

    private static List<String> urls(RegistryHosts h, String registry) {
        return h.mirrors(registry).stream().map(m -> m.url().toString()).toList();
    }

    @Test
    void mirrorsKeepTheirOrderAndSchemes() {
        RegistryHosts h = parse("""
                {"mirrors": {"docker.io": ["http://127.0.0.1:5001", "mirror.example.com:5000", "localhost:6000",
                                           "https://cache.example.com/hub/", {"url": "registry.lan:5000", "resolve": false}]},
                 "insecure": ["registry.lan:5000"]}""");
        assertEquals(List.of("http://127.0.0.1:5001", "https://mirror.example.com:5000", "http://localhost:6000",
                "https://cache.example.com/hub", "http://registry.lan:5000"), urls(h, "docker.io"),
                "bare loopback and insecure hosts are plain HTTP, other bare hosts HTTPS; trailing slashes go");
        assertTrue(h.mirrors("docker.io").get(0).resolve());
        assertFalse(h.mirrors("docker.io").get(4).resolve());
        assertEquals("registry.lan:5000", h.mirrors("docker.io").get(4).host());
    }

    @Test
    void upstreamKeysAreNormalisedLikeCredentials() {
        RegistryHosts h = parse("{\"mirrors\": {\"https://index.docker.io/v1/\": [\"http://127.0.0.1:5001\"]}}");
        for (String name : new String[] {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
            assertEquals(List.of("http://127.0.0.1:5001"), urls(h, name), name);
        }
        assertTrue(h.mirrors("ghcr.io").isEmpty());
    }

    @Test
    void insecureRegistries() {
        RegistryHosts h = parse("{\"insecure\": [\"Registry.LAN:5000\", \"10.0.0.7:5000\"]}");
        assertTrue(h.isInsecure("registry.lan:5000"));
        assertTrue(h.plainHttp("10.0.0.7:5000"));
        assertFalse(h.plainHttp("10.0.0.7:5001"), "another port is another registry");
        assertTrue(h.plainHttp("127.0.0.1:5000"), "loopback is plain HTTP without being listed");
        assertTrue(h.plainHttp("[::1]:5000"));
        assertFalse(h.plainHttp("registry.example.com"));
        assertFalse(RegistryHosts.none().plainHttp("registry.lan:5000"));
    }

    @Test
    void mistakesAreReportedClearly() {
        OciException typo = assertThrows(OciException.class, () -> parse("{\"mirror\": {}}"));
        assertTrue(typo.getMessage().contains("unknown field \"mirror\""), typo.getMessage());
        assertThrows(OciException.class, () -> parse("{\"mirrors\": {\"docker.io\": \"http://127.0.0.1:5001\"}}"));
        assertThrows(OciException.class, () -> parse("{\"mirrors\": {\"docker.io\": [\"ftp://m.example\"]}}"));
        assertThrows(OciException.class, () -> parse("{\"mirrors\": {\"docker.io\": [{\"url\": \"m.example\", \"resolve\": \"no\"}]}}"));
        assertThrows(OciException.class, () -> parse("{\"mirrors\": {\"docker.io\": [{\"uri\": \"m.example\"}]}}"));
        assertThrows(OciException.class, () -> parse("{\"insecure\": [\"http://registry.lan\"]}"));
        OciException userinfo = assertThrows(OciException.class, () -> parse("{\"mirrors\": {\"docker.io\": [\"https://u:Pa55word@m.example\"]}}"));
        assertFalse(userinfo.getMessage().contains("Pa55word"), userinfo.getMessage());
        OciException notJson = assertThrows(OciException.class, () -> parse("{\"mirrors\": "));
        assertTrue(notJson.getMessage().contains("not valid JSON"), notJson.getMessage());
    }

    @Test
    void builderMatchesTheFile() {
        RegistryHosts h = RegistryHosts.builder().insecure("registry.lan:5000").mirror("docker.io", "registry.lan:5000")
                .mirror("index.docker.io", "https://m2.example", false).build();
        assertEquals(List.of("http://registry.lan:5000", "https://m2.example"), urls(h, "docker.io"));
        assertFalse(h.mirrors("docker.io").get(1).resolve());
        assertTrue(parse("{}").mirroredRegistries().isEmpty());
    }

    @Test
    void hostNames() {
        assertEquals("docker.io", RegistryHostName.canonical("https://index.docker.io/v1/"));
        assertEquals("docker.io", RegistryHostName.canonical("registry-1.docker.io"));
        assertEquals("registry.example.com:5000", RegistryHostName.canonical("HTTP://Registry.Example.com:5000/"));
        assertTrue(RegistryHostName.isLoopback("127.0.0.1:5000"));
        assertTrue(RegistryHostName.isLoopback("localhost"));
        assertTrue(RegistryHostName.isLoopback("[::1]:5000"));
        assertFalse(RegistryHostName.isLoopback("10.0.0.1:5000"));
    }
}
