package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.OciException;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pull mirrors against real registries: an upstream and a mirror holding the same image, each behind a
 * recording edge, and an empty registry as a mirror that lacks it.
 */
class MirrorTest {

    /** A loopback port nothing listens on: connecting is refused at once. */
    private static final String DEAD = "http://127.0.0.1:1";

    @TempDir
    static Path work;

    private static AuthRegistry upstreamRegistry;
    private static AuthRegistry mirrorRegistry;
    private static AuthRegistry emptyRegistry;
    private static ImageBuilder.Pushed pushed;

    private RegistryEdge upstream;
    private RegistryEdge mirror;
    private Reference ref;

    @BeforeAll
    static void startRegistries() throws IOException {
        upstreamRegistry = AuthRegistry.open();
        mirrorRegistry = AuthRegistry.open();
        emptyRegistry = AuthRegistry.open();
        RegistryClient plain = new RegistryClient();
        Reference up = Reference.parse(upstreamRegistry.address() + "/mirrored/app:v1");
        pushed = Images.small("mirrored").push(plain, up, work.resolve("seed"));
        Images.copy(plain, up, Reference.parse(mirrorRegistry.address() + "/mirrored/app:v1"), work.resolve("copy"));
        // what a Docker Hub pull-through cache holds for `busybox`
        Images.copy(plain, up, Reference.parse(mirrorRegistry.address() + "/library/busybox:latest"), work.resolve("copy"));
    }

    @AfterAll
    static void stopRegistries() throws IOException {
        for (AuthRegistry r : new AuthRegistry[] {upstreamRegistry, mirrorRegistry, emptyRegistry}) if (r != null) r.close();
    }

    @BeforeEach
    void startEdges() throws IOException {
        upstream = RegistryEdge.forwardingTo(upstreamRegistry.url());
        mirror = RegistryEdge.forwardingTo(mirrorRegistry.url());
        ref = Reference.parse(upstream.address() + "/mirrored/app:v1");
    }

    @AfterEach
    void stopEdges() {
        upstream.close();
        mirror.close();
    }

    private RegistryClient withMirrors(String... mirrors) {
        RegistryHosts.Builder b = RegistryHosts.builder();
        for (String m : mirrors) b.mirror(upstream.address(), m);
        return new RegistryClient(b.build(), RegistryCredentials.none());
    }

    private static long blobRequests(RegistryEdge e) {
        return e.seen.stream().filter(RegistryEdge.Seen::isBlob).count();
    }

    private void assertPulled(RegistryClient.ResolvedImage img) {
        assertEquals(pushed.topDigest(), img.target().digest(), "the tag resolves to the pushed image");
        assertEquals(pushed.layerDigests(), img.manifest().layers().stream().map(Descriptor::digest).toList());
    }

    @Test
    void theMirrorServesTagsManifestsAndBlobsWhenItIsUp() {
        assertPulled(Images.pullAll(withMirrors(mirror.url()), ref));
        assertEquals(0, blobRequests(upstream), "the upstream saw no blob request: " + upstream.seen);
        assertTrue(upstream.seen.isEmpty(), "the tag was resolved on the mirror too, as containerd's hosts.toml does: " + upstream.seen);
        assertTrue(mirror.seen.stream().anyMatch(s -> s.target().equals("/v2/mirrored/app/manifests/v1") && s.status() == 200), mirror.seen.toString());
        assertEquals(2, mirror.seen.stream().filter(s -> s.isBlob() && s.status() == 200).count(), "config and layer from the mirror: " + mirror.seen);
    }

    @Test
    void mirrorsFromAHostsFileWithABareLoopbackAddress() throws IOException {
        Path file = work.resolve("hosts.json");
        Files.writeString(file, "{\"mirrors\": {\"" + upstream.address() + "\": [\"" + mirror.address() + "\"]}}");
        RegistryHosts hosts = RegistryHosts.load(file);
        assertEquals("http://" + mirror.address(), hosts.mirrors(upstream.address()).get(0).url().toString(), "a bare loopback mirror is plain HTTP");
        assertPulled(Images.pullAll(new RegistryClient(hosts, RegistryCredentials.none()), ref));
        assertEquals(0, blobRequests(upstream), "the upstream saw no blob request: " + upstream.seen);
    }

    @Test
    void aDigestOnlyMirrorLeavesTagLookupsToTheUpstream() {
        RegistryHosts hosts = RegistryHosts.builder().mirror(upstream.address(), mirror.url(), false).build();
        assertPulled(Images.pullAll(new RegistryClient(hosts, RegistryCredentials.none()), ref));
        assertEquals(List.of("GET /v2/mirrored/app/manifests/v1"), upstream.seen.stream().map(s -> s.method() + " " + s.target()).toList(),
                "only the tag lookup went upstream");
        assertTrue(blobRequests(mirror) >= 2, "blobs came from the mirror: " + mirror.seen);
    }

