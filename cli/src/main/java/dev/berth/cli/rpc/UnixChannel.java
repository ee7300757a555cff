package dev.berth.cli.rpc;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * One HTTP/2 connection to a gRPC server on a unix socket; every call sends the given headers (e.g.
 * containerd-namespace). Thread-safe: calls may run concurrently from several threads (a run streams logs on one
 * thread, waits on another, and a signal handler calls Kill meanwhile).
 *
 * <p>This is the CLI's whole gRPC stack, on the JDK alone: a fresh `berth` process pays for a few classes, not for
 * netty, grpc-java and full protobuf. Messages are byte[]; callers bind protobuf-lite codecs in {@link Method}.
 */
public final class UnixChannel implements AutoCloseable {

    private final Http2Connection conn;
    /** The header block's fixed parts: after :path, and after the optional grpc-timeout. */
    private final byte[] authority;
    private final byte[] tail;

    private UnixChannel(Http2Connection conn, Map<String, String> headers) {
        this.conn = conn;
        byte[] a = new byte[Hpack.maxLiteralLength(":authority", "localhost")];
        authority = java.util.Arrays.copyOf(a, Hpack.putLiteral(a, 0, 1, null, "localhost"));
        int size = Hpack.maxLiteralLength("te", "trailers") + Hpack.maxLiteralLength("content-type", "application/grpc")
                + Hpack.maxLiteralLength("user-agent", "berth-cli");
        for (Map.Entry<String, String> h : headers.entrySet()) {
            size += Hpack.maxLiteralLength(h.getKey(), h.getValue());
        }
        byte[] t = new byte[size];
        int p = Hpack.putLiteral(t, 0, 0, "te", "trailers");
        p = Hpack.putLiteral(t, p, 31, null, "application/grpc");
        p = Hpack.putLiteral(t, p, 58, null, "berth-cli");
        for (Map.Entry<String, String> h : headers.entrySet()) {
            // HTTP/2 field names are lower case (RFC 9113 8.2.1).
            p = Hpack.putLiteral(t, p, 0, h.getKey().toLowerCase(Locale.ROOT), h.getValue());
        }
        tail = java.util.Arrays.copyOf(t, p);
    }

    /** Connects at once; IOException (with the path in its message) when nothing listens. */
    public static UnixChannel open(Path socket, Map<String, String> headers) throws IOException {
        return new UnixChannel(Http2Connection.connect(socket), headers);
    }

    /** A unary call. */
    public <Req, Resp> Resp call(Method<Req, Resp> method, Req request) {
        return unary(method, request, 0);
    }

    /** A unary call with a deadline: DEADLINE_EXCEEDED (and RST_STREAM CANCEL) when no answer in time. */
    public <Req, Resp> Resp call(Method<Req, Resp> method, Req request, Duration timeout) {
        long nanos;
        try {
            nanos = timeout.toNanos();
        } catch (ArithmeticException e) {
            return unary(method, request, 0);   // centuries: no deadline
        }
        if (nanos <= 0) {
            throw new RpcException(Code.DEADLINE_EXCEEDED, "deadline of " + timeout + " already passed before calling " + method.path());
        }
        return unary(method, request, nanos);
    }

    private <Req, Resp> Resp unary(Method<Req, Resp> method, Req request, long timeoutNanos) {
        byte[] payload = method.encoder().encode(request);
        long deadline = 0;
        if (timeoutNanos > 0) {
            deadline = System.nanoTime() + timeoutNanos;
            if (deadline == 0) {
                deadline = 1;   // 0 means none
            }
        }
        GrpcStream<Req, Resp> s = new GrpcStream<>(conn, method);
        start(s, method, timeoutNanos, false);
        try {
            s.sendMessage(payload, true, deadline);
        } catch (RpcException e) {
            if (!s.isDone()) {
                throw e;
            }
            // The server answered before taking the whole request (an error, usually): report its answer.
        }
        return s.awaitUnary(deadline, timeoutNanos);
    }

    /** A server-streaming call: one request, the responses as they come. */
    public <Req, Resp> ResponseStream<Resp> stream(Method<Req, Resp> method, Req request) {
        byte[] payload = method.encoder().encode(request);
        GrpcStream<Req, Resp> s = new GrpcStream<>(conn, method);
        start(s, method, 0, false);
        try {
            s.sendMessage(payload, true, 0);
        } catch (RpcException e) {
            if (!s.isDone()) {
                throw e;
            }
            // Ended before the request was taken: the responses tell how.
        }
        return s;
    }

    /** A client- or bidi-streaming call. */
    public <Req, Resp> StreamingCall<Req, Resp> open(Method<Req, Resp> method) {
        GrpcStream<Req, Resp> s = new GrpcStream<>(conn, method);
        start(s, method, 0, true);
        return s;
    }

    /** GOAWAY, close the socket; calls still in progress fail with CANCELLED. */
    @Override
    public void close() {
        conn.close();
    }

    /** Sends the call's HEADERS: pseudo-headers, then grpc-timeout, then the rest (gRPC's PROTOCOL-HTTP2 order). */
    private void start(GrpcStream<?, ?> s, Method<?, ?> method, long timeoutNanos, boolean flush) {
        String path = method.path();
        String timeout = timeoutNanos > 0 ? timeoutValue(timeoutNanos) : null;
        byte[] b = new byte[2 + Hpack.maxLiteralLength(":path", path) + authority.length
                + (timeout != null ? Hpack.maxLiteralLength("grpc-timeout", timeout) : 0) + tail.length];
        int p = 0;
        b[p++] = (byte) 0x83;   // :method POST, static index 3
        b[p++] = (byte) 0x86;   // :scheme http, static index 6
        p = Hpack.putLiteral(b, p, 4, null, path);
        System.arraycopy(authority, 0, b, p, authority.length);
        p += authority.length;
        if (timeout != null) {
            p = Hpack.putLiteral(b, p, 0, "grpc-timeout", timeout);
        }
        System.arraycopy(tail, 0, b, p, tail.length);
        p += tail.length;
        conn.openStream(s, b, p, flush);
    }

    /** grpc-timeout: at most 8 digits, in the finest unit that fits. */
    static String timeoutValue(long nanos) {
        long limit = 100_000_000L;
        if (nanos < limit) {
            return nanos + "n";
        }
        if (nanos / 1_000 < limit) {
            return (nanos / 1_000) + "u";
        }
        if (nanos / 1_000_000 < limit) {
            return (nanos / 1_000_000) + "m";
        }
        if (nanos / 1_000_000_000L < limit) {
            return (nanos / 1_000_000_000L) + "S";
        }
        if (nanos / 60_000_000_000L < limit) {
            return (nanos / 60_000_000_000L) + "M";
        }
        return Math.min(nanos / 3_600_000_000_000L, 99_999_999L) + "H";
    }
}
