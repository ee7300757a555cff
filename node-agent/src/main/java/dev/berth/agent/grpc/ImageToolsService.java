package dev.berth.agent.grpc;

import dev.berth.agent.NodeAgent;
import dev.berth.agent.gc.GarbageCollector;
import dev.berth.agent.image.PullCancellation;
import dev.berth.agent.image.PullListener;
import dev.berth.api.services.images.v1.ArchiveChunk;
import dev.berth.api.services.images.v1.ExportImagesRequest;
import dev.berth.api.services.images.v1.GarbageCollectRequest;
import dev.berth.api.services.images.v1.ImportImagesResponse;
import dev.berth.api.services.images.v1.InspectImageRequest;
import dev.berth.api.services.images.v1.InspectImageResponse;
import dev.berth.api.services.images.v1.TagImageRequest;
import dev.berth.api.services.images.v1.GarbageCollectResponse;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.api.services.images.v1.ImageInfo;
import dev.berth.api.services.images.v1.ImageToolsGrpc;
import dev.berth.api.services.images.v1.ListImageInfoRequest;
import dev.berth.api.services.images.v1.ListImageInfoResponse;
import dev.berth.api.services.images.v1.PullProgress;
import dev.berth.api.services.images.v1.PullRequest;
import io.grpc.stub.StreamObserver;

/** Berth's server-side pull, and image listing with sizes. */
final class ImageToolsService extends ImageToolsGrpc.ImageToolsImplBase {

    private final NodeAgent agent;

    ImageToolsService(NodeAgent agent) {
        this.agent = agent;
    }

    static ImageInfo info(ImageRecord r) {
        return ImageInfo.newBuilder().setName(r.name()).setDigest(r.digest()).setMediaType(r.mediaType())
                .setSize(r.size()).setUnpackedSize(r.unpackedSize()).setChainId(r.chainId())
                .setCreatedAt(Calls.millis(r.createdAt())).build();
    }

    @Override
    public void pull(PullRequest req, StreamObserver<PullProgress> out) {
        String ns = Namespaces.current();
        dev.berth.oci.Platform platform;
        try {
            platform = req.getPlatform().isEmpty() ? dev.berth.oci.Platform.host() : dev.berth.oci.Platform.parse(req.getPlatform());
        } catch (IllegalArgumentException e) {
            out.onError(Calls.status(e));
            return;
        }
        // a client that goes away cancels only its own pull: downloads it shares with other pulls go on for them
        io.grpc.stub.ServerCallStreamObserver<PullProgress> call = (io.grpc.stub.ServerCallStreamObserver<PullProgress>) out;
        PullCancellation cancel = new PullCancellation();
        call.setOnCancelHandler(cancel::cancel);
        // progress comes from download and unpack threads: one at a time onto the stream, downloads at most
        // every 100 ms per layer
        java.util.Map<String, Long> lastSent = new java.util.concurrent.ConcurrentHashMap<>();
        PullListener listener = (layer, phase, current, total) -> {
            String key = layer.digest().toString();
            long now = System.nanoTime();
            if (phase == PullListener.Phase.DOWNLOADING && current < total) {
                Long last = lastSent.get(key);
                if (last != null && now - last < 100_000_000L) return;
                lastSent.put(key, now);
            }
            send(call, PullProgress.newBuilder().setStatus(phase.name().toLowerCase()).setLayerDigest(key)
                    .setCurrent(current).setTotal(total).build());
        };
        try {
            ImageRecord r = agent.images().pull(ns, Calls.require(req.getReference(), "image reference"), platform, listener, cancel);
            synchronized (call) {
                if (call.isCancelled()) return;
                call.onNext(PullProgress.newBuilder().setStatus("pulled").setImage(info(r)).build());
                call.onCompleted();
            }
        } catch (Exception e) {
            synchronized (call) {
                if (!call.isCancelled()) call.onError(Calls.status(e));
            }
        }
    }

    /** One progress message onto the stream, unless its client has gone. */
    private static void send(io.grpc.stub.ServerCallStreamObserver<PullProgress> call, PullProgress p) {
        synchronized (call) {
            if (!call.isCancelled()) call.onNext(p);
        }
    }

