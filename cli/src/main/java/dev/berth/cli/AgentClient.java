package dev.berth.cli;

import dev.berth.cli.rpc.Method;
import dev.berth.cli.rpc.ResponseStream;
import dev.berth.cli.rpc.StreamingCall;
import dev.berth.cli.rpc.UnixChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/** A connection to one node agent's unix socket, with the namespace sent on every call as containerd clients do. */
final class AgentClient implements AutoCloseable {

    static final String NAMESPACE_HEADER = "containerd-namespace";

    private final UnixChannel channel;

    AgentClient(String address, String namespace) {
        Path socket = Path.of(address);
        if (!Files.exists(socket)) {
            throw new CliException("cannot connect to the node agent: " + address + " does not exist; is the agent running? (start it with bin/berth-up)");
        }
        try {
            channel = UnixChannel.open(socket, Map.of(NAMESPACE_HEADER, namespace));
        } catch (IOException e) {
            throw new CliException("the node agent is unavailable (" + e.getMessage() + "); is it running?", 125);
        }
    }

    <Req, Resp> Resp call(Method<Req, Resp> method, Req request) {
        return channel.call(method, request);
    }

    <Req, Resp> Resp call(Method<Req, Resp> method, Req request, Duration timeout) {
        return channel.call(method, request, timeout);
    }

    <Req, Resp> ResponseStream<Resp> stream(Method<Req, Resp> method, Req request) {
        return channel.stream(method, request);
    }

    <Req, Resp> StreamingCall<Req, Resp> open(Method<Req, Resp> method) {
        return channel.open(method);
    }

    @Override
    public void close() {
        channel.close();
    }
}
