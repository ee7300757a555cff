package dev.berth.cli;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import dev.berth.api.services.containers.v1.Container;
import dev.berth.api.services.containers.v1.CreateContainerRequest;
import dev.berth.api.services.containers.v1.DeleteContainerRequest;
import dev.berth.api.services.logs.v1.LogChunk;
import dev.berth.api.services.logs.v1.ReadLogsRequest;
import dev.berth.api.services.tasks.v1.CreateTaskRequest;
import dev.berth.api.services.tasks.v1.DeleteTaskRequest;
import dev.berth.api.services.tasks.v1.StartRequest;
import dev.berth.api.services.tasks.v1.WaitRequest;
import dev.berth.api.services.tasks.v1.WaitResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth run}: create a container, start it, stream its output and exit with its exit code. */
@Command(name = "run", description = "Run a command in a new container.")
final class RunCommand implements Callable<Integer> {

    static final String RUN_EXTENSION = "berth.dev/run";
    static final String RUN_TYPE_URL = "types.berth.dev/RunRequest/v1";

    @ParentCommand
    Berth berth;

    @Option(names = "--name", description = "Container name (default: a random id).")
    String name;

    @Option(names = "--rm", description = "Remove the container when it exits.")
    boolean rm;

    @Option(names = {"-d", "--detach"}, description = "Start the container and print its name without waiting.")
    boolean detach;

    @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE", description = "Set an environment variable.")
    List<String> env = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, description = "Working directory inside the container.")
    String workdir;

    @Option(names = {"-u", "--user"}, description = "user[:group], by name or number.")
    String user;

    @Option(names = "--entrypoint", description = "Override the image's entrypoint.")
    String entrypoint;

    @Option(names = "--hostname", description = "The container's hostname.")
    String hostname;

    @Option(names = "--net", defaultValue = "none", description = "Network: none (own namespace, loopback only) or host.")
    String network;

    @Option(names = "--read-only", description = "Mount the root filesystem read-only.")
    boolean readOnly;

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "Command and arguments (default: the image's).")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (rm && detach) throw new CliException("--rm and -d together are not supported yet: remove the container with 'berth rm' after it exits");
        String id = name != null ? name : HexFormat.of().formatHex(new SecureRandom().generateSeed(8));
        try (AgentClient c = berth.connect()) {
            c.containers.create(CreateContainerRequest.newBuilder().setContainer(Container.newBuilder()
                    .setId(id)
                    .setImage(image)
                    .setRuntime(Container.Runtime.newBuilder().setName("io.containerd.runc.v2"))
                    .putExtensions(RUN_EXTENSION, Any.newBuilder().setTypeUrl(RUN_TYPE_URL).setValue(ByteString.copyFrom(runRequest())).build()))
                    .build());
            try {
                c.tasks.create(CreateTaskRequest.newBuilder().setContainerId(id).build());
            } catch (StatusRuntimeException e) {
                // a run that never started leaves nothing behind
                c.containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
                throw new CliException(Berth.describe(e), 125);
            }
            if (detach) {
                c.tasks.start(StartRequest.newBuilder().setContainerId(id).build());
                System.out.println(id);
                return 0;
            }
            CountDownLatch logsDone = new CountDownLatch(1);
            c.logsAsync.read(ReadLogsRequest.newBuilder().setContainerId(id).setFollow(true).build(), new StreamObserver<>() {
                @Override
                public void onNext(LogChunk chunk) {
                    Format.write(chunk);
                }

                @Override
                public void onError(Throwable t) {
                    logsDone.countDown();
                }

                @Override
                public void onCompleted() {
                    logsDone.countDown();
                }
            });
            c.tasks.start(StartRequest.newBuilder().setContainerId(id).build());
            WaitResponse exit = c.tasks.wait(WaitRequest.newBuilder().setContainerId(id).build());
            logsDone.await(10, TimeUnit.SECONDS);
            if (rm) {
                c.tasks.delete(DeleteTaskRequest.newBuilder().setContainerId(id).build());
                c.containers.delete(DeleteContainerRequest.newBuilder().setId(id).build());
            }
            return exit.getExitStatus();
        }
    }

    private byte[] runRequest() throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        if (entrypoint != null) r.put("entrypoint", entrypoint.isEmpty() ? List.of() : List.of(entrypoint));
        if (!command.isEmpty()) r.put("args", command);
        if (!env.isEmpty()) r.put("env", env);
        if (workdir != null) r.put("workingDir", workdir);
        if (user != null) r.put("user", user);
        if (hostname != null) r.put("hostname", hostname);
        if (readOnly) r.put("readOnlyRootfs", true);
        r.put("network", network);
        return new ObjectMapper().writeValueAsBytes(r);
    }
}
