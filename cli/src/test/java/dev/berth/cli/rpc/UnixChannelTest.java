package dev.berth.cli.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The transport against a real grpc-java Netty server on a unix socket. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class UnixChannelTest {

    @TempDir
    static Path dir;
    static GrpcTestServer server;

    static final Method<byte[], byte[]> ECHO = bytes("Echo");
    static final Method<byte[], byte[]> FAIL = bytes("Fail");
    static final Method<byte[], byte[]> HANG = bytes("Hang");
    static final Method<byte[], byte[]> STREAM = bytes("Stream");
    static final Method<byte[], byte[]> STREAM_THEN_FAIL = bytes("StreamThenFail");
    static final Method<byte[], byte[]> ENDLESS = bytes("Endless");
    static final Method<byte[], byte[]> SUM = bytes("Sum");
    static final Method<byte[], byte[]> CHAT = bytes("Chat");

    static Method<byte[], byte[]> bytes(String name) {
        return Method.of(GrpcTestServer.SERVICE, name, b -> b, b -> b);
    }

    @BeforeAll
    static void startServer() throws IOException {
        server = new GrpcTestServer(dir.resolve("agent.sock"));
    }

    @AfterAll
    static void stopServer() throws InterruptedException {
        server.close();
    }

    static UnixChannel channel() throws IOException {
        return UnixChannel.open(server.socket, Map.of("containerd-namespace", "berth-test"));
    }

    static byte[] streamRequest(int count, int size) {
        return ByteBuffer.allocate(8).putInt(count).putInt(size).array();
    }

    @Test
    void unaryRoundTripCarriesTheHeaders() throws IOException {
        try (UnixChannel ch = channel()) {
            byte[] reply = ch.call(ECHO, "hello".getBytes(StandardCharsets.UTF_8));
            assertEquals("hello", new String(reply, StandardCharsets.UTF_8));
            assertEquals("berth-test", server.lastNamespace.get());
            assertTrue(server.lastUserAgent.get().startsWith("berth-cli"), server.lastUserAgent.get());
            // An empty message, and one larger than the server's 64 KiB window and our frames.
            assertArrayEquals(new byte[0], ch.call(ECHO, new byte[0]));
            byte[] big = GrpcTestServer.patterned(7, 3 << 20);
            assertArrayEquals(big, ch.call(ECHO, big, Duration.ofSeconds(30)));
        }
    }

    @Test
    void unknownMethodIsUnimplemented() throws IOException {
        try (UnixChannel ch = channel()) {
            RpcException e = assertThrows(RpcException.class, () -> ch.call(Method.of("berth.test.Nope", "Missing", b -> b, b -> b), new byte[] {1}));
            assertEquals(Code.UNIMPLEMENTED, e.code());
            // The channel is still good afterwards.
            assertArrayEquals(new byte[] {9}, ch.call(ECHO, new byte[] {9}));
        }
    }

    @Test
    void trailersOnlyError() throws IOException {
        try (UnixChannel ch = channel()) {
            byte[] request = ("\u0005" + "no such container: c1").getBytes(StandardCharsets.UTF_8);
            RpcException e = assertThrows(RpcException.class, () -> ch.call(FAIL, request));
            assertEquals(Code.NOT_FOUND, e.code());
            assertEquals("no such container: c1", e.description());
            assertEquals("no such container: c1", e.getMessage());

            RpcException bare = assertThrows(RpcException.class, () -> ch.call(FAIL, new byte[] {(byte) Code.ABORTED.value()}));
            assertEquals(Code.ABORTED, bare.code());
            assertEquals("", bare.description() == null ? "" : bare.description());
        }
    }

    @Test
    void longNonAsciiErrorMessageArrivesIntact() throws IOException {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 700) {
            sb.append("conteneur arrêté — 容器已停止 🚢 100% ");
        }
        String description = sb.toString();
        try (UnixChannel ch = channel()) {
            for (int round = 0; round < 2; round++) {   // the second time netty may index it in its HPACK table
                ResponseStream<byte[]> rs = ch.stream(STREAM_THEN_FAIL, description.getBytes(StandardCharsets.UTF_8));
                assertArrayEquals(new byte[] {1}, rs.next());
                assertArrayEquals(new byte[] {2}, rs.next());
                RpcException e = assertThrows(RpcException.class, rs::hasNext);
                assertEquals(Code.INVALID_ARGUMENT, e.code());
                assertEquals(description, e.description());
            }
        }
    }

    @Test
    void hugeErrorMessageArrivesInContinuationFrames() throws IOException {
        // ~40 KiB of trailers: more than one 16 KiB frame, so netty sends HEADERS + CONTINUATION.
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() < 40_000; i++) {
            sb.append("ligne ").append(i).append(" : échec ; ");
        }
        String description = sb.toString();
        try (UnixChannel ch = channel()) {
            byte[] utf8 = description.getBytes(StandardCharsets.UTF_8);
            byte[] request = new byte[1 + utf8.length];
            request[0] = (byte) Code.FAILED_PRECONDITION.value();
            System.arraycopy(utf8, 0, request, 1, utf8.length);
            RpcException e = assertThrows(RpcException.class, () -> ch.call(FAIL, request));
            assertEquals(Code.FAILED_PRECONDITION, e.code());
            assertEquals(description, e.description());
            assertArrayEquals(new byte[] {4}, ch.call(ECHO, new byte[] {4}));
        }
    }

    @Test
    void goAwayLetsAcceptedCallsFinishAndRefusesNewOnes() throws Exception {
        GrpcTestServer leaving = new GrpcTestServer(dir.resolve("leaving.sock"));
        try (UnixChannel ch = UnixChannel.open(leaving.socket, Map.of())) {
            ResponseStream<byte[]> rs = ch.stream(ENDLESS, new byte[0]);
            assertEquals(0, ByteBuffer.wrap(rs.next()).getInt());
            leaving.shutdown();   // graceful: GOAWAY, the call in progress may go on
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            RpcException refused = null;
            while (refused == null && System.nanoTime() < until) {
                try {
                    ch.call(ECHO, new byte[] {1});
                    Thread.sleep(10);
                } catch (RpcException e) {
                    refused = e;
                }
            }
            assertNotNull(refused, "new calls still accepted after GOAWAY");
            assertEquals(Code.UNAVAILABLE, refused.code());
            for (int i = 1; i < 10; i++) {   // the accepted stream still flows
                assertEquals(i, ByteBuffer.wrap(rs.next()).getInt());
            }
            rs.close();
        } finally {
            leaving.close();
        }
    }

    @Test
    void serverStreamingOfManyMessages() throws IOException {
        try (UnixChannel ch = channel(); ResponseStream<byte[]> rs = ch.stream(STREAM, streamRequest(20_000, 10))) {
            int n = 0;
            while (rs.hasNext()) {
                assertArrayEquals(GrpcTestServer.patterned(n, 10), rs.next());
                n++;
            }
            assertEquals(20_000, n);
            assertFalse(rs.hasNext());
        }
    }

    @Test
    void serverStreamingOfLargeMessagesSpansFramesAndWindows() throws IOException {
        // 12 messages of 5 MiB: each larger than the 1 MiB stream window, all of it beyond the 16 MiB connection window.
        int size = 5 << 20;
        try (UnixChannel ch = channel(); ResponseStream<byte[]> rs = ch.stream(STREAM, streamRequest(12, size))) {
            for (int i = 0; i < 12; i++) {
                assertTrue(rs.hasNext());
                assertArrayEquals(GrpcTestServer.patterned(i, size), rs.next(), "message " + i);
            }
            assertFalse(rs.hasNext());
        }
    }

    @Test
    void slowConsumerHoldsTheServerBack() throws Exception {
        int size = 256 << 10;
        int count = 200;   // 50 MiB: far more than the windows
        try (UnixChannel ch = channel(); ResponseStream<byte[]> rs = ch.stream(STREAM, streamRequest(count, size))) {
            int maxLead = 0;
            for (int i = 0; i < 30; i++) {
                assertArrayEquals(GrpcTestServer.patterned(i, size), rs.next());
                Thread.sleep(20);
                maxLead = Math.max(maxLead, server.streamSent.get() - (i + 1));
            }
            // Without inbound flow control the server would be done (200 sent); with it, it stays about one
            // stream window (1 MiB = 4 messages) plus what netty buffers ahead of us.
            assertTrue(maxLead <= 12, "server ran " + maxLead + " messages ahead of a slow consumer");
            int n = 30;
            while (rs.hasNext()) {
                assertArrayEquals(GrpcTestServer.patterned(n, size), rs.next());
                n++;
            }
            assertEquals(count, n);
        }
    }

    @Test
    void messageAbove64MiBIsResourceExhausted() throws IOException {
        try (UnixChannel ch = channel()) {
            ResponseStream<byte[]> rs = ch.stream(STREAM, streamRequest(1, (64 << 20) + 1));
            RpcException e = assertThrows(RpcException.class, rs::hasNext);
            assertEquals(Code.RESOURCE_EXHAUSTED, e.code());
            // Exactly 64 MiB is allowed, and the connection survived.
            try (ResponseStream<byte[]> ok = ch.stream(STREAM, streamRequest(1, 64 << 20))) {
                assertEquals(64 << 20, ok.next().length);
                assertFalse(ok.hasNext());
            }
        }
    }

    @Test
    void clientStreamingOf32MiB() throws IOException {
        CRC32 crc = new CRC32();
        try (UnixChannel ch = channel(); StreamingCall<byte[], byte[]> call = ch.open(SUM)) {
            for (int i = 0; i < 32; i++) {
                byte[] m = GrpcTestServer.patterned(i, 1 << 20);
                crc.update(m);
                call.send(m);
            }
            call.halfClose();
            call.halfClose();   // idempotent
            ResponseStream<byte[]> rs = call.responses();
            ByteBuffer reply = ByteBuffer.wrap(rs.next());
            assertEquals(32L << 20, reply.getLong());
            assertEquals(crc.getValue(), reply.getLong());
            assertFalse(rs.hasNext());
            RpcException e = assertThrows(RpcException.class, () -> call.send(new byte[1]));
            assertEquals(Code.FAILED_PRECONDITION, e.code());
        }
    }

    @Test
    void bidiSendsFromAnotherThreadWhileReading() throws Exception {
        int count = 500;
        try (UnixChannel ch = channel(); StreamingCall<byte[], byte[]> call = ch.open(CHAT)) {
            AtomicReference<Throwable> senderFailure = new AtomicReference<>();
            Thread sender = new Thread(() -> {
                try {
                    for (int i = 0; i < count; i++) {
                        call.send(("m" + i).getBytes(StandardCharsets.US_ASCII));
                        if (i % 50 == 0) {
                            Thread.sleep(5);
                        }
                    }
                    call.halfClose();
                } catch (Throwable t) {
                    senderFailure.set(t);
                }
            });
            sender.start();
            ResponseStream<byte[]> rs = call.responses();
            for (int i = 0; i < count; i++) {
                assertEquals("echo:m" + i, new String(rs.next(), StandardCharsets.US_ASCII));
            }
            assertFalse(rs.hasNext());
            sender.join();
            assertEquals(null, senderFailure.get());
        }
    }

    @Test
    void bidiInterleavesRequestAndResponse() throws IOException {
        try (UnixChannel ch = channel(); StreamingCall<byte[], byte[]> call = ch.open(CHAT)) {
            ResponseStream<byte[]> rs = call.responses();
            for (int i = 0; i < 20; i++) {   // each answer arrives before the next request is sent
                call.send(new byte[] {(byte) i});
                assertArrayEquals(new byte[] {'e', 'c', 'h', 'o', ':', (byte) i}, rs.next());
            }
            call.halfClose();
            assertFalse(rs.hasNext());
        }
    }

    @Test
    void deadlineExpiresAndTheServerSeesTheCancellation() throws Exception {
        server.hangCancelled = new java.util.concurrent.CountDownLatch(1);
        try (UnixChannel ch = channel()) {
            long start = System.nanoTime();
            RpcException e = assertThrows(RpcException.class, () -> ch.call(HANG, new byte[] {1}, Duration.ofMillis(300)));
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(Code.DEADLINE_EXCEEDED, e.code());
            assertTrue(millis >= 290 && millis < 2000, "took " + millis + " ms");
            assertTrue(server.hangCancelled.await(5, TimeUnit.SECONDS), "the server never saw the call cancelled");
            Long remaining = server.hangDeadlineMillis.get();
            assertNotNull(remaining, "grpc-timeout did not reach the server");
            assertTrue(remaining > 0 && remaining <= 300, "server-side deadline " + remaining + " ms");
            // The channel still works.
            assertArrayEquals(new byte[] {2}, ch.call(ECHO, new byte[] {2}, Duration.ofSeconds(5)));
        }
    }

    @Test
    void closingAResponseStreamCancelsOnTheServer() throws Exception {
        server.endlessCancelled = new java.util.concurrent.CountDownLatch(1);
        try (UnixChannel ch = channel()) {
            ResponseStream<byte[]> rs = ch.stream(ENDLESS, new byte[0]);
            for (int i = 0; i < 5; i++) {
                assertEquals(i, ByteBuffer.wrap(rs.next()).getInt());
            }
            rs.close();
            assertTrue(server.endlessCancelled.await(5, TimeUnit.SECONDS), "the server never saw the cancellation");
            RpcException e = assertThrows(RpcException.class, rs::hasNext);
            assertEquals(Code.CANCELLED, e.code());
            assertArrayEquals(new byte[] {3}, ch.call(ECHO, new byte[] {3}));
        }
    }

    @Test
    void concurrentUnaryCallsFromEightThreads() throws Exception {
        try (UnixChannel ch = channel()) {
            List<Thread> threads = new ArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                threads.add(new Thread(() -> {
                    try {
                        for (int i = 0; i < 100; i++) {
                            // Mostly small; every 10th beyond the server's 64 KiB window, to mix flow control in.
                            int size = i % 10 == 0 ? 200_000 + thread : 16 + i;
                            byte[] m = GrpcTestServer.patterned(thread * 1000 + i, size);
                            byte[] reply = ch.call(ECHO, m, Duration.ofSeconds(30));
                            if (!java.util.Arrays.equals(m, reply)) {
                                throw new AssertionError("thread " + thread + " call " + i + " got another reply");
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        }
    }

    @Test
    void closingTheChannelCancelsCallsInProgress() throws Exception {
        UnixChannel ch = channel();
        ResponseStream<byte[]> rs = ch.stream(ENDLESS, new byte[0]);
        rs.next();
        ch.close();
        RpcException e = assertThrows(RpcException.class, () -> {
            while (true) {
                rs.next();
            }
        });
        assertEquals(Code.CANCELLED, e.code());
        assertThrows(RpcException.class, () -> ch.call(ECHO, new byte[] {1}));
    }

    @Test
    void serverProcessGoingAwayMidCallIsUnavailable() throws Exception {
        Path socket = dir.resolve("doomed.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), GrpcTestServer.class.getName(), socket.toString())
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = lines.readLine()) != null && !line.equals("ready")) {
                // the server's start-up chatter
            }
            assertEquals("ready", line);
            try (UnixChannel ch = UnixChannel.open(socket, Map.of())) {
                assertArrayEquals(new byte[] {5}, ch.call(ECHO, new byte[] {5}));
                AtomicReference<Throwable> outcome = new AtomicReference<>();
                Thread caller = new Thread(() -> {
                    try {
                        ch.call(HANG, new byte[] {1});
                    } catch (Throwable t) {
                        outcome.set(t);
                    }
                });
                caller.start();
                Thread.sleep(300);
                p.destroyForcibly().waitFor();
                caller.join(10_000);
                assertFalse(caller.isAlive());
                RpcException e = (RpcException) outcome.get();
                assertEquals(Code.UNAVAILABLE, e.code());
                assertTrue(e.getMessage().contains("connection to the node agent closed"), e.getMessage());
                RpcException after = assertThrows(RpcException.class, () -> ch.call(ECHO, new byte[] {1}));
                assertEquals(Code.UNAVAILABLE, after.code());
            }
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void nothingListeningIsAnIOExceptionNamingThePath() throws IOException {
        Path missing = dir.resolve("missing.sock");
        IOException e = assertThrows(IOException.class, () -> UnixChannel.open(missing, Map.of()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());

        // A socket file left behind by a server that is gone.
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        IOException refused = assertThrows(IOException.class, () -> UnixChannel.open(stale, Map.of()));
        assertTrue(refused.getMessage().contains(stale.toString()), refused.getMessage());
    }
}
