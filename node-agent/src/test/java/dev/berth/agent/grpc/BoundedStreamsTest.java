package dev.berth.agent.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.berth.api.services.attach.v1.AttachGrpc;
import dev.berth.api.services.attach.v1.AttachInput;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.services.attach.v1.ExecProcess;
import dev.berth.api.services.containers.v1.ContainersGrpc;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.content.v1.ContentGrpc;
import dev.berth.api.services.content.v1.ReadContentRequest;
import dev.berth.api.services.content.v1.ReadContentResponse;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.LogsGrpc;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.KillRequest;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.TasksGrpc;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A client that opens a stream and does not read holds a bounded amount in the agent, however much its stream has to
 * give: Content.Read and logs wait for it (and then give it everything), attach and exec leave out what it is not
 * ready for (the container is never held back). Each stalled stream has a connection of its own, as a stuck client
 * would, so that its full HTTP/2 window holds back no one else.
 */
@QuarkusTest
@TestProfile(TempAgentProfile.class)
class BoundedStreamsTest {

    private static final String NS = "bounded";
    /** What a stream may hold for a client that reads nothing: its 1 MiB window, gRPC's 32 KiB, a chunk or two. */
    private static final long BOUND = 4L << 20;
    private static final int FLOOD = 20 << 20;
    private static final String DD = "dd if=/dev/zero bs=65536 count=" + (FLOOD / 65536);
    /**
     * The same 20 MiB a pipe write at a time, at a pace the agent's reader follows: the shim cuts off a reader that
     * falls 2 MiB behind (it never waits for one), which dd at full speed can make a busy agent do.
     */
    private static final String PACED = "i=0; while [ $i -lt " + (FLOOD / 32768) + " ]; do dd if=/dev/zero bs=32768 count=1 2>/dev/null; i=$((i+1)); done";

    static LocalRegistry registry;
    static String busybox;
    static EpollEventLoopGroup group;
    static ManagedChannel main;

    @BeforeAll
    static void setUp() throws Exception {
        registry = LocalRegistry.start();
        new TestImages(new RegistryClient(), registry.address(), Files.createTempDirectory("berth-images")).busybox();
        busybox = registry.address() + "/test/busybox:latest";
        group = new EpollEventLoopGroup(1);
        main = channel();
        pull(busybox);
    }

    @AfterAll
    static void tearDown() throws Exception {
        main.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully();
        registry.close();
    }

