package dev.berth.agent.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.sys.Syscalls;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LayerApplier} against hostile layers: every escape test checks that nothing outside the upper directory was
 * created, changed, linked or deleted (a snapshot of the whole temp tree but the upper, plus a host file, taken
 * before the layer and compared after, down to ctime and link count), and that the layer either landed inside the
 * root or was refused. The functional tests pin the containerd-compatible results: overlay whiteouts, attributes,
 * copy-up of lower directories, and a real overlay mount of the result.
 *
 * <p>Layout: {@code tmp/root/upper} is the snapshot being written, {@code tmp/outside/canary} the file a layer must
 * never reach (so {@code ../../outside/x} from the upper is exactly the real outside dir), {@code tmp/lower} an
 * optional committed layer below.
 */
class LayerApplierTest {

    private static final long T0 = 1_600_000_000L; // 2020-09-13T12:26:40Z
    private static final String OPAQUE_XATTR = "trusted.overlay.opaque";
    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;

    @TempDir Path tmp;

    private Path upper;
    private Path outside;
    private Path canary;
    private Path lower;
    /** A host file outside the temp tree, on the same file system when possible, that a hard link must not reach. */
    private Path hostFile;
    /** A leaf name unique to this run, so that an escape to the host's / cannot be confused with an existing file. */
    private String x;
    private Map<String, String> before;

