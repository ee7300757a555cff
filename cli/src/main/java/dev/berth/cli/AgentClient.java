package dev.berth.cli;

import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ImagesGrpc;
import dev.berth.api.services.logs.v1.LogsGrpc;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Channel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A connection to one node agent's unix socket, with the namespace sent on every call as containerd clients do. */
final class AgentClient implements AutoCloseable {

    static final Metadata.Key<String> NAMESPACE = Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel channel;
    private final EpollEventLoopGroup group;
    final ImagesGrpc.ImagesBlockingStub images;
    final ImageToolsGrpc.ImageToolsBlockingStub imageTools;
    final ImageToolsGrpc.ImageToolsStub imageToolsAsync;
    final ContainersGrpc.ContainersBlockingStub containers;
    final TasksGrpc.TasksBlockingStub tasks;
    final TasksGrpc.TasksStub tasksAsync;
    final LogsGrpc.LogsBlockingStub logs;
    final LogsGrpc.LogsStub logsAsync;
    final dev.berth.api.services.attach.v1.AttachGrpc.AttachStub attachAsync;
    final dev.berth.api.services.snapshots.v1.SnapshotsGrpc.SnapshotsBlockingStub snapshots;
    final dev.berth.api.services.content.v1.ContentGrpc.ContentBlockingStub content;

    AgentClient(String address, String namespace) {
        if (!Files.exists(Path.of(address))) {
            throw new CliException("cannot connect to the node agent: " + address + " does not exist; is the agent running? (start it with bin/berth-up)");
        }
        group = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(address))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                .maxInboundMessageSize(64 << 20)
                .build();
        Metadata md = new Metadata();
        md.put(NAMESPACE, namespace);
        Channel ch = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
        images = ImagesGrpc.newBlockingStub(ch);
        imageTools = ImageToolsGrpc.newBlockingStub(ch);
        imageToolsAsync = ImageToolsGrpc.newStub(ch);
        containers = ContainersGrpc.newBlockingStub(ch);
        tasks = TasksGrpc.newBlockingStub(ch);
        tasksAsync = TasksGrpc.newStub(ch);
        logs = LogsGrpc.newBlockingStub(ch);
        logsAsync = LogsGrpc.newStub(ch);
        attachAsync = dev.berth.api.services.attach.v1.AttachGrpc.newStub(ch);
        snapshots = dev.berth.api.services.snapshots.v1.SnapshotsGrpc.newBlockingStub(ch);
        content = dev.berth.api.services.content.v1.ContentGrpc.newBlockingStub(ch);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
}
