package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.StallingEdge;
import dev.berth.agent.content.ContentStore;
import dev.berth.agent.gc.Leases;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.Digest;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.testing.LocalRegistry;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pulls that share a download, through a loopback edge that holds each big blob halfway until released: one pull
 * leaving (cancelled, or its listener failing as a gone client's does) never takes the download from the others;
 * the last one leaving stops it. Bounds of 60 s are hang detectors.
 */
class SharedDownloadTest extends StoreTestBase {

    static final ExecutorService callers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-puller");
        t.setDaemon(true); // a pull the old code never ends must not keep the JVM alive
        return t;
    });
    StallingEdge edge;

    @BeforeEach
    void startEdge() throws Exception {
        edge = new StallingEdge(registry.address());
    }

    @AfterEach
    void stopEdge() throws Exception {
        edge.close();
    }

    ImageStore store(int downloads) {
        return new ImageStore(new RegistryClient(), content, snapshots, meta, Platform.host(), downloads, dev.berth.agent.unpack.UnpackLimits.DEFAULT, new Leases());
    }

    /** An image of one 3 MiB layer of noise, pushed to the real registry; its layer's digest. */
    static Digest pushNoise(String repo, int seed) throws Exception {
        byte[] noise = new byte[3 << 20];
        new Random(seed).nextBytes(noise);
        return new ImageBuilder().layer(l -> l.file("noise", 0644, noise))
                .push(new RegistryClient(), Reference.parse(registry.address() + "/" + repo + ":latest"), work).layerDigests().get(0);
    }

    String viaEdge(String repo) {
        return edge.address() + "/" + repo + ":latest";
    }

    /** Records which layers a pull was told were downloading; optionally fails on those reports, as a gone client's stream does. */
    static final class Heard implements PullListener {
        final Set<String> waiting = ConcurrentHashMap.newKeySet();
        final Set<String> downloading = ConcurrentHashMap.newKeySet();
        final boolean failOnProgress;

        Heard(boolean failOnProgress) {
            this.failOnProgress = failOnProgress;
        }

        @Override
        public void layer(dev.berth.oci.Descriptor layer, Phase phase, long current, long total) {
            if (phase == Phase.WAITING) waiting.add(layer.digest().toString());
            if (phase != Phase.DOWNLOADING) return;
            downloading.add(layer.digest().toString());
            if (failOnProgress) throw new IllegalStateException("call already cancelled");
        }
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 60 s: " + what);
            Thread.sleep(20);
        }
    }

    @Test
    void aCancelledPullLeavesAloneAndTheSharedDownloadGoesOnForTheOther() throws Exception {
        Digest layer = pushNoise("test/share-cancel", 91);
        ImageStore images = store(4);
        PullCancellation cancelA = new PullCancellation();
        Heard b = new Heard(false);
        Future<ImageRecord> pullA = callers.submit(() -> images.pull("default", viaEdge("test/share-cancel"), Platform.host(), PullListener.NONE, cancelA));
        assertTrue(edge.awaitStall(60), "the download is under way, held halfway");
        Future<ImageRecord> pullB = callers.submit(() -> images.pull("default", viaEdge("test/share-cancel"), b));
        await(() -> b.downloading.contains(layer.toString()), "the second pull joins the download and hears its progress");

        cancelA.cancel();
        ExecutionException e = assertThrows(ExecutionException.class, () -> pullA.get(60, TimeUnit.SECONDS), "the cancelled pull ends");
        assertInstanceOf(InterruptedIOException.class, e.getCause(), "it ends as cancelled: " + e.getCause());
        assertFalse(pullB.isDone(), "the other pull still waits for the download, which is still held");

        edge.release();
        ImageRecord img = pullB.get(60, TimeUnit.SECONDS);
        assertTrue(snapshots.exists(img.chainId()) && content.has(layer), "the other pull got the image");
        assertEquals(1, edge.held(), "one download served both pulls");
        assertEquals(List.of(), edge.ranges(), "and it never had to start over");
    }

    @Test
    void theLastPullToLeaveStopsTheDownloadAndTheNextPullResumesIt() throws Exception {
        Digest layer = pushNoise("test/share-last", 92);
        ImageStore images = store(4);
        PullCancellation cancel = new PullCancellation();
        java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        PullListener heard = (l, phase, cur, total) -> {
            if (phase == PullListener.Phase.DOWNLOADING) written.set(cur);
        };
        Future<ImageRecord> pull = callers.submit(() -> images.pull("default", viaEdge("test/share-last"), Platform.host(), heard, cancel));
        assertTrue(edge.awaitStall(60));
        // the edge has sent the first half; the agent may not have read any of it yet (a loaded machine): wait until it has
        await(() -> written.get() > 0, "the download wrote what the edge sent before it stalled");
        cancel.cancel();
        assertInstanceOf(InterruptedIOException.class, assertThrows(ExecutionException.class, () -> pull.get(60, TimeUnit.SECONDS)).getCause());
        edge.release();
        assertTrue(edge.awaitAbandoned(60), "the download let go of the registry's response: no one wanted it");

        ImageRecord again = images.pull("default", viaEdge("test/share-last")); // the same store: its next pull waits for the stopped download to let go
        assertTrue(snapshots.exists(again.chainId()) && content.has(layer));
        assertEquals(1, edge.ranges().size(), "the next pull resumed from what the stopped download had written: " + edge.ranges());
    }

    @Test
    void aResumedDownloadWhosePullersListenerFailsStillEndsForEveryone() throws Exception {
        Digest blocker = pushNoise("test/share-blocker", 93);
        Digest layer = pushNoise("test/share-resume", 94);
        byte[] blob = Files.readAllBytes(registry.blobData(layer.hex()));
        // what an agent stopped mid-download leaves: the first third of the blob
        Files.write(base.resolve("content/ingest/" + layer.hex() + ".partial"), java.util.Arrays.copyOf(blob, blob.length / 3));
        content = new ContentStore(base.resolve("content"));
        ImageStore images = store(1); // one download at a time: the shared one waits for the blocker
        Future<ImageRecord> blocking = callers.submit(() -> images.pull("default", viaEdge("test/share-blocker")));
        assertTrue(edge.awaitStall(60));

        Heard a = new Heard(true);
        Heard b = new Heard(false);
        Future<ImageRecord> pullA = callers.submit(() -> images.pull("default", viaEdge("test/share-resume"), a));
        await(() -> a.waiting.contains(layer.toString()), "the first pull queued the download");
        Future<ImageRecord> pullB = callers.submit(() -> images.pull("default", viaEdge("test/share-resume"), b));
        await(() -> b.waiting.contains(layer.toString()), "the second pull joined it");
        Thread.sleep(200); // it attaches right after saying so

        edge.release(); // the blocker ends; the shared download resumes the partial, telling the failing listener first
        blocking.get(60, TimeUnit.SECONDS);
        ImageRecord fromB = pullB.get(60, TimeUnit.SECONDS);
        ImageRecord fromA = pullA.get(60, TimeUnit.SECONDS);
        assertEquals(fromA.chainId(), fromB.chainId());
        assertTrue(snapshots.exists(fromB.chainId()) && content.has(layer) && content.has(blocker));
        assertEquals(List.of("bytes=" + (blob.length / 3) + "-"), edge.ranges(), "the download resumed once, for both");
    }
}
