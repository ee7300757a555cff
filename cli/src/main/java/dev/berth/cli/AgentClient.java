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

    /** BERTH_TRACE=1: each call's path and time on stderr (from when the CLI first connected), to see where a command waits. */
    private static final boolean TRACE = "1".equals(System.getenv("BERTH_TRACE"));
    private static final long STARTED = System.nanoTime();

    private final UnixChannel channel;

    AgentClient(String address, String namespace) {
        Path socket = Path.of(address);
        if (!Files.exists(socket)) {
            throw new CliException("cannot connect to the node agent: " + address + " does not exist; is the agent running? (start it with bin/berth-up)");
        }
        long t = System.nanoTime();
        try {
            channel = UnixChannel.open(socket, Map.of(NAMESPACE_HEADER, namespace));
            if (TRACE) trace("connect " + socket, t);
        } catch (IOException e) {
            throw new CliException("the node agent is unavailable (" + e.getMessage() + "); is it running?", 125);
        }
    }

    <Req, Resp> Resp call(Method<Req, Resp> method, Req request) {
        if (!TRACE) return channel.call(method, request);
        long t = System.nanoTime();
        try {
            return channel.call(method, request);
        } finally {
            trace(method.path(), t);
        }
    }

    <Req, Resp> Resp call(Method<Req, Resp> method, Req request, Duration timeout) {
        if (!TRACE) return channel.call(method, request, timeout);
        long t = System.nanoTime();
        try {
            return channel.call(method, request, timeout);
        } finally {
            trace(method.path(), t);
        }
    }

    <Req, Resp> ResponseStream<Resp> stream(Method<Req, Resp> method, Req request) {
        if (TRACE) trace(method.path() + " (stream opened)", System.nanoTime());
        return channel.stream(method, request);
    }

    <Req, Resp> StreamingCall<Req, Resp> open(Method<Req, Resp> method) {
        return channel.open(method);
    }

    @Override
    public void close() {
        channel.close();
        if (TRACE) trace("closed", System.nanoTime());
    }

    /** One trace line: milliseconds since the CLI first connected, and how long the step took. */
    private static void trace(String what, long since) {
        long now = System.nanoTime();
        System.err.println("berth: trace: +" + (now - STARTED) / 1_000_000 + " ms  " + what + "  " + (now - since) / 1000 + " us");
    }
}
