package dev.berth.cli.rpc;

/** A client- or bidi-streaming call. */
public interface StreamingCall<Req, Resp> extends AutoCloseable {

    /** Sends one message; thread-safe; blocks while the peer's flow-control windows are exhausted; RpcException if the call has ended. */
    void send(Req message);

    /** No more messages (END_STREAM); idempotent. */
    void halfClose();

    /** The receive side. */
    ResponseStream<Resp> responses();

    /** Cancels the call if it has not ended. */
    @Override
    void close();
}
