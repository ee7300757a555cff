package dev.berth.cli.rpc;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;

/**
 * HPACK (RFC 7541). The decoder is complete: static table, dynamic table with size updates and eviction, Huffman.
 * The encoder side is a few static helpers: we send every field as a literal without indexing (or a fully indexed
 * static entry), so our encoder keeps no dynamic table and the server's HEADER_TABLE_SIZE cannot be exceeded.
 * Field names and values are kept as ISO-8859-1 strings: one char per octet, so lengths are octet counts.
 */
final class Hpack {

    /** RFC 7541 Appendix A; index 0 is unused. */
    private static final String[] STATIC_NAMES = {
        null, ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status",
        ":status", ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language",
        "accept-ranges", "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
        "content-disposition", "content-encoding", "content-language", "content-length", "content-location",
        "content-range", "content-type", "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match",
        "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
        "max-forwards", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after",
        "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via",
        "www-authenticate",
    };
    private static final String[] STATIC_VALUES = new String[STATIC_NAMES.length];
    static final int STATIC_LENGTH = STATIC_NAMES.length - 1;   // 61

    static {
        STATIC_VALUES[2] = "GET";
        STATIC_VALUES[3] = "POST";
        STATIC_VALUES[4] = "/";
        STATIC_VALUES[5] = "/index.html";
        STATIC_VALUES[6] = "http";
        STATIC_VALUES[7] = "https";
        STATIC_VALUES[8] = "200";
        STATIC_VALUES[9] = "204";
        STATIC_VALUES[10] = "206";
        STATIC_VALUES[11] = "304";
        STATIC_VALUES[12] = "400";
        STATIC_VALUES[13] = "404";
        STATIC_VALUES[14] = "500";
        STATIC_VALUES[16] = "gzip, deflate";
        for (int i = 1; i < STATIC_VALUES.length; i++) {
            if (STATIC_VALUES[i] == null) {
                STATIC_VALUES[i] = "";
            }
        }
    }

    // ---- decoder state: the dynamic table as a ring of entries, newest at head - 1 ----

    /** The largest table size the peer may choose: the SETTINGS_HEADER_TABLE_SIZE we announced. */
    private final int sizeLimit;
    private final String[] names;
    private final String[] values;
    private int head;
    private int count;
    private int size;
    private int maxSize;
    private int pos;   // read position inside the block being decoded

    Hpack(int sizeLimit) {
        this.sizeLimit = sizeLimit;
        this.maxSize = sizeLimit;
        int capacity = sizeLimit / 32 + 1;   // every entry costs at least 32 octets
        names = new String[capacity];
        values = new String[capacity];
    }

    /** Decodes one complete header block (HEADERS plus CONTINUATIONs), appending name, value, name, value... to out. */
    void decode(byte[] b, int off, int len, ArrayList<String> out) throws Http2Exception {
        int end = off + len;
        pos = off;
        boolean fieldSeen = false;
        while (pos < end) {
            int first = b[pos] & 0xff;
            if ((first & 0x80) != 0) {            // 6.1 indexed field
                int index = readInt(b, end, 7);
                if (index == 0) {
                    throw error("indexed header field with index 0");
                }
                out.add(name(index));
                out.add(value(index));
            } else if ((first & 0x40) != 0) {     // 6.2.1 literal with incremental indexing
                int index = readInt(b, end, 6);
                String name = index == 0 ? readString(b, end) : name(index);
                String value = readString(b, end);
                insert(name, value);
                out.add(name);
                out.add(value);
            } else if ((first & 0x20) != 0) {     // 6.3 dynamic table size update
                if (fieldSeen) {
                    throw error("dynamic table size update after a header field");
                }
                int newSize = readInt(b, end, 5);
                if (newSize > sizeLimit) {
                    throw error("dynamic table size update to " + newSize + " above the limit " + sizeLimit);
                }
                maxSize = newSize;
                evictTo(newSize);
                continue;
            } else {                              // 6.2.2 without indexing, 6.2.3 never indexed
                int index = readInt(b, end, 4);
                String name = index == 0 ? readString(b, end) : name(index);
                out.add(name);
                out.add(readString(b, end));
            }
            fieldSeen = true;
        }
    }

    /** The name at an HPACK index: 1..61 static, 62.. dynamic (62 the newest). */
    String name(int index) throws Http2Exception {
        if (index <= STATIC_LENGTH) {
            return STATIC_NAMES[index];
        }
        return names[slot(index)];
    }

