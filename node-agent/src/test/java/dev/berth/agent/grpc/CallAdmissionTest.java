package dev.berth.agent.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Empty;
import dev.berth.agent.StallingEdge;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.containers.v1.ListContainersRequest;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.version.v1.VersionGrpc;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.testing.LocalRegistry;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * As many pulls as berth.agent.max-concurrent-calls allows (64), all stalled by a registry that stops halfway: kill,
 * list and version are still answered at once, and one more pull is refused with RESOURCE_EXHAUSTED naming the
 * setting instead of queueing behind them.
 */
@QuarkusTest
@TestProfile(TempAgentProfile.class)
class CallAdmissionTest {

    private static final int MAX = 64; // the setting's default, which TempAgentProfile keeps

    @Test
    void quickCallsAreServedWhileLongOnesFillTheAgentAndOneMoreIsRefused() throws Exception {
        byte[] noise = new byte[3 << 20];
        new java.util.Random(64).nextBytes(noise);
        Path work = Files.createTempDirectory("berth-admit");
        EpollEventLoopGroup group = new EpollEventLoopGroup(1);
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(TempAgentProfile.BASE.resolve("agent.sock").toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        Metadata md = new Metadata();
        md.put(Namespaces.HEADER, "admission");
        Channel ch = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
        try (LocalRegistry registry = LocalRegistry.start(); StallingEdge edge = new StallingEdge(registry.address())) {
            new ImageBuilder().layer(l -> l.file("noise", 0644, noise))
                    .push(new RegistryClient(), Reference.parse(registry.address() + "/test/admit:latest"), work);
            PullRequest req = PullRequest.newBuilder().setReference(edge.address() + "/test/admit:latest").build();

            CountDownLatch underWay = new CountDownLatch(MAX);
            List<CompletableFuture<PullProgress>> pulls = new ArrayList<>();
            for (int i = 0; i < MAX; i++) pulls.add(pull(ch, req, underWay));
            assertTrue(underWay.await(60, TimeUnit.SECONDS), "every pull is being served, " + underWay.getCount() + " not yet");
            assertTrue(edge.awaitStall(60), "and their download is held halfway");

            // quick calls do not wait for any of them
            TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
            StatusRuntimeException none = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> tasks.kill(KillRequest.newBuilder().setContainerId("no-such").setSignal(9).build()));
            assertEquals(Status.Code.NOT_FOUND, none.getStatus().getCode(), "kill is answered: " + none.getStatus());
            ContainersGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS).list(ListContainersRequest.getDefaultInstance());
            VersionGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).version(Empty.getDefaultInstance());

            // one long call more is refused, naming what bounds it
            StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> ImageToolsGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS).pull(req).forEachRemaining(p -> { }));
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode(), refused.getStatus().toString());
            assertTrue(refused.getStatus().getDescription().contains("berth.agent.max-concurrent-calls"), refused.getStatus().getDescription());

            edge.release();
            for (CompletableFuture<PullProgress> p : pulls) assertTrue(p.get(60, TimeUnit.SECONDS).hasImage(), "each stalled pull ends with its image");
            // and their permits are back: a pull is admitted again
            AtomicReference<PullProgress> last = new AtomicReference<>();
            ImageToolsGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS).pull(req).forEachRemaining(last::set);
            assertTrue(last.get().hasImage());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            group.shutdownGracefully();
            new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
        }
    }

    private static CompletableFuture<PullProgress> pull(Channel ch, PullRequest req, CountDownLatch underWay) {
        CompletableFuture<PullProgress> done = new CompletableFuture<>();
        ImageToolsGrpc.newStub(ch).pull(req, new StreamObserver<>() {
            private PullProgress last;
            private boolean heard;

            @Override
            public void onNext(PullProgress p) {
                if (!heard) underWay.countDown();
                heard = true;
                last = p;
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(last);
            }
        });
        return done;
    }
}
