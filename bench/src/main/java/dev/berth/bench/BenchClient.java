package dev.berth.bench;

import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;

/** A connection to an agent's socket in the bench namespace, as the bench clients use it. */
final class BenchClient implements AutoCloseable {

    final Channel channel;
    private final ManagedChannel managed;
    private final EpollEventLoopGroup group;

    BenchClient(String socket) {
        java.util.logging.Logger.getLogger("io.netty").setLevel(java.util.logging.Level.SEVERE);
        group = new EpollEventLoopGroup(1);
        managed = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER), "bench");
        channel = ClientInterceptors.intercept(managed, MetadataUtils.newAttachHeadersInterceptor(md));
    }

    @Override
    public void close() {
        managed.shutdownNow();
        group.shutdownGracefully();
    }
}