    @Test
    void aMirrorThatIsDownFallsBackToTheUpstream() {
        assertPulled(Images.pullAll(withMirrors(DEAD), ref));
        assertTrue(blobRequests(upstream) >= 2, "the upstream served the blobs: " + upstream.seen);
    }

    @Test
    void aMirrorThatLacksTheImageFallsBackToTheUpstream() throws IOException {
        try (RegistryEdge empty = RegistryEdge.forwardingTo(emptyRegistry.url())) {
            assertPulled(Images.pullAll(withMirrors(empty.url()), ref));
            assertTrue(empty.seen.stream().anyMatch(s -> s.isManifest() && s.status() == 404), "the empty mirror answered 404: " + empty.seen);
            assertTrue(blobRequests(upstream) >= 2, "the upstream served the blobs: " + upstream.seen);
        }
    }

    @Test
    void aMirrorAnswering500FallsBackToTheUpstream() {
        mirror.override = ex -> {
            mirror.respond(ex, 500, "text/plain", "internal error".getBytes(StandardCharsets.UTF_8));
            return true;
        };
        assertPulled(Images.pullAll(withMirrors(mirror.url()), ref));
        assertTrue(mirror.seen.stream().allMatch(s -> s.status() == 500) && !mirror.seen.isEmpty(), mirror.seen.toString());
        assertTrue(blobRequests(upstream) >= 2, "the upstream served the blobs: " + upstream.seen);
    }

    @Test
    void aMirrorServingCorruptContentFallsBackToTheUpstream() {
        Digest manifest = pushed.manifestDigest();
        mirror.override = ex -> {
            if (!ex.getRequestURI().getPath().endsWith("/manifests/" + manifest)) return false;
            mirror.respond(ex, 200, MediaTypes.OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":[]}".getBytes(StandardCharsets.UTF_8));
            return true;
        };
        Reference byDigest = Reference.parse(upstream.address() + "/mirrored/app@" + manifest);
        RegistryClient.FetchedManifest m = withMirrors(mirror.url()).fetchManifest(byDigest, manifest.toString());
        assertEquals(manifest, m.digest(), "the upstream's verified bytes won");
        assertEquals(1, upstream.seen.size(), upstream.seen.toString());
    }

