package dev.berth.agent.image;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.oci.testing.LocalRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** A real registry for the class, and a fresh metadata, content and snapshot store for each test. */
abstract class StoreTestBase {

    static LocalRegistry registry;
    static Path work;
    Path base;
    MetadataStore meta;
    ContentStore content;
    OverlaySnapshotter snapshots;

    @BeforeAll
    static void startRegistry() throws Exception {
        registry = LocalRegistry.start();
        work = Files.createTempDirectory("berth-images");
    }

    @AfterAll
    static void stopRegistry() throws Exception {
        registry.close();
        new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
    }

    @BeforeEach
    void freshStore() throws Exception {
        base = Files.createTempDirectory(Path.of("/tmp"), "bp");
        meta = new MetadataStore(base.resolve("metadata.db"));
        content = new ContentStore(base.resolve("content"));
        snapshots = new OverlaySnapshotter(base.resolve("snapshots"), meta);
    }

    @AfterEach
    void dropStore() throws Exception {
        meta.close();
        new ProcessBuilder("rm", "-rf", "--one-file-system", base.toString()).start().waitFor();
    }
}
