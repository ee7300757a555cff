package dev.berth.agent.diff;

import static dev.berth.agent.diff.LayerTar.T;

import dev.berth.agent.diff.LayerTar.Entry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

/**
 * The images the differential test unpacks in Berth and in containerd. Each is the busybox base layer (so the
 * container can list its own tree) plus the layers below, written entry by entry with {@link LayerTar}.
 */
final class TrickyImages {

    /**
     * An image: its name (repository {@code diff/NAME}), what it covers, its layers above busybox, and the paths
     * (with everything under them) where Berth is known to differ from containerd, or none.
     */
    record Image(String name, String covers, List<LayerTar> layers, Known known) {}

    /** A difference Berth keeps on purpose, the reason, and the paths it affects. */
    record Known(String reason, Set<String> paths) {}

    private TrickyImages() {}

    /** security.capability v2 granting cap_net_bind_service, effective: 20 bytes, mostly NULs. */
    static final byte[] CAP_NET_BIND_SERVICE = {1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    /** The same for cap_setuid (bit 7): its first permitted byte, 0x80, is not valid UTF-8 on its own. */
    static final byte[] CAP_SETUID = {1, 0, 0, 2, (byte) 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

    static List<Image> all() {
        return List.of(whiteouts(), links(), special(), xattrs(), parents(), usrMerge(), linkHeaders());
    }

    static Image whiteouts() {
        LayerTar l1 = new LayerTar();
        l1.dir("a", 0755);
        l1.file("a/f1", 0644, "f1\n");
        l1.file("a/f2", 0644, "f2\n");
        l1.dir("a/sub", 0750);
        l1.file("a/sub/g", 0600, "g\n");
        l1.dir("o", 0755);
        l1.file("o/old1", 0644, "old1\n");
        l1.dir("o/sub", 0755);
        l1.file("o/sub/x", 0644, "x\n");
        l1.dir("o2", 0755);
        l1.file("o2/old", 0644, "old\n");
        l1.dir("o3", 0711).owner(7, 8);
        l1.file("o3/old", 0644, "old\n");
        l1.dir("gone", 0755);
        l1.file("gone/x", 0644, "x\n");
        l1.dir("gone/deep", 0755);
        l1.file("gone/deep/y", 0644, "y\n");
        l1.dir("re", 0700).owner(1000, 1000);
        l1.file("re/old", 0644, "old\n");
        l1.file("fd", 0644, "a file, then a dir, then a file\n");
        l1.dir("df", 0755);
        l1.file("df/inner", 0644, "inner\n");
        l1.dir("w", 0750).owner(3, 3);
        l1.file("w/x", 0644, "x\n");
        l1.file("w/y", 0644, "y\n");

        LayerTar l2 = new LayerTar();
        l2.whiteout("a/f1");              // parent a/ not in this layer: copied up implicitly
        l2.whiteout("a/sub");             // a whole directory
        l2.dir("o", 0755);
        l2.opaque("o");
        l2.file("o/new", 0644, "new\n");
        l2.opaque("o2");                  // the marker before its directory's own entry
        l2.dir("o2", 0700);
        l2.file("o2/new2", 0644, "new2\n");
        l2.opaque("o3");                  // an opaque mark is the only change to o3
        l2.whiteout("gone");
        l2.whiteout("re");
        l2.dir("fd", 0755);               // file replaced by a directory
        l2.file("fd/child", 0644, "child\n");
        l2.file("df", 0644, "a dir, then a file, then a dir\n"); // directory replaced by a file
        l2.whiteout("w/x");

        LayerTar l3 = new LayerTar();
        l3.dir("re", 0755);               // deleted, then recreated
        l3.file("re/new", 0644, "new\n");
        l3.file("fd", 0640, "back to a file\n");
        l3.dir("df", 0751);
        l3.file("df/again", 0644, "again\n");
        l3.dir("a/f1", 0755);             // whited-out file comes back as a directory
        l3.file("a/f1/z", 0644, "z\n");
        return new Image("whiteouts", "whiteouts of files and directories across layers, opaque directories (marker before and after the "
                + "directory entry, and as the only change), a directory deleted then recreated, file -> dir -> file and dir -> file -> dir",
                List.of(l1, l2, l3), null);
    }

    static Image links() {
        LayerTar l1 = new LayerTar();
        l1.dir("data", 0755);
        Entry file = l1.file("data/file", 0640, "shared content\n").owner(1000, 1000);
        l1.dir("other", 0755);
        l1.hardlink("other/hl", file);
        l1.hardlink("other/deep/hl2", file);   // into a directory the layer never names
        l1.hardlink("data/hl3", file);
        Entry suid = l1.file("data/suid", 04755, "setuid and hard linked\n");
        l1.hardlink("other/suid-link", suid);
        l1.dir("h", 0755);
        Entry src = l1.file("h/src", 0644, "linked, then whited out\n");
        l1.dir("h2", 0755);
        l1.hardlink("h2/link", src);
        Entry sl = l1.symlink("sl", "data/file").owner(1000, 1000);
        l1.hardlink("slh", sl);                // a hard link to a symlink is a second name of the symlink
        l1.dir("chain", 0755);
        l1.symlink("chain/s1", "s2");
        l1.symlink("chain/s2", "../data/file");
        l1.symlink("chain/abs", "/chain/s1");
        l1.symlink("chain/loop1", "loop2");
        l1.symlink("chain/loop2", "loop1");
        l1.symlink("chain/dangling", "/nonexistent/x");
        l1.symlink("chain/up", "../../../..");
        l1.symlink("chain/dirlink", "../data");
        l1.symlink("chain/weird", "./a//b/../c/");
        l1.symlink("chain/owned", "s1").owner(1000, 1001);
        l1.symlink("mydir", "realdir");
        l1.dir("realdir", 0755);
        l1.file("mydir/through", 0644, "written through a symlink of the same layer\n");
        l1.symlink("absdir", "/realdir2");
        l1.file("absdir/through", 0644, "written through an absolute symlink of the same layer\n");

        LayerTar l2 = new LayerTar();
        l2.whiteout("h/src");                  // h2/link keeps the content
        l2.file("chain/s2", 0644, "a symlink replaced by a file\n");
        l2.symlink("data/hl3", "file");        // a hard link name replaced by a symlink
        l2.dir("mydir", 0700);                 // a lower symlink replaced by a directory
        l2.file("mydir/new", 0644, "new\n");

        LayerTar l3 = new LayerTar();
        l3.symlink("newlink", "data");         // a symlink of this layer to a lower directory, written through
        l3.file("newlink/z", 0644, "z\n");
        Entry n = l3.file("l3dir/n", 0600, "linked in the top layer\n").owner(5, 5);
        l3.hardlink("l3other/n-link", n);
        return new Image("links", "hard links across directories (one into an unnamed directory, one to a setuid file, one to a "
                + "symlink, one whose source is later whited out, one name later replaced by a symlink), relative, absolute, "
                + "chained, looping and dangling symlinks, writes through a symlink of the same layer",
                List.of(l1, l2, l3), null);
    }

    static Image special() {
        LayerTar l1 = new LayerTar();
        l1.dir("devs", 0755);
        l1.charDev("devs/null", 1, 3, 0666);
        l1.charDev("devs/zero", 1, 5, 0640).owner(0, 5);
        l1.blockDev("devs/loop", 7, 0, 0660).owner(0, 6);
        l1.charDev("devs/bigminor", 250, 300000, 0600).owner(1000, 1000);
        l1.blockDev("devs/bigowner", 259, 1, 0644).owner(3_000_000, 3_000_001);
        l1.fifo("devs/fifo", 0644).owner(1000, 1000);
        l1.fifo("devs/fifo-sticky", 01622);
        l1.charDev("devs/setuid-dev", 4, 64, 04620);
        l1.dir("perms", 0755);
        l1.file("perms/suid", 04755, "suid\n");
        l1.file("perms/sgid", 02755, "sgid\n").owner(0, 50);
        l1.file("perms/suid-sgid", 06711, "both\n");
        l1.file("perms/sticky-file", 01644, "sticky\n");
        l1.file("perms/none", 0, "no permissions\n");
        l1.file("perms/all", 0777, "all permissions\n");
        l1.file("perms/suid-user", 04750, "suid, owned by a user\n").owner(1000, 1000);
        l1.dir("perms/stickydir", 01777);
        l1.dir("perms/sgiddir", 02775).owner(0, 100);
        l1.file("perms/sgiddir/child", 0644, "gid 0 in a setgid dir\n");
        l1.dir("perms/sgiddir/sub", 0755);
        l1.file("perms/sgiddir/implicit/x", 0644, "parent created implicitly inside a setgid dir\n");
        l1.dir("perms/dir0", 0);
        l1.file("perms/dir0/inside", 0644, "inside a mode 0 dir\n");
        l1.dir("owners", 0755).owner(1234, 5678);
        l1.file("owners/u1000", 0644, "u1000\n").owner(1000, 1000);
        l1.file("owners/nobody", 0644, "nobody\n").owner(65534, 65534);
        l1.file("owners/big", 0644, "ids beyond ustar's octal range\n").owner(3_000_000, 4_000_000_000L);
        l1.symlink("owners/link", "u1000").owner(1000, 1000);
        l1.dir("times", 0755).mtime(T - 86400L * 365, 500_000_000);
        l1.file("times/epoch", 0644, "epoch\n").mtime(0);
        l1.file("times/ns", 0644, "nanoseconds\n").mtime(T, 123_456_789);
        l1.file("times/neg", 0644, "before 1970\n").mtime(-100);
        l1.file("times/far", 0644, "year 2286\n").mtime(10_000_000_000L);
        l1.file("times/y2038", 0644, "2^31\n").mtime(2_147_483_648L);
        l1.symlink("times/link", "ns").mtime(T + 5, 987_654_321);
        l1.charDev("times/dev", 1, 7, 0600).mtime(T, 1);
        l1.dir("times/dir", 0755).mtime(T + 9, 999_999_999);
        l1.file("times/dir/child", 0644, "written after its dir's entry\n");
        l1.dir("names", 0755);
        l1.file("names/with space", 0644, "space\n");
        l1.file("names/ünïcödé-名前", 0644, "unicode\n");
        l1.file("names/" + "d".repeat(60) + "/" + "f".repeat(90), 0644, "a name longer than ustar's 100 bytes\n");
        l1.dir("names/trailing-slash-dir/", 0755);
        l1.file("names/.hidden", 0644, "hidden\n");
        l1.file("names/-dash", 0644, "dash\n");
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 20000; i++) big.append(i).append('\n');
        l1.file("names/big", 0644, big.toString());

        LayerTar l2 = new LayerTar();
        l2.dir("owners", 0700).owner(42, 43);                   // a lower dir's attributes changed by an entry
        l2.file("perms/suid", 0755, "suid dropped\n");
        l2.charDev("devs/null", 1, 3, 0600).owner(1000, 1000);  // a device replaced
        l2.file("times/ns", 0644, "one nanosecond\n").mtime(T, 1);
        return new Image("special", "char and block devices (minor > 255, ids > 2^21), fifos, setuid/setgid/sticky modes on files, "
                + "dirs and devices, mode 0, non-root owners, mtimes (nanoseconds, epoch, negative, year 2286, 2^31, on symlinks "
                + "and devices, dirs written into after their entry), long and unicode names",
                List.of(l1, l2), null);
    }

    static Image xattrs() {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) all[i] = (byte) i;
        byte[] large = "0123456789abcdef".repeat(250).getBytes(StandardCharsets.US_ASCII);

        LayerTar l1 = new LayerTar();
        l1.dir("xa", 0755).xattr("user.dir", "dirval");
        l1.file("xa/f", 0644, "f\n").xattr("user.a", "1").xattr("user.bin", all).xattr("user.empty", new byte[0]).xattr("user.utf8", "ünï");
        l1.file("xa/big", 0644, "big\n").xattr("user.big", large);
        l1.file("xa/r", 0644, "replaced in the next layer\n").xattr("user.old", "lower");
        Entry cap = l1.file("xa/cap", 0755, "cap\n").xattr("security.capability", CAP_NET_BIND_SERVICE);
        l1.hardlink("xa/caplink", cap);
        l1.file("xa/cap-setuid", 0755, "cap_setuid: a byte over 0x7f\n").xattr("security.capability", CAP_SETUID);
        l1.symlink("xa/link", "f").xattr("user.onlink", "x");        // user.* cannot be set on a symlink
        l1.fifo("xa/fifo", 0644).xattr("user.onfifo", "y");          // nor on a fifo
        l1.charDev("xa/dev", 1, 3, 0666).xattr("user.ondev", "z");   // nor on a device
        l1.file("xa/trusted", 0644, "trusted\n").xattr("trusted.foo", "bar");
        l1.dir("xa/opq", 0755);
        l1.file("xa/opq/lower", 0644, "lower\n");
        l1.dir("xa/dir2", 0750).owner(5, 5).xattr("user.keep", "kept");
        l1.file("xa/dir2/old", 0644, "old\n");
        l1.dir("xa/dir3", 0755).xattr("user.q", "q");
        l1.file("xa/dir3/old", 0644, "old\n");
        l1.dir("xa/merged", 0755).xattr("user.old", "lower");
        l1.file("xa/merged/old", 0644, "old\n");

        LayerTar l2 = new LayerTar();
        l2.dir("xa/opq", 0755).xattr("trusted.overlay.opaque", "y"); // an overlay xattr smuggled in a layer
        l2.file("xa/opq/upper", 0644, "upper\n");
        l2.file("xa/dir2/new", 0644, "new\n");                       // implicit parent: its xattrs copied up
        l2.opaque("xa/dir3");                                        // ditto, the opaque mark its only change
        l2.dir("xa/merged", 0755);                                   // an explicit entry without xattrs
        l2.file("xa/r", 0644, "replaced\n").xattr("user.replaced", "2");    // the file's xattrs go with it
        return new Image("xattrs", "user.* xattrs (binary, empty, large, UTF-8 values; on files, dirs, symlinks, fifos, devices), "
                + "security.capability on a file and its hard link, trusted.* and trusted.overlay.opaque in a layer, xattrs of "
                + "implicitly copied-up and of re-declared directories",
                List.of(l1, l2), null);
    }

