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
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

/**
 * Applies one uncompressed layer tar into an overlay upper directory, the way containerd's overlay applier does:
 * whiteouts become overlay whiteouts (a 0:0 character device, or the opaque xattr), attributes, xattrs and times
 * are set as containerd 1.6 sets them, and no entry can create, change, link or delete anything outside the
 * snapshot. An entry's parents resolve in the layer being written only, as containerd's do: a lower layer's
 * symlinked directory is hidden by a real directory, not followed. One known difference from containerd remains
 * (see DifferentialTest): a hard link entry's own attributes are ignored in favour of its source's.
 */
public final class LayerApplier {

    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final String OPAQUE_XATTR = "trusted.overlay.opaque";
    private static final int MAX_SYMLINKS = 255;
    /** The latest time containerd (Go's {@code time.Unix(0, 1<<63-1)}) sets; later ones, and earlier than 1970, become 1970. */
    private static final Instant MAX_TIME = Instant.ofEpochSecond(0, Long.MAX_VALUE);

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
    /** Paths this layer has written so far: a whiteout may not take one back (containerd refuses that too). */
    private final java.util.Set<String> written = new java.util.HashSet<>();
    /**
     * Directories this unpack created (the upper starts empty, so at first every one), and every path it created
     * in the upper: a name in a fresh directory that this unpack has not made cannot exist, and needs no lstat.
     */
    private final java.util.Set<Path> fresh = new java.util.HashSet<>();
    private final java.util.Set<Path> made = new java.util.HashSet<>();
    private final FileContent content = new FileContent();

    /**
     * The layers below, top-most first, asked for only when an entry needs what they hold: a parent directory
     * that the layer's own tar does not carry (its attributes come from below). A layer can thus be applied while
     * the layers under it are still being unpacked, until it needs them.
     */
    public interface Lowers {
        List<Path> get() throws IOException;
    }

    private final Lowers lowers;
    private boolean lowersKnown;
    private final UnpackBudget budget;
    private UnpackBudget.Layer counts;

    private LayerApplier(Path upper, Lowers lowers, UnpackBudget budget) {
        this.upper = upper;
        this.lowers = lowers;
        this.budget = budget;
        this.layers = new ArrayList<>();
        layers.add(upper);
    }

    /** Applies {@code tar} into {@code upper}; {@code lowersTopFirst} are the committed layers below it. */
    public static void apply(InputStream tar, Path upper, List<Path> lowersTopFirst) throws IOException {
        apply(tar, upper, () -> lowersTopFirst, new UnpackBudget(UnpackLimits.DEFAULT));
    }

    /** Applies {@code tar} into {@code upper} over the layers {@code lowers} gives when first asked, within the default bounds. */
    public static void apply(InputStream tar, Path upper, Lowers lowers) throws IOException {
        apply(tar, upper, lowers, new UnpackBudget(UnpackLimits.DEFAULT));
    }

    /**
     * Applies {@code tar} into {@code upper} over the layers {@code lowers} gives when first asked, within the
     * image's {@code budget} (shared by its layers).
     */
    public static void apply(InputStream tar, Path upper, Lowers lowers, UnpackBudget budget) throws IOException {
        new LayerApplier(upper, lowers, budget).run(tar);
    }

    /** The upper, then the lowers top-most first (waiting for them, the first time). */
    private List<Path> layers() throws IOException {
        if (!lowersKnown) {
            layers.addAll(lowers.get());
            lowersKnown = true;
        }
        return layers;
    }

