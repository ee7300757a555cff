package dev.berth.agent.image;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.gc.Leases;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.agent.unpack.LayerApplier;
import dev.berth.agent.unpack.UnpackBudget;
import dev.berth.agent.unpack.UnpackLimits;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.ImageConfig;
import dev.berth.oci.Index;
import dev.berth.oci.Manifest;
import dev.berth.oci.Json;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.OciException;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.RegistryClient.ResolvedImage;
import dev.berth.events.payload.ImagePulled;
import dev.berth.events.payload.ImageRemoved;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.GZIPInputStream;

/**
 * Images on this node: pulled from a registry into the content store (every blob verified), unpacked into one
 * committed overlay snapshot per layer chain, and named per namespace.
 */
public final class ImageStore {

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(ImageStore.class.getName());

    private final RegistryClient registry;
    private final ContentStore content;
    private final OverlaySnapshotter snapshots;
    private final MetadataStore meta;
    private final Platform platform;
    private final ConcurrentHashMap<String, Object> chainLocks = new ConcurrentHashMap<>();
    private final Downloads downloads;
    private final ExecutorService inflaters = Executors.newCachedThreadPool(daemon("layer-inflate"));
    /**
     * Layers unpacking at once, across pulls, each with up to 8 MiB of inflated tar queued (Pump): bounded, so an
     * image of many layers cannot fill the heap. A layer waits only for layers of its own image below it, which
     * were queued before it; the queue is first in, first out, so those have started already, and the lowest
     * unfinished layer always runs: no layer waits for a thread a waiting layer holds.
     */
    static final int UNPACKERS = 8;
    private final ExecutorService unpackers = Executors.newFixedThreadPool(UNPACKERS, daemon("layer-unpack"));
    /** Overlayfs stacks at most 500 layers (the kernel's OVL_MAX_STACK): an image of more could never run. */
    static final int MAX_LAYERS = 500;
    private final UnpackLimits limits;
    private final Leases leases;

    /** Defaults: 4 downloads at once, layers of at most 64 GiB unpacked. */
    public ImageStore(RegistryClient registry, ContentStore content, OverlaySnapshotter snapshots, MetadataStore meta, Platform platform) {
        this(registry, content, snapshots, meta, platform, 4, UnpackLimits.DEFAULT, new Leases());
    }

