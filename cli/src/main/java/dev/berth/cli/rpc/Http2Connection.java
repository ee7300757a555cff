package dev.berth.cli.rpc;

import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;

/**
 * One HTTP/2 client connection (RFC 9113, prior knowledge, cleartext) on a unix socket: its state (streams,
 * settings, flow control in both directions) and every frame we write. Its {@link FrameReader} thread parses what
 * the server sends and hands each change of state to the methods under "What the server sent".
 *
 * <p>Three locks, always taken in this order: a stream's monitor, then {@link #writeLock} (the socket's write side,
 * stream ids, the frames' order), then this connection's monitor (windows, settings, the stream table). Whoever
 * holds this monitor takes no other lock, and no thread waits for flow-control credit while holding the write
 * lock, so a sender blocked on a window never stops another stream's frames.
 */
final class Http2Connection {

    // Frame types and flags (RFC 9113 6).
    static final int DATA = 0x0, HEADERS = 0x1, PRIORITY = 0x2, RST_STREAM = 0x3, SETTINGS = 0x4, PUSH_PROMISE = 0x5,
            PING = 0x6, GOAWAY = 0x7, WINDOW_UPDATE = 0x8, CONTINUATION = 0x9;
    static final int END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;

    /** Our receive windows: large, since a unix socket has no bandwidth-delay product worth tuning for. */
    static final int STREAM_WINDOW = 1 << 20;
    static final int CONNECTION_WINDOW = 16 << 20;
    /** The frame size and HPACK table size we accept: the protocol defaults, so we need not announce them. */
    static final int MAX_FRAME = 16384;
    static final int HEADER_TABLE_SIZE = 4096;
    /** Our DATA frames carry at most this much, whatever larger MAX_FRAME_SIZE the peer allows. */
    private static final int MAX_OUT_PAYLOAD = 65536;
    static final int DEFAULT_WINDOW = 65535;

    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

    final SocketChannel channel;
    final Path socket;

    // ---- write side, guarded by writeLock ----
    private final Object writeLock = new Object();
    private final ByteBuffer out = ByteBuffer.allocate(MAX_OUT_PAYLOAD + 64);
    private int nextStreamId = 1;
    private boolean tableSizeSent;

    // ---- shared state, guarded by this ----
    private final HashMap<Integer, GrpcStream<?, ?>> streams = new HashMap<>();
    private int reservedStreams;              // streams open or about to be, against the peer's MAX_CONCURRENT_STREAMS
    private long sendWindow = DEFAULT_WINDOW; // the peer's connection window for our DATA
    private int peerInitialWindow = DEFAULT_WINDOW;
    private int peerMaxFrame = MAX_FRAME;
    private long peerMaxStreams = Long.MAX_VALUE;
    private long recvWindow = CONNECTION_WINDOW;   // what the peer may still send us on the connection
    private int recvCredit;                   // bytes consumed, not yet given back by WINDOW_UPDATE
    private boolean goAway;
    private String goAwayReason;
    private Code failCode;                    // set once: the connection is finished
    private String failMessage;
    private volatile int lastOpened;          // the highest stream id we opened, for the reader's idle-stream checks

    private Http2Connection(SocketChannel channel, Path socket) {
        this.channel = channel;
        this.socket = socket;
    }

    /** Connects, queues the preface (sent with the first call's frames) and starts the reader. */
    static Http2Connection connect(Path socket) throws IOException {
        SocketChannel channel;
        try {
            channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new IOException("cannot connect to the node agent at " + socket + ": " + e.getMessage(), e);
        }
        Http2Connection c = new Http2Connection(channel, socket);
        synchronized (c.writeLock) {
            c.out.put(PREFACE);
            // SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 1 MiB.
            c.putFrameHeader(12, SETTINGS, 0, 0);
            c.out.putShort((short) 0x2).putInt(0);
            c.out.putShort((short) 0x4).putInt(STREAM_WINDOW);
            c.putFrameHeader(4, WINDOW_UPDATE, 0, 0);
            c.out.putInt(CONNECTION_WINDOW - DEFAULT_WINDOW);
        }
        Thread reader = new Thread(new FrameReader(c), "berth-rpc-reader");
        reader.setDaemon(true);
        reader.start();
        return c;
    }

    // =====================================================================================================
    // Calls' side: opening streams, sending, giving back receive windows
    // =====================================================================================================