    private void run(InputStream raw) throws IOException {
        try (var entries = Files.newDirectoryStream(upper)) {
            if (!entries.iterator().hasNext()) fresh.add(upper); // a new snapshot's: empty
        }
        counts = budget.layer(upper);
        LayerTarStream tar = new LayerTarStream(raw, budget.limits().maxHeaderBytes());
        for (TarArchiveEntry e; (e = tar.next()) != null; ) {
            counts.entry(e.getName());
            applyEntry(e, tar, tar.rawXattrs(e));
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

    private void applyEntry(TarArchiveEntry e, InputStream data, Map<String, byte[]> xattrs) throws IOException {
        List<String> parts = clean(e.getName());
        if (parts.isEmpty()) return; // the root itself: its attributes belong to the snapshot, not the layer
        String base = parts.remove(parts.size() - 1);
        for (String p : parts) {
            if (p.startsWith(WHITEOUT)) throw new UnsafeLayerException("entry '" + e.getName() + "' uses the whiteout '" + p + "' as a directory");
        }
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
            String hiddenKey = parentKey.isEmpty() ? hidden : parentKey + "/" + hidden;
            if (written.contains(hiddenKey)) {
                throw new UnsafeLayerException("whiteout '" + e.getName() + "' removes '" + hiddenKey + "', which this same layer wrote: a layer cannot hide its own files");
            }
            Path target = parentPath.resolve(hidden);
            resolvedParents.clear();
            removeAll(target);
            Syscalls.mknod(target.toString(), Syscalls.S_IFCHR, 0, 0);
            made.add(target);
            return;
        }

        written.add(parentKey.isEmpty() ? base : parentKey + "/" + base);
        Path target = parentPath.resolve(base);
        BasicFileAttributes existing = fresh.contains(parentPath) && !made.contains(target) ? null : lstat(target);
        made.add(target);
        if (existing != null && !(existing.isDirectory() && e.isDirectory())) {
            if (existing.isDirectory() || existing.isSymbolicLink()) resolvedParents.clear();
            removeAll(target);
        }

        boolean regular = false;
        if (e.isDirectory()) {
            if (existing == null || !existing.isDirectory()) {
                Files.createDirectory(target);
                fresh.add(target);
            }
        } else if (e.isSymbolicLink()) {
            resolvedParents.clear();
            Syscalls.symlink(e.getLinkName(), target.toString());
        } else if (e.isLink()) {
            Path source = resolveHardlinkSource(e);
            Files.createLink(target, source);
            return; // a hard link shares the inode: its attributes are the source's (containerd applies the link entry's)
        } else if (e.isCharacterDevice() || e.isBlockDevice()) {
            int type = e.isCharacterDevice() ? Syscalls.S_IFCHR : Syscalls.S_IFBLK;
            Syscalls.mknod(target.toString(), type | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
        } else if (e.isFIFO()) {
            Syscalls.mknod(target.toString(), Syscalls.S_IFIFO | (e.getMode() & 07777), 0, 0);
        } else if (e.isFile()) {
            regular = true;
            // a sparse entry's data is its real size once expanded: charged whole, its holes left as holes
            counts.file(e.getName(), e.isSparse() ? e.getRealSize() : e.getSize());
            content.write(data, target, e.isSparse());
        } else {
            return; // other entry types (e.g. global PAX headers) carry no file
        }

        String p = target.toString();
        Syscalls.lchown(p, (int) e.getLongUserId(), (int) e.getLongGroupId());
        if (!e.isSymbolicLink()) Syscalls.chmod(p, e.getMode());
        boolean regularOrDir = e.isDirectory() || regular;
        for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
            String name = x.getKey();
            // As containerd: trusted.* from a layer is refused and skipped (trusted.overlay.* would change what the
            // overlay shows), and user.* on anything but a file or directory, which the kernel refuses, is skipped.
            if (name.startsWith("trusted.") || (name.startsWith("user.") && !regularOrDir)) continue;
            Syscalls.lsetxattr(p, name, x.getValue());
        }
        Instant mtime = mtime(e);
        if (e.isDirectory()) {
            dirsToTime.add(target);
            dirTimes.add(new long[] {mtime.getEpochSecond(), mtime.getNano()});
        } else {
            Syscalls.lutimes(p, mtime.getEpochSecond(), mtime.getNano());
        }
    }

    /** The entry's mtime as containerd sets it: to the nanosecond, and 1970 when before it or beyond what Go's time holds. */
    static Instant mtime(TarArchiveEntry e) {
        Instant t = e.getLastModifiedTime().toInstant();
        return t.isBefore(Instant.EPOCH) || t.isAfter(MAX_TIME) ? Instant.EPOCH : t;
    }

    /**
     * Resolves a directory path component by component, as containerd does: only the layer being written is
     * consulted, so its own symlinks are followed (inside the root: an absolute target restarts at the root,
     * {@code ..} stops there), while a lower layer's symlink is hidden by the real directory created over it.
     * The result has no symlinks in it.
     */
    private List<String> resolveDir(List<String> components, String entryName) throws IOException {
        return walk(upper, components, entryName, true);
    }

    /**
     * Walks {@code components} inside {@code root}, following the symlinks found there (an absolute target restarts
     * at {@code root}, {@code ..} stops there). Strict, for the layer being written: a missing component (or a
     * whiteout) is to be created, and a file in the way or a symlink loop refuses the entry. Lenient, for looking
     * into a lower layer: either gives null.
     */
    private static List<String> walk(Path root, List<String> components, String entryName, boolean strict) throws IOException {
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
            Path found = root.resolve(String.join("/", cur));
            BasicFileAttributes a = lstat(found);
            if (a == null || (strict && isWhiteout(a, found))) {
                if (strict) continue; // will be created as a plain directory
                return null;
            }
            if (a.isSymbolicLink()) {
                if (++links > MAX_SYMLINKS) {
                    if (strict) throw new UnsafeLayerException("too many symlinks resolving '" + entryName + "'");
                    return null;
                }
                String target = Files.readSymbolicLink(found).toString();
                cur.remove(cur.size() - 1);
                if (target.startsWith("/")) cur.clear();
                List<String> t = new ArrayList<>(List.of(target.split("/")));
                for (int i = t.size() - 1; i >= 0; i--) todo.addFirst(t.get(i));
            } else if (!a.isDirectory()) {
                if (strict) {
                    throw new UnsafeLayerException("entry '" + entryName + "' has a parent '" + String.join("/", cur) + "' that is not a directory");
                }
                if (!todo.isEmpty()) return null;
            }
            // a lower layer's file or symlink where the entry needs a directory: the directory is created over it,
            // hiding it, as containerd does
        }
        return cur;
    }

