package dev.berth.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DigestTest {

    /** sha256 of the empty string (FIPS 180-2 / well-known). */
    private static final String EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /** sha256 of "abc" (FIPS 180-2 test vector). */
    private static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    /** sha512 of "abc" (FIPS 180-2 test vector). */
    private static final String ABC512 = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    @Test
    void parseAndToStringRoundTrip() {
        Digest d = Digest.parse("sha256:" + ABC);
        assertEquals("sha256", d.algorithm(), "algorithm before the colon");
        assertEquals(ABC, d.hex(), "hex after the colon");
        assertEquals(ABC, d.encoded(), "encoded() is the hex part");
        assertEquals("sha256:" + ABC, d.toString(), "toString gives back algorithm:hex");
        assertEquals(d, Digest.parse(d.toString()), "parse(toString()) is the same digest");
        assertEquals(ABC.substring(0, 12), d.shortHex(), "shortHex is the first 12 hex characters");
    }

    @Test
    void sha512RoundTrip() {
        Digest d = Digest.parse("sha512:" + ABC512);
        assertEquals("sha512:" + ABC512, d.toString(), "a sha512 digest round-trips");
    }

    @Test
    void sha256OfKnownInputs() throws IOException {
        assertEquals("sha256:" + EMPTY, Digest.sha256(new byte[0]).toString(), "sha256 of the empty input");
        assertEquals("sha256:" + ABC, Digest.sha256("abc".getBytes(StandardCharsets.US_ASCII)).toString(), "sha256 of \"abc\"");
        assertEquals("sha256:" + EMPTY, Digest.sha256(new ByteArrayInputStream(new byte[0])).toString(), "streamed sha256 of the empty input");
        assertEquals("sha256:" + ABC, Digest.sha256(new ByteArrayInputStream("abc".getBytes(StandardCharsets.US_ASCII))).toString(),
                "streamed sha256 of \"abc\"");
    }

    @Test
    void streamedDigestOfMultiBufferInputMatchesInMemory() throws IOException {
        byte[] big = new byte[(1 << 16) * 3 + 17];
        for (int i = 0; i < big.length; i++) big[i] = (byte) (i * 31);
        assertEquals(Digest.sha256(big), Digest.sha256(new ByteArrayInputStream(big)),
                "hashing a stream larger than the read buffer gives the same digest as hashing the array");
    }

    @Test
    void hasherIsIncrementalAndFollowsTheAlgorithm() {
        Digest.Hasher h = Digest.parse("sha256:" + EMPTY).newHasher();
        byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
        h.update(abc, 0, 1);
        h.update(abc, 1, 2);
        assertEquals("sha256:" + ABC, h.digest().toString(), "incremental sha256 of \"a\" + \"bc\"");

        Digest.Hasher h512 = Digest.parse("sha512:" + ABC512).newHasher();
        h512.update(abc, 0, 3);
        assertEquals("sha512:" + ABC512, h512.digest().toString(), "a sha512 digest's hasher computes sha512");
    }

    @ParameterizedTest(name = "rejects \"{0}\"")
    @CsvSource(delimiter = '|', value = {
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD | expected lowercase hex",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a  | of the right length",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0 | of the right length",
            "sha256:                                                                 | malformed sha256 digest",
            "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad | malformed sha256 digest",
            "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad | malformed sha512 digest",
            "md5:d41d8cd98f00b204e9800998ecf8427e                                    | use sha256 or sha512",
            "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad | use sha256 or sha512",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad        | expected algorithm:hex",
            ":ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad       | expected algorithm:hex",
    })
    void rejectsMalformedWithAHint(String input, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Digest.parse(input),
                "Digest.parse must reject \"" + input + "\"");
        assertTrue(e.getMessage().contains(expected),
                "message for \"" + input + "\" should contain \"" + expected + "\" but was: " + e.getMessage());
        assertFalse(Digest.isDigest(input), "isDigest is false for \"" + input + "\"");
    }

    @Test
    void rejectsNull() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Digest.parse(null), "null digest is rejected");
        assertEquals("missing digest", e.getMessage(), "null digest message");
    }

    @Test
    void isDigestAndOrdering() {
        assertTrue(Digest.isDigest("sha256:" + ABC), "a well-formed sha256 digest is a digest");
        assertFalse(Digest.isDigest("latest"), "a tag is not a digest");
        Digest a = Digest.parse("sha256:" + ABC);
        Digest e = Digest.parse("sha256:" + EMPTY);
        assertNotEquals(a, e, "different hex, different digest");
        assertTrue(a.compareTo(e) < 0, "digests order by their string form (ba.. < e3..)");
        assertEquals(0, a.compareTo(Digest.parse("sha256:" + ABC)), "equal digests compare equal");
    }

    @Test
    void jsonWritesAndReadsDigestsAsStrings() {
        Descriptor d = new Descriptor(MediaTypes.OCI_CONFIG, Digest.parse("sha256:" + ABC), 3);
        String json = new String(Json.write(d), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"digest\":\"sha256:" + ABC + "\""), "a digest is serialised as its string form, got " + json);
        assertEquals(d, Json.read(json.getBytes(StandardCharsets.UTF_8), Descriptor.class, "descriptor"), "descriptor JSON round-trips");
    }

    @Test
    void jsonRefusesMalformedDigestAsOciException() {
        byte[] bad = "{\"mediaType\":\"x\",\"digest\":\"sha256:ABC\",\"size\":1}".getBytes(StandardCharsets.UTF_8);
        OciException e = assertThrows(OciException.class, () -> Json.read(bad, Descriptor.class, "descriptor"),
                "a descriptor with a malformed digest is refused");
        assertTrue(e.getMessage().startsWith("malformed descriptor"), "message names what was malformed, got: " + e.getMessage());
    }
}
