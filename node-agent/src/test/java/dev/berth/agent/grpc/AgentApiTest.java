package dev.berth.agent.grpc;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.containers.v1.ListContainersRequest;
import dev.berth.api.services.content.v1.ContentGrpc;
import dev.berth.api.services.content.v1.DeleteContentRequest;
import dev.berth.api.services.content.v1.InfoRequest;
import dev.berth.api.services.content.v1.ListContentRequest;
import dev.berth.api.services.content.v1.ReadContentRequest;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.LogsGrpc;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.snapshots.v1.ListSnapshotsRequest;
import dev.berth.api.services.snapshots.v1.MountsRequest;
import dev.berth.api.services.snapshots.v1.RemoveSnapshotRequest;
import dev.berth.api.services.snapshots.v1.SnapshotsGrpc;
import dev.berth.api.services.snapshots.v1.StatSnapshotRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.services.version.v1.VersionGrpc;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The agent as its clients see it: Quarkus-started, gRPC on its unix socket, real registry, overlay and runc. */
@QuarkusTest
@TestProfile(TempAgentProfile.class)
class AgentApiTest {

    static LocalRegistry registry;
    static String image;
    static ManagedChannel channel;
    static EpollEventLoopGroup group;

    @BeforeAll
    static void setUp() throws Exception {
        registry = LocalRegistry.start();
        new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
        image = registry.address() + "/test/busybox:latest";
        group = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(TempAgentProfile.BASE.resolve("agent.sock").toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    }

    @AfterAll
    static void tearDown() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully();
        registry.close();
    }

