package dev.berth.cli.rpc;

import java.util.ArrayDeque;

/**
 * Splits a gRPC response body into its Length-Prefixed-Messages (a compressed flag, a 4-octet length, the message), as
 * the body arrives in DATA frames of any size: a message may span frames and a frame may hold several.
 */
final class MessageDeframer {

    /** Inbound messages larger than this fail the call with RESOURCE_EXHAUSTED. */
    static final int MAX_MESSAGE = 64 << 20;

    private final byte[] prefix = new byte[5];
    private int prefixLength;
    private byte[] message;      // the message being assembled, or null while reading a prefix
    private int messageLength;

    /**
     * Takes {@code length} body octets; every message they complete is added to {@code complete}. Returns null, or
     * the error that ends the call (a compressed or malformed message, one over {@link #MAX_MESSAGE}).
     */
    RpcException feed(byte[] a, int off, int length, ArrayDeque<byte[]> complete) {
        int p = off;
        int end = off + length;
        while (p < end) {
            if (message == null) {
                int n = Math.min(5 - prefixLength, end - p);
                System.arraycopy(a, p, prefix, prefixLength, n);
                prefixLength += n;
                p += n;
                if (prefixLength < 5) {
                    return null;
                }
                long size = ((prefix[1] & 0xffL) << 24) | ((prefix[2] & 0xff) << 16) | ((prefix[3] & 0xff) << 8) | (prefix[4] & 0xff);
                if (prefix[0] == 1) {
                    return new RpcException(Code.INTERNAL, "the node agent sent a compressed message, which we never asked for");
                }
                if (prefix[0] != 0) {
                    return new RpcException(Code.INTERNAL, "invalid gRPC message flag " + (prefix[0] & 0xff));
                }
                if (size > MAX_MESSAGE) {
                    return new RpcException(Code.RESOURCE_EXHAUSTED, "response message of " + size + " bytes exceeds the limit of " + MAX_MESSAGE + " bytes");
                }
                message = new byte[(int) size];
                messageLength = 0;
            }
            int n = Math.min(message.length - messageLength, end - p);
            System.arraycopy(a, p, message, messageLength, n);
            messageLength += n;
            p += n;
            if (messageLength == message.length) {
                complete.add(message);
                message = null;
                prefixLength = 0;
            }
        }
        return null;
    }

    /** Whether the body so far ends inside a message (then a response ending here is cut short). */
    boolean midMessage() {
        return message != null || prefixLength > 0;
    }
}
