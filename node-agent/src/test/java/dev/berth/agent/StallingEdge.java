package dev.berth.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A hostile registry on loopback: a plain-HTTP edge in front of a real one that answers manifests, configs and small
 * blobs whole, but sends only the first half of every blob over 1 MiB, then nothing, holding the connection open until
 * {@link #release()} (after which it sends the rest, and everything whole).
 */
public final class StallingEdge implements AutoCloseable {

    private final String upstream;
    private final HttpServer server;
    private final ExecutorService handlers = Executors.newCachedThreadPool();
    private final HttpClient client = HttpClient.newHttpClient();
    private final CountDownLatch released = new CountDownLatch(1);
    private final CountDownLatch stalled = new CountDownLatch(1);
    private final CountDownLatch abandoned = new CountDownLatch(1);
    private final java.util.concurrent.atomic.AtomicInteger held = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.List<String> ranges = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    public StallingEdge(String upstream) throws IOException {
        this.upstream = upstream;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(handlers); // a held response must not hold up the others
        server.createContext("/", this::handle);
        server.start();
    }

    /** host:port, as an image reference names a registry. */
    public String address() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    /** Waits until a blob's response has stopped halfway. */
    public boolean awaitStall(long seconds) throws InterruptedException {
        return stalled.await(seconds, TimeUnit.SECONDS);
    }

    /** Blob responses that were held halfway. */
    public int held() {
        return held.get();
    }

    /** Range headers the edge was sent, in order. */
    public java.util.List<String> ranges() {
        return java.util.List.copyOf(ranges);
    }

    /** Waits until a puller has closed a held response before it was sent the rest. */
    public boolean awaitAbandoned(long seconds) throws InterruptedException {
        return abandoned.await(seconds, TimeUnit.SECONDS);
    }

    public void release() {
        released.countDown();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            HttpRequest.Builder req = HttpRequest.newBuilder(URI.create("http://" + upstream + ex.getRequestURI()))
                    .method(ex.getRequestMethod(), HttpRequest.BodyPublishers.noBody());
            for (String h : new String[] {"Accept", "Range"}) {
                String v = ex.getRequestHeaders().getFirst(h);
                if (v != null) req.header(h, v);
                if (v != null && h.equals("Range")) ranges.add(v);
            }
            HttpResponse<byte[]> resp = client.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
            resp.headers().map().forEach((k, v) -> {
                if (!k.equalsIgnoreCase("content-length") && !k.equalsIgnoreCase(":status")) ex.getResponseHeaders().put(k, v);
            });
            byte[] body = resp.body();
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(resp.statusCode(), head || body.length == 0 ? -1 : body.length);
            if (head || body.length == 0) return;
            boolean hold = ex.getRequestURI().getPath().contains("/blobs/") && body.length > (1 << 20) && released.getCount() > 0;
            int first = hold ? body.length / 2 : body.length;
            ex.getResponseBody().write(body, 0, first);
            ex.getResponseBody().flush();
            if (hold) {
                held.incrementAndGet();
                stalled.countDown();
                released.await();
                try {
                    ex.getResponseBody().write(body, first, body.length - first);
                    ex.getResponseBody().flush();
                } catch (IOException gone) {
                    abandoned.countDown();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException clientGone) {
            // the puller gave up on us: what the test wants to see
        }
    }

    @Override
    public void close() {
        release();
        server.stop(0);
        handlers.shutdownNow();
    }
}
