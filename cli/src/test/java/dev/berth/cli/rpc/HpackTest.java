package dev.berth.cli.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The HPACK decoder against RFC 7541 Appendix C, and our encoder's literals against the decoder. */
class HpackTest {

    static byte[] hex(String s) {
        String h = s.replace(" ", "").replace("\n", "");
        byte[] b = new byte[h.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    static List<String> decode(Hpack hpack, String hexBlock) throws Http2Exception {
        byte[] b = hex(hexBlock);
        ArrayList<String> out = new ArrayList<>();
        hpack.decode(b, 0, b.length, out);
        return out;
    }

    /** Checks the dynamic table, newest first, as the RFC prints it: name, value pairs, and its size. */
    static void assertTable(Hpack hpack, int size, String... entries) throws Http2Exception {
        assertEquals(entries.length / 2, hpack.tableLength(), "entries");
        for (int i = 0; i < entries.length / 2; i++) {
            assertEquals(entries[2 * i], hpack.name(62 + i), "name of entry " + (i + 1));
            assertEquals(entries[2 * i + 1], hpack.value(62 + i), "value of entry " + (i + 1));
        }
        assertEquals(size, hpack.tableSize(), "table size");
    }

    @Test
    void c2FieldRepresentations() throws Http2Exception {
        Hpack h = new Hpack(4096);
        assertEquals(List.of("custom-key", "custom-header"),
                decode(h, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
        assertTable(h, 55, "custom-key", "custom-header");

        h = new Hpack(4096);
        assertEquals(List.of(":path", "/sample/path"), decode(h, "040c 2f73 616d 706c 652f 7061 7468"));
        assertTable(h, 0);

        h = new Hpack(4096);
        assertEquals(List.of("password", "secret"), decode(h, "1008 7061 7373 776f 7264 0673 6563 7265 74"));
        assertTable(h, 0);

        h = new Hpack(4096);
        assertEquals(List.of(":method", "GET"), decode(h, "82"));
        assertTable(h, 0);
    }

    @Test
    void c3RequestsWithoutHuffman() throws Http2Exception {
        requests(new String[] {
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        });
    }

    @Test
    void c4RequestsWithHuffman() throws Http2Exception {
        requests(new String[] {
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        });
    }

    private static void requests(String[] blocks) throws Http2Exception {
        Hpack h = new Hpack(4096);
        assertEquals(List.of(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"), decode(h, blocks[0]));
        assertTable(h, 57, ":authority", "www.example.com");
        assertEquals(List.of(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com",
                "cache-control", "no-cache"), decode(h, blocks[1]));
        assertTable(h, 110, "cache-control", "no-cache", ":authority", "www.example.com");
        assertEquals(List.of(":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com",
                "custom-key", "custom-value"), decode(h, blocks[2]));
        assertTable(h, 164, "custom-key", "custom-value", "cache-control", "no-cache", ":authority", "www.example.com");
    }

    @Test
    void c5ResponsesWithoutHuffmanEvict() throws Http2Exception {
        responses(new String[] {
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d"
                + "546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f"
                + "6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630"
                + "303b 2076 6572 7369 6f6e 3d31",
        });
    }

    @Test
    void c6ResponsesWithHuffmanEvict() throws Http2Exception {
        responses(new String[] {
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7"
                + "8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ffc1 c0bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335"
                + "dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        });
    }

    private static void responses(String[] blocks) throws Http2Exception {
        Hpack h = new Hpack(256);   // the examples' SETTINGS_HEADER_TABLE_SIZE
        String date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
        String date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
        String location = "https://www.example.com";
        String cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
        assertEquals(List.of(":status", "302", "cache-control", "private", "date", date1, "location", location), decode(h, blocks[0]));
        assertTable(h, 222, "location", location, "date", date1, "cache-control", "private", ":status", "302");
        assertEquals(List.of(":status", "307", "cache-control", "private", "date", date1, "location", location), decode(h, blocks[1]));
        assertTable(h, 222, ":status", "307", "location", location, "date", date1, "cache-control", "private");
        assertEquals(List.of(":status", "200", "cache-control", "private", "date", date2, "location", location,
                "content-encoding", "gzip", "set-cookie", cookie), decode(h, blocks[2]));
        assertTable(h, 215, "set-cookie", cookie, "content-encoding", "gzip", "date", date2);
    }

    @Test
    void tableSizeUpdatesEvictAndAreBounded() throws Http2Exception {
        Hpack h = new Hpack(4096);
        decode(h, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");   // 55 octets
        assertTable(h, 55, "custom-key", "custom-header");
        decode(h, "20");   // size 0: empties the table
        assertTable(h, 0);
        // Back up to 100 (two updates at the start of one block are allowed), then an entry fits again.
        decode(h, "20 3f45 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
        assertTable(h, 55, "custom-key", "custom-header");
        // Above the limit we announced, after a field, and indexes past the table are errors.
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "3fe2 1f"));   // 4097
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "82 20"));
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "be"));
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "80"));
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "040c 2f73"));  // string overruns the block
        assertThrows(Http2Exception.class, () -> decode(new Hpack(4096), "ff ff ff ff ff ff 01"));  // integer overflow
    }

    @Test
    void anEntryLargerThanTheTableEmptiesIt() throws Http2Exception {
        Hpack h = new Hpack(64);
        decode(h, "4003 6b65 7903 7661 6c");   // key: val, 38 octets
        assertTable(h, 38, "key", "val");
        // 32 + 10 + 26 = 68 > 64: not added, and the table is emptied.
        assertEquals(List.of("custom-key", "abcdefghijklmnopqrstuvwxyz"),
                decode(h, "400a 6375 7374 6f6d 2d6b 6579 1a61 6263 6465 6667 6869 6a6b 6c6d 6e6f 7071 7273 7475 7677 7879 7a"));
        assertTable(h, 0);
    }

    @Test
    void ourLiteralsDecode() throws Http2Exception {
        byte[] b = new byte[256];
        int p = Hpack.putLiteral(b, 0, 4, null, "/containerd.services.tasks.v1.Tasks/Wait");
        p = Hpack.putLiteral(b, p, 0, "containerd-namespace", "default");
        String longValue = "x".repeat(300);   // a length beyond the 7-bit prefix
        byte[] big = new byte[400];
        int q = Hpack.putLiteral(big, 0, 58, null, longValue);
        ArrayList<String> out = new ArrayList<>();
        Hpack h = new Hpack(4096);
        h.decode(b, 0, p, out);
        h.decode(big, 0, q, out);
        assertEquals(List.of(":path", "/containerd.services.tasks.v1.Tasks/Wait", "containerd-namespace", "default",
                "user-agent", longValue), out);
        assertTable(h, 0);   // literals without indexing leave the table alone
        // RFC 7541 C.1: 1337 in a 5-bit prefix.
        byte[] i = new byte[3];
        assertEquals(3, Hpack.putInt(i, 0, 0, 5, 1337));
        assertArrayEquals(new byte[] {31, (byte) 154, 10}, i);
    }
}
