package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.Descriptor;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.OciException;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The pull pipeline against a real registry: compressions, shared downloads, limits, progress. */
class ImagePipelineTest extends StoreTestBase {

    ImageStore store(long maxLayerBytes) {
        return new ImageStore(new RegistryClient(), content, snapshots, meta, Platform.host(), 4,
                new dev.berth.agent.unpack.UnpackLimits(1 << 20, 1_000_000, maxLayerBytes, 1L << 40, 0), new dev.berth.agent.gc.Leases());
    }

    String push(String repo, ImageBuilder b) throws Exception {
        String ref = registry.address() + "/" + repo + ":latest";
        b.push(new RegistryClient(), Reference.parse(ref), work);
        return ref;
    }

    static ImageBuilder threeLayers(String salt) {
        return new ImageBuilder()
                .layer(l -> l.dir("a", 0755).file("a/one", 0644, "one " + salt + "x".repeat(100_000)))
                .layer(l -> l.dir("b", 0755).file("b/two", 0644, "two " + salt + "y".repeat(200_000)))
                .layer(l -> l.whiteout("a/one").file("c", 0600, "three " + salt));
    }

    @Test
    void zstdAndUncompressedLayersArePulledAndVerified() throws Exception {
        int images = 0;
        for (MediaTypes.Compression c : List.of(MediaTypes.Compression.ZSTD, MediaTypes.Compression.NONE)) {
            images++;
            String ref = push("test/" + c.name().toLowerCase(), threeLayers(c.name()).compression(c));
            var img = store(1L << 30).pull("default", ref);
            assertEquals(300_000 + 3 * 1024, img.unpackedSize(), 20_000, c + ": unpacked size of the three layers");
            Path top = snapshots.lowers(img.chainId()).get(0);
            assertEquals("three " + c.name(), Files.readString(top.resolve("c")), c + ": top layer's file");
            assertEquals(3L * images, snapshots.list().stream().filter(s -> s.kind().equals(OverlaySnapshotter.COMMITTED)).count(), c + ": one snapshot per layer");
        }
    }

    @Test
    void concurrentPullsOfOneImageDoTheWorkOnce() throws Exception {
        String ref = push("test/shared", threeLayers("shared"));
        ImageStore images = store(1L << 30);
        List<String> phases = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<MetadataStore.ImageRecord>> pulls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                String ns = "ns" + i;
                pulls.add(pool.submit(() -> images.pull(ns, ref, (Descriptor l, PullListener.Phase p, long cur, long tot) -> {
                    if (p == PullListener.Phase.UNPACKING) phases.add(l.digest().toString());
                })));
            }
            String chain = null;
            for (Future<MetadataStore.ImageRecord> f : pulls) {
                var img = f.get();
                if (chain == null) chain = img.chainId();
                assertEquals(chain, img.chainId(), "every namespace sees the same chain");
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(3, snapshots.list().size(), "one snapshot per layer however many pulls ran at once");
        assertEquals(3, phases.size(), "each layer unpacked once: " + phases);
        assertEquals(3 + 1 + 1, content.list().size(), "three layers, config, manifest in the content store once each");
    }

    @Test
    void aLayerThatUnpacksPastTheLimitIsRefusedAsABomb() throws Exception {
        // 8 MB of zeros compress to a few KB: the classic decompression bomb, at small scale
        String ref = push("test/bomb", new ImageBuilder().layer(l -> l.file("zeros", 0644, new byte[8 << 20])));
        OciException e = assertThrows(OciException.class, () -> store(1L << 20).pull("default", ref));
        assertTrue(e.getMessage().contains(dev.berth.agent.unpack.UnpackLimits.MAX_LAYER_SETTING), e.getMessage());
        assertTrue(snapshots.list().isEmpty(), "no snapshot left behind");
        assertTrue(meta.images("default").isEmpty(), "no image recorded");
    }

