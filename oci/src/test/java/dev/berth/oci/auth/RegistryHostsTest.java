package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.OciException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hosts file: mirrors per upstream, insecure registries and per-registry CA files. */
class RegistryHostsTest {

    @TempDir
    Path dir;

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

    /** Some CA certificate as PEM: the first of the JDK's own trust store will do, the parser does not care which. */
    private Path somePem(String name) throws IOException, GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init((KeyStore) null);
        X509Certificate cert = ((X509TrustManager) tmf.getTrustManagers()[0]).getAcceptedIssuers()[0];
        Path pem = dir.resolve(name);
        Files.writeString(pem, "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder().encodeToString(cert.getEncoded()) + "\n-----END CERTIFICATE-----\n");
        return pem;
    }

    @Test
    void caFilesAreReadAtLoadFromTheHostsFileFolder() throws Exception {
        Path pem = somePem("internal-ca.pem");
        Path file = dir.resolve("hosts.json");
        Files.writeString(file, """
                {"mirrors": {"docker.io": ["127.0.0.1:5001", "127.0.0.1:5002"]},
                 "ca": {"Registry.Internal:5000": "internal-ca.pem", "127.0.0.1:5001": "%s"}}""".formatted(pem));
        RegistryHosts h = RegistryHosts.load(file);
        RegistryHosts.CaFile ca = h.ca("registry.internal:5000").orElseThrow();
        assertEquals(pem, ca.file(), "a relative path is taken from the hosts file's folder");
        assertEquals(1, ca.certificates().size());
        assertTrue(h.ca("registry.internal:5001").isEmpty(), "another port is another registry");
        assertTrue(h.ca("registry.internal").isEmpty());
        assertEquals(List.of("https://127.0.0.1:5001", "http://127.0.0.1:5002"), urls(h, "docker.io"),
                "a loopback mirror with a CA file is HTTPS, one without is plain HTTP");
        assertFalse(h.plainHttp("127.0.0.1:5001"));
        assertTrue(h.plainHttp("127.0.0.1:5002"));
        assertEquals(Set.of("registry.internal:5000", "127.0.0.1:5001"), h.caRegistries());
    }

    @Test
    void badCaFilesAreReportedWithTheirPath() throws Exception {
        Path missing = dir.resolve("nowhere/ca.pem");
        OciException e = assertThrows(OciException.class, () -> parse("{\"ca\": {\"registry.lan\": \"" + missing + "\"}}"));
        assertTrue(e.getMessage().contains("CA file " + missing + " for registry.lan does not exist"), e.getMessage());

        Path notPem = dir.resolve("ca.der");
        Files.write(notPem, new byte[] {0x30, (byte) 0x82, 0x01, 0x0a, 0x02});
        e = assertThrows(OciException.class, () -> parse("{\"ca\": {\"registry.lan\": \"" + notPem + "\"}}"));
        assertTrue(e.getMessage().contains("CA file " + notPem + " for registry.lan is not a PEM certificate file"), e.getMessage());

        Path broken = dir.resolve("broken.pem");
        Files.writeString(broken, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        e = assertThrows(OciException.class, () -> RegistryHosts.builder().ca("registry.lan", broken));
        assertTrue(e.getMessage().contains("CA file " + broken + " for registry.lan holds a PEM certificate that cannot be parsed"), e.getMessage());

        Path good = somePem("good.pem");
        e = assertThrows(OciException.class, () -> parse("{\"ca\": {\"registry.lan\": [\"" + good + "\"]}}"));
        assertTrue(e.getMessage().contains("must be the path of a PEM file"), e.getMessage());
        e = assertThrows(OciException.class, () -> parse("{\"ca\": {\"https://registry.lan\": \"" + good + "\"}}"));
        assertTrue(e.getMessage().contains("must be written host[:port]"), e.getMessage());
        e = assertThrows(OciException.class, () -> parse("{\"insecure\": [\"registry.lan\"], \"ca\": {\"registry.lan\": \"" + good + "\"}}"));
        assertTrue(e.getMessage().contains("registry.lan is both \"insecure\" (plain HTTP) and given a CA file (HTTPS)"), e.getMessage());
    }
}