    @Test
    void aMirrorThatDropsConnectionsIsSkippedForAWhile() throws IOException {
        // accepts and hangs up at once, counting the connections
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        try (java.net.ServerSocket dropper = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                while (!dropper.isClosed()) {
                    try (java.net.Socket s = dropper.accept()) {
                        accepted.incrementAndGet();
                    } catch (IOException closed) {
                        return;
                    }
                }
            }, "dropping-mirror");
            t.setDaemon(true);
            t.start();
            RegistryClient client = withMirrors("http://127.0.0.1:" + dropper.getLocalPort(), mirror.url());
            assertPulled(Images.pullAll(client, ref));
            int afterFirst = accepted.get();
            // the JDK's client retries a GET once on a dropped connection: one request may cost two connections
            assertTrue(afterFirst >= 1 && afterFirst <= 2, "only the first request tried the dropping mirror: " + afterFirst);
            assertPulled(Images.pullAll(client, ref));
            assertEquals(afterFirst, accepted.get(), "the dropping mirror is skipped during its back-off, not tried per blob");
            assertTrue(upstream.seen.isEmpty(), "the next mirror served everything: " + upstream.seen);
            assertEquals(6, mirror.seen.size(), "two pulls of a manifest and two blobs: " + mirror.seen);
        }
    }

    @Test
    void mirrorsAreTriedInOrder() throws IOException {
        try (RegistryEdge second = RegistryEdge.forwardingTo(mirrorRegistry.url())) {
            assertPulled(Images.pullAll(withMirrors(DEAD, mirror.url(), second.url()), ref));
            assertTrue(upstream.seen.isEmpty(), upstream.seen.toString());
            assertFalse(mirror.seen.isEmpty());
            assertTrue(second.seen.isEmpty(), "the third endpoint was not needed: " + second.seen);
        }
    }

    @Test
    void rangeRequestsAreServedByTheMirror() throws IOException {
        RegistryClient client = withMirrors(mirror.url());
        Digest layer = pushed.layerDigests().get(0);
        byte[] whole;
        try (InputStream in = client.openBlob(ref, layer, 0)) {
            whole = in.readAllBytes();
        }
        byte[] tail;
        try (InputStream in = client.openBlob(ref, layer, 10)) {
            tail = in.readAllBytes();
        }
        assertArrayEquals(Arrays.copyOfRange(whole, 10, whole.length), tail);
        assertTrue(upstream.seen.isEmpty(), upstream.seen.toString());
    }

    @Test
    void pushesGoToTheUpstreamOnly() throws IOException {
        Reference target = Reference.parse(upstream.address() + "/mirrored/pushed:v1");
        Images.small("pushed-with-mirrors").push(withMirrors(mirror.url()), target, work.resolve("push"));
        assertTrue(mirror.seen.isEmpty(), "nothing was pushed to, or asked of, the mirror: " + mirror.seen);
        assertTrue(upstream.seen.stream().anyMatch(s -> s.method().equals("PUT") && s.target().endsWith("/manifests/v1")), upstream.seen.toString());
    }

    @Test
    void anImageMissingEverywhereIsReportedAsTheUpstreamSaysWithTheMirrorsTried() {
        Reference missing = Reference.parse(upstream.address() + "/mirrored/app:nope");
        OciException e = assertThrows(OciException.class, () -> withMirrors(DEAD, mirror.url()).resolve(missing, Platform.host()));
        assertTrue(e.getMessage().startsWith("image not found: " + missing), e.getMessage());
        assertTrue(e.getMessage().contains("mirrors tried first: " + DEAD + " failed: cannot reach registry mirror " + DEAD), e.getMessage());
        assertTrue(e.getMessage().contains(mirror.url() + " failed: image not found"), e.getMessage());
    }

    /** Routes loopback directly and sends everything else to a proxy on loopback, recording what was asked for. */
    private static final class LoopbackOnly extends ProxySelector {
        final List<URI> asked = new CopyOnWriteArrayList<>();
        private final InetSocketAddress proxy;

        LoopbackOnly(InetSocketAddress proxy) {
            this.proxy = proxy;
        }

        @Override
        public List<Proxy> select(URI uri) {
            asked.add(uri);
            return RegistryHostName.isLoopback(uri.getRawAuthority()) ? List.of(Proxy.NO_PROXY) : List.of(new Proxy(Proxy.Type.HTTP, proxy));
        }

        @Override
        public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
            // nothing: the test asserts on outcomes
        }
    }

    private static HttpClient through(ProxySelector selector) {
        return HttpClient.newBuilder().proxy(selector).connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1).build();
    }

    @Test
    void dockerHubImagesComeFromTheirMirror() {
        // Docker Hub itself is never reached: anything not on loopback goes to a proxy port where nothing listens
        LoopbackOnly selector = new LoopbackOnly(new InetSocketAddress("127.0.0.1", 1));
        RegistryHosts hosts = RegistryHosts.builder().mirror("https://index.docker.io/v1/", mirror.url()).build();
        RegistryClient client = new RegistryClient(through(selector), hosts, RegistryCredentials.none());
        assertPulled(Images.pullAll(client, Reference.parse("busybox")));
        assertTrue(selector.asked.stream().noneMatch(u -> u.getHost().contains("docker")), "Docker Hub was not asked: " + selector.asked);
        assertTrue(mirror.seen.stream().anyMatch(s -> s.target().equals("/v2/library/busybox/manifests/latest")), mirror.seen.toString());
    }

    @Test
    void aRegistryDeclaredInsecureIsSpokenToOverPlainHttp() {
        // "registry.lan:5000" is not loopback: by default it is HTTPS; declared insecure, plain HTTP. The proxy
        // (the upstream edge) serves it, so nothing leaves this machine.
        LoopbackOnly selector = new LoopbackOnly(new InetSocketAddress("127.0.0.1", Integer.parseInt(upstream.address().split(":")[1])));
        Reference lan = Reference.parse("registry.lan:5000/mirrored/app:v1");

        RegistryClient secure = new RegistryClient(through(selector), RegistryHosts.none(), RegistryCredentials.none());
        OciException e = assertThrows(OciException.class, () -> secure.resolve(lan, Platform.host()));
        assertTrue(e.getMessage().contains("cannot reach registry registry.lan:5000"), e.getMessage());
        assertEquals("https", selector.asked.get(0).getScheme(), "a registry not on loopback is HTTPS by default: " + selector.asked);
        assertTrue(upstream.seen.isEmpty(), "no plain-HTTP request was made: " + upstream.seen);

        selector.asked.clear();
        RegistryClient insecure = new RegistryClient(through(selector), RegistryHosts.builder().insecure("registry.lan:5000").build(), RegistryCredentials.none());
        assertPulled(Images.pullAll(insecure, lan));
        assertTrue(selector.asked.stream().allMatch(u -> u.getScheme().equals("http")), selector.asked.toString());
    }
}
