package dev.berth.agent.grpc;

import dev.berth.agent.NodeAgent;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

/**
 * The agent's gRPC API on a unix socket (mode 0600: only root may drive the node). Calls run on worker threads,
 * never on Netty's event loops, because most of them block on disk, mounts or runc: quick calls on a pool of their
 * own, long ones admitted up to {@code berth.agent.max-concurrent-calls} and refused beyond (CallPools, CallAdmission).
 */
public final class AgentGrpcServer implements AutoCloseable {

    private final Server server;
    private final EpollEventLoopGroup boss;
    private final EpollEventLoopGroup workers;
    private final CallPools pools;
    private final Path socket;

    public AgentGrpcServer(NodeAgent agent, Path socket, int maxConcurrentCalls) throws IOException {
        this.socket = socket;
        Files.createDirectories(socket.getParent());
        Files.deleteIfExists(socket); // a stale socket of a previous agent; the agent lock guarantees there is no live one
        this.pools = new CallPools();
        this.boss = new EpollEventLoopGroup(1);
        this.workers = new EpollEventLoopGroup(2);
        Namespaces ns = new Namespaces();
        this.server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .executor(pools.lookup())
                .callExecutor(pools)
                .intercept(new CallAdmission(maxConcurrentCalls))
                .addService(ServerInterceptors.intercept(new ImagesService(agent), ns))
                .addService(ServerInterceptors.intercept(new ImageToolsService(agent), ns))
                .addService(ServerInterceptors.intercept(new ContainersService(agent), ns))
                .addService(ServerInterceptors.intercept(new TasksService(agent), ns))
                .addService(ServerInterceptors.intercept(new LogsService(agent), ns))
                .addService(ServerInterceptors.intercept(new AttachService(agent), ns))
                .addService(ServerInterceptors.intercept(new SnapshotsService(agent), ns))
                .addService(ServerInterceptors.intercept(new ContentService(agent), ns))
                .addService(new VersionService())
                .build()
                .start();
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    }

    public Path socket() {
        return socket;
    }

    public boolean isRunning() {
        return !server.isShutdown();
    }

    @Override
    public void close() throws InterruptedException, IOException {
        server.shutdown();
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) server.shutdownNow();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        pools.close();
        Files.deleteIfExists(socket);
    }
}
