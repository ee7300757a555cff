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
import dev.berth.oci.testing.LocalRegistry;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls from a real registry (docker-registry) serving HTTPS with a certificate from a throwaway CA. The registry
 * listens on loopback; it is reached as {@code registry.berth.test}, a name that is not loopback and so HTTPS by
 * default, through a CONNECT tunnel (in this JVM) or a hosts file (in a JVM of its own, whose trust store the test sets).
 */
class TlsRegistryTest {

    private static final String NAME = "registry.berth.test";

    @TempDir
    static Path work;

    private static TestCa ca;
    private static TestCa otherCa;
    private static LocalRegistry registry;
    private static ImageBuilder.Pushed pushed;
    private static int port;

    private ConnectTunnel tunnel;

    @BeforeAll
    static void startHttpsRegistryAndPush() throws IOException {
        ca = TestCa.create(work.resolve("ca"), "Berth test CA");
        otherCa = TestCa.create(work.resolve("other-ca"), "Berth unrelated CA");
        TestCa.Issued server = ca.issue("registry", List.of(NAME, "localhost"), List.of("127.0.0.1"));
        registry = LocalRegistry.startTls(new LocalRegistry.Tls(server.certificate(), server.key()));
        port = Integer.parseInt(registry.address().substring(registry.address().lastIndexOf(':') + 1));
        // pushed with a context of the test's own that trusts the CA: the set-up does not lean on the code under test
        try (ConnectTunnel t = ConnectTunnel.to(port)) {
            RegistryClient pusher = new RegistryClient(through(t, ca.trustingOnlyThis()), RegistryHosts.none(), RegistryCredentials.none());
            pushed = Images.small("tls").push(pusher, Reference.parse(NAME + "/tls/app:v1"), work.resolve("seed"));
        }
    }

    @AfterAll
    static void stopRegistry() throws IOException {
        if (registry != null) registry.close();
    }

    @BeforeEach
    void openTunnel() throws IOException {
        tunnel = ConnectTunnel.to(port);
    }

    @AfterEach
    void closeTunnel() throws IOException {
        tunnel.close();
    }

