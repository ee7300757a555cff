package dev.berth.cli.rpc;

import java.nio.file.Path;
import java.util.Map;

/**
 * Start-up measurement, not a test: one unary call over this transport in a fresh JVM, as `berth ps` makes it.
 * Run against GrpcTestServer's main; GrpcJavaStartupProbe does the same call with grpc-java's netty client.
 * The codec is a named class, not a lambda: a lambda's first use costs a fresh JVM tens of milliseconds.
 */
public final class StartupProbe {

    static final class Identity implements Method.Encoder<byte[]>, Method.Decoder<byte[]> {
        @Override
        public byte[] encode(byte[] message) {
            return message;
        }

        @Override
        public byte[] decode(byte[] bytes) {
            return bytes;
        }
    }

    public static void main(String[] args) throws Exception {
        Identity identity = new Identity();
        Method<byte[], byte[]> echo = Method.of(GrpcTestServer.SERVICE, "Echo", identity, identity);
        try (UnixChannel ch = UnixChannel.open(Path.of(args[0]), Map.of("containerd-namespace", "default"))) {
            byte[] reply = ch.call(echo, new byte[] {1, 2, 3});
            if (reply.length != 3) {
                throw new IllegalStateException("bad reply");
            }
        }
    }
}
