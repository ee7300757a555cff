package dev.berth.agent.snapshot;

import dev.berth.agent.metadata.MetadataStore;
import dev.berth.agent.metadata.MetadataStore.SnapshotRecord;
import dev.berth.agent.sys.PrivateDirs;
import dev.berth.agent.sys.Syscalls;
import dev.berth.agent.sys.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Overlay snapshots, as containerd's overlay snapshotter keeps them: each snapshot is a directory
 * {@code snapshots/<id>/fs} (plus {@code work}); a committed snapshot is one layer chain, named by its chain id,
 * shared by every image and container above it; an active snapshot is a container's writable upper layer.
 */
public final class OverlaySnapshotter {

    public static final String COMMITTED = "committed";
    public static final String ACTIVE = "active";
    private static final String EXTRACTING = "extract-";
    private static final String MOUNT_DIR = "mnt";

    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(OverlaySnapshotter.class.getName());
    private final Path root;
    private final MetadataStore meta;

    public OverlaySnapshotter(Path root, MetadataStore meta) throws IOException {
        this.root = root;
        this.meta = meta;
        PrivateDirs.create(root);
        // An unpack cut short by a crash leaves an extract snapshot: it was never committed, so it goes (a mount-point
        // layer's overlay first, if the crash left it mounted).
        for (SnapshotRecord s : meta.snapshots()) {
            if (!s.key().startsWith(EXTRACTING)) continue;
            Path mnt = dir(s.id()).resolve(MOUNT_DIR);
            if (Files.isDirectory(mnt)) {
                try {
                    Syscalls.unmount(mnt.toString());
                } catch (IOException notMounted) {
                    // nothing was left mounted there
                }
            }
            remove(s.key());
        }
        removeUnrecorded();
    }

    /** A snapshot being unpacked: the directory to write a layer into (the layers below it: {@link #lowers}). */
    public record Extraction(String key, Path upper) {}

    public boolean exists(String key) {
        return meta.snapshot(key).isPresent();
    }

    /**
     * A new snapshot to unpack a layer into, above {@code parentChainId}; that chain may still be being unpacked
     * itself (its layers are asked for with {@link #lowers} once it is committed).
     */
    public Extraction startExtraction(String parentChainId) throws IOException {
        String key = EXTRACTING + UUID.randomUUID();
        Path dir = allocate(key, parentChainId);
        return new Extraction(key, dir.resolve("fs"));
    }

    /**
     * Makes an unpacked layer the committed snapshot of {@code chainId}. Its files reach the disk first: the record
     * is durable (SQLite, synchronous=FULL), and a crash must never leave a committed record over a layer that is
     * still only in the page cache, which the next pull would build on.
     */
    public void commitExtraction(Extraction x, String chainId) throws IOException {
        SnapshotRecord r = meta.snapshot(x.key()).orElseThrow();
        Trees.remove(dir(r.id()).resolve("work"));
        Syscalls.syncfs(x.upper().toString());
        meta.renameSnapshot(x.key(), chainId, COMMITTED);
    }

    /** Prepares a container's writable snapshot over a committed chain and returns the overlay mount options. */
    public String prepare(String key, String parentChainId) throws IOException {
        if (meta.snapshot(parentChainId).isEmpty()) {
            throw new IOException("parent snapshot " + parentChainId + " does not exist; pull the image again");
        }
        allocate(key, parentChainId);
        return mountOptions(key);
    }

    /** A new active snapshot: its record, and its empty fs and work directories. */
    private Path allocate(String key, String parentChainId) throws IOException {
        Path dir = dir(meta.addSnapshot(key, parentChainId, ACTIVE).id());
        // a fresh id's directory can only be the leftover of a transaction that rolled back (or a crash before its
        // commit): nothing of it may show through in the new snapshot
        Trees.remove(dir);
        Files.createDirectories(dir.resolve("fs"));
        Files.createDirectories(dir.resolve("work"));
        return dir;
    }

    /** A path a container's spec mounts over its root filesystem, which must exist there as a file or a directory. */
    public record MountPoint(String path, boolean directory) {}

    /**
     * The committed snapshot over {@code chainId} that holds, as empty files and directories, the {@code points} the
     * image lacks; made once per image and shared by its containers (docker's init layer, but one per image). Without
     * it runc creates them in each container's writable layer at every start: five new inodes and a copy-up of /etc
     * per container, and files in its diff that the container never wrote. The directories they are created in keep
     * the image's times; a point under a symlink or a file is left to runc, which resolves it inside the root.
     */
    public String mountPoints(String chainId, List<MountPoint> points) throws IOException {
        String key = "mountpoints-" + Integer.toHexString(points.hashCode()) + ":" + chainId;
        if (exists(key)) return key;
        synchronized (this) {
            if (exists(key)) return key;
            Extraction x = startExtraction(chainId);
            Path dir = x.upper().getParent();
            Path mnt = Files.createDirectory(dir.resolve(MOUNT_DIR));
            try {
                Syscalls.mountOverlay(mnt.toString(), overlayOptions(chainId, dir));
                try {
                    for (MountPoint p : points) placeholder(mnt, p);
                } finally {
                    Syscalls.unmount(mnt.toString());
                }
                Files.delete(mnt);
                commitExtraction(x, key);
            } catch (IOException | RuntimeException e) {
                remove(x.key());
                throw new IOException("could not prepare the mount points of image layer " + chainId + ": " + e.getMessage(), e);
            }
            return key;
        }
    }

