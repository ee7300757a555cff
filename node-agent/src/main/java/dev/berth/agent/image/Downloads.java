package dev.berth.agent.image;

import dev.berth.agent.content.ContentStore;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Blobs on their way from registries into the content store, each fetched once however many pulls want it at a time. */
final class Downloads {

    private final RegistryClient registry;
    private final ContentStore content;
    private final ExecutorService pool;
    private final ConcurrentHashMap<Digest, Download> inFlight = new ConcurrentHashMap<>();

    Downloads(RegistryClient registry, ContentStore content, int maxConcurrent) {
        this.registry = registry;
        this.content = content;
        this.pool = Executors.newFixedThreadPool(maxConcurrent, r -> {
            Thread t = new Thread(r, "layer-download");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Attaches a pull to the download of {@code layer}, started unless another pull is fetching it already; its
     * progress goes to {@code listener}. Close the attachment when the pull is done with the layer.
     */
    Download.Attachment attach(Reference ref, Descriptor layer, PullListener listener) throws IOException {
        java.util.function.LongConsumer progress = done -> listener.layer(layer, PullListener.Phase.DOWNLOADING, done, layer.size());
        while (true) {
            Download dl = start(ref, layer);
            Download.Attachment a = dl.attach(progress);
            if (a != null) return a;
            // everyone it had left and it is stopping: once its partial file is let go, a new one resumes from it
            dl.awaitEnd();
            inFlight.remove(layer.digest(), dl);
        }
    }

    private Download start(Reference ref, Descriptor layer) throws IOException {
        try {
            return inFlight.computeIfAbsent(layer.digest(), d -> {
                try {
                    Download dl = new Download(registry, content, ref, layer);
                    pool.execute(() -> {
                        try {
                            dl.run();
                        } finally {
                            inFlight.remove(d, dl);
                        }
                    });
                    return dl;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
