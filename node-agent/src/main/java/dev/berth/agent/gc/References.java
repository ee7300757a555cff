package dev.berth.agent.gc;

import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.metadata.MetadataStore.SnapshotRecord;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.Index;
import dev.berth.oci.Json;
import dev.berth.oci.Manifest;
import dev.berth.oci.MediaTypes;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What images and containers hold: the blobs an image needs (its index, manifests, configs and layers) and the
 * snapshots a chain or a container stands on. Garbage collection keeps what the node's images hold; a namespace
 * sees only what its own images and containers hold, as containerd's namespaces do over shared content: a blob
 * is stored once, however many namespaces pulled it, and is visible to each that did.
 */
public final class References {

    private final MetadataStore meta;
    private final ContentStore content;

    public References(MetadataStore meta, ContentStore content) {
        this.meta = meta;
        this.content = content;
    }

    /** The blobs the namespace's images need. */
    public Set<Digest> blobsOf(String namespace) throws IOException {
        return blobs(meta.images(namespace));
    }

    /** The snapshots the namespace's images and containers stand on, each chain down to its base layer. */
    public Set<String> snapshotsOf(String namespace) {
        Set<String> live = new HashSet<>();
        for (ImageRecord img : meta.images(namespace)) live.add(img.chainId());
        for (ContainerRecord c : meta.containers(namespace)) if (c.snapshotKey() != null) live.add(c.snapshotKey());
        return withParents(live);
    }

    /** The blobs the given images need, as far as the content store has them. */
    Set<Digest> blobs(List<ImageRecord> images) throws IOException {
        Set<Digest> live = new HashSet<>();
        for (ImageRecord img : images) mark(Digest.parse(img.digest()), img.mediaType(), live);
        return live;
    }

    /** The snapshots given, and every layer below each. */
    Set<String> withParents(Set<String> keys) {
        Set<String> live = new HashSet<>(keys);
        List<String> todo = new ArrayList<>(live);
        while (!todo.isEmpty()) {
            String k = todo.remove(todo.size() - 1);
            meta.snapshot(k).map(SnapshotRecord::parent).filter(live::add).ifPresent(todo::add);
        }
        return live;
    }

    /** Marks a manifest or index and everything it references. */
    private void mark(Digest d, String mediaType, Set<Digest> live) throws IOException {
        if (!live.add(d) || !content.has(d)) return;
        if (MediaTypes.isIndex(mediaType)) {
            Index index = Json.read(content.read(d), Index.class, "index " + d);
            if (index.manifests() != null) for (Descriptor m : index.manifests()) mark(m.digest(), m.mediaType(), live);
        } else if (MediaTypes.isManifest(mediaType)) {
            Manifest m = Json.read(content.read(d), Manifest.class, "manifest " + d);
            if (m.config() != null) live.add(m.config().digest());
            if (m.layers() != null) for (Descriptor l : m.layers()) live.add(l.digest());
        }
    }
}