    String value(int index) throws Http2Exception {
        if (index <= STATIC_LENGTH) {
            return STATIC_VALUES[index];
        }
        return values[slot(index)];
    }

    /** Entries in the dynamic table. */
    int tableLength() {
        return count;
    }

    /** The dynamic table's size as RFC 7541 4.1 counts it. */
    int tableSize() {
        return size;
    }

    private int slot(int index) throws Http2Exception {
        int age = index - STATIC_LENGTH - 1;
        if (age >= count) {
            throw error("header index " + index + " beyond the dynamic table (" + count + " entries)");
        }
        int s = head - 1 - age;
        return s < 0 ? s + names.length : s;
    }

    private void insert(String name, String value) {
        int entrySize = 32 + name.length() + value.length();
        if (entrySize > maxSize) {    // 4.4: a too-large entry empties the table and is not added
            evictTo(0);
            return;
        }
        evictTo(maxSize - entrySize);
        names[head] = name;
        values[head] = value;
        head = head + 1 == names.length ? 0 : head + 1;
        count++;
        size += entrySize;
    }

    private void evictTo(int target) {
        while (size > target) {
            int oldest = head - count;
            if (oldest < 0) {
                oldest += names.length;
            }
            size -= 32 + names[oldest].length() + values[oldest].length();
            names[oldest] = null;
            values[oldest] = null;
            count--;
        }
    }

    private int readInt(byte[] b, int end, int prefixBits) throws Http2Exception {
        int mask = (1 << prefixBits) - 1;
        int value = b[pos++] & mask;
        if (value < mask) {
            return value;
        }
        long v = value;
        int shift = 0;
        int octet;
        do {
            if (shift > 28) {
                throw error("integer overflow in header block");
            }
            if (pos >= end) {
                throw error("header block ends inside an integer");
            }
            octet = b[pos++] & 0xff;
            v += (long) (octet & 0x7f) << shift;
            shift += 7;
            if (v > Integer.MAX_VALUE) {
                throw error("integer overflow in header block");
            }
        } while ((octet & 0x80) != 0);
        return (int) v;
    }

    private String readString(byte[] b, int end) throws Http2Exception {
        if (pos >= end) {
            throw error("header block ends before a string");
        }
        boolean huffman = (b[pos] & 0x80) != 0;
        int len = readInt(b, end, 7);
        if (len > end - pos) {
            throw error("string of " + len + " octets overruns the header block");
        }
        String s;
        if (huffman) {
            byte[] decoded = Huffman.decode(b, pos, len);
            s = new String(decoded, StandardCharsets.ISO_8859_1);
        } else {
            s = new String(b, pos, len, StandardCharsets.ISO_8859_1);
        }
        pos += len;
        return s;
    }

    private static Http2Exception error(String message) {
        return new Http2Exception(Http2Exception.COMPRESSION_ERROR, message);
    }

    // ---- encoder helpers ----

    /** An upper bound of the octets {@link #putLiteral} writes for this field. */
    static int maxLiteralLength(String name, String value) {
        return 1 + 5 + name.length() + 5 + value.length();
    }

    /**
     * Writes a literal field without indexing (6.2.2): with the static name index when nameIndex > 0, else with a
     * literal name. Strings are sent raw (no Huffman): it costs a few octets on a unix socket and no CPU.
     */
    static int putLiteral(byte[] dst, int p, int nameIndex, String name, String value) {
        if (nameIndex > 0) {
            p = putInt(dst, p, 0x00, 4, nameIndex);
        } else {
            dst[p++] = 0x00;
            p = putString(dst, p, name);
        }
        return putString(dst, p, value);
    }

    static int putString(byte[] dst, int p, String s) {
        int len = s.length();
        p = putInt(dst, p, 0x00, 7, len);
        for (int i = 0; i < len; i++) {
            char c = s.charAt(i);
            dst[p++] = (byte) (c <= 0xff ? c : '?');
        }
        return p;
    }

    /** 5.1: an integer in an N-bit prefix, the octet's high bits taken from flags. */
    static int putInt(byte[] dst, int p, int flags, int prefixBits, int value) {
        int mask = (1 << prefixBits) - 1;
        if (value < mask) {
            dst[p++] = (byte) (flags | value);
            return p;
        }
        dst[p++] = (byte) (flags | mask);
        value -= mask;
        while (value >= 0x80) {
            dst[p++] = (byte) ((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        dst[p++] = (byte) value;
        return p;
    }
}
