package dev.berth.oci.testing;

import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.Json;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Platform;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Builds real OCI (or Docker schema 2) images from files, layer by layer, and pushes them to a registry.
 * Berth's dev services and tests make every image they use with it, since no public registry is reachable.
 */
public final class ImageBuilder {

    private final List<LayerSpec> layers = new ArrayList<>();
    private List<String> entrypoint;
    private List<String> cmd = List.of("sh");
    private List<String> env = List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    private String workingDir;
    private String user;
    private boolean docker;
    private boolean wrapInIndex;
    private MediaTypes.Compression compression = MediaTypes.Compression.GZIP;

    /** One layer: tar entries in order, as the builder's callbacks add them. */
    public static final class LayerSpec {
        private final List<Consumer<TarArchiveOutputStream>> writers = new ArrayList<>();

        public LayerSpec dir(String name, int mode) {
            return entry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, mode, null, null);
        }

        public LayerSpec file(String name, int mode, String content) {
            return file(name, mode, content.getBytes(StandardCharsets.UTF_8));
        }

        public LayerSpec file(String name, int mode, byte[] content) {
            return entry(name, TarConstants.LF_NORMAL, mode, null, content);
        }

        /** A file whose content is read from the host when the layer is written. */
        public LayerSpec hostFile(String name, int mode, Path source) {
            writers.add(out -> {
                try {
                    TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
                    e.setMode(mode);
                    e.setSize(Files.size(source));
                    e.setModTime(0);
                    out.putArchiveEntry(e);
                    Files.copy(source, out);
                    out.closeArchiveEntry();
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            });
            return this;
        }

        public LayerSpec symlink(String name, String target) {
            return entry(name, TarConstants.LF_SYMLINK, 0777, target, null);
        }

        public LayerSpec hardlink(String name, String target) {
            return entry(name, TarConstants.LF_LINK, 0644, target, null);
        }

        /** Deletes {@code path} from the layers below (an OCI whiteout file). */
        public LayerSpec whiteout(String path) {
            int slash = path.lastIndexOf('/');
            String name = slash < 0 ? ".wh." + path : path.substring(0, slash + 1) + ".wh." + path.substring(slash + 1);
            return entry(name, TarConstants.LF_NORMAL, 0644, null, new byte[0]);
        }

        /** Hides everything the layers below have in {@code dir} (an OCI opaque whiteout). */
        public LayerSpec opaque(String dir) {
            return entry(dir + "/.wh..wh..opq", TarConstants.LF_NORMAL, 0644, null, new byte[0]);
        }

        /** Any tar entry as given, however unsafe: tests make hostile layers with it. */
        public LayerSpec raw(String name, byte type, int mode, String linkTarget, byte[] content) {
            return entry(name, type, mode, linkTarget, content);
        }

        /** Every regular file, directory and symlink under a host folder, placed under {@code prefix}, up to a byte budget. */
        public LayerSpec hostTree(Path root, String prefix, long maxBytes) {
            writers.add(out -> {
                long[] budget = {maxBytes};
                try (Stream<Path> walk = Files.walk(root)) {
                    // the prefix's own directories first, as the layers docker and BuildKit write carry every parent
                    StringBuilder dir = new StringBuilder();
                    for (String part : prefix.split("/")) {
                        if (part.isEmpty()) continue;
                        dir.append(part).append('/');
                        TarArchiveEntry d = new TarArchiveEntry(dir.toString(), TarConstants.LF_DIR);
                        d.setMode(0755);
                        d.setModTime(0);
                        out.putArchiveEntry(d);
                        out.closeArchiveEntry();
                    }
                    walk.sorted().forEach(p -> {
                        try {
                            if (budget[0] <= 0) return;
                            String rel = root.relativize(p).toString();
                            if (rel.isEmpty()) return;
                            String name = prefix + "/" + rel;
                            TarArchiveEntry e;
                            boolean regular = false;
                            if (Files.isSymbolicLink(p)) {
                                e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                                e.setLinkName(Files.readSymbolicLink(p).toString());
                                e.setMode(0777);
                            } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                                e = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
                                e.setMode(0755);
                            } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.isReadable(p)) {
                                e = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
                                e.setMode(mode(p));
                                e.setSize(Files.size(p));
                                budget[0] -= e.getSize();
                                regular = true;
                            } else {
                                return;
                            }
                            e.setModTime(0);
                            out.putArchiveEntry(e);
                            if (regular) Files.copy(p, out);
                            out.closeArchiveEntry();
                        } catch (IOException ex) {
                            throw new UncheckedIOException(ex);
                        }
                    });
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            });
            return this;
        }

