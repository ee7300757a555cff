package dev.berth.cli.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What grpc-java's server never sends, from netty's HTTP/2 codec: Huffman, padding, PING, SETTINGS changes, resets. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Http2CodecTest {

    @TempDir
    static Path dir;
    static Http2CodecServer server;

    static Method<byte[], byte[]> raw(String name) {
        return Method.of("berth.test.Raw", name, b -> b, b -> b);
    }

    @BeforeAll
    static void start() throws Exception {
        server = new Http2CodecServer(dir.resolve("h2.sock"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static UnixChannel channel() throws java.io.IOException {
        return UnixChannel.open(server.socket, Map.of());
    }

    @Test
    void huffmanCodedPaddedAndIndexedFields() throws Exception {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 300) {
            sb.append("arrêté — 停止 🚢 50% ");
        }
        String description = sb.toString();
        byte[] request = description.getBytes(StandardCharsets.UTF_8);
        try (UnixChannel ch = channel()) {
            for (int round = 0; round < 3; round++) {   // later rounds find the fields in netty's dynamic table
                ResponseStream<byte[]> rs = ch.stream(raw("Huffman"), request);
                assertArrayEquals(request, rs.next());
                RpcException e = assertThrows(RpcException.class, rs::hasNext);
                assertEquals(Code.INVALID_ARGUMENT, e.code());
                assertEquals(description, e.description());
            }
        }
    }

    @Test
    void answersPing() throws Exception {
        try (UnixChannel ch = channel()) {
            byte[] ack = ch.call(raw("Ping"), new byte[0], Duration.ofSeconds(10));
            assertEquals(0x0102030405060708L, ByteBuffer.wrap(ack).getLong());
        }
    }

    @Test
    void initialWindowSizeChangeUnblocksAnOpenStream() throws Exception {
        try (UnixChannel ch = channel()) {
            ch.call(raw("Ping"), new byte[0]);   // the server's SETTINGS (stream window 1000) are in force after this
            try (StreamingCall<byte[], byte[]> call = ch.open(raw("Window"))) {
                long start = System.nanoTime();
                call.send(new byte[50_000]);   // 1000 bytes fit; the rest waits for the server's new SETTINGS
                long sentAt = System.nanoTime();
                assertTrue(server.windowGrownAt.get() != 0 && sentAt >= server.windowGrownAt.get(),
                        "send() returned before the window grew");
                assertTrue(sentAt - start >= TimeUnit.MILLISECONDS.toNanos(250));
                call.halfClose();
                assertEquals(50_005, ByteBuffer.wrap(call.responses().next()).getLong());
            }
        }
    }

    @Test
    void resetCodesMapAsGrpcSays() throws Exception {
        int[][] cases = {
            {Http2Exception.REFUSED_STREAM, Code.UNAVAILABLE.value()},
            {Http2Exception.CANCEL, Code.CANCELLED.value()},
            {Http2Exception.ENHANCE_YOUR_CALM, Code.RESOURCE_EXHAUSTED.value()},
            {Http2Exception.INADEQUATE_SECURITY, Code.PERMISSION_DENIED.value()},
            {Http2Exception.INTERNAL_ERROR, Code.INTERNAL.value()},
            {Http2Exception.NO_ERROR, Code.INTERNAL.value()},
        };
        try (UnixChannel ch = channel()) {
            for (int[] c : cases) {
                RpcException e = assertThrows(RpcException.class, () -> ch.call(raw("Reset"), new byte[] {(byte) c[0]}));
                assertEquals(Code.of(c[1]), e.code(), "RST_STREAM " + Http2Exception.name(c[0]));
            }
        }
    }

    @Test
    void nonGrpcAndCompressedResponses() throws Exception {
        try (UnixChannel ch = channel()) {
            RpcException http = assertThrows(RpcException.class, () -> ch.call(raw("Http503"), new byte[0]));
            assertEquals(Code.UNAVAILABLE, http.code());
            assertTrue(http.getMessage().contains("503"), http.getMessage());
            RpcException compressed = assertThrows(RpcException.class, () -> ch.call(raw("Compressed"), new byte[0]));
            assertEquals(Code.INTERNAL, compressed.code());
            assertTrue(compressed.getMessage().contains("compressed"), compressed.getMessage());
            // Stream errors leave the connection usable.
            assertEquals(8, ch.call(raw("Ping"), new byte[0]).length);
        }
    }

    @Test
    void goAwayBelowAStreamFailsItUnavailable() throws Exception {
        try (UnixChannel ch = channel()) {
            ch.call(raw("Ping"), new byte[0]);   // stream 1, which the GOAWAY will call the last one processed
            RpcException e = assertThrows(RpcException.class, () -> ch.call(raw("GoAway"), new byte[0], Duration.ofSeconds(10)));
            assertEquals(Code.UNAVAILABLE, e.code());
            assertTrue(e.getMessage().contains("GOAWAY"), e.getMessage());
            RpcException next = assertThrows(RpcException.class, () -> ch.call(raw("Ping"), new byte[0]));
            assertEquals(Code.UNAVAILABLE, next.code());
        }
    }
}