    private static HttpClient through(ConnectTunnel t, SSLContext ssl) {
        HttpClient.Builder b = HttpClient.newBuilder().proxy(t.selector()).connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1);
        if (ssl != null) b.sslContext(ssl);
        return b.build();
    }

    /** As the node agent's client, the JVM's default TLS context included, only routed through the tunnel. */
    private RegistryClient client(RegistryHosts hosts) {
        return new RegistryClient(through(tunnel, null), hosts, RegistryCredentials.none());
    }

    private static Reference ref() {
        return Reference.parse(NAME + "/tls/app:v1");
    }

    private Path hostsFile(String name, String json) throws IOException {
        Path f = work.resolve(name);
        Files.writeString(f, json);
        return f;
    }

    private void assertOnlyTls() {
        assertFalse(tunnel.seen.isEmpty(), "the registry was asked");
        assertTrue(tunnel.seen.stream().allMatch(l -> l.startsWith("CONNECT " + NAME + ":443 ")),
                "every request went over TLS to the HTTPS port, none over plain HTTP: " + tunnel.seen);
    }

    @Test
    void anUntrustedCertificateFailsSayingWhatToTrust() {
        OciException e = assertThrows(OciException.class, () -> client(RegistryHosts.none()).resolve(ref(), Platform.host()));
        String m = e.getMessage();
        assertTrue(m.startsWith("registry " + NAME + " presented a TLS certificate that is not trusted"), m);
        assertTrue(m.contains("Add the CA that did to the system trust store"), m);
        assertTrue(m.contains("\"ca\": {\"" + NAME + "\": \"/path/to/ca.pem\"}"), "the per-registry CA file is offered: " + m);
        for (String soup : new String[] {"Exception", "sun.security", "PKIX", "\n"}) assertFalse(m.contains(soup), "no JDK internals: " + m);
        assertOnlyTls(); // and no retry over plain HTTP after the failure
    }

    @Test
    void theSystemTrustStoreAsTheJvmSeesItDecides() throws Exception {
        Path hosts = hostsFile("jdk-hosts", "127.0.0.1 " + NAME + "\n");
        String reference = NAME + ":" + port + "/tls/app:v1";
        Probe without = probe(List.of("-Djdk.net.hosts.file=" + hosts), reference);
        assertEquals(3, without.exit(), without.output());
        assertTrue(without.output().startsWith("failed: registry " + NAME + ":" + port + " presented a TLS certificate that is not trusted"), without.output());

        Probe with = probe(List.of("-Djdk.net.hosts.file=" + hosts, "-Djavax.net.ssl.trustStore=" + ca.trustStore(),
                "-Djavax.net.ssl.trustStorePassword=" + TestCa.storePassword(), "-Djavax.net.ssl.trustStoreType=PKCS12"), reference);
        assertEquals(0, with.exit(), with.output());
        assertEquals("pulled " + pushed.topDigest(), with.output().strip());
    }

    @Test
    void aRegistryCaFileAddsToTheSystemTrustStoreRatherThanReplacingIt() throws Exception {
        // the system store (javax.net.ssl.trustStore) has the registry's CA; the hosts file gives it an unrelated one
        Path jdkHosts = hostsFile("jdk-hosts-2", "127.0.0.1 " + NAME + "\n");
        Path hosts = hostsFile("hosts-other-ca.json", "{\"ca\": {\"" + NAME + ":" + port + "\": \"" + otherCa.certificate + "\"}}");
        Probe p = probe(List.of("-Djdk.net.hosts.file=" + jdkHosts, "-Djavax.net.ssl.trustStore=" + ca.trustStore(),
                "-Djavax.net.ssl.trustStorePassword=" + TestCa.storePassword(), "-Djavax.net.ssl.trustStoreType=PKCS12"),
                NAME + ":" + port + "/tls/app:v1", hosts.toString());
        assertEquals(0, p.exit(), p.output());
        assertEquals("pulled " + pushed.topDigest(), p.output().strip());
    }

    @Test
    void aPerRegistryCaFileFromTheHostsFileIsTrusted() throws IOException {
        Path file = hostsFile("hosts-ca.json", "{\"ca\": {\"" + NAME + "\": \"" + ca.certificate + "\"}}");
        RegistryClient.ResolvedImage img = Images.pullAll(client(RegistryHosts.load(file)), ref());
        assertEquals(pushed.topDigest(), img.target().digest());
        assertOnlyTls();
    }

    @Test
    void aCaFileThatDidNotIssueTheCertificateIsNamedInTheError() throws IOException {
        RegistryHosts hosts = RegistryHosts.builder().ca(NAME, otherCa.certificate).build();
        OciException e = assertThrows(OciException.class, () -> client(hosts).resolve(ref(), Platform.host()));
        assertTrue(e.getMessage().startsWith("registry " + NAME + " presented a TLS certificate that is not trusted"), e.getMessage());
        assertTrue(e.getMessage().contains("CA file " + otherCa.certificate), e.getMessage());
    }

    @Test
    void aCertificateForAnotherNameIsRefused() throws IOException {
        // same registry, same trusted CA, but asked for under a name its certificate does not carry
        RegistryHosts hosts = RegistryHosts.builder().ca("elsewhere.berth.test", ca.certificate).build();
        OciException e = assertThrows(OciException.class,
                () -> client(hosts).resolve(Reference.parse("elsewhere.berth.test/tls/app:v1"), Platform.host()));
        assertTrue(e.getMessage().startsWith("registry elsewhere.berth.test presented a TLS certificate that was refused: "), e.getMessage());
        assertTrue(e.getMessage().contains("elsewhere.berth.test"), e.getMessage());
    }

    @Test
    void plainHttpOnlyWhenDeclaredInsecure() {
        // the tunnel tells the schemes apart: this is what a downgrade would look like, and the tests above assert its absence
        RegistryHosts insecure = RegistryHosts.builder().insecure(NAME).build();
        assertThrows(OciException.class, () -> client(insecure).resolve(ref(), Platform.host()));
        assertEquals(List.of("GET http://" + NAME + "/v2/tls/app/manifests/v1 HTTP/1.1"), tunnel.seen);
    }

    @Test
    void aLoopbackRegistryWithACaFileIsSpokenToOverHttps() throws IOException {
        RegistryHosts hosts = RegistryHosts.builder().ca(registry.address(), ca.certificate).build();
        assertFalse(hosts.plainHttp(registry.address()));
        RegistryClient.ResolvedImage img = Images.pullAll(new RegistryClient(hosts, RegistryCredentials.none()),
                Reference.parse(registry.address() + "/tls/app:v1"));
        assertEquals(pushed.topDigest(), img.target().digest());
    }

    private record Probe(int exit, String output) {
    }

    /** Runs {@link TlsPullProbe} in a JVM of its own with these JVM options. */
    private static Probe probe(List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xshare:auto");
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(TlsPullProbe.class.getName());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("the probe JVM did not finish: " + out);
        }
        return new Probe(p.exitValue(), out);
    }
}
