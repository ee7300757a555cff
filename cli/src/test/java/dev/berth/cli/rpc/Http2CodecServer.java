package dev.berth.cli.rpc;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2ConnectionDecoder;
import io.netty.handler.codec.http2.DefaultHttp2ConnectionEncoder;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2FrameWriter;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameAdapter;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real HTTP/2 server (netty's codec) on a unix socket, whose gRPC answers the tests write by hand. It sends what
 * grpc-java's server never does: Huffman-coded fields (grpc-java turns Huffman off), padded DATA and HEADERS,
 * HEADERS with PRIORITY, PINGs, SETTINGS changes mid-call, RST_STREAM with chosen codes, GOAWAY below a stream,
 * non-200 statuses and compressed messages.
 *
 * <p>Paths, under /berth.test.Raw/: Huffman (echo, then INVALID_ARGUMENT with the request as grpc-message),
 * Ping (pings the client, answers the ping's ACK payload), Window (sends SETTINGS INITIAL_WINDOW_SIZE 1 MiB
 * 300 ms after the first DATA, never a WINDOW_UPDATE; answers the bytes received), Reset (RST_STREAM with the
 * request's first byte as code), GoAway (GOAWAY with a last-stream-id below this stream), Http503, Compressed.
 */
final class Http2CodecServer implements AutoCloseable {

    /** The stream window the server announces at first: small, so the Window call blocks until SETTINGS grow it. */
    static final int INITIAL_WINDOW = 1000;

    final Path socket;
    private final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
    private final Channel server;
    /** When the Window call's SETTINGS went out (System.nanoTime). */
    final AtomicLong windowGrownAt = new AtomicLong();

    Http2CodecServer(Path socket) throws Exception {
        GrpcTestServer.quietNetty();
        this.socket = socket;
        Files.deleteIfExists(socket);
        server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerDomainSocketChannel.class)
                .childHandler(new ChannelInitializer<DomainSocketChannel>() {
                    @Override
                    protected void initChannel(DomainSocketChannel ch) {
                        ch.pipeline().addLast(handler());
                    }
                })
                .bind(new DomainSocketAddress(socket.toString()))
                .sync()
                .channel();
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }

    private Http2ConnectionHandler handler() {
        DefaultHttp2Connection connection = new DefaultHttp2Connection(true);
        // Huffman threshold 0: every string that Huffman makes shorter is Huffman-coded.
        DefaultHttp2HeadersEncoder headers = new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, false, 16, 0);
        DefaultHttp2ConnectionEncoder encoder = new DefaultHttp2ConnectionEncoder(connection, new DefaultHttp2FrameWriter(headers));
        DefaultHttp2ConnectionDecoder decoder = new DefaultHttp2ConnectionDecoder(connection, encoder, new DefaultHttp2FrameReader());
        Http2ConnectionHandler handler = new Http2ConnectionHandler(decoder, encoder, new Http2Settings().initialWindowSize(INITIAL_WINDOW)) {
        };
        decoder.frameListener(new Calls(handler));
        return handler;
    }

    /** The calls of one connection; netty calls it on the connection's event loop only. */
    private final class Calls extends Http2FrameAdapter {
        private final Http2ConnectionHandler handler;
        private final Map<Integer, String> paths = new HashMap<>();
        private final Map<Integer, ByteArrayOutputStream> bodies = new HashMap<>();
        private int pingStream;

        Calls(Http2ConnectionHandler handler) {
            this.handler = handler;
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers h, int padding, boolean endOfStream) {
            String path = h.path().toString();
            paths.put(streamId, path);
            bodies.put(streamId, new ByteArrayOutputStream());
            if (path.endsWith("/GoAway")) {
                handler.goAway(ctx, streamId - 2, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER, ctx.newPromise());
                ctx.flush();
            }
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers h, int dependency, short weight,
                boolean exclusive, int padding, boolean endOfStream) {
            onHeadersRead(ctx, streamId, h, padding, endOfStream);
        }

        @Override
        public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endOfStream) {
            String path = paths.get(streamId);
            ByteArrayOutputStream body = bodies.get(streamId);
            int size = data.readableBytes();
            if (path.endsWith("/Window") && body.size() == 0 && size > 0) {
                ctx.executor().schedule(() -> {
                    windowGrownAt.set(System.nanoTime());
                    handler.encoder().writeSettings(ctx, new Http2Settings().initialWindowSize(1 << 20), ctx.newPromise());
                    ctx.flush();
                }, 300, TimeUnit.MILLISECONDS);
            }
            byte[] chunk = new byte[size];
            data.readBytes(chunk);
            body.write(chunk, 0, size);
            if (endOfStream) {
                respond(ctx, streamId, path, body.toByteArray());
            }
            // The Window call never gives credit back: only the SETTINGS change can unblock its sender.
            return path.endsWith("/Window") ? 0 : size + padding;
        }

        @Override
        public void onPingAckRead(ChannelHandlerContext ctx, long data) {
            sendMessage(ctx, pingStream, java.nio.ByteBuffer.allocate(8).putLong(data).array(), 0);
            trailers(ctx, pingStream, "0", null, 0);
        }

        private void respond(ChannelHandlerContext ctx, int streamId, String path, byte[] body) {
            byte[] request = body.length >= 5 ? java.util.Arrays.copyOfRange(body, 5, body.length) : new byte[0];
            if (path.endsWith("/Huffman")) {
                // PRIORITY and padding on HEADERS, padding on DATA and trailers.
                handler.encoder().writeHeaders(ctx, streamId, ok(), 0, (short) 16, false, 33, false, ctx.newPromise());
                sendMessage(ctx, streamId, request, 200);
                trailers(ctx, streamId, "3", percentEncode(new String(request, StandardCharsets.UTF_8)), 7);
            } else if (path.endsWith("/Ping")) {
                pingStream = streamId;
                handler.encoder().writeHeaders(ctx, streamId, ok(), 0, false, ctx.newPromise());
                handler.encoder().writePing(ctx, false, 0x0102030405060708L, ctx.newPromise());
            } else if (path.endsWith("/Window")) {
                handler.encoder().writeHeaders(ctx, streamId, ok(), 0, false, ctx.newPromise());
                sendMessage(ctx, streamId, java.nio.ByteBuffer.allocate(8).putLong(body.length).array(), 0);
                trailers(ctx, streamId, "0", null, 0);
            } else if (path.endsWith("/Reset")) {
                handler.encoder().writeRstStream(ctx, streamId, request[0], ctx.newPromise());
            } else if (path.endsWith("/Http503")) {
                handler.encoder().writeHeaders(ctx, streamId, new DefaultHttp2Headers().status("503").set("content-type", "text/plain"), 0, true, ctx.newPromise());
            } else if (path.endsWith("/Compressed")) {
                handler.encoder().writeHeaders(ctx, streamId, ok().set("grpc-encoding", "gzip"), 0, false, ctx.newPromise());
                ByteBuf b = Unpooled.buffer().writeByte(1).writeInt(3).writeBytes(new byte[] {1, 2, 3});
                handler.encoder().writeData(ctx, streamId, b, 0, false, ctx.newPromise());
            } else {
                trailers(ctx, streamId, "12", "no such method " + path, 0);
            }
            ctx.flush();
        }

        private void sendMessage(ChannelHandlerContext ctx, int streamId, byte[] message, int padding) {
            ByteBuf b = Unpooled.buffer(5 + message.length).writeByte(0).writeInt(message.length).writeBytes(message);
            handler.encoder().writeData(ctx, streamId, b, padding, false, ctx.newPromise());
        }

        private void trailers(ChannelHandlerContext ctx, int streamId, String status, String message, int padding) {
            Http2Headers t = new DefaultHttp2Headers().set("grpc-status", status);
            if (message != null) {
                t.set("grpc-message", message);
            }
            handler.encoder().writeHeaders(ctx, streamId, t, padding, true, ctx.newPromise());
            ctx.flush();
        }

        private Http2Headers ok() {
            return new DefaultHttp2Headers().status("200").set("content-type", "application/grpc");
        }
    }

    /** gRPC's grpc-message encoding: UTF-8, with '%', controls and non-ASCII as %XX. */
    static String percentEncode(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int v = b & 0xff;
            if (v < 0x20 || v > 0x7e || v == '%') {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(v >> 4, 16))).append(Character.toUpperCase(Character.forDigit(v & 15, 16)));
            } else {
                sb.append((char) v);
            }
        }
        return sb.toString();
    }
}
