package dev.berth.cli.rpc;

/** One RPC: its HTTP/2 path and how its messages become bytes and back. */
public record Method<Req, Resp>(String path, Encoder<Req> encoder, Decoder<Resp> decoder) {

    public interface Encoder<T> {
        byte[] encode(T message);
    }

    public interface Decoder<T> {
        T decode(byte[] bytes) throws java.io.IOException;
    }

    /** path "/" + service + "/" + method, e.g. of("containerd.services.tasks.v1.Tasks", "Wait", ...) */
    public static <Req, Resp> Method<Req, Resp> of(String service, String method, Encoder<Req> encoder, Decoder<Resp> decoder) {
        return new Method<>("/" + service + "/" + method, encoder, decoder);
    }
}
