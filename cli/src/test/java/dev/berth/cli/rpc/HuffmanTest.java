package dev.berth.cli.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The canonical code rebuilt from the RFC 7541 Appendix B lengths, against the RFC's codes and examples. */
class HuffmanTest {

    @Test
    void codesMatchTheRfcTable() {
        // A sample of the RFC's "code as hex" column, across lengths 5 to 30.
        int[][] rfc = {
            {'0', 0x0, 5}, {'a', 0x3, 5}, {'t', 0x9, 5}, {' ', 0x14, 6}, {':', 0x5c, 7}, {'&', 0xf8, 8}, {'!', 0x3f8, 10},
            {'\'', 0x7fa, 11}, {'#', 0xffa, 12}, {0, 0x1ff8, 13}, {'^', 0x3ffc, 14}, {'<', 0x7ffc, 15}, {'\\', 0x7fff0, 19},
            {128, 0xfffe6, 20}, {153, 0x1fffdc, 21}, {129, 0x3fffd2, 22}, {1, 0x7fffd8, 23}, {9, 0xffffea, 24},
            {199, 0x1ffffec, 25}, {192, 0x3ffffe0, 26}, {255, 0x3ffffee, 26}, {203, 0x7ffffde, 27}, {2, 0xfffffe2, 28},
            {249, 0xffffffe, 28}, {10, 0x3ffffffc, 30}, {22, 0x3ffffffe, 30}, {Huffman.EOS, 0x3fffffff, 30},
        };
        for (int[] r : rfc) {
            assertEquals(r[2], Huffman.length(r[0]), "length of " + r[0]);
            assertEquals(r[1], Huffman.CODES[r[0]], "code of " + r[0]);
        }
    }

    @Test
    void rfcExamples() throws Http2Exception {
        String[][] examples = {   // RFC 7541 C.4 and C.6
            {"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},
            {"no-cache", "a8eb10649cbf"},
            {"custom-key", "25a849e95ba97d7f"},
            {"custom-value", "25a849e95bb8e8b4bf"},
            {"302", "6402"},
            {"private", "aec3771a4b"},
            {"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"},
            {"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
            {"gzip", "9bd9ab"},
            {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"},
        };
        for (String[] e : examples) {
            byte[] plain = e[0].getBytes(StandardCharsets.ISO_8859_1);
            byte[] coded = HpackTest.hex(e[1]);
            assertArrayEquals(coded, Huffman.encode(plain, 0, plain.length), "encoding " + e[0]);
            assertArrayEquals(plain, Huffman.decode(coded, 0, coded.length), "decoding " + e[0]);
        }
    }

    @Test
    void allByteValuesRoundTrip() throws Http2Exception {
        byte[] all = new byte[256 * 3];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) (i * 37);   // every value, in several alignments
        }
        byte[] coded = Huffman.encode(all, 0, all.length);
        assertEquals(Huffman.encodedLength(all, 0, all.length), coded.length);
        assertArrayEquals(all, Huffman.decode(coded, 0, coded.length));
        for (int v = 0; v < 256; v++) {
            byte[] one = {(byte) v};
            assertArrayEquals(one, Huffman.decode(Huffman.encode(one, 0, 1), 0, Huffman.encode(one, 0, 1).length), "byte " + v);
        }
        assertArrayEquals(new byte[0], Huffman.decode(new byte[0], 0, 0));
    }

    @Test
    void invalidPaddingAndEosAreRefused() {
        // 'a' is 00011: padded with ones it is 0x1f; with zeros (0x18) the padding is not EOS's prefix.
        assertThrows(Http2Exception.class, () -> Huffman.decode(new byte[] {0x18}, 0, 1));
        // A whole octet of padding after a complete symbol is more than 7 bits.
        assertThrows(Http2Exception.class, () -> Huffman.decode(new byte[] {0x1f, (byte) 0xff}, 0, 2));
        // The EOS symbol itself (30 ones) inside the string.
        assertThrows(Http2Exception.class, () -> Huffman.decode(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}, 0, 4));
    }
}
