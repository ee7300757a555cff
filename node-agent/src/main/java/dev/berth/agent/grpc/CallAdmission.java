package dev.berth.agent.grpc;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.concurrent.Semaphore;

/**
 * Bounds the long calls served at once ({@code berth.agent.max-concurrent-calls}): one over the bound is refused at
 * once with RESOURCE_EXHAUSTED naming the setting, rather than queued behind calls that may take minutes. Quick calls
 * and attach sessions are not counted (see {@link CallPools}).
 */
final class CallAdmission implements ServerInterceptor {

    static final String SETTING = "berth.agent.max-concurrent-calls";

    private final int max;
    private final Semaphore permits;

    CallAdmission(int max) {
        this.max = max;
        this.permits = new Semaphore(max);
    }

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (CallPools.isQuick(method) || CallPools.isSession(method)) return next.startCall(call, headers);
        if (!permits.tryAcquire()) {
            call.close(Status.RESOURCE_EXHAUSTED.withDescription("the agent is serving " + max + " long calls (pulls, creates, starts, reads) already, its "
                    + SETTING + "; retry when one has ended, or raise the setting"), new Metadata());
            return new ServerCall.Listener<>() { };
        }
        ServerCall.Listener<ReqT> listener;
        try {
            listener = next.startCall(call, headers);
        } catch (RuntimeException e) {
            permits.release();
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            private boolean released;

            private void release() {
                if (released) return;
                released = true;
                permits.release();
            }

            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    release();
                }
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    release();
                }
            }
        };
    }
}