    /** Assigns the stream its id and sends its HEADERS (plus CONTINUATIONs); flush=false when a DATA frame follows. */
    void openStream(GrpcStream<?, ?> s, byte[] headerBlock, int length, boolean flush) {
        synchronized (this) {
            while (true) {
                checkUsable();
                if (reservedStreams < peerMaxStreams) {
                    break;
                }
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RpcException(Code.CANCELLED, "interrupted while waiting for a free stream");
                }
            }
            reservedStreams++;
        }
        boolean opened = false;
        try {
            synchronized (writeLock) {
                int id = nextStreamId;
                if (id <= 0) {
                    throw new RpcException(Code.UNAVAILABLE, "no stream ids left on this connection");
                }
                synchronized (this) {
                    checkUsable();
                    s.id = id;
                    s.sendWindow = peerInitialWindow;
                    s.recvWindow = STREAM_WINDOW;
                    streams.put(id, s);
                    lastOpened = id;
                }
                opened = true;
                nextStreamId = id + 2;
                if (!tableSizeSent) {
                    // Our encoder never indexes: a table of size 0 stays valid whatever HEADER_TABLE_SIZE the
                    // server announces later, so no other size update is ever owed (RFC 7541 4.2).
                    byte[] b = new byte[length + 1];
                    b[0] = 0x20;
                    System.arraycopy(headerBlock, 0, b, 1, length);
                    headerBlock = b;
                    length++;
                    tableSizeSent = true;
                }
                int max = maxPayload();
                int off = 0;
                int type = HEADERS;
                do {
                    int n = Math.min(max, length - off);
                    boolean last = off + n == length;
                    putFrameHeader(n, type, last ? END_HEADERS : 0, id);
                    out.put(headerBlock, off, n);
                    off += n;
                    type = CONTINUATION;
                } while (off < length);
                if (flush) {
                    flushOut();
                }
            }
        } catch (IOException e) {
            throw writeFailed(e);
        } finally {
            if (!opened) {
                synchronized (this) {
                    reservedStreams--;
                    notifyAll();
                }
            }
        }
    }

    /**
     * Sends one gRPC length-prefixed message (RFC: compressed flag, 4-byte length, bytes) as DATA frames, as the
     * stream's and the connection's windows allow; blocks for credit until the deadline (System.nanoTime; 0: none).
     */
    void writeMessage(GrpcStream<?, ?> s, byte[] payload, boolean endStream, long deadline) {
        long total = 5L + payload.length;
        long sent = 0;
        try {
            do {
                int n = acquireCredit(s, total - sent, deadline);
                synchronized (writeLock) {
                    if (s.sentEndStream || s.sentReset || s.remoteEnded) {
                        throw s.endedException();
                    }
                    boolean last = sent + n == total;
                    putFrameHeader(n, DATA, last && endStream ? END_STREAM : 0, s.id);
                    long p = sent;
                    long end = sent + n;
                    for (; p < 5 && p < end; p++) {   // the prefix, possibly split over frames in theory
                        out.put(p == 0 ? 0 : (byte) (payload.length >>> (8 * (4 - p))));
                    }
                    if (end > p) {
                        out.put(payload, (int) (p - 5), (int) (end - p));
                    }
                    if (last) {
                        if (endStream) {
                            s.sentEndStream = true;
                        }
                        flushOut();
                    }
                }
                sent += n;
            } while (sent < total);
        } catch (IOException e) {
            throw writeFailed(e);
        }
    }

    /** END_STREAM without a message (an empty DATA frame); a no-op once the stream is over on our side. */
    void writeEndStream(GrpcStream<?, ?> s) {
        try {
            synchronized (writeLock) {
                if (s.sentEndStream || s.sentReset || s.id == 0 || isFailed()) {
                    return;
                }
                s.sentEndStream = true;
                putFrameHeader(0, DATA, END_STREAM, s.id);
                flushOut();
            }
        } catch (IOException e) {
            throw writeFailed(e);
        }
    }

    /** RST_STREAM, unless the stream is already closed on the wire (reset, or ended by both sides). */
    void writeReset(GrpcStream<?, ?> s, int errorCode) {
        try {
            synchronized (writeLock) {
                if (s.id == 0 || s.sentReset || s.receivedReset || (s.sentEndStream && s.remoteEnded) || isFailed()) {
                    return;
                }
                s.sentReset = true;
                putFrameHeader(4, RST_STREAM, 0, s.id);
                out.putInt(errorCode);
                flushOut();
            }
        } catch (IOException e) {
            writeFailed(e);
        }
    }

    /**
     * The server ended the stream (END_STREAM). If we have not, the call is over anyway: reset with NO_ERROR so
     * both sides free the stream, as gRPC's PROTOCOL-HTTP2 doc asks of clients.
     */
    void remoteEnded(GrpcStream<?, ?> s) {
        synchronized (writeLock) {
            s.remoteEnded = true;
        }
        if (!s.sentEndStream) {
            writeReset(s, Http2Exception.NO_ERROR);
        }
    }

    void remoteReset(GrpcStream<?, ?> s) {
        synchronized (writeLock) {
            s.receivedReset = true;
        }
    }

    /**
     * The application consumed bytes (or they never reach it: padding, ended streams): give them back, in batches
     * of half a window, so a stream's window refills only as fast as its consumer reads.
     */
    void consumed(GrpcStream<?, ?> s, int bytes) {
        if (bytes <= 0) {
            return;
        }
        int connectionIncrement = 0;
        int streamIncrement = 0;
        synchronized (this) {
            if (failCode != null) {
                return;
            }
            recvCredit += bytes;
            if (recvCredit >= CONNECTION_WINDOW / 2) {
                connectionIncrement = recvCredit;
                recvWindow += recvCredit;
                recvCredit = 0;
            }
            if (s != null && !s.isDone()) {
                s.recvCredit += bytes;
                if (s.recvCredit >= STREAM_WINDOW / 2) {
                    streamIncrement = s.recvCredit;
                    s.recvWindow += s.recvCredit;
                    s.recvCredit = 0;
                }
            }
        }
        if (connectionIncrement == 0 && streamIncrement == 0) {
            return;
        }
        try {
            synchronized (writeLock) {
                if (connectionIncrement > 0) {
                    putFrameHeader(4, WINDOW_UPDATE, 0, 0);
                    out.putInt(connectionIncrement);
                }
                if (streamIncrement > 0 && !s.remoteEnded && !s.receivedReset && !s.sentReset) {
                    putFrameHeader(4, WINDOW_UPDATE, 0, s.id);
                    out.putInt(streamIncrement);
                }
                flushOut();
            }
        } catch (IOException e) {
            writeFailed(e);
        }
    }

    /** The stream is over: forget it, and let a call waiting for a free stream go on. */
    void remove(GrpcStream<?, ?> s) {
        synchronized (this) {
            if (s.id != 0 && streams.remove(s.id) == s) {
                reservedStreams--;
            }
            notifyAll();   // also wakes senders of this stream waiting for credit: they see it is done
        }
    }

    /** Sends GOAWAY and closes; calls in progress fail with CANCELLED. */
    void close() {
        try {
            synchronized (writeLock) {
                if (!isFailed()) {
                    putFrameHeader(8, GOAWAY, 0, 0);
                    out.putInt(0).putInt(Http2Exception.NO_ERROR);
                    flushOut();
                }
            }
        } catch (IOException e) {
            // closing anyway
        }
        fail(Code.CANCELLED, "the channel to the node agent was closed");
    }

    private synchronized boolean isFailed() {
        return failCode != null;
    }

    /** Throws why no new stream can start here. Caller holds this. */
    private void checkUsable() {
        if (failCode != null) {
            throw new RpcException(failCode == Code.CANCELLED ? Code.CANCELLED : Code.UNAVAILABLE, failMessage);
        }
        if (goAway) {
            throw new RpcException(Code.UNAVAILABLE, "the node agent is shutting down this connection (" + goAwayReason + ")");
        }
    }

    private int maxPayload() {
        synchronized (this) {
            return Math.min(peerMaxFrame, MAX_OUT_PAYLOAD);
        }
    }

    /** Takes up to wanted bytes of send credit from both windows, waiting (flushing first) while either is empty. */
    private int acquireCredit(GrpcStream<?, ?> s, long wanted, long deadline) throws IOException {
        boolean flushed = false;
        while (true) {
            synchronized (this) {
                if (s.isDone()) {
                    throw s.endedException();
                }
                if (failCode != null) {
                    checkUsable();
                }
                long n = Math.min(Math.min(wanted, sendWindow), Math.min(s.sendWindow, Math.min(peerMaxFrame, MAX_OUT_PAYLOAD)));
                if (n > 0) {
                    sendWindow -= n;
                    s.sendWindow -= n;
                    return (int) n;
                }
                if (flushed) {
                    long waitMillis = 0;
                    if (deadline != 0) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            throw new RpcException(Code.DEADLINE_EXCEEDED, "deadline exceeded while waiting for flow-control window");
                        }
                        waitMillis = Math.max(1, left / 1_000_000);
                    }
                    try {
                        wait(waitMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new RpcException(Code.CANCELLED, "interrupted while sending to the node agent");
                    }
                    continue;
                }
            }
            // Frames may sit in our buffer (a HEADERS queued for this very DATA): send them before waiting.
            synchronized (writeLock) {
                flushOut();
            }
            flushed = true;
        }
    }

    // =====================================================================================================
    // Frame writing (caller holds writeLock)
    // =====================================================================================================

    private void putFrameHeader(int length, int type, int flags, int streamId) throws IOException {
        if (out.remaining() < 9 + length) {
            flushOut();
        }
        out.put((byte) (length >>> 16)).put((byte) (length >>> 8)).put((byte) length);
        out.put((byte) type).put((byte) flags).putInt(streamId);
    }

    private void flushOut() throws IOException {
        if (out.position() == 0) {
            return;
        }
        out.flip();
        // An interrupt pending when a blocking write starts would close the channel (InterruptibleChannel): keep
        // it off the write and give it back afterwards, so interrupting a caller cancels its call, not everyone's.
        boolean interrupted = Thread.interrupted();
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } finally {
            out.clear();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private RpcException writeFailed(IOException e) {
        String message = "connection to the node agent closed (" + socket + "): " + e.getMessage();
        fail(Code.UNAVAILABLE, message);
        synchronized (this) {
            return new RpcException(failCode == Code.CANCELLED ? Code.CANCELLED : Code.UNAVAILABLE, failMessage, e);
        }
    }

    /** Ends the connection: every stream in progress fails with the code; the first failure wins. */
    void fail(Code code, String message) {
        ArrayList<GrpcStream<?, ?>> victims;
        synchronized (this) {
            if (failCode != null) {
                return;
            }
            failCode = code;
            failMessage = message;
            victims = new ArrayList<>(streams.values());
            streams.clear();
            reservedStreams = 0;
            notifyAll();
        }
        for (int i = 0; i < victims.size(); i++) {
            victims.get(i).finish(code, message, false);
        }
        try {
            channel.close();
        } catch (IOException e) {
            // nothing more to do with it
        }
    }

    // =====================================================================================================
    // What the server sent (called by the reader thread, FrameReader, after it has checked the frame)
    // =====================================================================================================

    /** The stream a frame is for; null if it is closed (frames may still be in flight). Idle ids are an error. */
    GrpcStream<?, ?> stream(int streamId, String frame) throws Http2Exception {
        if (streamId == 0) {
            throw FrameReader.protocolError(frame + " on stream 0");
        }
        GrpcStream<?, ?> s;
        synchronized (this) {
            s = streams.get(streamId);
        }
        if (s == null && ((streamId & 1) == 0 || streamId > lastOpened)) {
            throw FrameReader.protocolError(frame + " on idle stream " + streamId);
        }
        return s;
    }

    /**
     * A DATA frame's payload of {@code length} octets (padding included) against our windows; whether it overran the
     * stream's window (a stream error; the connection's is a connection error, thrown).
     */
    boolean received(GrpcStream<?, ?> s, int length) throws Http2Exception {
        synchronized (this) {
            recvWindow -= length;   // flow control counts the whole frame payload, padding included
            if (recvWindow < 0) {
                throw new Http2Exception(Http2Exception.FLOW_CONTROL_ERROR, "the server overran the connection window");
            }
            if (s == null) {
                return false;
            }
            s.recvWindow -= length;
            return s.recvWindow < 0;
        }
    }

    /**
     * The server's SETTINGS: applied and acknowledged under the write lock, so no DATA relying on a new value (a
     * larger window, larger frames) can reach the peer before our ACK, the point from which it may count on the new
     * values (6.5.3).
     */
    void settingsArrived(byte[] a, int off, int length) throws IOException {
        synchronized (writeLock) {
            applySettings(a, off, length);
            putFrameHeader(0, SETTINGS, ACK, 0);
            flushOut();
        }
    }

    private void applySettings(byte[] a, int off, int length) throws Http2Exception {
        synchronized (this) {
            for (int p = off; p < off + length; p += 6) {
                int id = ((a[p] & 0xff) << 8) | (a[p + 1] & 0xff);
                long value = FrameReader.readInt(a, p + 2) & 0xffffffffL;
                switch (id) {
                    case 0x1:   // HEADER_TABLE_SIZE: our encoder's table is empty and of size 0, whatever this is
                        break;
                    case 0x2:
                        if (value > 1) {
                            throw FrameReader.protocolError("ENABLE_PUSH " + value);
                        }
                        break;
                    case 0x3:
                        peerMaxStreams = value;
                        break;
                    case 0x4:
                        if (value > Integer.MAX_VALUE) {
                            throw new Http2Exception(Http2Exception.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE " + value);
                        }
                        // 6.9.2: a new initial window moves every open stream's window by the difference.
                        int delta = (int) value - peerInitialWindow;
                        for (GrpcStream<?, ?> s : streams.values()) {
                            s.sendWindow += delta;
                            if (s.sendWindow > Integer.MAX_VALUE) {
                                throw new Http2Exception(Http2Exception.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE overflows a stream window");
                            }
                        }
                        peerInitialWindow = (int) value;
                        break;
                    case 0x5:
                        if (value < MAX_FRAME || value > 0xffffff) {
                            throw FrameReader.protocolError("MAX_FRAME_SIZE " + value);
                        }
                        peerMaxFrame = (int) value;
                        break;
                    default:    // MAX_HEADER_LIST_SIZE (our headers are small) and unknown settings
                        break;
                }
            }
            notifyAll();
        }
    }

    /** A PING to answer. */
    void pingArrived(byte[] a, int off) throws IOException {
        synchronized (writeLock) {
            putFrameHeader(8, PING, ACK, 0);
            out.put(a, off, 8);
            flushOut();
        }
    }

    /** GOAWAY: no new streams; those above the last one the server accepted were never processed. */
    void goAwayArrived(int lastStreamId, String reason) {
        ArrayList<GrpcStream<?, ?>> refused = new ArrayList<>();
        synchronized (this) {
            goAway = true;
            goAwayReason = reason;
            for (GrpcStream<?, ?> s : streams.values()) {
                if (s.id > lastStreamId) {
                    refused.add(s);
                }
            }
            notifyAll();
        }
        for (int i = 0; i < refused.size(); i++) {
            GrpcStream<?, ?> s = refused.get(i);
            s.finish(Code.UNAVAILABLE, "the node agent is going away and did not process the call (GOAWAY " + reason + ")", false);
        }
    }

    /** A WINDOW_UPDATE of {@code increment} for the connection (stream 0) or a stream. */
    void windowUpdateArrived(int streamId, int increment) throws Http2Exception {
        if (streamId == 0) {
            if (increment == 0) {
                throw FrameReader.protocolError("WINDOW_UPDATE of 0 on the connection");
            }
            synchronized (this) {
                sendWindow += increment;
                if (sendWindow > Integer.MAX_VALUE) {
                    throw new Http2Exception(Http2Exception.FLOW_CONTROL_ERROR, "connection window above 2^31-1");
                }
                notifyAll();
            }
            return;
        }
        GrpcStream<?, ?> s = stream(streamId, "WINDOW_UPDATE");
        if (s == null) {
            return;
        }
        if (increment == 0) {
            s.protocolViolation(Http2Exception.PROTOCOL_ERROR, "the node agent sent a WINDOW_UPDATE of 0");
            return;
        }
        boolean overflow;
        synchronized (this) {
            s.sendWindow += increment;
            overflow = s.sendWindow > Integer.MAX_VALUE;
            notifyAll();
        }
        if (overflow) {
            s.protocolViolation(Http2Exception.FLOW_CONTROL_ERROR, "the node agent grew a stream window above 2^31-1");
        }
    }

    /** The server broke the protocol: tell it why with GOAWAY, then give up the connection. */
    void protocolFailure(Http2Exception e) {
        try {
            byte[] debug = String.valueOf(e.getMessage()).getBytes(StandardCharsets.UTF_8);
            synchronized (writeLock) {
                if (!isFailed()) {
                    putFrameHeader(8 + debug.length, GOAWAY, 0, 0);
                    out.putInt(0).putInt(e.errorCode).put(debug);
                    flushOut();
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // closing anyway
        }
        fail(Code.INTERNAL, "HTTP/2 protocol error from the node agent (" + Http2Exception.name(e.errorCode) + "): " + e.getMessage());
    }

    /** The socket's read side ended or failed. */
    void readFailed(IOException e) {
        String reason;
        synchronized (this) {
            reason = goAwayReason;
        }
        fail(Code.UNAVAILABLE, "connection to the node agent closed (" + socket + ")"
                + (reason != null ? " after GOAWAY (" + reason + ")" : "")
                + (e instanceof EOFException ? "" : ": " + e.getMessage()));
    }
}
