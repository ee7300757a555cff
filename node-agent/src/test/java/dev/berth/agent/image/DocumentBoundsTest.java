package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.diff.LayerTar;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.OciException;
import dev.berth.oci.RegistryClient;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CVE-2023-25153's class: what the agent reads into memory whole (documents of the store, of an archive) is bounded. */
class DocumentBoundsTest {

    @TempDir
    Path tmp;

    @Test
    void aBlobLargerThanADocumentIsNeverReadWhole() throws Exception {
        ContentStore content = new ContentStore(tmp.resolve("content"));
        byte[] small = "{\"schemaVersion\":2}".getBytes();
        byte[] big = new byte[RegistryClient.MAX_MANIFEST_BYTES + 1];
        content.ingest(new Descriptor("application/json", Digest.sha256(small), small.length), small);
        content.ingest(new Descriptor("application/json", Digest.sha256(big), big.length), big);
        assertArrayEquals(small, content.read(Digest.sha256(small)));
        var e = assertThrows(OciException.class, () -> content.read(Digest.sha256(big)));
        assertTrue(e.getMessage().contains("refused as a document"), e.getMessage());
    }

    @Test
    void anArchiveOfManyDocumentsIsRefusedBeforeItFillsTheHeap() throws Exception {
        ByteArrayOutputStream archive = new ByteArrayOutputStream();
        byte[] doc = new byte[4 << 20];
        java.util.Arrays.fill(doc, (byte) ' ');
        for (int i = 0; i * (long) doc.length <= Archives.MAX_DOCUMENTS; i++) archive.write(LayerTar.record("doc" + i + ".json", '0', doc.length, doc));
        archive.write(LayerTar.end());
        ContentStore content = new ContentStore(tmp.resolve("content"));
        var e = assertThrows(OciException.class, () -> Archives.read(content, new ByteArrayInputStream(archive.toByteArray())));
        assertTrue(e.getMessage().contains("JSON documents are more than"), e.getMessage());
    }
}
