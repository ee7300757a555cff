package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Small images to push, and a pull that reads and verifies every blob, as the node agent does. */
final class Images {
    private Images() {}

    static ImageBuilder small(String name) {
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < 200; i++) content.append(name).append(" line ").append(i).append('\n');
        return new ImageBuilder().layer(l -> l.dir("etc", 0755).file("etc/" + name, 0644, content.toString()));
    }

    /** Resolves {@code ref} and reads the config and every layer, checking each against its digest. */
    static RegistryClient.ResolvedImage pullAll(RegistryClient client, Reference ref) {
        RegistryClient.ResolvedImage img = client.resolve(ref, Platform.host());
        List<Descriptor> blobs = new ArrayList<>();
        blobs.add(img.manifest().config());
        blobs.addAll(img.manifest().layers());
        for (Descriptor d : blobs) {
            try (InputStream in = client.openBlob(ref, d.digest(), 0)) {
                byte[] bytes = in.readAllBytes();
                assertEquals(d.digest(), Digest.sha256(bytes), "blob " + d.digest() + " of " + ref + " hashes to its digest");
                assertEquals(d.size(), bytes.length, "blob " + d.digest() + " has the size its descriptor says");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return img;
    }

    /** Copies an image (by tag, one platform) from one registry to another, as a pull-through mirror would hold it. */
    static void copy(RegistryClient client, Reference from, Reference to, Path work) throws IOException {
        RegistryClient.ResolvedImage img = client.resolve(from, Platform.host());
        List<Descriptor> blobs = new ArrayList<>();
        blobs.add(img.manifest().config());
        blobs.addAll(img.manifest().layers());
        Files.createDirectories(work);
        for (Descriptor d : blobs) {
            Path tmp = Files.createTempFile(work, "blob", ".bin");
            try (InputStream in = client.openBlob(from, d.digest(), 0)) {
                Files.write(tmp, in.readAllBytes());
            }
            client.pushBlob(to, d.digest(), tmp);
            Files.delete(tmp);
        }
        if (!img.target().digest().equals(img.manifestBytes().digest())) {
            throw new IllegalArgumentException("copy handles plain manifests only");
        }
        client.pushManifest(to, to.tag(), img.manifestBytes().bytes(), img.manifestBytes().mediaType());
    }
}
