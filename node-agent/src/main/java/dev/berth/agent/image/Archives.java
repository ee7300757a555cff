package dev.berth.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.agent.content.ContentStore;
import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.Index;
import dev.berth.oci.Json;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.OciException;
import dev.berth.oci.Reference;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Image archives: an OCI image layout in a tar (with Docker's manifest.json beside it, so {@code docker load}
 * reads it too) out, and in: an OCI layout, or what {@code docker save} writes (old and new forms).
 */
final class Archives {

    static final String NAME_ANNOTATION = "io.containerd.image.name";
    static final String REF_ANNOTATION = "org.opencontainers.image.ref.name";
    private static final int MAX_DOCUMENT = 4 << 20;
    /** The JSON documents of one archive are held in memory until its images are read: all of them together. */
    static final long MAX_DOCUMENTS = 64L << 20;

    private Archives() {}

    /** Writes the images (this node's platform manifest of each) as one archive. */
    static void export(ContentStore content, List<ImageRecord> images, OutputStream out) throws IOException {
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        putBytes(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
        Set<Digest> written = new LinkedHashSet<>();
        List<Map<String, Object>> index = new ArrayList<>();
        List<Map<String, Object>> docker = new ArrayList<>();
        for (ImageRecord img : images) {
            Digest manifestDigest = Digest.parse(img.manifestDigest());
            byte[] manifestBytes = content.read(manifestDigest);
            var manifest = Json.read(manifestBytes, dev.berth.oci.Manifest.class, "manifest of " + img.name());
            List<String> layerPaths = new ArrayList<>();
            for (Descriptor d : manifest.layers()) {
                putBlob(tar, content, d.digest(), written);
                layerPaths.add(blobPath(d.digest()));
            }
            putBlob(tar, content, manifest.config().digest(), written);
            putBlob(tar, content, manifestDigest, written);
            Reference ref = Reference.parse(img.name());
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("mediaType", manifest.mediaType() != null ? manifest.mediaType() : MediaTypes.OCI_MANIFEST);
            entry.put("digest", manifestDigest.toString());
            entry.put("size", manifestBytes.length);
            entry.put("annotations", Map.of(NAME_ANNOTATION, img.name(), REF_ANNOTATION, ref.tag() == null ? "latest" : ref.tag()));
            index.add(entry);
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("Config", blobPath(manifest.config().digest()));
            d.put("RepoTags", List.of(img.name()));
            d.put("Layers", layerPaths);
            docker.add(d);
        }
        putBytes(tar, "index.json", Json.write(Map.of("schemaVersion", 2, "mediaType", MediaTypes.OCI_INDEX, "manifests", index)));
        putBytes(tar, "manifest.json", Json.write(docker));
        tar.finish();
        out.flush();
    }

    private static String blobPath(Digest d) {
        return "blobs/" + d.algorithm() + "/" + d.hex();
    }

    private static void putBlob(TarArchiveOutputStream tar, ContentStore content, Digest d, Set<Digest> written) throws IOException {
        if (!written.add(d)) return;
        TarArchiveEntry e = new TarArchiveEntry(blobPath(d));
        e.setSize(content.size(d));
        e.setMode(0644);
        tar.putArchiveEntry(e);
        try (InputStream in = content.open(d)) {
            in.transferTo(tar);
        }
        tar.closeArchiveEntry();
    }

    private static void putBytes(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(bytes.length);
        e.setMode(0644);
        tar.putArchiveEntry(e);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }

    /** What an archive holds once its files are in the content store: the images it names. */
    record Imported(String name, Descriptor target) {}

    /**
     * Reads an archive in one pass: blobs go into the content store (verified against their names), small JSON
     * documents are kept, and legacy {@code docker save} layer tars are stored under their computed digests.
     */
    static List<Imported> read(ContentStore content, InputStream in) throws IOException {
        TarArchiveInputStream tar = new TarArchiveInputStream(in, StandardCharsets.UTF_8.name());
        Map<String, byte[]> documents = new HashMap<>();
        long documentBytes = 0;
        Map<String, Descriptor> files = new HashMap<>();
        for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
            if (!e.isFile()) continue;
            String name = e.getName().startsWith("./") ? e.getName().substring(2) : e.getName();
            if (name.startsWith("blobs/")) {
                String[] p = name.split("/");
                if (p.length != 3) throw new OciException("archive entry " + name + " is not blobs/<algorithm>/<hex>");
                Digest d;
                try {
                    d = new Digest(p[1], p[2]);
                } catch (IllegalArgumentException ex) {
                    throw new OciException("archive entry " + name + ": " + ex.getMessage());
                }
                content.ingest(new Descriptor("application/octet-stream", d, e.getSize()), tar);
                files.put(name, new Descriptor("application/octet-stream", d, e.getSize()));
            } else if (name.endsWith(".json") || name.equals("oci-layout") || name.equals("repositories")) {
                if (e.getSize() > MAX_DOCUMENT) throw new OciException("archive entry " + name + " is larger than " + MAX_DOCUMENT + " bytes: refused");
                documentBytes += e.getSize();
                if (documentBytes > MAX_DOCUMENTS) {
                    throw new OciException("the archive's JSON documents are more than " + MAX_DOCUMENTS + " bytes in all (at " + name
                            + "): refused; an image archive holds a few small ones");
                }
                byte[] b = tar.readNBytes((int) e.getSize());
                documents.put(name, b);
            } else if (name.endsWith("/layer.tar") || name.endsWith(".tar")) {
                files.put(name, content.ingestUnknown(tar, e.getSize(), MediaTypes.OCI_LAYER));
            }
        }
        if (documents.containsKey("index.json")) return fromLayout(content, documents, files);
        if (documents.containsKey("manifest.json")) return fromDockerSave(content, documents, files);
        throw new OciException("the archive has neither index.json (OCI image layout) nor manifest.json (docker save): not an image archive");
    }

