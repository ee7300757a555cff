package dev.berth.agent.unpack;

import dev.berth.agent.sys.Syscalls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Applies one uncompressed layer tar into an overlay upper directory, the way containerd's overlay applier does:
 * paths resolve through the merged view of the layers below (so a symlinked directory of a lower layer is
 * followed, inside the root), whiteouts become overlay whiteouts (a 0:0 character device, or the opaque xattr),
 * and no entry can create, change, link or delete anything outside the snapshot.
 */
public final class LayerApplier {

    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final String OPAQUE_XATTR = "trusted.overlay.opaque";
    private static final int MAX_SYMLINKS = 255;

    private final Path upper;
    /** Layers as the merged view stacks them: index 0 is the upper being written, then lowers top-most first. */
    private final List<Path> layers;
    private final List<Path> dirsToTime = new ArrayList<>();
    private final List<long[]> dirTimes = new ArrayList<>();
    /**
     * Parent directories already resolved and made real in the upper, by the entry's parent name. Most entries
     * share their parent with the previous ones, and resolving walks every layer; anything that can change what a
     * path resolves to (a symlink, a whiteout, an opaque mark, a removed directory) empties it.
     */
    private final java.util.Map<String, Path> resolvedParents = new java.util.HashMap<>();

    private LayerApplier(Path upper, List<Path> lowersTopFirst) {
        this.upper = upper;
        this.layers = new ArrayList<>();
        layers.add(upper);
        layers.addAll(lowersTopFirst);
    }

    /** Applies {@code tar} into {@code upper}; {@code lowersTopFirst} are the committed layers below it. */
    public static void apply(InputStream tar, Path upper, List<Path> lowersTopFirst) throws IOException {
        new LayerApplier(upper, lowersTopFirst).run(tar);
    }

