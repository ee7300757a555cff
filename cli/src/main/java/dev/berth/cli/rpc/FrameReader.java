package dev.berth.cli.rpc;

import static dev.berth.cli.rpc.Http2Connection.ACK;
import static dev.berth.cli.rpc.Http2Connection.CONTINUATION;
import static dev.berth.cli.rpc.Http2Connection.DATA;
import static dev.berth.cli.rpc.Http2Connection.END_HEADERS;
import static dev.berth.cli.rpc.Http2Connection.END_STREAM;
import static dev.berth.cli.rpc.Http2Connection.GOAWAY;
import static dev.berth.cli.rpc.Http2Connection.HEADERS;
import static dev.berth.cli.rpc.Http2Connection.MAX_FRAME;
import static dev.berth.cli.rpc.Http2Connection.PADDED;
import static dev.berth.cli.rpc.Http2Connection.PING;
import static dev.berth.cli.rpc.Http2Connection.PRIORITY;
import static dev.berth.cli.rpc.Http2Connection.PRIORITY_FLAG;
import static dev.berth.cli.rpc.Http2Connection.PUSH_PROMISE;
import static dev.berth.cli.rpc.Http2Connection.RST_STREAM;
import static dev.berth.cli.rpc.Http2Connection.SETTINGS;
import static dev.berth.cli.rpc.Http2Connection.WINDOW_UPDATE;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;

/**
 * The connection's one reader thread: reads frames off the socket, checks each against RFC 9113 (sizes, padding,
 * stream 0 rules, CONTINUATION sequences), decodes header blocks (the HPACK table is the connection's), and hands
 * what they mean to the {@link Http2Connection} (windows, settings, GOAWAY) or to the {@link GrpcStream} they are for.
 */
final class FrameReader implements Runnable {

    /** A header block larger than this is refused (responses carry a few hundred octets). */
    private static final int MAX_HEADER_BLOCK = 1 << 20;

    private final Http2Connection conn;
    private final ByteBuffer in = ByteBuffer.allocate(4 * (MAX_FRAME + 9));
    private final Hpack decoder = new Hpack(Http2Connection.HEADER_TABLE_SIZE);
    private boolean settingsReceived;
    private int blockStream;                  // the stream whose header block awaits CONTINUATION frames; 0: none
    private boolean blockEndStream;
    private byte[] block = new byte[1024];
    private int blockLength;

    FrameReader(Http2Connection conn) {
        this.conn = conn;
    }

    @Override
    public void run() {
        try {
            in.flip();   // empty, ready for reading
            while (true) {
                readFrame();
            }
        } catch (Http2Exception e) {
            conn.protocolFailure(e);
        } catch (IOException e) {
            conn.readFailed(e);
        } catch (RuntimeException | Error e) {
            conn.fail(Code.INTERNAL, "the connection to the node agent failed: " + e);
            throw e;
        }
    }

    static int readInt(byte[] a, int p) {
        return ((a[p] & 0xff) << 24) | ((a[p + 1] & 0xff) << 16) | ((a[p + 2] & 0xff) << 8) | (a[p + 3] & 0xff);
    }

    static Http2Exception protocolError(String message) {
        return new Http2Exception(Http2Exception.PROTOCOL_ERROR, message);
    }

    /** Makes n bytes available in {@link #in} from its position. */
    private void ensure(int n) throws IOException {
        if (in.remaining() >= n) {
            return;
        }
        in.compact();
        while (in.position() < n) {
            if (conn.channel.read(in) < 0) {
                throw new EOFException();
            }
        }
        in.flip();
    }

