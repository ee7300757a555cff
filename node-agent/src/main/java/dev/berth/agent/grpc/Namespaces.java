package dev.berth.agent.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.regex.Pattern;

/** The tenant of a call, from the {@code containerd-namespace} header as containerd clients send it. */
public final class Namespaces implements ServerInterceptor {

    public static final Metadata.Key<String> HEADER = Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);
    static final Context.Key<String> CURRENT = Context.key("namespace");
    public static final String DEFAULT = "default";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]{0,74}[A-Za-z0-9])?");

    /** The namespace of the call being served. */
    public static String current() {
        String ns = CURRENT.get();
        return ns == null ? DEFAULT : ns;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String ns = headers.get(HEADER);
        if (ns == null || ns.isEmpty()) ns = DEFAULT;
        if (!NAME.matcher(ns).matches()) {
            call.close(Status.INVALID_ARGUMENT.withDescription("invalid namespace '" + ns + "': use letters, digits, '.', '_' or '-'"), new Metadata());
            return new ServerCall.Listener<>() { };
        }
        return Contexts.interceptCall(Context.current().withValue(CURRENT, ns), call, headers, next);
    }
}
