package dev.berth.cli.rpc;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.NoSuchElementException;

/**
 * One call on one HTTP/2 stream: the gRPC side of it. The reader thread feeds it frames (its {@link MessageDeframer}
 * cuts the body into messages, {@link ResponseHeaders} reads the status from the trailers); the application takes
 * messages and sends.
 * Serves every call shape: a unary call is a stream whose one message is awaited with a deadline.
 */
final class GrpcStream<Req, Resp> implements StreamingCall<Req, Resp>, ResponseStream<Resp> {

    private final Http2Connection conn;
    private final Method<Req, Resp> method;

    /** Set once, under the connection's write lock, before the stream's HEADERS go out. */
    int id;

    // Flow control, guarded by the connection's monitor.
    long sendWindow;
    long recvWindow;
    int recvCredit;

    // The stream's state on the wire, guarded by the connection's write lock.
    boolean sentEndStream;
    boolean sentReset;
    boolean remoteEnded;
    boolean receivedReset;

    /** Keeps one stream's messages whole and in order when several threads send. */
    private final Object sendLock = new Object();

    // Reader thread only.
    private final MessageDeframer deframer = new MessageDeframer();
    private boolean headersReceived;
    private int httpStatus;

    // What the application sees, guarded by this.
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    /** Received bytes not yet given back to the server's windows; see {@link #onData}. */
    private int held;
    private Code code;
    private String description;
    private volatile boolean done;

    GrpcStream(Http2Connection conn, Method<Req, Resp> method) {
        this.conn = conn;
        this.method = method;
    }

    boolean isDone() {
        return done;
    }

    // =====================================================================================================
    // Application side
    // =====================================================================================================

    @Override
    public void send(Req request) {
        byte[] payload = method.encoder().encode(request);
        synchronized (sendLock) {
            if (sentEndStream) {
                throw new RpcException(Code.FAILED_PRECONDITION, "send() after halfClose() on " + method.path());
            }
            sendMessage(payload, false, 0);
        }
    }

    /** Sends one message; a failure that leaves the call running (deadline, interrupt) cancels it. */
    void sendMessage(byte[] payload, boolean endStream, long deadline) {
        try {
            conn.writeMessage(this, payload, endStream, deadline);
        } catch (RpcException e) {
            if (!done) {
                cancel(e.code(), e.description());
            }
            throw e;
        }
    }

    @Override
    public void halfClose() {
        synchronized (sendLock) {
            conn.writeEndStream(this);
        }
    }

    @Override
    public ResponseStream<Resp> responses() {
        return this;
    }

    @Override
    public boolean hasNext() {
        boolean interrupted = false;
        synchronized (this) {
            while (queue.isEmpty() && !done && !interrupted) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (!queue.isEmpty()) {
                return true;
            }
            if (done) {
                if (code == Code.OK) {
                    return false;
                }
                throw new RpcException(code, description);
            }
        }
        // Cancelled outside the monitor: cancelling writes, and no lock is taken after a stream's monitor but
        // the connection's own.
        Thread.currentThread().interrupt();
        cancel(Code.CANCELLED, "interrupted while waiting for the node agent");
        throw new RpcException(Code.CANCELLED, "interrupted while waiting for the node agent");
    }

    @Override
    public Resp next() {
        byte[] bytes = null;
        int credit = 0;
        while (bytes == null) {   // loops only if another thread took the message hasNext() saw
            if (!hasNext()) {
                throw new NoSuchElementException("the call has no more responses");
            }
            synchronized (this) {
                bytes = queue.poll();
                if (bytes != null) {
                    credit = take(bytes);
                }
            }
        }
        conn.consumed(this, credit);
        return decode(bytes);
    }