    private void readFrame() throws IOException {
        ensure(9);
        byte[] a = in.array();
        int p = in.position();
        int length = ((a[p] & 0xff) << 16) | ((a[p + 1] & 0xff) << 8) | (a[p + 2] & 0xff);
        int type = a[p + 3] & 0xff;
        int flags = a[p + 4] & 0xff;
        int streamId = readInt(a, p + 5) & 0x7fffffff;   // the reserved bit is ignored
        if (length > MAX_FRAME) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "frame of " + length + " octets exceeds our MAX_FRAME_SIZE " + MAX_FRAME);
        }
        ensure(9 + length);
        p = in.position();   // ensure() may have compacted the buffer
        in.position(p + 9 + length);
        if (!settingsReceived && type != SETTINGS) {
            throw new Http2Exception(Http2Exception.PROTOCOL_ERROR, "the server's first frame is not SETTINGS (type " + type + ")");
        }
        if (blockStream != 0 && (type != CONTINUATION || streamId != blockStream)) {
            throw new Http2Exception(Http2Exception.PROTOCOL_ERROR, "frame type " + type + " inside the header block of stream " + blockStream);
        }
        int off = p + 9;
        switch (type) {
            case DATA: onData(flags, streamId, a, off, length); break;
            case HEADERS: onHeaders(flags, streamId, a, off, length); break;
            case PRIORITY: if (streamId == 0) { throw protocolError("PRIORITY on stream 0"); } break;
            case RST_STREAM: onRstStream(streamId, a, off, length); break;
            case SETTINGS: onSettings(flags, streamId, a, off, length); break;
            case PUSH_PROMISE: throw protocolError("PUSH_PROMISE although we disabled push");
            case PING: onPing(flags, streamId, a, off, length); break;
            case GOAWAY: onGoAway(streamId, a, off, length); break;
            case WINDOW_UPDATE: onWindowUpdate(streamId, a, off, length); break;
            case CONTINUATION: onContinuation(flags, streamId, a, off, length); break;
            default: break;   // unknown frame types are ignored (RFC 9113 4.1)
        }
    }

    private void onData(int flags, int streamId, byte[] a, int off, int length) throws IOException {
        GrpcStream<?, ?> s = conn.stream(streamId, "DATA");
        int dataOff = off;
        int dataLength = length;
        if ((flags & PADDED) != 0) {
            if (length < 1 || (a[off] & 0xff) > length - 1) {
                throw protocolError("DATA padding exceeds the frame");
            }
            dataOff++;
            dataLength -= 1 + (a[off] & 0xff);
        }
        boolean streamOverrun = conn.received(s, length);
        if (s == null) {
            conn.consumed(null, length);   // a stream we already finished: nobody will read this
            return;
        }
        if (streamOverrun) {
            conn.consumed(null, length);
            s.protocolViolation(Http2Exception.FLOW_CONTROL_ERROR, "the node agent overran the stream's flow-control window");
            return;
        }
        s.onData(a, dataOff, dataLength, length - dataLength, (flags & END_STREAM) != 0);
    }

    private void onHeaders(int flags, int streamId, byte[] a, int off, int length) throws IOException {
        if (streamId == 0) {
            throw protocolError("HEADERS on stream 0");
        }
        int start = off;
        int end = off + length;
        if ((flags & PADDED) != 0) {
            if (length < 1) {
                throw protocolError("HEADERS too short for its padding");
            }
            end -= a[start] & 0xff;
            start++;
        }
        if ((flags & PRIORITY_FLAG) != 0) {
            start += 5;
        }
        if (start > end) {
            throw protocolError("HEADERS padding or priority exceeds the frame");
        }
        blockLength = 0;
        blockEndStream = (flags & END_STREAM) != 0;
        appendBlock(a, start, end - start);
        if ((flags & END_HEADERS) != 0) {
            headerBlockDone(streamId);
        } else {
            blockStream = streamId;
        }
    }

    private void onContinuation(int flags, int streamId, byte[] a, int off, int length) throws IOException {
        if (blockStream == 0) {
            throw protocolError("CONTINUATION without a HEADERS frame before it");
        }
        appendBlock(a, off, length);
        if ((flags & END_HEADERS) != 0) {
            blockStream = 0;
            headerBlockDone(streamId);
        }
    }

    private void appendBlock(byte[] a, int off, int length) throws Http2Exception {
        if (blockLength + length > MAX_HEADER_BLOCK) {
            throw protocolError("header block larger than " + MAX_HEADER_BLOCK + " octets");
        }
        if (blockLength + length > block.length) {
            block = java.util.Arrays.copyOf(block, Math.max(block.length * 2, blockLength + length));
        }
        System.arraycopy(a, off, block, blockLength, length);
        blockLength += length;
    }

    private void headerBlockDone(int streamId) throws IOException {
        // Decode even if nobody wants the headers: the HPACK table is the connection's.
        ArrayList<String> fields = new ArrayList<>();
        decoder.decode(block, 0, blockLength, fields);
        GrpcStream<?, ?> s = conn.stream(streamId, "HEADERS");
        if (s != null) {
            s.onHeaders(fields, blockEndStream);
        }
    }

    private void onRstStream(int streamId, byte[] a, int off, int length) throws IOException {
        if (length != 4) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "RST_STREAM of " + length + " octets");
        }
        GrpcStream<?, ?> s = conn.stream(streamId, "RST_STREAM");
        if (s != null) {
            s.onReset(readInt(a, off));
        }
    }

    private void onSettings(int flags, int streamId, byte[] a, int off, int length) throws IOException {
        if (streamId != 0) {
            throw protocolError("SETTINGS on stream " + streamId);
        }
        if ((flags & ACK) != 0) {
            if (length != 0) {
                throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
            }
            return;
        }
        if (length % 6 != 0) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "SETTINGS of " + length + " octets");
        }
        settingsReceived = true;
        conn.settingsArrived(a, off, length);
    }

    private void onPing(int flags, int streamId, byte[] a, int off, int length) throws IOException {
        if (streamId != 0) {
            throw protocolError("PING on stream " + streamId);
        }
        if (length != 8) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "PING of " + length + " octets");
        }
        if ((flags & ACK) == 0) {
            conn.pingArrived(a, off);
        }
    }

    private void onGoAway(int streamId, byte[] a, int off, int length) throws IOException {
        if (streamId != 0) {
            throw protocolError("GOAWAY on stream " + streamId);
        }
        if (length < 8) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "GOAWAY of " + length + " octets");
        }
        int lastStreamId = readInt(a, off) & 0x7fffffff;
        int errorCode = readInt(a, off + 4);
        String reason = Http2Exception.name(errorCode);
        if (length > 8) {
            reason = reason + ": " + new String(a, off + 8, length - 8, StandardCharsets.UTF_8);
        }
        conn.goAwayArrived(lastStreamId, reason);
    }

    private void onWindowUpdate(int streamId, byte[] a, int off, int length) throws IOException {
        if (length != 4) {
            throw new Http2Exception(Http2Exception.FRAME_SIZE_ERROR, "WINDOW_UPDATE of " + length + " octets");
        }
        conn.windowUpdateArrived(streamId, readInt(a, off) & 0x7fffffff);
    }
}