    /** Layers each within their own bound can still add up past the image's: refused, with nothing left behind. */
    @Test
    void layersThatTogetherPassTheImageBoundAreRefused() throws Exception {
        String ref = push("test/wide", new ImageBuilder()
                .layer(l -> l.file("one", 0644, new byte[600_000]))
                .layer(l -> l.file("two", 0644, new byte[600_000])));
        ImageStore store = new ImageStore(new RegistryClient(), content, snapshots, meta, Platform.host(), 4,
                new dev.berth.agent.unpack.UnpackLimits(1 << 20, 1000, 1_000_000, 1_000_000, 0), new dev.berth.agent.gc.Leases());
        OciException e = assertThrows(OciException.class, () -> store.pull("default", ref));
        assertTrue(e.getMessage().contains(dev.berth.agent.unpack.UnpackLimits.MAX_IMAGE_SETTING), e.getMessage());
        assertTrue(meta.images("default").isEmpty(), "no image recorded");
        assertTrue(snapshots.list().size() <= 1, "at most the layer that fit, never the one refused: " + snapshots.list());
    }

    /** An image of more layers than overlayfs stacks could never run: refused before any is fetched. */
    @Test
    void anImageOfMoreLayersThanOverlayStacksIsRefused() throws Exception {
        ImageBuilder b = new ImageBuilder();
        for (int i = 0; i <= ImageStore.MAX_LAYERS; i++) {
            int n = i;
            b.layer(l -> l.file("f" + n, 0644, "x"));
        }
        String ref = push("test/tall", b);
        OciException e = assertThrows(OciException.class, () -> store(1L << 30).pull("default", ref));
        assertTrue(e.getMessage().contains("more than the 500 overlayfs can stack"), e.getMessage());
        assertTrue(snapshots.list().isEmpty());
    }

    @Test
    void progressReportsEveryPhaseOfEveryLayer() throws Exception {
        String ref = push("test/progress", threeLayers("progress"));
        List<PullListener.Phase> seen = Collections.synchronizedList(new ArrayList<>());
        long[] downloaded = new long[1];
        store(1L << 30).pull("default", ref, (l, phase, cur, tot) -> {
            seen.add(phase);
            if (phase == PullListener.Phase.DOWNLOADING) synchronized (downloaded) { downloaded[0] = Math.max(downloaded[0], cur); }
        });
        assertEquals(3, seen.stream().filter(p -> p == PullListener.Phase.DONE).count(), "three layers done: " + seen);
        assertTrue(seen.contains(PullListener.Phase.DOWNLOADING), "download progress reported: " + seen);
        assertTrue(downloaded[0] > 0, "bytes reported");
        List<PullListener.Phase> again = Collections.synchronizedList(new ArrayList<>());
        store(1L << 30).pull("default", ref, (l, phase, cur, tot) -> again.add(phase));
        assertEquals(List.of(PullListener.Phase.EXISTS, PullListener.Phase.EXISTS, PullListener.Phase.EXISTS), again, "a re-pull finds every layer present");
        assertFalse(again.contains(PullListener.Phase.DOWNLOADING));
    }

    @Test
    void aDownloadCutOffHalfwayResumesWithARangeRequest() throws Exception {
        String repo = "test/resume";
        push(repo, new ImageBuilder().layer(l -> l.file("random", 0644, randomBytes(3 << 20))));
        // an edge in front of the real registry: the first request for the big blob dies halfway
        java.util.concurrent.atomic.AtomicBoolean cut = new java.util.concurrent.atomic.AtomicBoolean();
        List<String> ranges = Collections.synchronizedList(new ArrayList<>());
        com.sun.net.httpserver.HttpServer edge = edge(cut, ranges);
        int port = edge.getAddress().getPort();
        try {
            String ref = "127.0.0.1:" + port + "/" + repo + ":latest";
            var img = store(1L << 30).pull("default", ref);
            assertTrue(cut.get(), "the edge cut a download");
            assertFalse(ranges.isEmpty(), "the download resumed with a Range request");
            assertTrue(ranges.get(0).matches("bytes=[1-9][0-9]*-"), "resumed from what was written: " + ranges);
            assertEquals(1, snapshots.list().size(), "the image unpacked: " + img.chainId());
        } finally {
            edge.stop(0);
        }
    }