    /**
     * The top-most layer's file at {@code rel} as the overlay would show it, or null when none shows:
     * an overlay whiteout hides it, and an opaque directory above hides the layers below.
     */
    private Path lookup(List<String> rel) throws IOException {
        List<Path> layers = layers();
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
            if (a.isSymbolicLink()) return hit; // a symlink in the middle: the caller resolves it first
            if (!a.isDirectory()) return null; // a file in the middle: nothing shows below it
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
            Path below = directoryBelow(rel.subList(0, i + 1));
            Files.createDirectory(p);
            fresh.add(p);
            made.add(p);
            if (below != null && !below.startsWith(upper) && Files.isDirectory(below, LinkOption.NOFOLLOW_LINKS)) {
                // as containerd: owner, mode, times and (but trusted.*) xattrs of the directory it stands for
                Map<String, Object> attrs = Files.readAttributes(below, "unix:mode,uid,gid,lastModifiedTime,lastAccessTime", LinkOption.NOFOLLOW_LINKS);
                Syscalls.lchown(p.toString(), (Integer) attrs.get("uid"), (Integer) attrs.get("gid"));
                Syscalls.chmod(p.toString(), (Integer) attrs.get("mode"));
                Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setTimes((FileTime) attrs.get("lastModifiedTime"), (FileTime) attrs.get("lastAccessTime"), null);
                copyUserXattrs(below, p);
            } else {
                Syscalls.chmod(p.toString(), 0755);
            }
        }
        return p;
    }

    /**
     * The lower directory a new upper directory stands for: the merged view's entry at {@code rel}, or, where that
     * is a symlink, what the symlink resolves to inside its own layer (containerd copies that directory's
     * attributes). Null when no directory shows there.
     */
    private Path directoryBelow(List<String> rel) throws IOException {
        Path hit = lookup(rel);
        if (hit == null) return null;
        BasicFileAttributes a = lstat(hit);
        if (a.isDirectory()) return hit;
        if (!a.isSymbolicLink()) return null;
        for (Path layer : layers()) {
            if (layer != upper && hit.startsWith(layer)) {
                Path resolved = resolveWithin(layer, rel);
                return resolved != null && Files.isDirectory(resolved, LinkOption.NOFOLLOW_LINKS) ? resolved : null;
            }
        }
        return null;
    }

    /** {@code rel} inside one layer's directory, its symlinks followed there (confined to it), or null. */
    private static Path resolveWithin(Path root, List<String> rel) throws IOException {
        List<String> resolved = walk(root, rel, null, false);
        return resolved == null ? null : root.resolve(String.join("/", resolved));
    }

    /**
     * Copies the xattrs of a lower directory to its copy in the upper, as containerd does: user.*, security.* and
     * system.* (ACLs); trusted.* stays the overlay's own.
     */
    private static void copyUserXattrs(Path from, Path to) throws IOException {
        List<String> names;
        try {
            names = Syscalls.llistxattr(from.toString());
        } catch (IOException unsupported) {
            return;
        }
        for (String name : names) {
            if (name.startsWith("trusted.")) continue;
            byte[] value = Syscalls.lgetxattrBytes(from.toString(), name);
            if (value != null) Syscalls.lsetxattr(to.toString(), name, value);
        }
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