    static Image parents() {
        LayerTar l1 = new LayerTar();
        l1.dir("p", 0750).owner(1000, 1000);
        l1.dir("p/q", 02710).owner(5, 6);
        l1.file("p/q/old", 0644, "old\n");
        l1.file("plain", 0600, "a file, later the parent of an entry\n").owner(9, 9);
        l1.dir("delme", 0700).owner(9, 9);
        l1.file("delme/x", 0644, "x\n");
        l1.dir("e", 0751);
        l1.dir("e/f", 0753).owner(1, 2);
        l1.dir("e/f/g", 0700).owner(3, 4);
        l1.dir("keepmtime", 0705).owner(11, 12);
        l1.file("keepmtime/a", 0644, "a\n");

        LayerTar l2 = new LayerTar();
        l2.file("p/q/r/s", 0644, "deep\n");     // p, p/q copied up from below, p/q/r new
        l2.file("plain/x", 0644, "under a name that was a file below\n");
        l2.whiteout("delme");
        l2.file("e/f/g/h", 0644, "h\n");
        l2.opaque("keepmtime");

        LayerTar l3 = new LayerTar();
        l3.file("delme/new", 0644, "in an implicit parent whited out by the layer below\n");
        l3.file("e/f/g/h2", 0644, "h2\n");
        l3.file("p/q/r/t", 0644, "t\n");
        return new Image("parents", "entries whose parent directories the layer never names: copied up from a lower layer (mode, "
                + "owner, mtime), new, over a lower file, over a whiteout",
                List.of(l1, l2, l3), null);
    }

