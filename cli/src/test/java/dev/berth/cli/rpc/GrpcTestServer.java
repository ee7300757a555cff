package dev.berth.cli.rpc;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;

/**
 * A real grpc-java Netty server on a unix socket, with test services defined by hand over byte[] messages (no
 * protobuf). Runs in the test's JVM, or as its own process (main) for tests that kill the server and for start-up
 * measurements.
 */
final class GrpcTestServer implements AutoCloseable {

    static final String SERVICE = "berth.test.Test";
    static final Metadata.Key<String> NAMESPACE = Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);

    /** Held, so the levels stick: netty logs every stream our cancellations reset, which is expected here. */
    private static final java.util.logging.Logger[] QUIET = {
        java.util.logging.Logger.getLogger("io.netty"), java.util.logging.Logger.getLogger("io.grpc"),
    };

    static {
        quietNetty();
    }

    static void quietNetty() {
        for (java.util.logging.Logger l : QUIET) {
            l.setLevel(java.util.logging.Level.SEVERE);
        }
    }

    final Path socket;
    private final Server server;
    private final EpollEventLoopGroup boss = new EpollEventLoopGroup(1);
    private final EpollEventLoopGroup workers = new EpollEventLoopGroup(2);

    /** What the server saw: the last namespace header, cancellations, deadlines, progress of streams. */
    final AtomicReference<String> lastNamespace = new AtomicReference<>();
    final AtomicReference<String> lastUserAgent = new AtomicReference<>();
    volatile CountDownLatch hangCancelled = new CountDownLatch(1);
    final AtomicReference<Long> hangDeadlineMillis = new AtomicReference<>();
    volatile CountDownLatch endlessCancelled = new CountDownLatch(1);
    final AtomicInteger streamSent = new AtomicInteger();
    final AtomicLong sumReceivedBytes = new AtomicLong();

    GrpcTestServer(Path socket) throws IOException {
        this.socket = socket;
        Files.deleteIfExists(socket);
        ServerServiceDefinition service = ServerServiceDefinition.builder(SERVICE)
                .addMethod(method("Echo", MethodDescriptor.MethodType.UNARY), ServerCalls.asyncUnaryCall(this::echo))
                .addMethod(method("Fail", MethodDescriptor.MethodType.UNARY), ServerCalls.asyncUnaryCall(this::fail))
                .addMethod(method("Hang", MethodDescriptor.MethodType.UNARY), ServerCalls.asyncUnaryCall(this::hang))
                .addMethod(method("Stream", MethodDescriptor.MethodType.SERVER_STREAMING), ServerCalls.asyncServerStreamingCall(this::stream))
                .addMethod(method("StreamThenFail", MethodDescriptor.MethodType.SERVER_STREAMING), ServerCalls.asyncServerStreamingCall(this::streamThenFail))
                .addMethod(method("Endless", MethodDescriptor.MethodType.SERVER_STREAMING), ServerCalls.asyncServerStreamingCall(this::endless))
                .addMethod(method("Sum", MethodDescriptor.MethodType.CLIENT_STREAMING), ServerCalls.asyncClientStreamingCall(this::sum))
                .addMethod(method("Chat", MethodDescriptor.MethodType.BIDI_STREAMING), ServerCalls.asyncBidiStreamingCall(this::chat))
                .build();
        ServerInterceptor headers = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata md, ServerCallHandler<Q, R> next) {
                lastNamespace.set(md.get(NAMESPACE));
                lastUserAgent.set(md.get(Metadata.Key.of("user-agent", Metadata.ASCII_STRING_MARSHALLER)));
                return next.startCall(call, md);
            }
        };
        server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                // A small receive window, so our client's sends block on flow control often.
                .flowControlWindow(65535)
                .maxInboundMessageSize(16 << 20)
                .addService(ServerInterceptors.intercept(service, headers))
                .build()
                .start();
    }

    /** Graceful shutdown: GOAWAY to clients, calls in progress go on. */
    void shutdown() {
        server.shutdown();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }

    /** Runs the server in its own process until killed; prints "ready" once it listens. */
    public static void main(String[] args) throws Exception {
        try (GrpcTestServer s = new GrpcTestServer(Path.of(args[0]))) {
            System.out.println("ready");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    // ---- the services ----

    private void echo(byte[] request, StreamObserver<byte[]> out) {
        out.onNext(request);
        out.onCompleted();
    }

    /** Request: the status code (1 byte), then the description in UTF-8. Answered as trailers-only. */
    private void fail(byte[] request, StreamObserver<byte[]> out) {
        out.onError(Status.fromCodeValue(request[0]).withDescription(new String(request, 1, request.length - 1, StandardCharsets.UTF_8)).asRuntimeException());
    }

    /** Never answers; counts the cancellation down. */
    private void hang(byte[] request, StreamObserver<byte[]> out) {
        io.grpc.Deadline d = Context.current().getDeadline();
        hangDeadlineMillis.set(d == null ? null : d.timeRemaining(TimeUnit.MILLISECONDS));
        CountDownLatch latch = hangCancelled;
        ((ServerCallStreamObserver<byte[]>) out).setOnCancelHandler(latch::countDown);
    }

    /** Request: count, size (ints). Sends count messages of size bytes (message i filled by pattern(i, j)) as the transport is ready. */
    private void stream(byte[] request, StreamObserver<byte[]> out) {
        ByteBuffer r = ByteBuffer.wrap(request);
        int count = r.getInt();
        int size = r.getInt();
        ServerCallStreamObserver<byte[]> obs = (ServerCallStreamObserver<byte[]>) out;
        streamSent.set(0);
        Thread t = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    while (!obs.isReady()) {
                        if (obs.isCancelled()) {
                            return;
                        }
                        Thread.sleep(1);
                    }
                    obs.onNext(patterned(i, size));
                    streamSent.incrementAndGet();
                }
                obs.onCompleted();
            } catch (InterruptedException | RuntimeException e) {
                // cancelled
            }
        });
        t.setDaemon(true);
        t.start();
    }

    /** Request: the description (UTF-8). Sends two messages, then INVALID_ARGUMENT with that description, in trailers. */
    private void streamThenFail(byte[] request, StreamObserver<byte[]> out) {
        out.onNext(new byte[] {1});
        out.onNext(new byte[] {2});
        out.onError(Status.INVALID_ARGUMENT.withDescription(new String(request, StandardCharsets.UTF_8)).asRuntimeException());
    }

    /** Small messages until the client cancels. */
    private void endless(byte[] request, StreamObserver<byte[]> out) {
        ServerCallStreamObserver<byte[]> obs = (ServerCallStreamObserver<byte[]>) out;
        CountDownLatch latch = endlessCancelled;
        obs.setOnCancelHandler(latch::countDown);
        Thread t = new Thread(() -> {
            try {
                for (int i = 0; !obs.isCancelled(); i++) {
                    if (obs.isReady()) {
                        obs.onNext(ByteBuffer.allocate(4).putInt(i).array());
                    }
                    Thread.sleep(2);
                }
            } catch (InterruptedException | RuntimeException e) {
                // cancelled
            }
        });
        t.setDaemon(true);
        t.start();
    }

    /** Client streaming: answers the total length (long) and the CRC32 (long) of everything received. */
    private StreamObserver<byte[]> sum(StreamObserver<byte[]> out) {
        CRC32 crc = new CRC32();
        AtomicLong total = new AtomicLong();
        sumReceivedBytes.set(0);
        return new StreamObserver<>() {
            @Override
            public void onNext(byte[] value) {
                crc.update(value);
                total.addAndGet(value.length);
                sumReceivedBytes.addAndGet(value.length);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
                out.onNext(ByteBuffer.allocate(16).putLong(total.get()).putLong(crc.getValue()).array());
                out.onCompleted();
            }
        };
    }

    /** Bidi: answers each message with "echo:" + message, and completes when the client does. */
    private StreamObserver<byte[]> chat(StreamObserver<byte[]> out) {
        return new StreamObserver<>() {
            @Override
            public void onNext(byte[] value) {
                byte[] reply = new byte[5 + value.length];
                System.arraycopy("echo:".getBytes(StandardCharsets.US_ASCII), 0, reply, 0, 5);
                System.arraycopy(value, 0, reply, 5, value.length);
                out.onNext(reply);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
                out.onCompleted();
            }
        };
    }

    static byte[] patterned(int index, int size) {
        byte[] b = new byte[size];
        for (int j = 0; j < size; j++) {
            b[j] = (byte) (index * 31 + j * 7 + (j >>> 11));
        }
        return b;
    }

    private static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(type)
                .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
                .setRequestMarshaller(BYTES)
                .setResponseMarshaller(BYTES)
                .build();
    }

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    };
}