    public ImageStore(RegistryClient registry, ContentStore content, OverlaySnapshotter snapshots, MetadataStore meta, Platform platform,
                      int maxConcurrentDownloads, UnpackLimits limits, Leases leases) {
        this.leases = leases;
        this.registry = registry;
        this.content = content;
        this.snapshots = snapshots;
        this.meta = meta;
        this.platform = platform;
        this.downloads = new Downloads(registry, content, maxConcurrentDownloads);
        this.limits = limits;
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Pulls and unpacks {@code name}; on any failure nothing half-written remains visible. */
    public ImageRecord pull(String namespace, String name) throws IOException {
        return pull(namespace, name, PullListener.NONE);
    }

    /**
     * Pulls and unpacks {@code name}: every missing layer is fetched at once (bounded), and each is unpacked as
     * its bytes arrive, in order; a layer's snapshot is committed only once its blob digest and diff id check out.
     */
    public ImageRecord pull(String namespace, String name, PullListener listener) throws IOException {
        return pull(namespace, name, platform, listener, PullCancellation.never());
    }

    /**
     * Pulls for another platform than the node's (to export it, say; it cannot run here). Once {@code cancel} is
     * cancelled the pull gives up its share of the downloads it has in common with other pulls, which go on.
     */
    public ImageRecord pull(String namespace, String name, Platform wanted, PullListener listener, PullCancellation cancel) throws IOException {
        // the lease keeps garbage collection from taking blobs and snapshots this pull has made but not yet named
        AutoCloseable lease = leases.acquire();
        try {
            return pullLeased(namespace, name, wanted, listener, cancel);
        } finally {
            try {
                lease.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private ImageRecord pullLeased(String namespace, String name, Platform platform, PullListener listener, PullCancellation cancel) throws IOException {
        Reference ref;
        try {
            ref = Reference.parse(name);
        } catch (IllegalArgumentException e) {
            throw new OciException(e.getMessage());
        }
        ResolvedImage img = registry.resolve(ref, platform);
        byte[] configBytes = fetchSmallBlob(ref, img.manifest().config());
        List<byte[]> documents = new java.util.ArrayList<>();
        // the index the tag points to is kept too, so the image can be re-resolved as pulled
        if (!img.target().digest().equals(img.manifestBytes().digest())) documents.add(img.targetBytes());
        return unpackAndRecord(namespace, ref, img.target(), img.manifestBytes().descriptor(), img.manifestBytes().bytes(),
                img.manifest(), configBytes, documents, listener, cancel);
    }

    /**
     * The part of a pull or an import that is the same: every layer's chain unpacked (downloading what the content
     * store lacks, when a registry is at hand), then manifests stored and the image named. The image is recorded
     * only once everything it needs is in place.
     */
    private ImageRecord unpackAndRecord(String namespace, Reference ref, Descriptor target, Descriptor manifestDesc, byte[] manifestBytes,
                                        Manifest manifest, byte[] configBytes, List<byte[]> extraDocuments, PullListener listener,
                                        PullCancellation cancel) throws IOException {
        ImageConfig config = Json.read(configBytes, ImageConfig.class, "image config of " + ref);
        List<Descriptor> layers = manifest.layers();
        List<Digest> diffIds = config.rootfs() == null || config.rootfs().diffIds() == null ? List.of() : config.rootfs().diffIds();
        if (diffIds.size() != layers.size()) {
            throw new OciException("image " + ref + " is inconsistent: " + layers.size() + " layers but " + diffIds.size() + " diff ids in its config");
        }
        if (layers.isEmpty()) throw new OciException("image " + ref + " has no layers");
        if (layers.size() > MAX_LAYERS) {
            throw new OciException("image " + ref + " has " + layers.size() + " layers, more than the " + MAX_LAYERS + " overlayfs can stack: refused");
        }
        List<String> chainIds = new java.util.ArrayList<>();
        String parent = null;
        for (Digest diffId : diffIds) chainIds.add(parent = chainId(parent, diffId));
        for (Descriptor layer : layers) checkedMediaType(ref, layer);
        List<Download.Attachment> sources = new java.util.ArrayList<>();
        long unpacked;
        try {
            unpacked = unpackAll(ref, layers, diffIds, chainIds, sources, listener, cancel);
        } finally {
            for (Download.Attachment s : sources) if (s != null) s.close();
        }
        content.ingest(manifest.config(), configBytes);
        for (byte[] doc : extraDocuments) content.ingest(new Descriptor(target.mediaType(), Digest.sha256(doc), doc.length), doc);
        content.ingest(manifestDesc, manifestBytes);
        long now = System.currentTimeMillis();
        long size = manifestDesc.size() + manifest.config().size() + layers.stream().mapToLong(Descriptor::size).sum();
        ImageRecord rec = new ImageRecord(namespace, ref.toString(), target.mediaType(), target.digest().toString(),
                size, manifestDesc.digest().toString(), manifest.config().digest().toString(), parent, unpacked,
                "{}", meta.image(namespace, ref.toString()).map(ImageRecord::createdAt).orElse(now), now);
        putImage(rec);
        return rec;
    }

    /**
     * Unpacks every layer the node lacks, attaching to the downloads of the blobs the content store lacks (into
     * {@code sources}, for the caller to detach); a cancelled pull detaches at once. Returns the bytes unpacked.
     */
    private long unpackAll(Reference ref, List<Descriptor> layers, List<Digest> diffIds, List<String> chainIds,
                           List<Download.Attachment> sources, PullListener listener, PullCancellation cancel) throws IOException {
        // start every download the image still needs; the unpack below follows them in layer order
        for (int i = 0; i < layers.size(); i++) {
            Descriptor layer = layers.get(i);
            if (snapshots.exists(chainIds.get(i)) || content.has(layer.digest())) {
                sources.add(null);
            } else {
                listener.layer(layer, PullListener.Phase.WAITING, 0, layer.size());
                Download.Attachment a = downloads.attach(ref, layer, listener);
                sources.add(a);
                cancel.whenCancelled(a::close);
            }
        }
        // every layer unpacks at once, each into its own snapshot: a layer waits for those below only where an entry
        // needs them (a parent directory its tar lacks) and to commit, so a chain is only ever committed whole
        List<java.util.concurrent.CompletableFuture<Long>> unpacks = new java.util.ArrayList<>();
        UnpackBudget budget = new UnpackBudget(limits); // the image's layers count together
        for (int i = 0; i < layers.size(); i++) {
            int k = i;
            List<java.util.concurrent.CompletableFuture<Long>> below = List.copyOf(unpacks);
            unpacks.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return unpackLayer(ref, layers.get(k), diffIds.get(k), k == 0 ? null : chainIds.get(k - 1), chainIds.get(k),
                            sources.get(k), listener, below, budget);
                } catch (IOException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, unpackers));
        }
        long unpacked = 0;
        Throwable failure = null;
        for (var u : unpacks) { // all of them end before the pull does; the lowest layer's failure is the one told
            try {
                unpacked += u.join();
            } catch (java.util.concurrent.CompletionException e) {
                if (failure == null) failure = e.getCause();
            }
        }
        if (failure instanceof IOException io) throw io;
        if (failure instanceof RuntimeException re) throw re;
        if (failure != null) throw new IllegalStateException(failure);
        return unpacked;
    }

    /** Records an image and its image.pulled event in one transaction. */
    private void putImage(ImageRecord r) {
        meta.inTransaction(() -> {
            meta.putImage(r);
            meta.event(r.namespace(), r.digest(), new ImagePulled(r.name(), r.digest(), r.size()));
            return null;
        });
    }

    public Optional<ImageRecord> get(String namespace, String name) {
        Optional<ImageRecord> r = meta.image(namespace, name);
        if (r.isPresent()) return r;
        try {
            return meta.image(namespace, Reference.parse(name).toString());
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    public List<ImageRecord> list(String namespace) {
        return meta.images(namespace);
    }

    public boolean delete(String namespace, String name) {
        return get(namespace, name).map(r -> meta.inTransaction(() -> {
            boolean deleted = meta.deleteImage(namespace, r.name());
            if (deleted) meta.event(namespace, r.digest(), new ImageRemoved(r.name(), r.digest()));
            return deleted;
        })).orElse(false);
    }

    /** Writes the named images as one archive (OCI layout, readable by docker load too). */
    public void export(String namespace, List<String> names, java.io.OutputStream out) throws IOException {
        List<ImageRecord> images = new java.util.ArrayList<>();
        for (String n : names) images.add(get(namespace, n).orElseThrow(() -> new OciException("image " + n + " is not on this node; pull it first")));
        try (AutoCloseable lease = leases.acquire()) {
            Archives.export(content, images, out);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Reads an image archive (OCI layout or docker save), unpacks its images and names them. */
    public List<ImageRecord> importArchive(String namespace, InputStream in) throws IOException {
        try (AutoCloseable lease = leases.acquire()) {
            List<ImageRecord> out = new java.util.ArrayList<>();
            for (Archives.Imported imp : Archives.read(content, in)) {
                Reference ref;
                try {
                    ref = Reference.parse(imp.name());
                } catch (IllegalArgumentException e) {
                    throw new OciException("image name '" + imp.name() + "' in the archive: " + e.getMessage());
                }
                Descriptor target = imp.target();
                byte[] top = content.read(target.digest());
                Descriptor manifestDesc = target;
                byte[] manifestBytes = top;
                List<byte[]> extra = new java.util.ArrayList<>();
                if (MediaTypes.isIndex(target.mediaType())) {
                    Index index = Json.read(top, Index.class, "index of " + imp.name());
                    Descriptor pick = index.manifests() == null ? null : index.manifests().stream()
                            .filter(d -> platform.matches(d.platform()) && content.has(d.digest())).findFirst().orElse(null);
                    if (pick == null) throw new OciException("the archive holds no manifest of " + imp.name() + " for platform " + platform);
                    manifestDesc = pick;
                    manifestBytes = content.read(pick.digest());
                    extra.add(top);
                }
                Manifest m = Json.read(manifestBytes, Manifest.class, "manifest of " + imp.name());
                if (m.config() == null || m.layers() == null) throw new OciException("malformed manifest of " + imp.name() + " in the archive");
                if (!content.has(m.config().digest())) throw new OciException("the archive lacks the config of " + imp.name());
                out.add(unpackAndRecord(namespace, ref, new Descriptor(target.mediaType(), target.digest(), target.size()),
                        new Descriptor(manifestDesc.mediaType(), manifestDesc.digest(), manifestDesc.size()), manifestBytes, m,
                        content.read(m.config().digest()), extra, PullListener.NONE, PullCancellation.never()));
            }
            if (out.isEmpty()) throw new OciException("the archive names no images");
            return out;
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Gives an image on this node a second name (in the same namespace). */
    public ImageRecord tag(String namespace, String source, String target) {
        ImageRecord src = get(namespace, source).orElseThrow(() -> new OciException("image " + source + " is not on this node; pull it first"));
        String name;
        try {
            name = Reference.parse(target).toString();
        } catch (IllegalArgumentException e) {
            throw new OciException(e.getMessage());
        }
        long now = System.currentTimeMillis();
        ImageRecord r = new ImageRecord(namespace, name, src.mediaType(), src.digest(), src.size(), src.manifestDigest(),
                src.configDigest(), src.chainId(), src.unpackedSize(), src.labels(), now, now);
        putImage(r);
        return r;
    }

    /** The manifest (for this node's platform) and config of an image, as stored. */
    public byte[][] manifestAndConfig(ImageRecord image) throws IOException {
        return new byte[][] {content.read(Digest.parse(image.manifestDigest())), content.read(Digest.parse(image.configDigest()))};
    }

    public ImageConfig config(ImageRecord image) throws IOException {
        // content-addressed, so never stale: every container create of a hot image would otherwise re-read and re-parse it
        synchronized (configs) {
            ImageConfig cached = configs.get(image.configDigest());
            if (cached != null) return cached;
        }
        ImageConfig config = Json.read(content.read(Digest.parse(image.configDigest())), ImageConfig.class, "image config of " + image.name());
        synchronized (configs) {
            configs.put(image.configDigest(), config);
        }
        return config;
    }

    /** Parsed image configs by digest, the most recently used {@value #CONFIG_CACHE_SIZE}. */
    private static final int CONFIG_CACHE_SIZE = 64;
    private final Map<String, ImageConfig> configs = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ImageConfig> eldest) {
            return size() > CONFIG_CACHE_SIZE;
        }
    };

    /** The chain id of a layer over its parent chain (OCI image spec, config.md). */
    public static String chainId(String parentChainId, Digest diffId) {
        if (parentChainId == null) return diffId.toString();
        return Digest.sha256((parentChainId + " " + diffId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    private byte[] fetchSmallBlob(Reference ref, Descriptor d) throws IOException {
        if (d.size() > RegistryClient.MAX_MANIFEST_BYTES) {
            throw new OciException("config of " + ref + " claims " + d.size() + " bytes, over the " + RegistryClient.MAX_MANIFEST_BYTES + " limit: refused");
        }
        if (!content.has(d.digest())) {
            try (InputStream in = registry.openBlob(ref, d.digest(), 0)) {
                content.ingest(d, in);
            }
        }
        return content.read(d.digest());
    }

    private static String checkedMediaType(Reference ref, Descriptor layer) {
        try {
            MediaTypes.layerCompression(layer.mediaType());
            return layer.mediaType();
        } catch (IllegalArgumentException e) {
            throw new OciException(e.getMessage() + " in " + ref);
        }
    }

    /** Unpacks one layer into the snapshot of its chain unless that exists; returns the bytes unpacked. */
    private long unpackLayer(Reference ref, Descriptor layer, Digest diffId, String parent, String chainId,
                             Download.Attachment source, PullListener listener, List<java.util.concurrent.CompletableFuture<Long>> below,
                             UnpackBudget budget) throws IOException {
        MediaTypes.Compression compression = MediaTypes.layerCompression(layer.mediaType());
        if (snapshots.exists(chainId)) {
            listener.layer(layer, PullListener.Phase.EXISTS, layer.size(), layer.size());
            return 0;
        }
        long t0 = System.nanoTime();
        Object lock = chainLocks.computeIfAbsent(chainId, k -> new Object());
        synchronized (lock) {
            if (snapshots.exists(chainId)) {
                listener.layer(layer, PullListener.Phase.EXISTS, layer.size(), layer.size());
                return 0;
            }
            listener.layer(layer, PullListener.Phase.UNPACKING, 0, layer.size());
            OverlaySnapshotter.Extraction x = snapshots.startExtraction(parent);
            try (InputStream blob = source != null ? source.follow() : content.open(layer.digest());
                 Pump pump = new Pump(decompress(new java.io.BufferedInputStream(blob, 1 << 16), compression), limits.maxLayerBytes())) {
                inflaters.execute(pump);
                LayerApplier.apply(pump, x.upper(), () -> {
                    awaitBelow(below, layer);
                    return snapshots.lowers(parent);
                }, budget);
                if (source != null) source.awaitVerified();
                if (!pump.diffId().equals(diffId)) {
                    throw new OciException("layer " + layer.digest() + " of " + ref + " unpacks to diff id " + pump.diffId() + ", but the image config says " + diffId + ": corrupt image refused");
                }
                awaitBelow(below, layer); // a layer joins its chain once everything under it is there
                snapshots.commitExtraction(x, chainId);
                listener.layer(layer, PullListener.Phase.DONE, layer.size(), layer.size());
                LOG.info(String.format("layer %s: %d bytes, unpacked %d bytes in %.2fs%s", layer.digest().shortHex(), layer.size(),
                        pump.count(), (System.nanoTime() - t0) / 1e9, source != null ? " while downloading" : ""));
                return pump.count();
            } catch (IOException | RuntimeException | Error e) { // an Error too: no snapshot is left behind
                snapshots.remove(x.key());
                // what the download found (a digest mismatch) explains more than the half-read tar it caused
                if (source != null) {
                    try {
                        source.awaitVerified();
                    } catch (IOException | RuntimeException downloadFailure) {
                        throw downloadFailure;
                    }
                }
                throw e;
            }
        }
    }

    /** Waits for the unpacks of the layers below; when one failed, this layer cannot stand on it. */
    private static void awaitBelow(List<java.util.concurrent.CompletableFuture<Long>> below, Descriptor layer) throws IOException {
        for (var b : below) {
            try {
                b.join();
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                throw new IOException("layer " + layer.digest() + " not unpacked: a layer below it failed", e.getCause() != null ? e.getCause() : e);
            }
        }
    }

    private static InputStream decompress(InputStream in, MediaTypes.Compression c) throws IOException {
        return switch (c) {
            case NONE -> in;
            case GZIP -> new GZIPInputStream(in, 1 << 16);
            case ZSTD -> new com.github.luben.zstd.ZstdInputStream(in);
        };
    }
}
