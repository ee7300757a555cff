package dev.berth.agent.content;

import dev.berth.agent.sys.PrivateDirs;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.OciException;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Content-addressed blobs on disk ({@code blobs/<alg>/<hex>}). A blob enters only through {@link #ingest}:
 * written to a temp file, fsynced, verified against its digest and size, then renamed into place, so a blob
 * that is present is always whole and correct.
 */
public final class ContentStore {

    private static final java.util.regex.Pattern PARTIAL = java.util.regex.Pattern.compile("[a-f0-9]{64}\\.partial");
    /** Digests being written now: only one writer may resume a digest's partial file. */
    private final java.util.Set<Digest> resuming = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Path blobs;
    private final Path ingest;

    public ContentStore(Path root) throws IOException {
        this.blobs = root.resolve("blobs");
        this.ingest = root.resolve("ingest");
        PrivateDirs.create(root);
        Files.createDirectories(blobs);
        Files.createDirectories(ingest);
        // Leftovers of an ingest cut short by a crash are never valid content; a download's partial blob
        // (named by its digest) is kept, so the next pull of it resumes where it stopped.
        try (Stream<Path> s = Files.list(ingest)) {
            for (Path p : s.toList()) if (!PARTIAL.matcher(p.getFileName().toString()).matches()) Files.deleteIfExists(p);
        }
    }

    public Path path(Digest d) {
        return blobs.resolve(d.algorithm()).resolve(d.hex());
    }

    public boolean has(Digest d) {
        return Files.isRegularFile(path(d));
    }

    /**
     * Removes the partial blobs of downloads that stopped (kept so that a pull of the same blob resumes) once they
     * are older than {@code age} and no writer resumes them; returns the bytes freed.
     */
    public long removePartialsOlderThan(java.time.Duration age) throws IOException {
        long freed = 0;
        long cutoff = System.currentTimeMillis() - age.toMillis();
        try (Stream<Path> s = Files.list(ingest)) {
            for (Path p : s.toList()) {
                String name = p.getFileName().toString();
                if (!PARTIAL.matcher(name).matches() || resuming.contains(new Digest("sha256", name.substring(0, 64)))) continue;
                try {
                    if (Files.getLastModifiedTime(p).toMillis() > cutoff) continue;
                    long size = Files.size(p);
                    if (Files.deleteIfExists(p)) freed += size;
                } catch (java.nio.file.NoSuchFileException gone) {
                    // resumed and committed meanwhile
                }
            }
        }
        return freed;
    }

    public InputStream open(Digest d) throws IOException {
        return Files.newInputStream(path(d));
    }

    /**
     * A document (an index, a manifest or a config) whole. Only documents are read into memory, so one larger than
     * a registry may serve as a manifest ({@link RegistryClient#MAX_MANIFEST_BYTES}) is refused, not read.
     */
    public byte[] read(Digest d) throws IOException {
        long size = Files.size(path(d));
        if (size > RegistryClient.MAX_MANIFEST_BYTES) {
            throw new OciException("content " + d + " is " + size + " bytes, more than an index, manifest or config may be ("
                    + RegistryClient.MAX_MANIFEST_BYTES + "): refused as a document");
        }
        return Files.readAllBytes(path(d));
    }

    /** A blob being written: callers stream into it; {@link Writer#commit()} verifies and publishes it. */
    public Writer writer(Descriptor expected) throws IOException {
        return new Writer(expected, false);
    }

    /**
     * A writer that continues the partial file an interrupted download of this blob left, if any: its bytes are
     * hashed again and {@link Writer#written()} says where to resume. What it writes survives a crash until commit.
     */
    public Writer resumableWriter(Descriptor expected) throws IOException {
        return new Writer(expected, true);
    }

    /** Stores a whole stream as the blob {@code expected} describes, verifying digest and size. */
    public void ingest(Descriptor expected, InputStream in) throws IOException {
        if (has(expected.digest())) return;
        try (Writer w = writer(expected)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) w.write(buf, 0, n);
            w.commit();
        }
    }

    public void ingest(Descriptor expected, byte[] data) throws IOException {
        ingest(expected, new java.io.ByteArrayInputStream(data));
    }

    /** Stores a stream whose digest is not known beforehand (an archive's file); returns its descriptor. */
    public Descriptor ingestUnknown(InputStream in, long size, String mediaType) throws IOException {
        Path tmp = ingest.resolve("unknown-" + UUID.randomUUID());
        Digest.Hasher hasher = Digest.Hasher.sha256();
        long n = 0;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                byte[] buf = new byte[1 << 16];
                for (int k; n < size && (k = in.read(buf, 0, (int) Math.min(buf.length, size - n))) > 0; ) {
                    out.write(buf, 0, k);
                    hasher.update(buf, 0, k);
                    n += k;
                }
                ch.force(true);
            }
            if (n != size) throw new IOException("archive entry ended after " + n + " of " + size + " bytes");
            Digest d = hasher.digest();
            Path target = path(d);
            Files.createDirectories(target.getParent());
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return new Descriptor(mediaType, d, size);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public boolean delete(Digest d) throws IOException {
        return Files.deleteIfExists(path(d));
    }

    public List<Digest> list() throws IOException {
        List<Digest> out = new ArrayList<>();
        try (Stream<Path> algs = Files.list(blobs)) {
            for (Path alg : algs.toList()) {
                try (Stream<Path> s = Files.list(alg)) {
                    s.forEach(p -> out.add(new Digest(alg.getFileName().toString(), p.getFileName().toString())));
                }
            }
        }
        return out;
    }

    public long size(Digest d) throws IOException {
        return Files.size(path(d));
    }

    public final class Writer extends OutputStream {
        private final Descriptor expected;
        private final Path tmp;
        private final FileChannel channel;
        private final OutputStream out;
        private final Digest.Hasher hasher;
        private long written;
        private boolean committed;

        private final boolean partial;
        private boolean corrupt;

        private Writer(Descriptor expected, boolean resumable) throws IOException {
            this.expected = expected;
            this.hasher = expected.digest().newHasher();
            this.partial = resumable && expected.digest().algorithm().equals("sha256") && resuming.add(expected.digest());
            if (partial) {
                this.tmp = ingest.resolve(expected.digest().hex() + ".partial");
                this.channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                long have = Math.min(channel.size(), expected.size());
                channel.truncate(have);
                try (InputStream old = Files.newInputStream(tmp)) {
                    byte[] buf = new byte[1 << 16];
                    for (long left = have; left > 0; ) {
                        int n = old.read(buf, 0, (int) Math.min(buf.length, left));
                        if (n <= 0) break;
                        hasher.update(buf, 0, n);
                        left -= n;
                    }
                }
                this.written = have;
                channel.position(have);
            } else {
                this.tmp = ingest.resolve(expected.digest().hex() + "-" + UUID.randomUUID());
                this.channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
            this.out = java.nio.channels.Channels.newOutputStream(channel);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (written + len > expected.size()) {
                corrupt = true;
                throw new OciException("blob " + expected.digest() + " is larger than its descriptor's " + expected.size() + " bytes: refused");
            }
            out.write(b, off, len);
            hasher.update(b, off, len);
            written += len;
        }

        public long written() {
            return written;
        }

        /** The file being written: readers may follow it while it grows (it keeps its inode when committed). */
        public Path tempPath() {
            return tmp;
        }

        /** Verifies size and digest, makes the bytes durable, and moves the blob into place. */
        public void commit() throws IOException {
            if (written != expected.size()) {
                corrupt = true;
                throw new OciException("blob " + expected.digest() + " has " + written + " bytes, its descriptor says " + expected.size() + ": refused");
            }
            Digest actual = hasher.digest();
            if (!actual.equals(expected.digest())) {
                corrupt = true;
                throw new OciException("blob " + expected.digest() + " does not match its digest (got " + actual + "): corrupt content refused");
            }
            channel.force(true);
            Path target = path(expected.digest());
            Files.createDirectories(target.getParent());
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("content store must live on one filesystem", e);
            }
            try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                dir.force(true);
            }
            committed = true;
        }

        @Override
        public void close() throws IOException {
            channel.close();
            if (partial) resuming.remove(expected.digest());
            // an interrupted download's bytes stay for the next attempt; wrong bytes never do
            if (!committed && (!partial || corrupt)) Files.deleteIfExists(tmp);
        }
    }
}
