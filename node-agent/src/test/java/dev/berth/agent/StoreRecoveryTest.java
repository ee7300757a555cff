package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.sys.Syscalls;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a crash or a stopped download leaves in the stores is never reused as if whole, and is freed. */
class StoreRecoveryTest {

    static LocalRegistry registry;
    static String busybox;

    @BeforeAll
    static void setUp() throws Exception {
        registry = LocalRegistry.start();
        new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
        busybox = registry.address() + "/test/busybox:latest";
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (registry != null) registry.close();
    }

    /**
     * A removal that stops half way (here: a mount inside the layer that the removal may not cross, as a crash
     * would stop it) leaves no record over the partial layer; the next start removes the directory.
     */
    @Test
    void aRemovalCutShortLeavesNoRecordOverAPartialLayer() throws Exception {
        try (AgentFixture fx = new AgentFixture()) {
            ImageRecord img = fx.agent.images().pull("default", busybox);
            String chain = img.chainId();
            Path layer = fx.agent.snapshots().lowers(chain).get(0);
            Path dir = layer.getParent();
            Path blocker = Files.createDirectories(layer.resolve("blocker"));
            new ProcessBuilder("mount", "-t", "tmpfs", "tmpfs", blocker.toString()).inheritIO().start().waitFor();
            try {
                assertThrows(Exception.class, () -> fx.agent.snapshots().remove(chain));
                assertFalse(fx.agent.snapshots().exists(chain), "the record went before the tree");
                assertTrue(Files.isDirectory(dir), "what the removal could not finish is still there");
            } finally {
                Syscalls.unmount(blocker.toString());
            }
            // what the next start does (the agent's snapshotter, opened again over the same store)
            new dev.berth.agent.snapshot.OverlaySnapshotter(fx.settings().root().resolve("snapshots"), fx.agent.metadata());
            assertFalse(Files.exists(dir), "the next start removed the directory no record names");
            // and a pull makes the chain anew, whole
            assertEquals(chain, fx.agent.images().pull("default", busybox).chainId());
            assertTrue(Files.isRegularFile(fx.agent.snapshots().lowers(chain).get(0).resolve("bin/busybox")));
        }
    }

    @Test
    void garbageCollectionFreesPartialBlobsNoPullResumed() throws Exception {
        try (AgentFixture fx = new AgentFixture()) {
            Path ingest = fx.settings().root().resolve("content/ingest");
            Path stale = Files.write(ingest.resolve("a".repeat(64) + ".partial"), new byte[4096]);
            Path recent = Files.write(ingest.resolve("b".repeat(64) + ".partial"), new byte[4096]);
            Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
            fx.agent.gc().collect();
            assertFalse(Files.exists(stale), "a stopped download's partial blob, two hours old, is freed");
            assertTrue(Files.exists(recent), "a recent one stays for the pull that resumes it");
        }
    }
}