        private LayerSpec entry(String name, byte type, int mode, String link, byte[] content) {
            writers.add(out -> {
                try {
                    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
                    e.setMode(mode);
                    e.setModTime(0);
                    if (link != null) e.setLinkName(link);
                    if (content != null) e.setSize(content.length);
                    out.putArchiveEntry(e);
                    if (content != null) out.write(content);
                    out.closeArchiveEntry();
                } catch (IOException ex) {
                    throw new UncheckedIOException(ex);
                }
            });
            return this;
        }

        private static int mode(Path p) throws IOException {
            int m = 0;
            for (PosixFilePermission perm : Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)) {
                m |= 1 << (8 - perm.ordinal());
            }
            return m;
        }
    }

    public ImageBuilder layer(Consumer<LayerSpec> spec) {
        LayerSpec l = new LayerSpec();
        spec.accept(l);
        layers.add(l);
        return this;
    }

    /** A base layer with the host's static busybox, its applets as symlinks, and a minimal /etc. */
    public ImageBuilder busyboxBase(Path busybox, List<String> applets) {
        return layer(l -> {
            l.dir("bin", 0755).hostFile("bin/busybox", 0755, busybox);
            for (String a : applets) if (!a.equals("busybox")) l.symlink("bin/" + a, "busybox");
            l.dir("etc", 0755)
                    .file("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
                    .file("etc/group", 0644, "root:x:0:\nnogroup:x:65534:\n")
                    .dir("tmp", 01777).dir("root", 0700).dir("proc", 0755).dir("sys", 0755).dir("dev", 0755);
        });
    }

    public ImageBuilder entrypoint(List<String> v) { this.entrypoint = v; return this; }
    public ImageBuilder cmd(List<String> v) { this.cmd = v; return this; }
    public ImageBuilder env(List<String> v) { this.env = v; return this; }
    public ImageBuilder workingDir(String v) { this.workingDir = v; return this; }
    public ImageBuilder user(String v) { this.user = v; return this; }
    /** Use Docker schema 2 media types instead of OCI ones. */
    public ImageBuilder dockerMediaTypes() { this.docker = true; return this; }
    /** Compress layers with zstd, or not at all (OCI media types only). */
    public ImageBuilder compression(MediaTypes.Compression c) { this.compression = c; return this; }
    /** Push an index (or manifest list) around the manifest, as multi-platform images are. */
    public ImageBuilder inIndex() { this.wrapInIndex = true; return this; }

    /** What was pushed: the digest the tag points to, and the manifest's. */
    public record Pushed(Digest topDigest, Digest manifestDigest, List<Digest> layerDigests) {}

    public Pushed push(RegistryClient client, Reference ref, Path workDir) throws IOException {
        Files.createDirectories(workDir);
        List<Descriptor> layerDescs = new ArrayList<>();
        List<Digest> diffIds = new ArrayList<>();
        for (LayerSpec spec : layers) {
            if (docker && compression != MediaTypes.Compression.GZIP) throw new IllegalStateException("Docker media types mean gzip layers");
            Path tmp = Files.createTempFile(workDir, "layer", ".tar");
            Digest.Hasher compressed = Digest.Hasher.sha256();
            Digest.Hasher uncompressed = Digest.Hasher.sha256();
            try (OutputStream file = Files.newOutputStream(tmp);
                 OutputStream dc = compressed.hashing(file);
                 OutputStream gz = compressor(dc);
                 OutputStream du = uncompressed.hashing(gz);
                 TarArchiveOutputStream tar = new TarArchiveOutputStream(du)) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                for (Consumer<TarArchiveOutputStream> w : spec.writers) w.accept(tar);
            }
            Digest d = compressed.digest();
            diffIds.add(uncompressed.digest());
            client.pushBlob(ref, d, tmp);
            String mediaType = docker ? MediaTypes.DOCKER_LAYER_GZIP : switch (compression) {
                case GZIP -> MediaTypes.OCI_LAYER_GZIP;
                case ZSTD -> MediaTypes.OCI_LAYER_ZSTD;
                case NONE -> MediaTypes.OCI_LAYER;
            };
            layerDescs.add(new Descriptor(mediaType, d, Files.size(tmp)));
            Files.delete(tmp);
        }
        Platform host = Platform.host();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", host.architecture());
        config.put("os", host.os());
        config.put("created", "1970-01-01T00:00:00Z");
        Map<String, Object> exec = new LinkedHashMap<>();
        if (user != null) exec.put("User", user);
        exec.put("Env", env);
        if (entrypoint != null) exec.put("Entrypoint", entrypoint);
        if (cmd != null) exec.put("Cmd", cmd);
        if (workingDir != null) exec.put("WorkingDir", workingDir);
        config.put("config", exec);
        config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds.stream().map(Digest::toString).toList()));
        byte[] configBytes = Json.write(config);
        Digest configDigest = pushBytes(client, ref, configBytes, workDir);

        Map<String, Object> manifest = new LinkedHashMap<>();
        manifest.put("schemaVersion", 2);
        manifest.put("mediaType", docker ? MediaTypes.DOCKER_MANIFEST : MediaTypes.OCI_MANIFEST);
        manifest.put("config", new Descriptor(docker ? MediaTypes.DOCKER_CONFIG : MediaTypes.OCI_CONFIG, configDigest, configBytes.length));
        manifest.put("layers", layerDescs);
        byte[] manifestBytes = Json.write(manifest);
        String manifestType = docker ? MediaTypes.DOCKER_MANIFEST : MediaTypes.OCI_MANIFEST;
        String tag = ref.tag() == null ? "latest" : ref.tag();
        Digest manifestDigest = Digest.sha256(manifestBytes);
        if (!wrapInIndex) {
            client.pushManifest(ref, tag, manifestBytes, manifestType);
            return new Pushed(manifestDigest, manifestDigest, layerDescs.stream().map(Descriptor::digest).toList());
        }
        client.pushManifest(ref, manifestDigest.toString(), manifestBytes, manifestType);
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("schemaVersion", 2);
        String indexType = docker ? MediaTypes.DOCKER_MANIFEST_LIST : MediaTypes.OCI_INDEX;
        index.put("mediaType", indexType);
        index.put("manifests", List.of(new Descriptor(manifestType, manifestDigest, manifestBytes.length, null, null, host)));
        byte[] indexBytes = Json.write(index);
        Digest top = client.pushManifest(ref, tag, indexBytes, indexType);
        return new Pushed(top, manifestDigest, layerDescs.stream().map(Descriptor::digest).toList());
    }

    private OutputStream compressor(OutputStream out) throws IOException {
        return switch (compression) {
            case GZIP -> new GZIPOutputStream(out, 1 << 16);
            case ZSTD -> new com.github.luben.zstd.ZstdOutputStream(out);
            case NONE -> new java.io.FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }
            };
        };
    }

    private static Digest pushBytes(RegistryClient client, Reference ref, byte[] bytes, Path workDir) throws IOException {
        Digest d = Digest.sha256(bytes);
        Path tmp = Files.createTempFile(workDir, "blob", ".json");
        try {
            Files.write(tmp, bytes);
            client.pushBlob(ref, d, tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return d;
    }


    /** The applet names a busybox binary provides ({@code busybox --list}). */
    public static List<String> busyboxApplets(Path busybox) throws IOException {
        Process p = new ProcessBuilder(busybox.toString(), "--list").redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        p.getInputStream().transferTo(out);
        try {
            if (p.waitFor() != 0) throw new IOException(busybox + " --list failed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return Stream.of(out.toString(StandardCharsets.UTF_8).split("\n")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

}