    private void run(InputStream raw) throws IOException {
        TarArchiveInputStream tar = new TarArchiveInputStream(raw, StandardCharsets.UTF_8.name());
        for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
            applyEntry(e, tar);
        }
        // Drain to the end so the caller's digest covers the whole stream, padding included.
        raw.transferTo(OutputStream.nullOutputStream());
        for (int i = dirsToTime.size() - 1; i >= 0; i--) {
            // A later entry may have replaced a parent by a symlink (or removed the dir): never follow it out.
            if (!isPlainDirInUpper(dirsToTime.get(i))) continue;
            long[] t = dirTimes.get(i);
            Syscalls.lutimes(dirsToTime.get(i).toString(), t[0], t[1]);
        }
    }

    /** Whether {@code p} and every directory between it and the upper are still real directories, not symlinks. */
    private boolean isPlainDirInUpper(Path p) {
        Path cur = upper;
        for (Path c : upper.relativize(p)) {
            cur = cur.resolve(c);
            BasicFileAttributes a = lstat(cur);
            if (a == null || !a.isDirectory()) return false;
        }
        return true;
    }

    private void applyEntry(TarArchiveEntry e, InputStream data) throws IOException {
        List<String> parts = clean(e.getName());
        if (parts.isEmpty()) return; // the root itself: its attributes belong to the snapshot, not the layer
        String base = parts.remove(parts.size() - 1);
        String parentKey = String.join("/", parts);
        Path parentPath = resolvedParents.get(parentKey);
        if (parentPath == null) {
            parentPath = materialize(resolveDir(parts, e.getName()));
            resolvedParents.put(parentKey, parentPath);
        }

        if (base.equals(OPAQUE)) {
            resolvedParents.clear();
            Syscalls.lsetxattr(parentPath.toString(), OPAQUE_XATTR, "y".getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (base.startsWith(WHITEOUT)) {
            String hidden = base.substring(WHITEOUT.length());
            if (hidden.isEmpty() || hidden.equals(".") || hidden.equals("..") || hidden.contains("/")) {
                throw new UnsafeLayerException("whiteout '" + e.getName() + "' names no valid file");
            }
            Path target = parentPath.resolve(hidden);
            resolvedParents.clear();
            removeAll(target);
            Syscalls.mknod(target.toString(), Syscalls.S_IFCHR, 0, 0);
            return;
        }

        Path target = parentPath.resolve(base);
        BasicFileAttributes existing = lstat(target);
        if (existing != null && !(existing.isDirectory() && e.isDirectory())) {
            if (existing.isDirectory() || existing.isSymbolicLink()) resolvedParents.clear();
            removeAll(target);
        }

        if (e.isDirectory()) {
            if (existing == null || !existing.isDirectory()) Files.createDirectory(target);
        } else if (e.isSymbolicLink()) {
            resolvedParents.clear();
            Syscalls.symlink(e.getLinkName(), target.toString());
        } else if (e.isLink()) {
            Path source = resolveHardlinkSource(e);
            Files.createLink(target, source);
            return; // a hard link shares the inode: its attributes are the source's
        } else if (e.isCharacterDevice() || e.isBlockDevice()) {
            int type = e.isCharacterDevice() ? Syscalls.S_IFCHR : Syscalls.S_IFBLK;
            Syscalls.mknod(target.toString(), type | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
        } else if (e.isFIFO()) {
            Syscalls.mknod(target.toString(), Syscalls.S_IFIFO | (e.getMode() & 07777), 0, 0);
        } else if (e.isFile()) {
            try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                data.transferTo(out);
            }
        } else {
            return; // other entry types (e.g. global PAX headers) carry no file
        }

        String p = target.toString();
        Syscalls.lchown(p, (int) e.getLongUserId(), (int) e.getLongGroupId());
        if (!e.isSymbolicLink()) Syscalls.chmod(p, e.getMode());
        for (Map.Entry<String, String> x : e.getExtraPaxHeaders().entrySet()) {
            if (x.getKey().startsWith("SCHILY.xattr.")) {
                Syscalls.lsetxattr(p, x.getKey().substring("SCHILY.xattr.".length()), x.getValue().getBytes(StandardCharsets.ISO_8859_1));
            }
        }
        long millis = e.getModTime().getTime();
        long secs = Math.floorDiv(millis, 1000);
        long nanos = Math.floorMod(millis, 1000) * 1_000_000L;
        if (e.isDirectory()) {
            dirsToTime.add(target);
            dirTimes.add(new long[] {secs, nanos});
        } else {
            Syscalls.lutimes(p, secs, nanos);
        }
    }

    /**
     * Resolves a directory path component by component in the merged view, following symlinks inside the root
     * (an absolute target restarts at the root; {@code ..} stops at the root). The result has no symlinks in it.
     */
    private List<String> resolveDir(List<String> components, String entryName) throws IOException {
        Deque<String> todo = new ArrayDeque<>(components);
        List<String> cur = new ArrayList<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.pollFirst();
            if (c.equals("..")) {
                if (!cur.isEmpty()) cur.remove(cur.size() - 1);
                continue;
            }
            if (c.equals(".") || c.isEmpty()) continue;
            cur.add(c);
            Path found = lookup(cur);
            if (found == null) continue; // will be created as a plain directory
            BasicFileAttributes a = lstat(found);
            if (a.isSymbolicLink()) {
                if (++links > MAX_SYMLINKS) throw new UnsafeLayerException("too many symlinks resolving '" + entryName + "'");
                String target = Files.readSymbolicLink(found).toString();
                cur.remove(cur.size() - 1);
                if (target.startsWith("/")) cur.clear();
                List<String> t = new ArrayList<>(List.of(target.split("/")));
                for (int i = t.size() - 1; i >= 0; i--) todo.addFirst(t.get(i));
            } else if (!a.isDirectory()) {
                throw new UnsafeLayerException("entry '" + entryName + "' has a parent '" + String.join("/", cur) + "' that is not a directory");
            }
        }
        return cur;
    }

    /**
     * The top-most layer's file at {@code rel} as the overlay would show it, or null when none shows:
     * an overlay whiteout hides it, and an opaque directory above hides the layers below.
     */
    private Path lookup(List<String> rel) {
        int visible = layers.size();
        for (int depth = 1; depth <= rel.size(); depth++) {
            String sub = String.join("/", rel.subList(0, depth));
            Path hit = null;
            int hitLayer = -1;
            for (int i = 0; i < visible; i++) {
                Path p = layers.get(i).resolve(sub);
                BasicFileAttributes a = lstat(p);
                if (a == null) continue;
                if (isWhiteout(a, p)) return null;
                hit = p;
                hitLayer = i;
                break;
            }
            if (hit == null) return null;
            if (depth == rel.size()) return hit;
            BasicFileAttributes a = lstat(hit);
            if (!a.isDirectory()) return hit; // a symlink or file in the middle: the caller deals with it first
            // Lower layers show through this directory until one hides them.
            int limit = visible;
            for (int k = hitLayer; k < visible; k++) {
                Path p = layers.get(k).resolve(sub);
                BasicFileAttributes b = lstat(p);
                if (b == null) continue;
                if (!b.isDirectory()) { limit = k; break; }
                if ("y".equals(Syscalls.lgetxattr(p.toString(), OPAQUE_XATTR))) { limit = k + 1; break; }
            }
            visible = limit;
        }
        return null;
    }

    /** Makes each directory of a resolved path exist in the upper layer, copying mode and owner from below. */
    private Path materialize(List<String> rel) throws IOException {
        Path p = upper;
        for (int i = 0; i < rel.size(); i++) {
            p = p.resolve(rel.get(i));
            BasicFileAttributes a = lstat(p);
            if (a != null) {
                if (a.isDirectory()) continue;
                removeAll(p); // an upper whiteout or file where the merged view has a directory to write into
            }
            Path below = lookup(rel.subList(0, i + 1));
            Files.createDirectory(p);
            if (below != null && !below.startsWith(upper)) {
                Map<String, Object> attrs = Files.readAttributes(below, "unix:mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
                Syscalls.lchown(p.toString(), (Integer) attrs.get("uid"), (Integer) attrs.get("gid"));
                Syscalls.chmod(p.toString(), (Integer) attrs.get("mode"));
            } else {
                Syscalls.chmod(p.toString(), 0755);
            }
        }
        return p;
    }

    private Path resolveHardlinkSource(TarArchiveEntry e) throws IOException {
        List<String> parts = clean(e.getLinkName());
        if (parts.isEmpty()) throw new UnsafeLayerException("hard link '" + e.getName() + "' points at the root");
        String base = parts.remove(parts.size() - 1);
        List<String> parent = resolveDir(parts, e.getLinkName());
        Path source = upper.resolve(String.join("/", parent)).resolve(base);
        BasicFileAttributes a = lstat(source);
        if (a == null || a.isDirectory()) {
            throw new UnsafeLayerException("hard link '" + e.getName() + "' points at '" + e.getLinkName() + "', which is not a file of this layer");
        }
        return source;
    }

    /** Splits a tar name into components: leading slashes and {@code .} dropped; {@code ..} kept for the walk to clamp. */
    static List<String> clean(String name) {
        List<String> out = new ArrayList<>();
        for (String s : name.split("/")) {
            if (s.isEmpty() || s.equals(".")) continue;
            if (s.equals("..")) {
                if (!out.isEmpty()) out.remove(out.size() - 1);
                continue;
            }
            out.add(s);
        }
        return out;
    }

    private static boolean isWhiteout(BasicFileAttributes a, Path p) {
        if (!a.isOther()) return false;
        try {
            Object rdev = Files.getAttribute(p, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
            Object mode = Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return ((Long) rdev) == 0L && (((Integer) mode) & 0170000) == Syscalls.S_IFCHR;
        } catch (IOException ex) {
            return false;
        }
    }

    private static BasicFileAttributes lstat(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return null;
        }
    }

    /** Deletes a file or a whole tree without following any symlink in it. */
    static void removeAll(Path p) throws IOException {
        BasicFileAttributes a = lstat(p);
        if (a == null) return;
        if (a.isDirectory()) {
            try (var s = Files.newDirectoryStream(p)) {
                for (Path c : s) removeAll(c);
            }
        }
        try {
            Files.delete(p);
        } catch (NoSuchFileException ignored) {
            // already gone
        } catch (DirectoryNotEmptyException | FileAlreadyExistsException ex) {
            throw new IOException("cannot remove " + p, ex);
        }
    }
}