    static Channel ns(String namespace) {
        Metadata md = new Metadata();
        md.put(Namespaces.HEADER, namespace);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static Container container(String id, String json) {
        return Container.newBuilder().setId(id).setImage(image)
                .putExtensions("berth.dev/run", Any.newBuilder().setTypeUrl("types.berth.dev/RunRequest/v1")
                        .setValue(ByteString.copyFromUtf8(json)).build()).build();
    }

    static void pull(Channel ch) {
        Iterator<PullProgress> it = ImageToolsGrpc.newBlockingStub(ch).pull(PullRequest.newBuilder().setReference(image).build());
        PullProgress last = null;
        while (it.hasNext()) last = it.next();
        assertTrue(last != null && last.hasImage(), "pull ends with the image");
        assertEquals(image, last.getImage().getName());
    }

    @Test
    void aClientThatCancelsItsPullLeavesTheOtherPullSharingItsDownload() throws Exception {
        byte[] noise = new byte[3 << 20];
        new java.util.Random(95).nextBytes(noise);
        java.nio.file.Path work = Files.createTempDirectory("berth-cancel");
        String layer = new dev.berth.oci.testing.ImageBuilder().layer(l -> l.file("noise", 0644, noise))
                .push(new RegistryClient(), dev.berth.oci.Reference.parse(registry.address() + "/test/cancel:latest"), work)
                .layerDigests().get(0).toString();
        try (dev.berth.agent.StallingEdge edge = new dev.berth.agent.StallingEdge(registry.address())) {
            PullRequest req = PullRequest.newBuilder().setReference(edge.address() + "/test/cancel:latest").build();
            io.grpc.Context.CancellableContext first = io.grpc.Context.current().withCancellation();
            Iterator<PullProgress> a = first.call(() -> ImageToolsGrpc.newBlockingStub(ns("default")).pull(req));
            assertTrue(edge.awaitStall(60), "the download is under way, held halfway");
            java.util.Set<String> heard = java.util.concurrent.ConcurrentHashMap.newKeySet();
            java.util.concurrent.CompletableFuture<PullProgress> second = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                PullProgress last = null;
                for (Iterator<PullProgress> b = ImageToolsGrpc.newBlockingStub(ns("default")).pull(req); b.hasNext(); ) {
                    last = b.next();
                    heard.add(last.getStatus() + " " + last.getLayerDigest());
                }
                return last;
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!heard.contains("waiting " + layer)) {
                assertTrue(System.nanoTime() < deadline, "the second pull joins the download: " + heard);
                Thread.sleep(20);
            }
            Thread.sleep(200); // it attaches right after saying so
            first.cancel(null); // the first client goes away
            StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> a.forEachRemaining(p -> { }));
            assertEquals(Status.Code.CANCELLED, gone.getStatus().getCode());
            edge.release();
            PullProgress last = second.get(60, TimeUnit.SECONDS);
            assertTrue(last.hasImage(), "the second pull ends with the image: " + last);
            assertTrue(heard.contains("downloading " + layer), "and heard the shared download's progress: " + heard);
            assertEquals(1, edge.held(), "one download served both");
        } finally {
            new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
        }
    }

    @Test
    void socketIsPrivateAndAgentIsReady() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(TempAgentProfile.BASE.resolve("agent.sock"))));
        assertTrue(VersionGrpc.newBlockingStub(channel).version(Empty.getDefaultInstance()).getVersion().startsWith("berth"));
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
    }

    @Test
    void runsAContainerStreamingItsOutputAndExitCode() {
        Channel ch = ns("default");
        pull(ch);
        ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(ch);
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ch);
        containers.create(CreateContainerRequest.newBuilder().setContainer(container("api-run",
                "{\"args\":[\"sh\",\"-c\",\"echo out; echo err >&2; exit 4\"]}")).build());
        tasks.create(CreateTaskRequest.newBuilder().setContainerId("api-run").build());
        Iterator<LogChunk> logs = LogsGrpc.newBlockingStub(ch).read(ReadLogsRequest.newBuilder().setContainerId("api-run").setFollow(true).build());
        tasks.start(StartRequest.newBuilder().setContainerId("api-run").build());
        assertEquals(4, tasks.wait(WaitRequest.newBuilder().setContainerId("api-run").build()).getExitStatus());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        while (logs.hasNext()) {
            LogChunk c = logs.next();
            (c.getStream() == LogChunk.Stream.STDOUT ? out : err).writeBytes(c.getData().toByteArray());
        }
        assertEquals("out\n", out.toString(StandardCharsets.UTF_8));
        assertEquals("err\n", err.toString(StandardCharsets.UTF_8));
        assertEquals(4, tasks.delete(DeleteTaskRequest.newBuilder().setContainerId("api-run").build()).getExitStatus());
        containers.delete(DeleteContainerRequest.newBuilder().setId("api-run").build());
    }

    @Test
    void namespacesIsolateImagesAndContainers() {
        pull(ns("default"));
        assertTrue(ImageToolsGrpc.newBlockingStub(ns("tenant-b")).list(ListImageInfoRequest.getDefaultInstance()).getImagesList().isEmpty());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ContainersGrpc.newBlockingStub(ns("tenant-b"))
                .create(CreateContainerRequest.newBuilder().setContainer(container("x", "{\"args\":[\"true\"]}")).build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("pull it first"), e.getStatus().getDescription());
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> ContainersGrpc.newBlockingStub(ns("bad namespace!"))
                .list(ListContainersRequest.getDefaultInstance()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    }

    static java.util.List<String> blobs(Channel ch) {
        java.util.List<String> all = new java.util.ArrayList<>();
        ContentGrpc.newBlockingStub(ch).list(ListContentRequest.getDefaultInstance()).forEachRemaining(r -> r.getInfoList().forEach(i -> all.add(i.getDigest())));
        return all;
    }

    static java.util.List<String> snapshots(Channel ch) {
        java.util.List<String> all = new java.util.ArrayList<>();
        SnapshotsGrpc.newBlockingStub(ch).list(ListSnapshotsRequest.getDefaultInstance()).forEachRemaining(r -> r.getInfoList().forEach(i -> all.add(i.getName())));
        return all;
    }

    /** Content and snapshots are stored once for the node, and each namespace sees only what its images and containers hold. */
    @Test
    void namespacesScopeContentAndSnapshots() {
        Channel mine = ns("scope-a");
        Channel other = ns("scope-b");
        pull(mine);
        ContainersGrpc.newBlockingStub(mine).create(CreateContainerRequest.newBuilder().setContainer(container("scoped", "{\"args\":[\"true\"]}")).build());
        var myBlobs = blobs(mine);
        var mySnapshots = snapshots(mine);
        assertTrue(myBlobs.size() >= 3, "the image's manifest, config and layer at least: " + myBlobs);
        assertTrue(mySnapshots.contains("scope-a/scoped"), "the container's own snapshot: " + mySnapshots);

        assertTrue(blobs(other).isEmpty());
        assertTrue(snapshots(other).isEmpty());
        String blob = myBlobs.get(0);
        for (Runnable call : java.util.List.<Runnable>of(
                () -> ContentGrpc.newBlockingStub(other).info(InfoRequest.newBuilder().setDigest(blob).build()),
                () -> ContentGrpc.newBlockingStub(other).read(ReadContentRequest.newBuilder().setDigest(blob).build()).hasNext(),
                () -> ContentGrpc.newBlockingStub(other).delete(DeleteContentRequest.newBuilder().setDigest(blob).build()),
                () -> SnapshotsGrpc.newBlockingStub(other).stat(StatSnapshotRequest.newBuilder().setKey("scope-a/scoped").build()),
                () -> SnapshotsGrpc.newBlockingStub(other).mounts(MountsRequest.newBuilder().setKey("scope-a/scoped").build()),
                () -> SnapshotsGrpc.newBlockingStub(other).remove(RemoveSnapshotRequest.newBuilder().setKey(mySnapshots.get(0)).build()))) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), e.getStatus().getDescription());
        }
        assertEquals("overlay", SnapshotsGrpc.newBlockingStub(mine).mounts(MountsRequest.newBuilder().setKey("scope-a/scoped").build()).getMounts(0).getType());

        // the other namespace pulls the same image: the same blobs, now visible to it too, and still not the container
        pull(other);
        var theirBlobs = blobs(other);
        assertEquals(new java.util.HashSet<>(myBlobs), new java.util.HashSet<>(theirBlobs));
        assertTrue(!snapshots(other).contains("scope-a/scoped"));
        ContainersGrpc.newBlockingStub(mine).delete(DeleteContainerRequest.newBuilder().setId("scoped").build());
    }

    @Test
    void refusesWhatCannotBeDoneWithTheRightStatus() {
        Channel ch = ns("default");
        pull(ch);
        ContainersGrpc.ContainersBlockingStub containers = ContainersGrpc.newBlockingStub(ch);
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ch);
        StatusRuntimeException badId = assertThrows(StatusRuntimeException.class, () ->
                containers.create(CreateContainerRequest.newBuilder().setContainer(container("../evil", "{\"args\":[\"true\"]}")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, badId.getStatus().getCode());

        containers.create(CreateContainerRequest.newBuilder().setContainer(container("api-sleep", "{\"args\":[\"sleep\",\"300\"]}")).build());
        tasks.create(CreateTaskRequest.newBuilder().setContainerId("api-sleep").build());
        tasks.start(StartRequest.newBuilder().setContainerId("api-sleep").build());
        StatusRuntimeException running = assertThrows(StatusRuntimeException.class, () ->
                tasks.delete(DeleteTaskRequest.newBuilder().setContainerId("api-sleep").build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, running.getStatus().getCode());
        StatusRuntimeException hasTask = assertThrows(StatusRuntimeException.class, () ->
                containers.delete(DeleteContainerRequest.newBuilder().setId("api-sleep").build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, hasTask.getStatus().getCode());
        tasks.kill(KillRequest.newBuilder().setContainerId("api-sleep").setSignal(9).build());
        assertEquals(137, tasks.wait(WaitRequest.newBuilder().setContainerId("api-sleep").build()).getExitStatus());
        tasks.delete(DeleteTaskRequest.newBuilder().setContainerId("api-sleep").build());
        containers.delete(DeleteContainerRequest.newBuilder().setId("api-sleep").build());

        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () ->
                tasks.start(StartRequest.newBuilder().setContainerId("api-sleep").build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
    }
}