    static ManagedChannel channel() {
        return NettyChannelBuilder.forAddress(new DomainSocketAddress(TempAgentProfile.BASE.resolve("agent.sock").toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    }

    static Channel ns() {
        return io.grpc.ClientInterceptors.intercept(main, io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers()));
    }

    static void pull(String ref) {
        var last = new java.util.concurrent.atomic.AtomicReference<dev.berth.api.services.images.v1.PullProgress>();
        dev.berth.api.services.images.v1.ImageToolsGrpc.newBlockingStub(ns())
                .pull(dev.berth.api.services.images.v1.PullRequest.newBuilder().setReference(ref).build()).forEachRemaining(last::set);
        assertTrue(last.get().hasImage(), "pulled " + ref);
    }

    static dev.berth.api.services.containers.v1.Container container(String id, String json) {
        return dev.berth.api.services.containers.v1.Container.newBuilder().setId(id).setImage(busybox)
                .putExtensions("berth.dev/run", com.google.protobuf.Any.newBuilder().setTypeUrl("types.berth.dev/RunRequest/v1")
                        .setValue(ByteString.copyFromUtf8(json)).build()).build();
    }

    static Metadata headers() {
        Metadata md = new Metadata();
        md.put(Namespaces.HEADER, NS);
        return md;
    }

    /** A call whose messages are only collected once the test asks for them (manual flow control). */
    static final class Held<Req, Resp> extends ClientCall.Listener<Resp> {
        final List<Resp> got = new CopyOnWriteArrayList<>();
        final CompletableFuture<Status> closed = new CompletableFuture<>();
        final ClientCall<Req, Resp> call;

        Held(Channel ch, MethodDescriptor<Req, Resp> method) {
            call = ch.newCall(method, CallOptions.DEFAULT);
            call.start(this, headers()); // and no request(): nothing is read until readAll
        }

        @Override
        public void onMessage(Resp m) {
            got.add(m);
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
        }

        List<Resp> readAll() throws Exception {
            call.request(Integer.MAX_VALUE);
            Status s = closed.get(60, TimeUnit.SECONDS);
            assertTrue(s.isOk(), "the stream ends well: " + s);
            return got;
        }
    }

    /** The meter's value once it has stopped moving (the stream's producer waits, or has ended). */
    static long settled(LongSupplier meter) throws InterruptedException {
        long last = -1;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (int same = 0; same < 20 && System.nanoTime() < deadline; ) {
            Thread.sleep(100);
            long now = meter.getAsLong();
            same = now == last ? same + 1 : 0;
            last = now;
        }
        return last;
    }

    @Test
    void contentReadWaitsForAClientThatDoesNotRead() throws Exception {
        byte[] noise = new byte[24 << 20];
        new java.util.Random(11).nextBytes(noise);
        Path work = Files.createTempDirectory("berth-big");
        String ref = registry.address() + "/test/big:latest";
        String layer = new ImageBuilder().layer(l -> l.file("noise", 0644, noise))
                .push(new RegistryClient(), Reference.parse(ref), work).layerDigests().get(0).toString();
        new ProcessBuilder("rm", "-rf", work.toString()).start().waitFor();
        pull(ref);

        ManagedChannel stuck = channel();
        try {
            long before = StreamMeter.CONTENT_READ.taken();
            Held<ReadContentRequest, ReadContentResponse> read = new Held<>(stuck, ContentGrpc.getReadMethod());
            read.call.sendMessage(ReadContentRequest.newBuilder().setDigest(layer).build());
            read.call.halfClose();
            long held = settled(StreamMeter.CONTENT_READ::taken) - before;
            assertTrue(held > 0, "the read began");
            assertTrue(held <= BOUND, "a client that reads nothing has the agent read " + held + " bytes of a 24 MiB blob, at most " + BOUND);

            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long size = 0;
            for (ReadContentResponse r : read.readAll()) {
                assertEquals(size, r.getOffset());
                sha.update(r.getData().asReadOnlyByteBuffer());
                size += r.getData().size();
            }
            assertEquals("sha256:" + HexFormat.of().formatHex(sha.digest()), layer, "and once it reads, all of the blob, in order");
        } finally {
            stuck.shutdownNow();
        }
    }

    @Test
    void logsWithoutTailStreamTheLogInBoundedChunks() throws Exception {
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ns());
        run("flood-logs", DD);
        assertEquals(0, tasks.wait(WaitRequest.newBuilder().setContainerId("flood-logs").build()).getExitStatus());

        ManagedChannel stuck = channel();
        try {
            long before = StreamMeter.LOGS.taken();
            Held<ReadLogsRequest, LogChunk> logs = new Held<>(stuck, LogsGrpc.getReadMethod());
            logs.call.sendMessage(ReadLogsRequest.newBuilder().setContainerId("flood-logs").build());
            logs.call.halfClose();
            long held = settled(StreamMeter.LOGS::taken) - before;
            assertTrue(held > 0, "the read began");
            assertTrue(held <= BOUND, "a client that reads nothing has the agent read " + held + " bytes of a 20 MiB log, at most " + BOUND);
            long stdout = logs.readAll().stream().filter(c -> c.getStream() == LogChunk.Stream.STDOUT).mapToLong(c -> c.getData().size()).sum();
            assertEquals(FLOOD, stdout, "and once it reads, all of the log");
        } finally {
            stuck.shutdownNow();
            remove("flood-logs");
        }
    }

    @Test
    void attachLeavesOutWhatAClientDoesNotReadAndTheContainerRunsOn() throws Exception {
        ContainersGrpc.newBlockingStub(ns()).create(CreateContainerRequest.newBuilder()
                .setContainer(container("flood-attach", args(PACED))).build());
        TasksGrpc.newBlockingStub(ns()).create(CreateTaskRequest.newBuilder().setContainerId("flood-attach").build());
        ManagedChannel stuck = channel();
        try {
            long dropped = StreamMeter.ATTACH.dropped();
            Held<AttachInput, AttachOutput> attach = new Held<>(stuck, AttachGrpc.getAttachMethod());
            attach.call.sendMessage(AttachInput.newBuilder().setStart(AttachStart.newBuilder().setContainerId("flood-attach").setStartTask(true)).build());
            // the container writes its 20 MiB and exits, its client reading none of it
            assertEquals(0, waitFor(TasksGrpc.newBlockingStub(ns()).withDeadlineAfter(60, TimeUnit.SECONDS), "flood-attach", ""));
            attach.call.halfClose();
            assertFlooded(attach, dropped);
        } finally {
            stuck.shutdownNow();
            remove("flood-attach");
        }
    }