    @BeforeEach
    void setUp() throws IOException {
        upper = Files.createDirectories(tmp.resolve("root/upper"));
        outside = Files.createDirectory(tmp.resolve("outside"));
        canary = outside.resolve("canary");
        Files.writeString(canary, "canary: must never change\n");
        Syscalls.chmod(canary.toString(), 0640);
        Syscalls.lchown(canary.toString(), 0, 0);
        lower = tmp.resolve("lower");
        hostFile = Files.exists(Path.of("/etc/hostname")) ? Path.of("/etc/hostname") : Path.of("/etc/passwd");
        x = "x-" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ---------------------------------------------------------------------------------------------------------
    // 1-11: escapes
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void pathTraversalNamesAreClampedAtTheRoot() throws Exception {
        guard();
        apply(new Layer()
                .file("../outside/" + x, "1")
                .file("../../outside/" + x + "-2", "2")
                .file("a/../../../../outside/" + x + "-3", "3")
                .file("../".repeat(20) + rel(outside) + "/" + x + "-4", "4")
                .dir("../../outside/" + x + "-dir/"));

        assertNothingEscaped("'..' entry names");
        assertFileInRoot("outside/" + x, "1", "../outside/x must be clamped to <root>/outside/x");
        assertFileInRoot("outside/" + x + "-2", "2", "../../outside/x must be clamped to <root>/outside/x");
        assertFileInRoot("outside/" + x + "-3", "3", "a/../../../../outside/x must be clamped to <root>/outside/x");
        assertFileInRoot(rel(outside) + "/" + x + "-4", "4", "../(x20)" + outside + "/x must be clamped into the root");
        assertTrue(Files.isDirectory(upper.resolve("outside/" + x + "-dir"), LinkOption.NOFOLLOW_LINKS),
                "../../outside/dir/ must be created as <root>/outside/dir");
    }

    @Test
    void absoluteNamesAreConfinedToTheRoot() throws Exception {
        guard();
        apply(new Layer()
                .file(outside + "/" + x, "abs")
                .file("//" + rel(outside) + "/" + x + "-2", "abs2")
                .file("/" + x, "root-leaf")
                .symlink(outside + "/" + x + "-link", "/etc/shadow")
                .dir(outside + "/" + x + "-dir/"));

        assertNothingEscaped("absolute entry names");
        assertFileInRoot(rel(outside) + "/" + x, "abs", "absolute " + outside + "/x must land at <root>" + outside + "/x");
        assertFileInRoot(rel(outside) + "/" + x + "-2", "abs2", "//" + rel(outside) + "/x must land inside the root");
        assertFileInRoot(x, "root-leaf", "/x must land at <root>/x");
        assertEquals(Path.of("/etc/shadow"), Files.readSymbolicLink(upper.resolve(rel(outside) + "/" + x + "-link")),
                "a symlink with an absolute name must be created inside the root, its target kept");
        assertTrue(Files.isDirectory(upper.resolve(rel(outside) + "/" + x + "-dir"), LinkOption.NOFOLLOW_LINKS),
                "an absolute directory name must be created inside the root");
    }

    @Test
    void absoluteSymlinkParentIsResolvedInsideTheRoot() throws Exception {
        guard();
        apply(new Layer()
                .symlink("evil", outside.toString())
                .file("evil/" + x, "through evil")
                .dir("evil/sub/")
                .file("evil/sub/" + x, "deeper")
                .symlink("evilcanary", canary.toString())
                .file("evilcanary/" + x, "under a file link")); // resolves to <root>/outside/canary/x, all plain dirs

        assertNothingEscaped("files written through symlink evil -> " + outside);
        assertTrue(Files.isSymbolicLink(upper.resolve("evil")), "evil must stay a symlink");
        assertFileInRoot(rel(outside) + "/" + x, "through evil", "evil/x must land at <root>" + outside + "/x");
        assertFileInRoot(rel(outside) + "/sub/" + x, "deeper", "evil/sub/x must land at <root>" + outside + "/sub/x");
        assertFileInRoot(rel(canary) + "/" + x, "under a file link", "evilcanary/x must land at <root>" + canary + "/x");
    }

    @Test
    void relativeSymlinkCannotClimbOutOfTheRoot() throws Exception {
        guard();
        apply(new Layer()
                .symlink("up", "../../../../..")
                .file("up/outside/" + x, "up1")
                .symlink("up2", "../..") // unclamped, <upper>/../.. is exactly tmp, which holds the real outside/
                .file("up2/outside/" + x + "-2", "up2")
                .dir("a/")
                .dir("a/b/")
                .symlink("a/b/up", "../../../../../../..")
                .file("a/b/up/outside/" + x + "-3", "up3")
                .symlink("a/b/mid", "../../..") // one level above the root once a/b is left
                .file("a/b/mid/" + x + "-4", "up4"));

        assertNothingEscaped("files written through relative symlinks climbing with '..'");
        assertFileInRoot("outside/" + x, "up1", "up/outside/x (up -> ../../../../..) must land at <root>/outside/x");
        assertFileInRoot("outside/" + x + "-2", "up2", "up2/outside/x (up2 -> ../..) must land at <root>/outside/x");
        assertFileInRoot("outside/" + x + "-3", "up3", "a/b/up/outside/x must land at <root>/outside/x");
        assertFileInRoot(x + "-4", "up4", "a/b/mid/x (mid -> ../../..) must land at <root>/x");
    }

    @Test
    void symlinkChainsAreConfinedAndLoopsAreRefusedWithoutHanging() throws Exception {
        guard();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            // a -> b -> /: the chain ends at the root of the snapshot
            apply(new Layer()
                    .symlink("a", "b")
                    .symlink("b", "/")
                    .file("a/" + x, "via chain")
                    .file("a/../" + x + "-2", "lexical dotdot")
                    .symlink("c", "a/..") // a/.. resolves a first (to the root), then .. is clamped
                    .file("c/outside/" + x + "-3", "via c")
                    .symlink("d", "b/../../..")
                    .file("d/outside/" + x + "-4", "via d"));
            assertFileInRoot(x, "via chain", "a/x (a -> b -> /) must land at <root>/x");
            assertFileInRoot(x + "-2", "lexical dotdot", "a/../x must land at <root>/x");
            assertFileInRoot("outside/" + x + "-3", "via c", "c/outside/x (c -> a/..) must land at <root>/outside/x");
            assertFileInRoot("outside/" + x + "-4", "via d", "d/outside/x (d -> b/../../..) must land at <root>/outside/x");

            UnsafeLayerException loop = refused(new Layer()
                    .symlink("l1", "l2")
                    .symlink("l2", "l1")
                    .file("l1/" + x, "loop"), "symlink loop l1 -> l2 -> l1");
            assertTrue(loop.getMessage().contains("too many symlinks"), "a loop must be refused as too many symlinks: " + loop.getMessage());

            UnsafeLayerException self = refused(new Layer()
                    .symlink("self", "self/self")
                    .file("self/" + x, "self"), "self-referencing symlink self -> self/self");
            assertTrue(self.getMessage().contains("too many symlinks"), "a self loop must be refused as too many symlinks: " + self.getMessage());

            Layer longChain = new Layer();
            for (int i = 0; i < 300; i++) longChain.symlink("n" + i, "n" + (i + 1));
            longChain.symlink("n300", outside.toString()).file("n0/" + x, "long");
            UnsafeLayerException tooLong = refused(longChain, "a chain of 300 symlinks");
            assertTrue(tooLong.getMessage().contains("too many symlinks"), "a 300-link chain must be refused: " + tooLong.getMessage());
        });
        assertNothingEscaped("symlink chains and loops");
    }

    @Test
    void hardLinkToAHostFileIsRefused() throws Exception {
        guard();
        long canaryLinks = nlink(canary);
        long hostLinks = nlink(hostFile);
        List<String> targets = List.of(
                "../../outside/canary",
                "../outside/canary",
                canary.toString(),
                hostFile.toString(),
                "../".repeat(20) + rel(hostFile));
        for (String target : targets) {
            UnsafeLayerException ex = refused(new Layer().hardlink("h", target), "hard link h -> " + target);
            assertTrue(ex.getMessage().contains("not a file of this layer"), "refusal should say why: " + ex.getMessage());
            assertFalse(Files.exists(upper.resolve("h"), LinkOption.NOFOLLOW_LINKS), "hard link h -> " + target + " was created");
        }
        assertNothingEscaped("hard links to host files");
        assertEquals(canaryLinks, nlink(canary), "the canary got a new hard link");
        assertEquals(hostLinks, nlink(hostFile), hostFile + " got a new hard link");
    }

    @Test
    void hardLinkThroughASymlinkedParentIsRefused() throws Exception {
        Files.createDirectories(lower);
        Files.createSymbolicLink(lower.resolve("lowevil"), outside);
        guard();
        long canaryLinks = nlink(canary);

        refused(new Layer().symlink("evil", outside.toString()).hardlink("h", "evil/canary"),
                "hard link h -> evil/canary with evil -> " + outside);
        refused(new Layer().symlink("up", "../..").hardlink("h", "up/outside/canary"),
                "hard link h -> up/outside/canary with up -> ../..");
        refused(new Layer().hardlink("h", "lowevil/canary"), "hard link h -> lowevil/canary with a lower lowevil -> " + outside, lower);
        refused(new Layer().symlink("hostetc", hostFile.getParent().toString()).hardlink("h", "hostetc/" + hostFile.getFileName()),
                "hard link h -> hostetc/" + hostFile.getFileName() + " with hostetc -> " + hostFile.getParent());

        // The link's own name through a symlinked parent lands inside the root too, on this layer's file.
        apply(new Layer().file("f", "mine").symlink("evil2", outside.toString()).hardlink("evil2/" + x, "f"));
        Path landed = upper.resolve(rel(outside)).resolve(x);
        assertFileInRoot(rel(outside) + "/" + x, "mine", "hard link evil2/x must land at <root>" + outside + "/x");
        assertEquals(ino(upper.resolve("f")), ino(landed), "evil2/x must be a hard link of this layer's f");

        assertNothingEscaped("hard links through symlinked parents");
        assertEquals(canaryLinks, nlink(canary), "the canary got a new hard link");
    }

    @Test
    void fileReplacingASymlinkDoesNotWriteItsTarget() throws Exception {
        Files.createDirectories(lower);
        Files.createSymbolicLink(lower.resolve("lowlink"), canary);
        guard();
        apply(new Layer()
                .symlink("evil", canary.toString())
                .file("evil", "pwned", 04777, 1234, 1234)
                .symlink("rel", "../../outside/canary")
                .file("rel", "pwned too")
                .file("lowlink", "pwned via lower"), lower);
        // and across layers: a symlink committed by an earlier layer into the same upper
        apply(new Layer().symlink("later", canary.toString()));
        apply(new Layer().file("later", "pwned later"));

        assertNothingEscaped("file entries named like a symlink to the canary");
        assertFileInRoot("evil", "pwned", "file evil must replace the symlink evil -> " + canary);
        assertFileInRoot("rel", "pwned too", "file rel must replace the symlink rel -> ../../outside/canary");
        assertFileInRoot("lowlink", "pwned via lower", "file lowlink must shadow the lower symlink lowlink -> " + canary);
        assertFileInRoot("later", "pwned later", "file later must replace the symlink of the earlier layer");
        assertEquals(04777, mode(upper.resolve("evil")) & 07777, "the new file evil gets the entry's mode");
    }

    @Test
    void whiteoutsCannotDeleteOutside() throws Exception {
        guard();
        apply(new Layer()
                .whiteout("../../outside/.wh.canary")
                .whiteout(outside + "/.wh.canary")
                .symlink("evil", outside.toString())
                .whiteout("evil/.wh.canary")
                .dir("evil/")   // a directory entry for the symlink replaces it by a plain dir in the root
                .symlink("evil2", outside.toString())
                .whiteout("evil2/.wh..wh..opq")
                .symlink("up", "../..")
                .whiteout("up/outside/.wh.canary"));

        // nothing in the real outside was deleted, replaced by a whiteout device or made opaque
        assertNothingEscaped("whiteouts aimed at " + canary);
        assertWhiteout(upper.resolve("outside/canary"), "../../outside/.wh.canary must whiteout <root>/outside/canary");
        assertWhiteout(upper.resolve(rel(outside)).resolve("canary"), "evil/.wh.canary and /outside/.wh.canary must whiteout <root>" + canary);
        assertEquals("y", Syscalls.lgetxattr(upper.resolve(rel(outside)).toString(), OPAQUE_XATTR),
                "evil2/.wh..wh..opq must make <root>" + outside + " opaque");
        assertNull(Syscalls.lgetxattr(outside.toString(), OPAQUE_XATTR), "the real outside dir was made opaque");
        // a whiteout of this layer's own symlink to the outside is refused outright, and deletes nothing anywhere
        refused(new Layer().symlink("whole", outside.toString()).whiteout(".wh.whole"), "a whiteout of the layer's own symlink whole -> " + outside);
        assertNothingEscaped("a whiteout of the layer's own symlink to " + canary);

        for (String bad : List.of(".wh..", ".wh...", "d/.wh..", "d/.wh...")) {
            refused(new Layer().whiteout(bad), "whiteout " + bad + " naming . or ..");
        }
        assertNothingEscaped("whiteouts naming . or ..");
        assertTrue(Files.isDirectory(upper), "a whiteout of '..' must not remove the root");
    }

    @Test
    void chmodAndChownDoNotFollowAReplacedSymlink() throws Exception {
        guard();
        apply(new Layer()
                .symlink("link", canary.toString())
                .dir("link/", 04777, 1234, 1234)
                .symlink("flink", canary.toString())
                .file("flink", "replaced", 04777, 1234, 1234)
                .symlink("dlink", outside.toString())
                .dir("dlink/", 0777, 1234, 1234)
                .symlink("nlink", canary.toString())
                .fifo("nlink", 04777)
                .symlink("relink", "../../outside/canary")
                .dir("relink", 0777, 1234, 1234));

        assertNothingEscaped("chmod/chown of entries named like a symlink to the canary");
        assertTrue(Files.isDirectory(upper.resolve("link"), LinkOption.NOFOLLOW_LINKS), "dir link/ must replace the symlink");
        assertEquals(04777, mode(upper.resolve("link")) & 07777, "dir link/ gets the entry's mode itself");
        assertEquals(1234, (Integer) Files.getAttribute(upper.resolve("link"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isRegularFile(upper.resolve("flink"), LinkOption.NOFOLLOW_LINKS), "file flink must replace the symlink");
        assertTrue(Files.isDirectory(upper.resolve("dlink"), LinkOption.NOFOLLOW_LINKS), "dir dlink/ must replace the symlink");
        assertEquals(0010000, mode(upper.resolve("nlink")) & S_IFMT, "fifo nlink must replace the symlink");
        assertTrue(Files.isDirectory(upper.resolve("relink"), LinkOption.NOFOLLOW_LINKS), "dir relink must replace the symlink");
    }

    @Test
    void lowerLayerSymlinkIsHiddenByARealDirectoryAsContainerdDoes() throws Exception {
        Files.createDirectories(lower);
        Files.createSymbolicLink(lower.resolve("lib"), outside);
        Files.createSymbolicLink(lower.resolve("rlib"), Path.of("../.."));
        Files.createDirectories(lower.resolve("usr"));
        Files.createSymbolicLink(lower.resolve("usr/lib"), Path.of("../../outside")); // unclamped: tmp/outside
        guard();
        apply(new Layer()
                .file("lib/" + x, "via lower lib")
                .file("rlib/outside/" + x + "-2", "via lower rlib")
                .file("usr/lib/" + x + "-3", "via lower usr/lib")
                .whiteout("lib/.wh.canary")
                .hardlink("lib/" + x + "-4", "lib/" + x), lower);

        // containerd resolves parents only in the layer being written: a real directory is made over the lower
        // layer's symlink (hiding it), so nothing is written through it, inside the root or out
        assertNothingEscaped("writes under the lower layer's symlinks to " + outside);
        assertFileInRoot("lib/" + x, "via lower lib", "lib/x must land in a real lib/ made over the lower's symlink");
        assertFileInRoot("rlib/outside/" + x + "-2", "via lower rlib", "rlib/outside/x must land in a real rlib/");
        assertFileInRoot("usr/lib/" + x + "-3", "via lower usr/lib", "usr/lib/x must land in a real usr/lib/");
        assertWhiteout(upper.resolve("lib/canary"), "lib/.wh.canary must whiteout lib/canary");
        assertEquals(ino(upper.resolve("lib").resolve(x)), ino(upper.resolve("lib").resolve(x + "-4")),
                "hard link lib/x-4 -> lib/x must link the in-root file");
        assertTrue(Files.isDirectory(upper.resolve("lib"), LinkOption.NOFOLLOW_LINKS), "the upper's lib is a real directory hiding the lower's symlink");
        assertFalse(Files.exists(upper.resolve(rel(outside)), LinkOption.NOFOLLOW_LINKS), "nothing followed the lower's symlinks, even inside the root");
    }

    /**
     * Directory times are set after the whole layer (so that writing children does not disturb them). A directory
     * entry recorded then must not be reached through a symlink that a later entry put in place of its parent.
     */
    @Test
    void deferredDirectoryTimesNeverFollowALaterSymlink() throws Exception {
        guard();
        Exception failure = null;
        try {
            apply(new Layer()
                    .dir("d/")
                    .dir("d/sub/") // gone once d is a symlink: its deferred time must be skipped, not fail the layer
                    .dir("d/canary/")
                    .symlink("d", outside.toString()));
        } catch (IOException | UnsafeLayerException e) {
            failure = e;
        }

        assertNothingEscaped("the deferred mtime of d/canary/ after d became a symlink to " + outside);
        if (failure instanceof UnsafeLayerException) return; // refusing the layer is safe too
        assertNull(failure, "a layer that replaces a directory by a symlink must apply, got " + failure);
        assertTrue(Files.isSymbolicLink(upper.resolve("d")), "d must end up the symlink the layer says");
    }

    // ---------------------------------------------------------------------------------------------------------
    // 12-15: containerd-compatible results
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void whiteoutsBecomeOverlayWhiteouts() throws Exception {
        Files.createDirectories(lower.resolve("dir/o"));
        Files.writeString(lower.resolve("gone"), "lower");
        Files.writeString(lower.resolve("dir/gone2"), "lower");
        Files.writeString(lower.resolve("dir/o/old"), "lower");
        apply(new Layer()
                .whiteout(".wh.gone")
                .whiteout("dir/.wh.gone2")
                .dir("o/")
                .whiteout("o/.wh..wh..opq")
                .file("o/new", "new")
                .whiteout("dir/o/.wh..wh..opq"), lower);

        Path gone = upper.resolve("gone");
        assertWhiteout(gone, ".wh.gone must become a 0:0 char device named gone");
        assertFalse(Files.exists(upper.resolve(".wh.gone"), LinkOption.NOFOLLOW_LINKS), "the .wh. file itself must not be written");
        assertWhiteout(upper.resolve("dir/gone2"), "dir/.wh.gone2 must become a whiteout in a copied-up dir");
        assertEquals("y", Syscalls.lgetxattr(upper.resolve("o").toString(), OPAQUE_XATTR), "o/.wh..wh..opq must set " + OPAQUE_XATTR + "=y");
        assertEquals("y", Syscalls.lgetxattr(upper.resolve("dir/o").toString(), OPAQUE_XATTR), "dir/o/.wh..wh..opq must set the xattr on the copied-up dir");
        assertFalse(Files.exists(upper.resolve("o/.wh..wh..opq"), LinkOption.NOFOLLOW_LINKS), "the opaque marker file itself must not be written");
        assertNull(Syscalls.lgetxattr(upper.toString(), OPAQUE_XATTR), "the root must not become opaque");
        assertFileInRoot("o/new", "new", "a file next to the opaque marker must be written");
    }

    @Test
    void modesOwnersTimesSymlinksAndHardLinksAreApplied() throws Exception {
        apply(new Layer()
                .dir("bin/", 0750, 1234, 5678, T0)
                .file("bin/su", "#!su", 04755, 1234, 5678, T0 + 10)
                .file("bin/sg", "#!sg", 02711, 0, 5678, T0 + 20)
                .hardlink("bin/su-link", "bin/su")
                .hardlink("./bin/su-link2", "./bin/su")
                .dir("tmp/", 01777, 0, 0, T0 + 30)
                .symlink("lib", "usr/lib", 1234, 5678, T0 + 40)
                .symlink("busybox", "/usr/bin/busybox")
                .symlink("rel", "../x/./y/../z")
                .symlink("dangling", "does-not-exist")
                .dir("bin/sub/", 0700, 1234, 5678, T0 + 50)
                .file("bin/sub/late", "written after bin/ and bin/sub/", 0644, 0, 0, T0 + 60)
                .charDev("dev/null", 1, 3, 0666)
                .fifo("run/fifo", 0600));

        Path su = upper.resolve("bin/su");
        assertEquals(04755, mode(su) & 07777, "setuid mode of bin/su");
        assertEquals(1234, (Integer) Files.getAttribute(su, "unix:uid", LinkOption.NOFOLLOW_LINKS), "uid of bin/su");
        assertEquals(5678, (Integer) Files.getAttribute(su, "unix:gid", LinkOption.NOFOLLOW_LINKS), "gid of bin/su");
        assertEquals(FileTime.from(T0 + 10, TimeUnit.SECONDS), Files.getLastModifiedTime(su, LinkOption.NOFOLLOW_LINKS), "mtime of bin/su");
        assertEquals("#!su", Files.readString(su));
        assertEquals(02711, mode(upper.resolve("bin/sg")) & 07777, "setgid mode of bin/sg");
        assertEquals(01777, mode(upper.resolve("tmp")) & 07777, "sticky mode of tmp/");

        assertEquals(ino(su), ino(upper.resolve("bin/su-link")), "bin/su-link must share bin/su's inode");
        assertEquals(ino(su), ino(upper.resolve("bin/su-link2")), "./bin/su-link2 must share bin/su's inode");
        assertEquals(3L, nlink(su), "bin/su has three names");
        assertEquals(04755, mode(upper.resolve("bin/su-link")) & 07777, "a hard link keeps its source's mode");

        assertEquals("usr/lib", Files.readSymbolicLink(upper.resolve("lib")).toString(), "symlink target of lib");
        assertEquals("/usr/bin/busybox", Files.readSymbolicLink(upper.resolve("busybox")).toString(), "absolute symlink target stored verbatim");
        assertEquals("../x/./y/../z", Files.readSymbolicLink(upper.resolve("rel")).toString(), "relative symlink target stored verbatim");
        assertEquals("does-not-exist", Files.readSymbolicLink(upper.resolve("dangling")).toString(), "dangling symlink target");
        Path lib = upper.resolve("lib");
        assertEquals(1234, (Integer) Files.getAttribute(lib, "unix:uid", LinkOption.NOFOLLOW_LINKS), "uid of the symlink itself");
        assertEquals(5678, (Integer) Files.getAttribute(lib, "unix:gid", LinkOption.NOFOLLOW_LINKS), "gid of the symlink itself");
        assertEquals(FileTime.from(T0 + 40, TimeUnit.SECONDS), Files.getLastModifiedTime(lib, LinkOption.NOFOLLOW_LINKS), "mtime of the symlink itself");

        Path bin = upper.resolve("bin");
        assertEquals(0750, mode(bin) & 07777, "mode of bin/");
        assertEquals(1234, (Integer) Files.getAttribute(bin, "unix:uid", LinkOption.NOFOLLOW_LINKS), "uid of bin/");
        assertEquals(FileTime.from(T0, TimeUnit.SECONDS), Files.getLastModifiedTime(bin, LinkOption.NOFOLLOW_LINKS),
                "mtime of bin/ must be the entry's, even though children were written after it");
        assertEquals(FileTime.from(T0 + 50, TimeUnit.SECONDS), Files.getLastModifiedTime(upper.resolve("bin/sub"), LinkOption.NOFOLLOW_LINKS),
                "mtime of bin/sub/ must be the entry's, even though bin/sub/late was written after it");
        assertEquals(FileTime.from(T0 + 30, TimeUnit.SECONDS), Files.getLastModifiedTime(upper.resolve("tmp"), LinkOption.NOFOLLOW_LINKS), "mtime of tmp/");

        Path devNull = upper.resolve("dev/null");
        assertEquals(S_IFCHR, mode(devNull) & S_IFMT, "dev/null is a char device");
        assertEquals((1L << 8) | 3L, (Long) Files.getAttribute(devNull, "unix:rdev", LinkOption.NOFOLLOW_LINKS), "dev/null is 1:3");
        assertEquals(0666, mode(devNull) & 07777, "mode of dev/null");
        assertEquals(0010000, mode(upper.resolve("run/fifo")) & S_IFMT, "run/fifo is a fifo");
        assertEquals(0755, mode(upper.resolve("dev")) & 07777, "an implied parent dir gets 0755");
    }

    @Test
    void implicitParentIsCopiedUpFromTheLowerLayer() throws Exception {
        Path d = Files.createDirectories(lower.resolve("d"));
        Files.writeString(d.resolve("old"), "lower");
        Syscalls.chmod(d.toString(), 0700);
        Syscalls.lchown(d.toString(), 42, 42);
        Path e = Files.createDirectories(lower.resolve("a/e"));
        Syscalls.chmod(e.toString(), 0710);
        Syscalls.lchown(e.toString(), 7, 8);

        apply(new Layer().file("d/f", "new").file("a/e/g", "deep"), lower);

        Path up = upper.resolve("d");
        assertTrue(Files.isDirectory(up, LinkOption.NOFOLLOW_LINKS), "d must exist in the upper");
        assertEquals(0700, mode(up) & 07777, "copied-up d keeps the lower's mode");
        assertEquals(42, (Integer) Files.getAttribute(up, "unix:uid", LinkOption.NOFOLLOW_LINKS), "copied-up d keeps the lower's uid");
        assertEquals(42, (Integer) Files.getAttribute(up, "unix:gid", LinkOption.NOFOLLOW_LINKS), "copied-up d keeps the lower's gid");
        assertFileInRoot("d/f", "new", "d/f must be written");
        assertFalse(Files.exists(up.resolve("old"), LinkOption.NOFOLLOW_LINKS), "the lower's other files are not copied up");
        Path upE = upper.resolve("a/e");
        assertEquals(0710, mode(upE) & 07777, "copied-up a/e keeps the lower's mode");
        assertEquals(7, (Integer) Files.getAttribute(upE, "unix:uid", LinkOption.NOFOLLOW_LINKS), "copied-up a/e keeps the lower's uid");
        assertEquals(8, (Integer) Files.getAttribute(upE, "unix:gid", LinkOption.NOFOLLOW_LINKS), "copied-up a/e keeps the lower's gid");
        assertFileInRoot("a/e/g", "deep", "a/e/g must be written");
    }

    @Test
    void overlayMountShowsTheLayerOnTopOfTheLower() throws Exception {
        Files.createDirectories(lower.resolve("o"));
        Files.writeString(lower.resolve("a"), "a");
        Files.writeString(lower.resolve("b"), "b");
        Files.writeString(lower.resolve("o/x"), "x");
        Files.writeString(lower.resolve("o/y"), "y");
        apply(new Layer()
                .whiteout(".wh.a")
                .dir("o/")
                .whiteout("o/.wh..wh..opq")
                .file("o/z", "z"), lower);

        Path work = Files.createDirectory(tmp.resolve("work"));
        Path merged = Files.createDirectory(tmp.resolve("merged"));
        run("mount", "-t", "overlay", "overlay", "-o",
                "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work, merged.toString());
        try {
            assertEquals(Set.of("b", "o"), list(merged), "merged root: a is whited out, b shows from the lower");
            assertEquals(Set.of("z"), list(merged.resolve("o")), "merged o/: opaque, so only the layer's z shows");
            assertEquals("b", Files.readString(merged.resolve("b")));
            assertEquals("z", Files.readString(merged.resolve("o/z")));
            assertFalse(Files.exists(merged.resolve("a"), LinkOption.NOFOLLOW_LINKS), "a must be hidden in the merged view");
        } finally {
            run("umount", merged.toString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // helpers
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void malformedWhiteoutsAreRefusedAsContainerdRefusesThem() throws Exception {
        UnsafeLayerException own = refused(new Layer().file("d/f", "mine").whiteout("d/.wh.f"), "a whiteout of a file of the same layer");
        assertTrue(own.getMessage().contains("this same layer wrote"), own.getMessage());
        UnsafeLayerException parent = refused(new Layer().whiteout(".wh.g").file(".wh.g/inside", "x"), "a whiteout used as a directory");
        assertTrue(parent.getMessage().contains("as a directory"), parent.getMessage());
        // a whiteout first and the name written again afterwards is the normal "deleted then recreated"
        apply(new Layer().whiteout("d2/.wh.f").file("d2/f", "again"));
        assertFileInRoot("d2/f", "again", "a name whited out and written again in one layer");
    }

    private void apply(Layer layer, Path... lowers) throws IOException {
        LayerApplier.apply(new ByteArrayInputStream(layer.bytes()), upper, List.of(lowers));
    }

    private UnsafeLayerException refused(Layer layer, String what, Path... lowers) {
        UnsafeLayerException ex = assertThrows(UnsafeLayerException.class, () -> apply(layer, lowers), what + " was not refused");
        assertTrue(ex.getMessage().startsWith("unsafe layer refused: "), "message of the refusal of " + what + ": " + ex.getMessage());
        return ex;
    }

    /** The absolute host path {@code p} as a path relative to the snapshot root. */
    private static String rel(Path p) {
        return p.toAbsolutePath().toString().substring(1);
    }

    /** Records everything but the upper, and the host file, for {@link #assertNothingEscaped}. */
    private void guard() throws IOException {
        assertFalse(Files.exists(Path.of("/").resolve(x), LinkOption.NOFOLLOW_LINKS), "test precondition: /" + x + " must not exist");
        before = snapshot();
    }

    private void assertNothingEscaped(String what) throws IOException {
        assertNotNull(before, "test bug: guard() not called");
        Map<String, String> after = snapshot();
        List<String> problems = new ArrayList<>();
        Set<String> all = new TreeSet<>(before.keySet());
        all.addAll(after.keySet());
        for (String p : all) {
            String b = before.get(p);
            String a = after.get(p);
            if (b == null) problems.add("created " + p + " [" + a + "]");
            else if (a == null) problems.add("deleted " + p + " [was " + b + "]");
            else if (!a.equals(b)) problems.add("changed " + p + "\n      was " + b + "\n      now " + a);
        }
        assertTrue(problems.isEmpty(), what + " escaped the root:\n  " + String.join("\n  ", problems));
        assertEquals("canary: must never change\n", Files.readString(canary), what + " changed the canary's content");
        assertEquals(0640, mode(canary) & 07777, what + " changed the canary's mode");
        assertEquals(0, (Integer) Files.getAttribute(canary, "unix:uid", LinkOption.NOFOLLOW_LINKS), what + " changed the canary's owner");
        assertEquals(Set.of("canary"), list(outside), what + " created or deleted files in " + outside);
        assertFalse(Files.exists(outside.resolve(x), LinkOption.NOFOLLOW_LINKS), what + " wrote " + outside.resolve(x));
        assertFalse(Files.exists(Path.of("/").resolve(x), LinkOption.NOFOLLOW_LINKS), what + " wrote /" + x + " on the host");
    }

    private Map<String, String> snapshot() throws IOException {
        Map<String, String> m = new TreeMap<>();
        Files.walkFileTree(tmp, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (dir.equals(upper)) return FileVisitResult.SKIP_SUBTREE;
                m.put(dir.toString(), describe(dir));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                m.put(file.toString(), describe(file));
                return FileVisitResult.CONTINUE;
            }
        });
        m.put(hostFile.toString(), describe(hostFile));
        return m;
    }

    private static String describe(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,nlink,ino,size,lastModifiedTime,ctime,rdev", LinkOption.NOFOLLOW_LINKS);
        StringBuilder s = new StringBuilder(String.format("mode=%o uid=%s gid=%s nlink=%s ino=%s size=%s rdev=%s mtime=%s ctime=%s",
                a.get("mode"), a.get("uid"), a.get("gid"), a.get("nlink"), a.get("ino"), a.get("size"), a.get("rdev"),
                a.get("lastModifiedTime"), a.get("ctime")));
        if (Files.isSymbolicLink(p)) s.append(" -> ").append(Files.readSymbolicLink(p));
        else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) s.append(" sha256=").append(sha256(Files.readAllBytes(p)));
        String opaque = Syscalls.lgetxattr(p.toString(), OPAQUE_XATTR);
        if (opaque != null) s.append(" opaque=").append(opaque);
        return s.toString();
    }

    private void assertFileInRoot(String relPath, String content, String what) throws IOException {
        Path p = upper.resolve(relPath);
        assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), what + ": no regular file at " + p);
        assertEquals(content, Files.readString(p), what + ": wrong content at " + p);
        // every component between the root and the file is a real directory: the file is really inside
        Path cur = upper;
        for (Path c : upper.relativize(p.getParent() == null ? upper : p.getParent())) {
            if (c.toString().isEmpty()) break;
            cur = cur.resolve(c);
            assertTrue(Files.isDirectory(cur, LinkOption.NOFOLLOW_LINKS), what + ": " + cur + " is not a plain directory");
        }
        assertEquals(upper.toRealPath().resolve(relPath).normalize(), p.toRealPath(), what + ": " + p + " resolves elsewhere");
    }

    private static void assertWhiteout(Path p, String what) throws IOException {
        assertTrue(Files.exists(p, LinkOption.NOFOLLOW_LINKS), what + ": nothing at " + p);
        assertEquals(S_IFCHR, mode(p) & S_IFMT, what + ": " + p + " is not a char device");
        assertEquals(0L, (Long) Files.getAttribute(p, "unix:rdev", LinkOption.NOFOLLOW_LINKS), what + ": " + p + " is not device 0:0");
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    }

    private static long nlink(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    private static long ino(Path p) throws IOException {
        return (Long) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
    }

    private static Set<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(c -> c.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed: " + out);
    }

    /** A layer tar built in memory; names and link names are written exactly as given (absolute and '..' kept). */
    private static final class Layer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final TarArchiveOutputStream tar;

        Layer() {
            tar = new TarArchiveOutputStream(out, StandardCharsets.UTF_8.name());
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        }

        Layer dir(String name) {
            return dir(name, 0755, 0, 0, T0);
        }

        Layer dir(String name, int mode, int uid, int gid) {
            return dir(name, mode, uid, gid, T0);
        }

        Layer dir(String name, int mode, int uid, int gid, long mtime) {
            TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
            return put(e, 0040000 | mode, uid, gid, mtime, null);
        }

        Layer file(String name, String content) {
            return file(name, content, 0644, 0, 0, T0);
        }

        Layer file(String name, String content, int mode, int uid, int gid) {
            return file(name, content, mode, uid, gid, T0);
        }

        Layer file(String name, String content, int mode, int uid, int gid, long mtime) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
            return put(e, 0100000 | mode, uid, gid, mtime, content.getBytes(StandardCharsets.UTF_8));
        }

        /** A whiteout is an empty regular file named {@code .wh.NAME} (or {@code .wh..wh..opq}) in the tar. */
        Layer whiteout(String name) {
            return file(name, "");
        }

        Layer symlink(String name, String target) {
            return symlink(name, target, 0, 0, T0);
        }

        Layer symlink(String name, String target, int uid, int gid, long mtime) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
            e.setLinkName(target);
            return put(e, 0120777, uid, gid, mtime, null);
        }

        Layer hardlink(String name, String target) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
            e.setLinkName(target);
            return put(e, 0100644, 0, 0, T0, null);
        }

        Layer charDev(String name, int major, int minor, int mode) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_CHR, true);
            e.setDevMajor(major);
            e.setDevMinor(minor);
            return put(e, 0020000 | mode, 0, 0, T0, null);
        }

        Layer fifo(String name, int mode) {
            TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_FIFO, true);
            return put(e, 0010000 | mode, 0, 0, T0, null);
        }

        private Layer put(TarArchiveEntry e, int mode, int uid, int gid, long mtime, byte[] content) {
            try {
                e.setMode(mode);
                e.setUserId(uid);
                e.setGroupId(gid);
                e.setModTime(FileTime.from(mtime, TimeUnit.SECONDS));
                e.setSize(content == null ? 0 : content.length);
                tar.putArchiveEntry(e);
                if (content != null) tar.write(content);
                tar.closeArchiveEntry();
                return this;
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
        }

        byte[] bytes() {
            try {
                tar.finish();
                tar.close();
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
            return out.toByteArray();
        }
    }
}
