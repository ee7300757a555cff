package dev.berth.oci;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A response body read as a stream whose reads fail once the server has sent nothing for the {@link StallTimeout}
 * (the JDK's own {@code ofInputStream} waits forever: its request timeout covers the headers only). Only the time
 * spent waiting for the network counts, never the reader's own pace. Closing it, from any thread, ends the exchange
 * and wakes a reader blocked in it.
 */
final class StallGuardedBody implements HttpResponse.BodySubscriber<InputStream> {

    /** Queued instead of data: the body ended, or {@link #close} was called. */
    private static final Object END = new Object();
    private static final Object CLOSED = new Object();

    private final BlockingQueue<Object> arrivals = new LinkedBlockingQueue<>();
    private final StallTimeout stall;
    private final URI uri;
    private final Stream stream = new Stream();
    private Flow.Subscription subscription;
    private boolean closed;

    private StallGuardedBody(StallTimeout stall, URI uri) {
        this.stall = stall;
        this.uri = uri;
    }

    static HttpResponse.BodyHandler<InputStream> handler(StallTimeout stall, URI uri) {
        return info -> new StallGuardedBody(stall, uri);
    }

    @Override
    public synchronized void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (closed) s.cancel();
        else s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
        arrivals.add(item);
    }

    @Override
    public void onError(Throwable t) {
        arrivals.add(t);
    }

    @Override
    public void onComplete() {
        arrivals.add(END);
    }

    @Override
    public CompletionStage<InputStream> getBody() {
        return CompletableFuture.completedFuture(stream);
    }

    private synchronized void requestMore() {
        if (!closed && subscription != null) subscription.request(1);
    }

    private void close() {
        Flow.Subscription s;
        synchronized (this) {
            if (closed) return;
            closed = true;
            s = subscription;
        }
        if (s != null) s.cancel();
        arrivals.add(CLOSED);
    }

    private RegistryStalledException stalled() {
        String where = uri.getRawAuthority() + " (" + uri.getRawPath() + ")";
        return new RegistryStalledException("registry " + where + " sent nothing for " + seconds(stall.limit())
                + " in the middle of a response; it stalled, so the request was given up (the limit is " + stall.setting()
                + ": raise it for a registry that pauses longer, or check the registry and the network)");
    }

    private static String seconds(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private final class Stream extends BulkInputStream {
        private Iterator<ByteBuffer> buffers = List.<ByteBuffer>of().iterator();
        private ByteBuffer current;
        private boolean ended;


        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            while (current == null || !current.hasRemaining()) {
                if (buffers.hasNext()) {
                    current = buffers.next();
                    continue;
                }
                if (ended) return -1;
                next();
            }
            int n = Math.min(len, current.remaining());
            current.get(b, off, n);
            return n;
        }

        /** Waits for the next arrival, at most the stall time. */
        @SuppressWarnings("unchecked")
        private void next() throws IOException {
            Object next;
            try {
                next = arrivals.poll(stall.limit().toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted reading from " + uri.getRawAuthority());
            }
            if (next == null) {
                StallGuardedBody.this.close();
                throw stalled();
            }
            if (next == END) {
                ended = true;
            } else if (next == CLOSED) {
                arrivals.add(CLOSED); // for any other reader
                throw new IOException("the response from " + uri.getRawAuthority() + " was closed");
            } else if (next instanceof Throwable t) {
                arrivals.add(t);
                throw t instanceof IOException io ? io : new IOException(t);
            } else {
                buffers = ((List<ByteBuffer>) next).iterator();
                requestMore();
            }
        }

        @Override
        public void close() {
            StallGuardedBody.this.close();
        }
    }
}