    static Image usrMerge() {
        LayerTar l1 = new LayerTar();
        l1.dir("usr", 0755);
        l1.dir("usr/lib", 0751).owner(0, 10);
        l1.file("usr/lib/libc.so", 0755, "libc\n");
        l1.file("usr/lib/keep", 0644, "keep\n");
        l1.dir("usr/bin", 0755);
        l1.file("usr/bin/tool", 0755, "tool\n");
        l1.symlink("lib", "usr/lib");
        l1.symlink("lib64", "/usr/lib");
        l1.symlink("sbin", "usr/bin");
        l1.dir("chain", 0755);
        l1.symlink("chain/dirlink", "../usr");

        LayerTar l2 = new LayerTar();
        l2.file("lib/x", 0644, "through a lower relative symlink\n");
        l2.file("lib64/y", 0644, "through a lower absolute symlink\n");
        l2.whiteout("lib/libc.so");
        l2.file("chain/dirlink/newfile", 0644, "through a lower symlink deeper down\n");
        l2.opaque("sbin");
        l2.file("sbin/new", 0644, "new\n");
        return new Image("usrmerge", "a symlinked directory of a lower layer written through by an upper one (lib -> usr/lib, "
                + "lib64 -> /usr/lib, a whiteout and an opaque mark through such links)",
                List.of(l1, l2), null);
    }

    static Image linkHeaders() {
        LayerTar l1 = new LayerTar();
        l1.dir("x", 0755);
        l1.file("x/suid", 04755, "suid\n");
        l1.rawHardlink("x/link", "x/suid").mode(0644).owner(1000, 1000).mtime(T + 100);
        l1.file("x/cap", 0755, "cap\n").xattr("security.capability", CAP_NET_BIND_SERVICE);
        l1.rawHardlink("x/caplink", "x/cap").mode(0755);
        return new Image("linkheaders", "hard link entries whose own header (mode, owner, mtime, xattrs) differs from their source's",
                List.of(l1),
                new Known("containerd applies a hard link entry's own owner, mode, xattrs and mtime to the shared inode (its chown also "
                        + "clears setuid bits and security.capability); Berth keeps the source's. LayerApplierTest."
                        + "modesOwnersTimesSymlinksAndHardLinksAreApplied pins Berth's behaviour ('a hard link keeps its source's mode').",
                        Set.of("/x")));
    }
}