    /** Creates one mount point through the overlay at {@code root}, unless it exists; never follows a symlink. */
    private static void placeholder(Path root, MountPoint p) throws IOException {
        java.nio.file.LinkOption nofollow = java.nio.file.LinkOption.NOFOLLOW_LINKS;
        Path rel = Path.of(p.path().substring(1));
        Path cur = root;
        int i = 0;
        for (; i < rel.getNameCount() - 1; i++) { // the deepest existing parent, a real directory all the way down
            Path next = cur.resolve(rel.getName(i));
            if (!Files.exists(next, nofollow)) break;
            if (!Files.isDirectory(next, nofollow)) return; // a symlink or a file: runc resolves it inside the root
            cur = next;
        }
        Path target = root.resolve(rel);
        if (Files.exists(target, nofollow)) return;
        var times = Files.getFileAttributeView(cur, java.nio.file.attribute.BasicFileAttributeView.class, nofollow);
        var before = times.readAttributes();
        java.nio.file.attribute.FileAttribute<?> dirMode = java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        for (Path d = cur; i < rel.getNameCount() - 1; i++) d = Files.createDirectory(d.resolve(rel.getName(i)), dirMode);
        if (p.directory()) Files.createDirectory(target, dirMode);
        else Files.createFile(target, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--")));
        times.setTimes(before.lastModifiedTime(), before.lastAccessTime(), null);
    }

    public String mountOptions(String key) throws IOException {
        SnapshotRecord r = meta.snapshot(key).orElseThrow(() -> new IOException("snapshot " + key + " does not exist"));
        return overlayOptions(r.parent(), dir(r.id()));
    }

    /** Overlay options for the snapshot directory {@code dir} (its fs and work) over the chain {@code parentChainId}. */
    private String overlayOptions(String parentChainId, Path dir) {
        StringBuilder lower = new StringBuilder();
        for (Path p : lowers(parentChainId)) lower.append(lower.length() == 0 ? "" : ":").append(p);
        return "lowerdir=" + lower + ",upperdir=" + dir.resolve("fs") + ",workdir=" + dir.resolve("work");
    }

    public void mount(String key, Path target) throws IOException {
        Files.createDirectories(target);
        Syscalls.mountOverlay(target.toString(), mountOptions(key));
    }

    /** Bytes and inodes a snapshot's own layer holds (not its parents'). */
    public long[] usage(String key) throws IOException {
        SnapshotRecord r = meta.snapshot(key).orElseThrow(() -> new IOException("snapshot " + key + " does not exist"));
        long[] sizeAndInodes = new long[2];
        Files.walkFileTree(dir(r.id()).resolve("fs"), new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult preVisitDirectory(Path d, java.nio.file.attribute.BasicFileAttributes a) {
                sizeAndInodes[1]++;
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes a) {
                sizeAndInodes[0] += a.size();
                sizeAndInodes[1]++;
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
        return sizeAndInodes;
    }

    public List<SnapshotRecord> list() {
        return meta.snapshots();
    }

    /** The committed layer directories of a chain, top-most first. */
    public List<Path> lowers(String chainId) {
        List<Path> out = new ArrayList<>();
        for (String k = chainId; k != null; ) {
            SnapshotRecord r = meta.snapshot(k).orElseThrow(() -> new IllegalStateException("snapshot chain broken"));
            out.add(dir(r.id()).resolve("fs"));
            k = r.parent();
        }
        return out;
    }

    /**
     * Removes a snapshot: its record first, then its tree. A crash in between leaves a directory no record names,
     * which the next start removes (ids are never reused); the other order could leave a record over a partial
     * layer, which the next pull of the chain would reuse.
     */
    public void remove(String key) throws IOException {
        var r = meta.snapshot(key);
        if (r.isEmpty()) return;
        meta.deleteSnapshot(key);
        Trees.remove(dir(r.get().id()));
    }

    /** Removes the directories no snapshot record names: what a removal cut short by a crash left. */
    private void removeUnrecorded() throws IOException {
        java.util.Set<String> recorded = new java.util.HashSet<>();
        for (SnapshotRecord s : meta.snapshots()) recorded.add(Long.toString(s.id()));
        try (var dirs = Files.list(root)) {
            for (Path d : dirs.toList()) {
                if (recorded.contains(d.getFileName().toString())) continue;
                try {
                    Trees.remove(d);
                } catch (IOException e) {
                    LOG.warning("could not remove " + d + ", which no snapshot names: " + e.getMessage());
                }
            }
        }
    }

    private Path dir(long id) {
        return root.resolve(Long.toString(id));
    }
}
