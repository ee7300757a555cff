package dev.berth.cli.rpc;

/**
 * The HPACK string Huffman code (RFC 7541 Appendix B). The code is canonical: sorting the symbols by code length,
 * then by value, and counting upward gives every code, so only the 257 lengths are written down here.
 */
final class Huffman {

    private Huffman() {
    }

    static final int EOS = 256;

    /** Code length in bits of each symbol 0..255 and EOS (256), from the RFC's table. */
    private static final byte[] LENGTHS = {
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //   0..15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //  16..31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,         //  32..47  ' ' .. '/'
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,              //  48..63  '0' .. '?'
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                //  64..79  '@' .. 'O'
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,             //  80..95  'P' .. '_'
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                //  96..111 '`' .. 'o'
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,            // 112..127 'p' .. DEL
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128..143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144..159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160..175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176..191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192..207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208..223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224..239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240..255
        30,                                                             // EOS
    };

    private static final int MAX_LENGTH = 30;

    /** CODES[s]: the code of symbol s, right-aligned in LENGTHS[s] bits. */
    static final int[] CODES = new int[257];
    /** For decoding: per length, the first code of that length, how many codes have it, and where they start in SORTED. */
    private static final int[] FIRST_CODE = new int[MAX_LENGTH + 1];
    private static final int[] COUNT = new int[MAX_LENGTH + 1];
    private static final int[] OFFSET = new int[MAX_LENGTH + 1];
    /** The symbols ordered by (length, value): canonical order. */
    private static final short[] SORTED = new short[257];

    static {
        int code = 0;
        int n = 0;
        for (int len = 1; len <= MAX_LENGTH; len++) {
            FIRST_CODE[len] = code;
            OFFSET[len] = n;
            for (int s = 0; s <= EOS; s++) {
                if (LENGTHS[s] == len) {
                    CODES[s] = code++;
                    SORTED[n++] = (short) s;
                }
            }
            COUNT[len] = n - OFFSET[len];
            code <<= 1;
        }
    }

    static int length(int symbol) {
        return LENGTHS[symbol];
    }

    /** How many octets {@link #encode} produces for these bytes. */
    static int encodedLength(byte[] src, int off, int len) {
        long bits = 0;
        for (int i = off; i < off + len; i++) {
            bits += LENGTHS[src[i] & 0xff];
        }
        return (int) ((bits + 7) >>> 3);
    }

    /** Huffman-codes the bytes, padding the last octet with the most significant bits of EOS (all ones). */
    static byte[] encode(byte[] src, int off, int len) {
        byte[] out = new byte[encodedLength(src, off, len)];
        long acc = 0;   // pending bits, right-aligned
        int bits = 0;
        int o = 0;
        for (int i = off; i < off + len; i++) {
            int s = src[i] & 0xff;
            acc = (acc << LENGTHS[s]) | CODES[s];
            bits += LENGTHS[s];
            while (bits >= 8) {
                bits -= 8;
                out[o++] = (byte) (acc >>> bits);
            }
        }
        if (bits > 0) {
            out[o] = (byte) ((acc << (8 - bits)) | (0xff >>> bits));
        }
        return out;
    }

    /**
     * Decodes a Huffman-coded string. Bit by bit against the canonical tables: slow per bit, but Huffman strings are
     * rare here (servers code only long values) and this needs no large lookup table at start-up.
     */
    static byte[] decode(byte[] src, int off, int len) throws Http2Exception {
        byte[] out = new byte[len * 8 / 5 + 1];   // the shortest code is 5 bits
        int o = 0;
        int code = 0;
        int codeLen = 0;
        for (int i = off; i < off + len; i++) {
            int b = src[i];
            for (int bit = 7; bit >= 0; bit--) {
                code = (code << 1) | ((b >>> bit) & 1);
                codeLen++;
                int index = code - FIRST_CODE[codeLen];
                if (index >= 0 && index < COUNT[codeLen]) {
                    int s = SORTED[OFFSET[codeLen] + index];
                    if (s == EOS) {
                        throw new Http2Exception(Http2Exception.COMPRESSION_ERROR, "EOS symbol inside a Huffman-coded string");
                    }
                    out[o++] = (byte) s;
                    code = 0;
                    codeLen = 0;
                } else if (codeLen == MAX_LENGTH) {
                    throw new Http2Exception(Http2Exception.COMPRESSION_ERROR, "invalid Huffman code");
                }
            }
        }
        // RFC 7541 5.2: padding is shorter than 8 bits and is the start of EOS (all ones).
        if (codeLen > 7 || code != (1 << codeLen) - 1) {
            throw new Http2Exception(Http2Exception.COMPRESSION_ERROR, "invalid Huffman padding");
        }
        return o == out.length ? out : java.util.Arrays.copyOf(out, o);
    }
}
