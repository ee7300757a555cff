package dev.berth.agent.image;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.snapshot.OverlaySnapshotter;
import dev.berth.agent.unpack.LayerApplier;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.ImageConfig;
import dev.berth.oci.Json;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.OciException;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.RegistryClient.ResolvedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
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

    public ImageStore(RegistryClient registry, ContentStore content, OverlaySnapshotter snapshots, MetadataStore meta, Platform platform) {
        this.registry = registry;
        this.content = content;
        this.snapshots = snapshots;
        this.meta = meta;
        this.platform = platform;
    }

    /** Pulls and unpacks {@code name}; on any failure nothing half-written remains visible. */
    public ImageRecord pull(String namespace, String name) throws IOException {
        Reference ref;
        try {
            ref = Reference.parse(name);
        } catch (IllegalArgumentException e) {
            throw new OciException(e.getMessage());
        }
        ResolvedImage img = registry.resolve(ref, platform);
        Descriptor manifestDesc = img.manifestBytes().descriptor();
        byte[] configBytes = fetchSmallBlob(ref, img.manifest().config());
        ImageConfig config = Json.read(configBytes, ImageConfig.class, "image config of " + ref);
        List<Descriptor> layers = img.manifest().layers();
        List<Digest> diffIds = config.rootfs() == null || config.rootfs().diffIds() == null ? List.of() : config.rootfs().diffIds();
        if (diffIds.size() != layers.size()) {
            throw new OciException("image " + ref + " is inconsistent: " + layers.size() + " layers but " + diffIds.size() + " diff ids in its config");
        }
        String parent = null;
        long unpacked = 0;
        for (int i = 0; i < layers.size(); i++) {
            String chainId = chainId(parent, diffIds.get(i));
            unpacked += unpackLayer(ref, layers.get(i), diffIds.get(i), parent, chainId);
            parent = chainId;
        }
        if (parent == null) throw new OciException("image " + ref + " has no layers");
        // Manifests last: the image is only recorded once everything it needs is in place.
        if (!img.target().digest().equals(manifestDesc.digest())) {
            // the index the tag points to, kept so the image can be re-resolved and exported as pulled
            content.ingest(img.target(), registry.fetchManifest(ref, img.target().digest().toString()).bytes());
        }
        content.ingest(manifestDesc, img.manifestBytes().bytes());
        long now = System.currentTimeMillis();
        long size = manifestDesc.size() + img.manifest().config().size() + layers.stream().mapToLong(Descriptor::size).sum();
        ImageRecord rec = new ImageRecord(namespace, ref.toString(), img.target().mediaType(), img.target().digest().toString(),
                size, manifestDesc.digest().toString(), img.manifest().config().digest().toString(), parent, unpacked,
                "{}", meta.image(namespace, ref.toString()).map(ImageRecord::createdAt).orElse(now), now);
        meta.putImage(rec);
        return rec;
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
        return get(namespace, name).map(r -> meta.deleteImage(namespace, r.name())).orElse(false);
    }

    public ImageConfig config(ImageRecord image) throws IOException {
        return Json.read(content.read(Digest.parse(image.configDigest())), ImageConfig.class, "image config of " + image.name());
    }

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

    /** Unpacks one layer into the snapshot of its chain unless that exists; returns the bytes unpacked. */
    private long unpackLayer(Reference ref, Descriptor layer, Digest diffId, String parent, String chainId) throws IOException {
        MediaTypes.Compression compression;
        try {
            compression = MediaTypes.layerCompression(layer.mediaType());
        } catch (IllegalArgumentException e) {
            throw new OciException(e.getMessage() + " in " + ref);
        }
        if (snapshots.exists(chainId)) return 0;
        // the download runs outside the chain's lock: a slow registry never holds up pulls that share the chain
        long t0 = System.nanoTime();
        if (!content.has(layer.digest())) {
            try (InputStream in = registry.openBlob(ref, layer.digest(), 0)) {
                content.ingest(layer, in);
            }
        }
        long t1 = System.nanoTime();
        Object lock = chainLocks.computeIfAbsent(chainId, k -> new Object());
        synchronized (lock) {
            if (snapshots.exists(chainId)) return 0;
            OverlaySnapshotter.Extraction x = snapshots.startExtraction(parent);
            try (InputStream blob = content.open(layer.digest());
                 InputStream plain = decompress(blob, compression)) {
                MessageDigest md = sha256();
                CountingDigestStream counted = new CountingDigestStream(plain, md);
                LayerApplier.apply(counted, x.upper(), x.lowersTopFirst());
                Digest actual = new Digest("sha256", HexFormat.of().formatHex(md.digest()));
                if (!actual.equals(diffId)) {
                    throw new OciException("layer " + layer.digest() + " of " + ref + " unpacks to diff id " + actual + ", but the image config says " + diffId + ": corrupt image refused");
                }
                snapshots.commitExtraction(x, chainId);
                LOG.info(String.format("layer %s: fetched %d bytes in %.2fs, unpacked %d bytes in %.2fs",
                        layer.digest().shortHex(), layer.size(), (t1 - t0) / 1e9, counted.count, (System.nanoTime() - t1) / 1e9));
                return counted.count;
            } catch (IOException | RuntimeException e) {
                snapshots.remove(x.key());
                throw e;
            }
        }
    }

    private static InputStream decompress(InputStream in, MediaTypes.Compression c) throws IOException {
        return switch (c) {
            case NONE -> in;
            case GZIP -> new GZIPInputStream(in, 1 << 16);
            case ZSTD -> throw new OciException("zstd layers are not supported yet");
        };
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }

    private static final class CountingDigestStream extends DigestInputStream {
        long count;

        CountingDigestStream(InputStream in, MessageDigest md) {
            super(in, md);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }
    }

}