    @Test
    void execLeavesOutWhatAClientDoesNotRead() throws Exception {
        run("flood-exec", "sleep 300");
        ManagedChannel stuck = channel();
        try {
            long dropped = StreamMeter.ATTACH.dropped();
            Held<AttachInput, AttachOutput> exec = new Held<>(stuck, AttachGrpc.getAttachMethod());
            exec.call.sendMessage(AttachInput.newBuilder().setStart(AttachStart.newBuilder().setContainerId("flood-exec")
                    .setExec(ExecProcess.newBuilder().setExecId("flood").addArgs("sh").addArgs("-c").addArgs(PACED))).build());
            exec.call.halfClose();
            // Wait knows the exec only once the call has started it
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            int code;
            while (true) {
                try {
                    code = waitFor(TasksGrpc.newBlockingStub(ns()).withDeadlineAfter(60, TimeUnit.SECONDS), "flood-exec", "flood");
                    break;
                } catch (io.grpc.StatusRuntimeException e) {
                    assertTrue(e.getStatus().getCode() == Status.Code.NOT_FOUND && System.nanoTime() < deadline, e.getStatus().toString());
                    Thread.sleep(50);
                }
            }
            assertEquals(0, code);
            assertFlooded(exec, dropped);
        } finally {
            stuck.shutdownNow();
            TasksGrpc.newBlockingStub(ns()).kill(KillRequest.newBuilder().setContainerId("flood-exec").setSignal(9).build());
            waitFor(TasksGrpc.newBlockingStub(ns()), "flood-exec", "");
            remove("flood-exec");
        }
    }

    /** The client, reading only now, gets a bounded part of the 20 MiB its process wrote, and how it exited. */
    private static void assertFlooded(Held<AttachInput, AttachOutput> held, long droppedBefore) throws Exception {
        settled(StreamMeter.ATTACH::taken); // the agent has relayed the exit
        List<AttachOutput> got = held.readAll();
        long stdout = got.stream().mapToLong(o -> o.getStdout().size()).sum();
        assertTrue(got.get(0).hasStarted(), "started first: " + got.get(0));
        AttachOutput last = got.get(got.size() - 1);
        assertTrue(last.hasExit() && last.getExit().getExitStatus() == 0, "exited last: " + last);
        assertTrue(stdout <= BOUND, "the agent held " + stdout + " bytes of 20 MiB for a client that read nothing, at most " + BOUND);
        long dropped = StreamMeter.ATTACH.dropped() - droppedBefore;
        assertTrue(dropped > 0 && dropped + stdout <= FLOOD, "and left out the rest for it: " + dropped + " bytes left out, " + stdout + " sent");
    }

    private static int waitFor(TasksGrpc.TasksBlockingStub tasks, String id, String exec) {
        return tasks.wait(WaitRequest.newBuilder().setContainerId(id).setExecId(exec).build()).getExitStatus();
    }

    private static String args(String sh) {
        return "{\"args\":[\"sh\",\"-c\",\"" + sh + "\"]}";
    }

    private static void run(String id, String sh) {
        ContainersGrpc.newBlockingStub(ns()).create(CreateContainerRequest.newBuilder().setContainer(container(id, args(sh))).build());
        TasksGrpc.TasksBlockingStub tasks = TasksGrpc.newBlockingStub(ns());
        tasks.create(CreateTaskRequest.newBuilder().setContainerId(id).build());
        tasks.start(StartRequest.newBuilder().setContainerId(id).build());
    }

    private static void remove(String id) {
        TasksGrpc.newBlockingStub(ns()).delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
        ContainersGrpc.newBlockingStub(ns()).delete(DeleteContainerRequest.newBuilder().setId(id).build());
    }
}