    @Test
    void aPartialBlobLeftByACrashIsResumedNotRefetched() throws Exception {
        String repo = "test/crash-resume";
        byte[] payload = randomBytes(3 << 20);
        payload[0] = 7; // not the other test's layer
        ImageBuilder.Pushed pushed = new ImageBuilder().layer(l -> l.file("random", 0644, payload))
                .push(new RegistryClient(), Reference.parse(registry.address() + "/" + repo + ":latest"), work);
        var layer = pushed.layerDigests().get(0);
        byte[] blob = Files.readAllBytes(registry.blobData(layer.hex()));
        // what an agent killed mid-download leaves: the first third of the blob under its digest's name
        Files.write(base.resolve("content/ingest/" + layer.hex() + ".partial"), java.util.Arrays.copyOf(blob, blob.length / 3));
        content = new ContentStore(base.resolve("content")); // as at the agent's next start: the partial is kept
        List<String> ranges = Collections.synchronizedList(new ArrayList<>());
        com.sun.net.httpserver.HttpServer edge = edge(new java.util.concurrent.atomic.AtomicBoolean(true), ranges);
        try {
            store(1L << 30).pull("default", "127.0.0.1:" + edge.getAddress().getPort() + "/" + repo + ":latest");
        } finally {
            edge.stop(0);
        }
        assertEquals(List.of("bytes=" + (blob.length / 3) + "-"), ranges, "only the missing part was fetched");
        assertTrue(content.has(layer), "the blob was completed and verified");
        assertFalse(Files.exists(base.resolve("content/ingest/" + layer.hex() + ".partial")), "the partial became the blob");
    }

    /**
     * A plain HTTP edge in front of the real registry that records Range headers; while {@code cut} is false the
     * first large blob response is dropped halfway (then {@code cut} is set).
     */
    static com.sun.net.httpserver.HttpServer edge(java.util.concurrent.atomic.AtomicBoolean cut, List<String> ranges) throws java.io.IOException {
        java.net.http.HttpClient upstream = java.net.http.HttpClient.newHttpClient();
        com.sun.net.httpserver.HttpServer edge = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        edge.createContext("/", ex -> {
            try {
                var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + registry.address() + ex.getRequestURI()))
                        .method(ex.getRequestMethod(), java.net.http.HttpRequest.BodyPublishers.noBody());
                String range = ex.getRequestHeaders().getFirst("Range");
                if (range != null) {
                    req.header("Range", range);
                    ranges.add(range);
                }
                String accept = ex.getRequestHeaders().getFirst("Accept");
                if (accept != null) req.header("Accept", accept);
                var resp = upstream.send(req.build(), java.net.http.HttpResponse.BodyHandlers.ofByteArray());
                resp.headers().map().forEach((k, v) -> {
                    if (!k.equalsIgnoreCase("content-length") && !k.equalsIgnoreCase(":status")) ex.getResponseHeaders().put(k, v);
                });
                byte[] body = resp.body();
                boolean bigBlob = ex.getRequestURI().getPath().contains("/blobs/") && body.length > (1 << 20);
                if (bigBlob && cut.compareAndSet(false, true)) {
                    ex.sendResponseHeaders(resp.statusCode(), body.length);
                    ex.getResponseBody().write(body, 0, body.length / 2);
                    ex.getResponseBody().flush();
                    throw new IllegalStateException("cut"); // the server drops the connection mid-body
                }
                ex.sendResponseHeaders(resp.statusCode(), ex.getRequestMethod().equals("HEAD") || body.length == 0 ? -1 : body.length);
                if (body.length > 0) ex.getResponseBody().write(body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                ex.close();
            }
        });
        edge.start();
        return edge;
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.util.Random(42).nextBytes(b);
        return b;
    }
}