    /**
     * For a unary call: waits until the call ends (deadline in System.nanoTime, 0: none) and returns its one
     * response. On the deadline, cancels the call (RST_STREAM CANCEL) and throws DEADLINE_EXCEEDED.
     */
    Resp awaitUnary(long deadline, long timeoutNanos) {
        byte[] bytes;
        int credit;
        boolean interrupted = false;
        synchronized (this) {
            while (!done && !interrupted) {
                long waitMillis = 0;
                if (deadline != 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        break;
                    }
                    waitMillis = Math.max(1, (left + 999_999) / 1_000_000);
                }
                try {
                    wait(waitMillis);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            // Per gRPC's PROTOCOL-HTTP2 doc, a call cancelled (by either side) once its deadline passed is
            // DEADLINE_EXCEEDED, whatever raced to end it first.
            boolean late = deadline != 0 && deadline - System.nanoTime() <= 0;
            if (done && !(late && code == Code.CANCELLED)) {
                if (code != Code.OK) {
                    throw new RpcException(code, description);
                }
                if (queue.size() != 1) {
                    throw new RpcException(Code.INTERNAL, "the node agent answered the unary call " + method.path()
                            + " with " + queue.size() + " messages");
                }
                bytes = queue.poll();
                credit = take(bytes);
            } else {
                bytes = null;
                credit = 0;
            }
        }
        if (bytes == null) {
            if (interrupted) {
                Thread.currentThread().interrupt();
                cancel(Code.CANCELLED, "interrupted while waiting for the node agent");
                throw new RpcException(Code.CANCELLED, "interrupted while waiting for the node agent");
            }
            String why = "deadline exceeded after " + seconds(timeoutNanos) + " waiting for " + method.path();
            cancel(Code.DEADLINE_EXCEEDED, why);
            throw new RpcException(Code.DEADLINE_EXCEEDED, why);
        }
        conn.consumed(this, credit);
        return decode(bytes);
    }

    @Override
    public void close() {
        if (!done) {
            cancel(Code.CANCELLED, "the call was cancelled by the client");
        }
    }

    /** Ends the call from our side: the application sees the code, the server gets RST_STREAM CANCEL. */
    void cancel(Code c, String why) {
        if (finish(c, why, true)) {
            conn.writeReset(this, Http2Exception.CANCEL);
        }
    }

    /** Credit to give back for a message the application takes. Caller holds this. */
    private int take(byte[] bytes) {
        int credit = Math.min(held, 5 + bytes.length);
        held -= credit;
        if (queue.isEmpty()) {   // caught up: what is held belongs to a message still arriving, let it come
            credit += held;
            held = 0;
        }
        return credit;
    }

    private Resp decode(byte[] bytes) {
        try {
            return method.decoder().decode(bytes);
        } catch (IOException | RuntimeException e) {
            cancel(Code.INTERNAL, "cannot decode the response of " + method.path() + ": " + e.getMessage());
            throw new RpcException(Code.INTERNAL, "cannot decode the response of " + method.path() + ": " + e.getMessage(), e);
        }
    }

    /** Why sending is no longer possible. */
    RpcException endedException() {
        // No lock: callers hold the connection's locks. done is volatile and written after code and description.
        if (done && code != Code.OK) {
            return new RpcException(code, description);
        }
        return new RpcException(Code.FAILED_PRECONDITION, "the call " + method.path() + " has already ended");
    }

    /**
     * Records the call's end; the first end wins. dropQueued: the application will not read what is queued.
     * Returns whether this call ended it.
     */
    boolean finish(Code c, String why, boolean dropQueued) {
        int release = 0;
        synchronized (this) {
            if (done) {
                return false;
            }
            code = c;
            description = why;
            done = true;
            if (dropQueued) {
                queue.clear();
            }
            if (queue.isEmpty()) {
                release = held;
                held = 0;
            }
            notifyAll();
        }
        conn.remove(this);
        conn.consumed(null, release);
        return true;
    }

    // =====================================================================================================
    // Reader-thread side
    // =====================================================================================================

    /**
     * DATA for this stream. Flow control: bytes are given back as the application takes the messages they carry,
     * so a consumer that stops reading stops the server after one window. Bytes of a message still arriving are
     * given back at once when nothing is queued, else a message larger than the window could never complete.
     */
    void onData(byte[] a, int off, int length, int padding, boolean endStream) {
        int credit = padding;
        Code error = null;
        String why = null;
        synchronized (this) {
            if (done) {
                credit += length;
            } else if (!headersReceived) {
                credit += length;
                error = Code.INTERNAL;
                why = "the node agent sent DATA before response headers";
            } else {
                held += length;
                int before = queue.size();
                RpcException bad = deframer.feed(a, off, length, queue);
                if (bad != null) {
                    error = bad.code();
                    why = bad.description();
                }
                if (queue.size() > before) {
                    notifyAll();
                }
                if (queue.isEmpty()) {
                    credit += held;
                    held = 0;
                }
            }
        }
        conn.consumed(this, credit);
        if (error != null) {
            if (finish(error, why, false)) {
                conn.writeReset(this, Http2Exception.CANCEL);
            }
        } else if (endStream) {
            // gRPC ends a response with trailers, never with DATA.
            conn.remoteEnded(this);
            finish(Code.INTERNAL, "the node agent ended the response of " + method.path() + " without trailers", false);
        }
    }

    /** A complete header block: response headers, trailers, or both in one (trailers-only). */
    void onHeaders(ArrayList<String> fields, boolean endStream) {
        ResponseHeaders h = ResponseHeaders.of(fields);
        if (!headersReceived) {
            headersReceived = true;
            httpStatus = h.httpStatus();
            if (!endStream) {
                if (httpStatus != 200) {
                    protocolViolation(Http2Exception.CANCEL, ResponseHeaders.httpCode(httpStatus), h.status == null
                            ? "the node agent's response has no :status" : "the node agent answered HTTP status " + h.status);
                } else if (!h.isGrpc()) {
                    protocolViolation(Http2Exception.CANCEL, Code.UNKNOWN, "the node agent answered content-type " + h.contentType + ", not gRPC");
                }
                return;
            }
        } else if (!endStream) {
            protocolViolation(Http2Exception.PROTOCOL_ERROR, Code.INTERNAL, "the node agent sent a second header block without END_STREAM");
            return;
        }
        // Trailers (or trailers-only): the call's status.
        conn.remoteEnded(this);
        Code c;
        String why = h.message();
        int value = h.grpcStatusValue();
        if (value >= 0) {
            c = Code.of(value);
        } else if (httpStatus != 200) {
            c = ResponseHeaders.httpCode(httpStatus);
            why = "the node agent answered HTTP status " + h.status + " without a gRPC status";
        } else {
            c = Code.UNKNOWN;
            why = "the node agent's response has no grpc-status";
        }
        if (c == Code.OK && deframer.midMessage()) {
            c = Code.INTERNAL;
            why = "the response of " + method.path() + " ended inside a message";
        }
        finish(c, why, false);
    }

    void onReset(int errorCode) {
        conn.remoteReset(this);
        finish(Http2Exception.grpcCode(errorCode), "the node agent reset the stream of " + method.path() + " ("
                + Http2Exception.name(errorCode) + ")", false);
    }

    /** A stream error (RFC 9113 5.4.2) in something the server sent: fail the call as INTERNAL and reset. */
    void protocolViolation(int errorCode, String why) {
        protocolViolation(errorCode, Code.INTERNAL, why);
    }

    private void protocolViolation(int errorCode, Code c, String why) {
        if (finish(c, why, false)) {
            conn.writeReset(this, errorCode);
        }
    }

    private static String seconds(long nanos) {
        long millis = nanos / 1_000_000;
        String frac = Long.toString(1000 + millis % 1000).substring(1);
        return (millis / 1000) + "." + frac + "s";
    }
}