    private static List<Imported> fromLayout(ContentStore content, Map<String, byte[]> docs, Map<String, Descriptor> files) throws IOException {
        Index index = Json.read(docs.get("index.json"), Index.class, "index.json of the archive");
        Map<String, String> dockerNames = new HashMap<>();
        if (docs.containsKey("manifest.json")) {
            for (JsonNode m : Json.MAPPER.readTree(docs.get("manifest.json"))) {
                JsonNode tags = m.path("RepoTags");
                if (tags.isArray() && tags.size() > 0) dockerNames.put(m.path("Config").asText(), tags.get(0).asText());
            }
        }
        List<Imported> out = new ArrayList<>();
        if (index.manifests() == null) return out;
        for (Descriptor d : index.manifests()) {
            if (!content.has(d.digest())) throw new OciException("index.json names " + d.digest() + ", which the archive does not hold");
            Map<String, String> ann = d.annotations() == null ? Map.of() : d.annotations();
            String name = ann.get(NAME_ANNOTATION);
            if (name == null && MediaTypes.isManifest(d.mediaType())) {
                var m = Json.read(content.read(d.digest()), dev.berth.oci.Manifest.class, "manifest " + d.digest());
                name = dockerNames.get(blobPath(m.config().digest()));
            }
            if (name == null) name = ann.get(REF_ANNOTATION);
            if (name == null) throw new OciException("image " + d.digest() + " in the archive has no name; tag it when exporting");
            out.add(new Imported(name, new Descriptor(d.mediaType(), d.digest(), d.size())));
        }
        return out;
    }

    /** docker save's own form: manifest.json lists a config file and layer tars per image; Berth writes the manifest. */
    private static List<Imported> fromDockerSave(ContentStore content, Map<String, byte[]> docs, Map<String, Descriptor> files) throws IOException {
        List<Imported> out = new ArrayList<>();
        for (JsonNode m : Json.MAPPER.readTree(docs.get("manifest.json"))) {
            String configPath = m.path("Config").asText();
            Descriptor config;
            if (files.containsKey(configPath)) {
                config = new Descriptor(MediaTypes.DOCKER_CONFIG, files.get(configPath).digest(), files.get(configPath).size());
            } else if (docs.containsKey(configPath)) {
                byte[] b = docs.get(configPath);
                config = new Descriptor(MediaTypes.DOCKER_CONFIG, Digest.sha256(b), b.length);
                content.ingest(config, b);
            } else {
                throw new OciException("manifest.json names config " + configPath + ", which the archive does not hold");
            }
            List<Descriptor> layers = new ArrayList<>();
            for (JsonNode l : m.path("Layers")) {
                Descriptor f = files.get(l.asText());
                if (f == null) throw new OciException("manifest.json names layer " + l.asText() + ", which the archive does not hold");
                layers.add(new Descriptor(sniffLayerType(content, f.digest()), f.digest(), f.size()));
            }
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("schemaVersion", 2);
            manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
            manifest.put("config", new Descriptor(MediaTypes.OCI_CONFIG, config.digest(), config.size()));
            manifest.put("layers", layers);
            byte[] bytes = Json.write(manifest);
            Descriptor md = new Descriptor(MediaTypes.OCI_MANIFEST, Digest.sha256(bytes), bytes.length);
            content.ingest(md, bytes);
            JsonNode tags = m.path("RepoTags");
            if (!tags.isArray() || tags.size() == 0) throw new OciException("an image in the archive has no RepoTags; tag it when saving");
            for (JsonNode t : tags) out.add(new Imported(t.asText(), md));
        }
        return out;
    }

    /** A layer file's compression, from its first bytes. */
    private static String sniffLayerType(ContentStore content, Digest d) throws IOException {
        byte[] head;
        try (InputStream in = content.open(d)) {
            head = in.readNBytes(4);
        }
        if (head.length >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) return MediaTypes.OCI_LAYER_GZIP;
        if (head.length >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f && (head[3] & 0xff) == 0xfd) {
            return MediaTypes.OCI_LAYER_ZSTD;
        }
        return MediaTypes.OCI_LAYER;
    }
}