    @Override
    public void inspect(InspectImageRequest req, StreamObserver<InspectImageResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ImageRecord r = agent.images().get(ns, Calls.require(req.getName(), "image name"))
                    .orElseThrow(() -> new dev.berth.agent.runtime.TaskException(dev.berth.agent.runtime.TaskException.Kind.NOT_FOUND,
                            "image " + req.getName() + " is not on this node; pull it first"));
            byte[][] mc = agent.images().manifestAndConfig(r);
            return InspectImageResponse.newBuilder().setImage(info(r))
                    .setManifestJson(new String(mc[0], java.nio.charset.StandardCharsets.UTF_8))
                    .setConfigJson(new String(mc[1], java.nio.charset.StandardCharsets.UTF_8)).build();
        });
    }

    @Override
    public void export(ExportImagesRequest req, StreamObserver<ArchiveChunk> out) {
        String ns = Namespaces.current();
        io.grpc.stub.ServerCallStreamObserver<ArchiveChunk> call = (io.grpc.stub.ServerCallStreamObserver<ArchiveChunk>) out;
        // the archive goes out in 1 MB chunks, as fast as the client takes them
        java.io.OutputStream chunks = new java.io.OutputStream() {
            private final byte[] buf = new byte[1 << 20];
            private int n;

            @Override
            public void write(int b) throws java.io.IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws java.io.IOException {
                while (len > 0) {
                    int k = Math.min(len, buf.length - n);
                    System.arraycopy(b, off, buf, n, k);
                    n += k;
                    off += k;
                    len -= k;
                    if (n == buf.length) flush();
                }
            }

            @Override
            public void flush() throws java.io.IOException {
                if (n == 0) return;
                if (!Calls.awaitReady(call)) throw new java.io.IOException("the client went away");
                call.onNext(ArchiveChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(buf, 0, n)).build());
                n = 0;
            }
        };
        try {
            if (req.getNamesCount() == 0) throw new IllegalArgumentException("name at least one image to export");
            agent.images().export(ns, req.getNamesList(), chunks);
            chunks.flush();
            out.onCompleted();
        } catch (Exception e) {
            if (!call.isCancelled()) out.onError(Calls.status(e));
        }
    }

    @Override
    public StreamObserver<ArchiveChunk> import_(StreamObserver<ImportImagesResponse> out) {
        String ns = Namespaces.current();
        // the archive is read as it arrives, by a thread of its own, through a bounded pipe
        java.io.PipedInputStream in = new java.io.PipedInputStream(4 << 20);
        java.io.PipedOutputStream pipe;
        try {
            pipe = new java.io.PipedOutputStream(in);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        java.util.concurrent.CompletableFuture<java.util.List<ImageRecord>> result = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try (in) {
                return agent.images().importArchive(ns, in);
            } catch (java.io.IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, IMPORTERS);
        return new StreamObserver<>() {
            @Override
            public void onNext(ArchiveChunk chunk) {
                try {
                    if (!result.isDone()) chunk.getData().writeTo(pipe);
                } catch (java.io.IOException e) {
                    // the reader failed and closed its end: its error is what the client gets
                }
            }

            @Override
            public void onError(Throwable t) {
                try {
                    pipe.close();
                } catch (java.io.IOException ignored) {
                    // nothing left to tell
                }
            }

            @Override
            public void onCompleted() {
                try {
                    pipe.close();
                    ImportImagesResponse.Builder b = ImportImagesResponse.newBuilder();
                    for (ImageRecord r : result.join()) b.addImages(info(r));
                    out.onNext(b.build());
                    out.onCompleted();
                } catch (Exception e) {
                    Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
                    if (cause.getCause() != null && cause instanceof java.util.concurrent.CompletionException) cause = cause.getCause();
                    out.onError(Calls.status(cause));
                }
            }
        };
    }

    private static final java.util.concurrent.ExecutorService IMPORTERS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "image-import");
        t.setDaemon(true);
        return t;
    });

    @Override
    public void tag(TagImageRequest req, StreamObserver<ImageInfo> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> info(agent.images().tag(ns, Calls.require(req.getSource(), "source image"), Calls.require(req.getTarget(), "new name"))));
    }

    @Override
    public void garbageCollect(GarbageCollectRequest req, StreamObserver<GarbageCollectResponse> out) {
        Calls.unary(out, () -> {
            GarbageCollector.Result r = agent.gc().collect();
            return GarbageCollectResponse.newBuilder().setBlobsRemoved(r.blobsRemoved())
                    .setSnapshotsRemoved(r.snapshotsRemoved()).setBytesFreed(r.bytesFreed()).setLeasesHeld(r.leasesHeld()).build();
        });
    }

    @Override
    public void list(ListImageInfoRequest req, StreamObserver<ListImageInfoResponse> out) {
        String ns = Namespaces.current();
        Calls.unary(out, () -> {
            ListImageInfoResponse.Builder b = ListImageInfoResponse.newBuilder();
            for (ImageRecord r : agent.images().list(ns)) b.addImages(info(r));
            return b.build();
        });
    }
}
