package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.gc.GarbageCollector;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.oci.Digest;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.RegistryStalledException;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A registry that stops sending in the middle of a blob, on loopback in front of a real one: the pull fails once it
 * has made no progress for the stall time, and until then the rest of the node (collection, other pulls, creates)
 * goes on. Bounds of 60 s are hang detectors, not speed checks.
 */
class StalledRegistryTest {

    static LocalRegistry registry;
    static String busybox;
    static Digest bigLayer;
    static final ExecutorService callers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-caller");
        t.setDaemon(true); // a call the old code never ends must not keep the JVM alive
        return t;
    });

    @BeforeAll
    static void setUp() throws Exception {
        registry = LocalRegistry.start();
        Path work = Files.createTempDirectory("berth-stall");
        new TestImages(new RegistryClient(), registry.address(), work).busybox();
        busybox = registry.address() + "/test/busybox:latest";
        byte[] noise = new byte[3 << 20];
        new Random(12).nextBytes(noise);
        bigLayer = new ImageBuilder().layer(l -> l.file("noise", 0644, noise))
                .push(new RegistryClient(), Reference.parse(registry.address() + "/test/stall:latest"), work).layerDigests().get(0);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (registry != null) registry.close();
    }

    @Test
    void aPullThatStopsMakingProgressFailsNamingTheRegistryTheBlobAndTheSetting() throws Exception {
        try (AgentFixture fx = new AgentFixture(s -> s.withPullStall(Duration.ofSeconds(2)));
             StallingEdge edge = new StallingEdge(registry.address())) {
            Future<ImageRecord> pull = callers.submit(() -> fx.agent.images().pull("default", edge.address() + "/test/stall:latest"));
            ExecutionException e = assertThrows(ExecutionException.class, () -> pull.get(60, TimeUnit.SECONDS), "the stalled pull ends, and fails");
            RegistryStalledException stall = assertInstanceOf(RegistryStalledException.class, e.getCause());
            String m = stall.getMessage();
            assertTrue(m.contains(edge.address()) && m.contains(bigLayer.toString()) && m.contains("berth.agent.pull-stall-timeout"),
                    "the error names the registry, the blob and the setting: " + m);
            assertTrue(fx.agent.images().get("default", edge.address() + "/test/stall:latest").isEmpty(), "no image recorded");
        }
    }

    @Test
    void whileAPullIsStalledCollectionOtherPullsAndCreatesStillFinish() throws Exception {
        String stalledRef = null;
        try (AgentFixture fx = new AgentFixture(s -> s.withPullStall(Duration.ofMinutes(10)));
             StallingEdge edge = new StallingEdge(registry.address())) {
            stalledRef = edge.address() + "/test/stall:latest";
            String ref = stalledRef;
            Future<ImageRecord> stalled = callers.submit(() -> fx.agent.images().pull("default", ref));
            assertTrue(edge.awaitStall(60), "the edge stopped sending halfway through the layer");

            GarbageCollector.Result gc = callers.submit(() -> fx.agent.gc().collect()).get(60, TimeUnit.SECONDS);
            assertTrue(gc.deferred(), "collection is put off while a pull holds its lease, instead of queueing everyone behind it: " + gc);
            assertEquals(0, gc.blobsRemoved() + gc.snapshotsRemoved());
            ImageRecord other = callers.submit(() -> fx.agent.images().pull("default", busybox)).get(60, TimeUnit.SECONDS);
            ContainerRecord created = callers.submit(() -> fx.agent.containers().create("default", "while-stalled", busybox, null,
                    AgentFixture.args("true"), null, null)).get(60, TimeUnit.SECONDS);
            assertEquals(other.name(), created.image());
            assertFalse(stalled.isDone(), "the stalled pull was stalled all along");

            edge.release(); // the registry sends the rest: the pull finishes with every part it had made so far
            ImageRecord late = stalled.get(60, TimeUnit.SECONDS);
            assertTrue(fx.agent.snapshots().exists(late.chainId()), "the layer unpacked");
            assertFalse(fx.agent.gc().collect().deferred(), "with nothing in progress but a created container, collection runs");
            assertTrue(fx.agent.content().has(bigLayer) && fx.agent.snapshots().exists(late.chainId()), "and keeps what the image uses");
        }
    }
}
