package dev.berth.oci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.testing.LocalRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RegistryClient against a real registry (Debian's docker-registry on a free loopback port). */
class RegistryClientTest {

    private static LocalRegistry registry;
    private static final RegistryClient client = new RegistryClient();

    @TempDir
    static Path work;

    private static Reference plainRef;
    private static ImageBuilder.Pushed plain;
    private static Reference indexRef;
    private static ImageBuilder.Pushed indexed;

    @BeforeAll
    static void startRegistryAndPush() throws IOException {
        registry = LocalRegistry.start();
        plainRef = Reference.parse(registry.address() + "/test/plain:v1");
        plain = smallImage("plain").push(client, plainRef, work.resolve("plain"));
        indexRef = Reference.parse(registry.address() + "/test/indexed:v1");
        indexed = smallImage("indexed").inIndex().push(client, indexRef, work.resolve("indexed"));
    }

    @AfterAll
    static void stopRegistry() throws IOException {
        if (registry != null) registry.close();
    }

    private static ImageBuilder smallImage(String name) {
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < 200; i++) content.append(name).append(" line ").append(i).append('\n');
        return new ImageBuilder().layer(l -> l.dir("etc", 0755).file("etc/" + name, 0644, content.toString()));
    }

    @Test
    void resolvesPushedImageByTag() {
        RegistryClient.ResolvedImage img = client.resolve(plainRef, Platform.host());
        assertEquals(plain.topDigest(), img.target().digest(), "the tag resolves to the digest that was pushed");
        assertEquals(MediaTypes.OCI_MANIFEST, img.target().mediaType(), "a plain push is an OCI manifest at the top");
        assertEquals(plain.manifestDigest(), Digest.sha256(img.manifestBytes().bytes()),
                "the sha256 of the manifest bytes fetched equals the pushed manifest digest");
        assertEquals(plain.manifestDigest(), img.manifestBytes().digest(), "the fetched manifest's recorded digest is the pushed one");
        assertEquals(img.manifestBytes().bytes().length, img.target().size(), "the descriptor's size is the manifest byte count");
        assertEquals(plain.layerDigests(), img.manifest().layers().stream().map(Descriptor::digest).toList(),
                "the manifest lists the pushed layer");
        assertEquals(1, img.manifest().layers().size(), "the image has exactly one layer");
    }

    @Test
    void resolvesPushedImageByDigest() {
        Reference byDigest = Reference.parse(registry.address() + "/test/plain@" + plain.topDigest());
        RegistryClient.ResolvedImage img = client.resolve(byDigest, Platform.host());
        assertEquals(plain.topDigest(), img.target().digest(), "a digest reference resolves to itself");
        assertEquals(plain.manifestDigest(), Digest.sha256(img.manifestBytes().bytes()),
                "bytes fetched by digest hash to that digest");
    }

    @Test
    void indexResolvesToHostPlatformManifest() {
        RegistryClient.ResolvedImage img = client.resolve(indexRef, Platform.host());
        assertEquals(indexed.topDigest(), img.target().digest(), "the target is the index the tag points to");
        assertEquals(MediaTypes.OCI_INDEX, img.target().mediaType(), "the top-level document is an OCI index");
        assertNotEquals(indexed.topDigest(), indexed.manifestDigest(), "index and manifest are different documents");
        assertEquals(indexed.manifestDigest(), img.manifestBytes().digest(), "the index resolves to the host platform's manifest");
        assertEquals(indexed.manifestDigest(), Digest.sha256(img.manifestBytes().bytes()),
                "the chosen manifest's bytes hash to the digest the index names");
        assertEquals(MediaTypes.OCI_MANIFEST, img.manifestBytes().mediaType(), "the chosen document is a manifest");
        assertEquals(indexed.layerDigests(), img.manifest().layers().stream().map(Descriptor::digest).toList(),
                "the chosen manifest lists the pushed layer");
    }

    @Test
    void indexWithoutOtherPlatformIsRefused() {
        Platform other = Platform.host().architecture().equals("s390x") ? Platform.parse("linux/amd64") : Platform.parse("linux/s390x");
        OciException e = assertThrows(OciException.class, () -> client.resolve(indexRef, other),
                "resolving an index for a platform it lacks fails");
        assertTrue(e.getMessage().contains("no manifest for platform " + other), "message names the wanted platform: " + e.getMessage());
        assertTrue(e.getMessage().contains(Platform.host().toString()), "message lists the platform the index has: " + e.getMessage());
    }

    @Test
    void blobExistsForPushedBlobsOnly() {
        RegistryClient.ResolvedImage img = client.resolve(plainRef, Platform.host());
        assertTrue(client.blobExists(plainRef, plain.layerDigests().get(0)), "the pushed layer blob exists");
        assertTrue(client.blobExists(plainRef, img.manifest().config().digest()), "the pushed config blob exists");
        assertFalse(client.blobExists(plainRef, Digest.sha256("never pushed".getBytes())), "an unknown blob does not exist");
    }

    @Test
    void openBlobWithRangeReturnsTheTail() throws IOException {
        Digest layer = plain.layerDigests().get(0);
        byte[] whole;
        try (InputStream in = client.openBlob(plainRef, layer, 0)) {
            whole = in.readAllBytes();
        }
        assertEquals(layer, Digest.sha256(whole), "the whole blob hashes to its digest");
        assertTrue(whole.length > 40, "the layer is long enough to take a tail of: " + whole.length);
        int from = whole.length / 3;
        byte[] tail;
        try (InputStream in = client.openBlob(plainRef, layer, from)) {
            tail = in.readAllBytes();
        }
        assertArrayEquals(Arrays.copyOfRange(whole, from, whole.length), tail, "a Range from offset " + from + " returns exactly the tail bytes");
    }

    @Test
    void openMissingBlobSaysNotFound() {
        Digest missing = Digest.sha256("missing blob".getBytes());
        OciException e = assertThrows(OciException.class, () -> client.openBlob(plainRef, missing, 0), "opening a missing blob fails");
        assertTrue(e.getMessage().contains("blob " + missing) && e.getMessage().contains("not found"),
                "message names the missing blob: " + e.getMessage());
    }

    @Test
    void unknownTagAndRepositoryAreImageNotFound() {
        for (String name : List.of("/test/plain:nope", "/test/never-pushed:v1",
                "/test/plain@sha256:0000000000000000000000000000000000000000000000000000000000000000")) {
            Reference ref = Reference.parse(registry.address() + name);
            OciException e = assertThrows(OciException.class, () -> client.resolve(ref, Platform.host()), "resolving " + ref + " fails");
            assertTrue(e.getMessage().startsWith("image not found"), "a missing " + name + " is reported as image not found: " + e.getMessage());
        }
    }

    @Test
    void unreachableRegistryIsReportedQuickly() {
        Reference ref = Reference.parse("127.0.0.1:1/test/plain:v1");
        OciException e = assertTimeoutPreemptively(Duration.ofSeconds(15),
                () -> assertThrows(OciException.class, () -> client.resolve(ref, Platform.host()), "resolving from a closed port fails"),
                "a refused connection is reported without waiting for a timeout");
        assertTrue(e.getMessage().contains("cannot reach registry 127.0.0.1:1"), "message says the registry cannot be reached: " + e.getMessage());
    }
}
