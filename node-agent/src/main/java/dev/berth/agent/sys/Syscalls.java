package dev.berth.agent.sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int64_t;

/** The few Linux system calls Java has no API for: mounts, device nodes, xattrs, ownership and times of links. */
public final class Syscalls {

    public static final int MS_RDONLY = 1;
    public static final int MNT_DETACH = 2;
    public static final int AT_FDCWD = -100;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFIFO = 0010000;
    public static final int ENOENT = 2;
    public static final int EINVAL = 22;
    public static final int ENODATA = 61;

    /** libc, as jnr-ffi binds it. */
    public interface LibC {
        int mount(String source, String target, String fstype, @u_int64_t long flags, String data);
        int umount2(String target, int flags);
        int mknod(String path, int mode, @u_int64_t long dev);
        int lsetxattr(String path, String name, @In byte[] value, @size_t long size, int flags);
        long lgetxattr(String path, String name, byte[] value, @size_t long size);
        int lchown(String path, int uid, int gid);
        int symlink(String target, String linkpath);
        int open(String path, int flags, int mode);
        int close(int fd);
        int chmod(String path, int mode);
        int utimensat(int dirfd, String path, @In long[] times, int flags);
        String strerror(int errnum);
        int kill(int pid, int sig);
        int syncfs(int fd);
        long llistxattr(String path, byte[] list, @size_t long size);
    }

    private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    private static final Runtime RT = Runtime.getRuntime(LIBC);

    private Syscalls() {}

    public static void mountOverlay(String target, String options) throws IOException {
        check(LIBC.mount("overlay", target, "overlay", 0, options), "mount overlay on " + target);
    }

    public static void mountBind(String source, String target, boolean readOnly) throws IOException {
        check(LIBC.mount(source, target, null, 4096 /* MS_BIND */ | (readOnly ? MS_RDONLY : 0), null), "bind " + source + " on " + target);
    }

    /** Unmounts, detaching lazily if busy; a path that is not mounted is not an error. */
    public static void unmount(String target) throws IOException {
        if (LIBC.umount2(target, MNT_DETACH) != 0) {
            int errno = RT.getLastError();
            if (errno == EINVAL || errno == ENOENT) return;
            throw new IOException("umount " + target + ": " + LIBC.strerror(errno));
        }
    }

    public static void mknod(String path, int mode, int major, int minor) throws IOException {
        long dev = ((long) (major & 0xfff) << 8) | (minor & 0xff) | ((long) (minor & ~0xff) << 12);
        check(LIBC.mknod(path, mode, dev), "mknod " + path);
    }

    public static void lsetxattr(String path, String name, byte[] value) throws IOException {
        check(LIBC.lsetxattr(path, name, value, value.length, 0), "setxattr " + name + " on " + path);
    }

    /** The value of an xattr, or null when the file has none of that name. */
    public static String lgetxattr(String path, String name) {
        byte[] buf = new byte[256];
        long n = LIBC.lgetxattr(path, name, buf, buf.length);
        return n < 0 ? null : new String(buf, 0, (int) n, StandardCharsets.UTF_8);
    }

    /** Every xattr name of a path (not following a symlink), in every namespace the caller may read. */
    public static List<String> llistxattr(String path) throws IOException {
        long n = LIBC.llistxattr(path, null, 0);
        if (n < 0) throw new IOException("listxattr " + path + ": " + LIBC.strerror(RT.getLastError()));
        byte[] buf = new byte[(int) n + 1];
        n = LIBC.llistxattr(path, buf, buf.length);
        if (n < 0) throw new IOException("listxattr " + path + ": " + LIBC.strerror(RT.getLastError()));
        List<String> names = new java.util.ArrayList<>();
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (buf[i] == 0) {
                if (i > start) names.add(new String(buf, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        return names;
    }

    /** The raw value of an xattr, or null when the path has none of that name. */
    public static byte[] lgetxattrBytes(String path, String name) {
        long n = LIBC.lgetxattr(path, name, null, 0);
        if (n < 0) return null;
        byte[] buf = new byte[(int) n];
        n = LIBC.lgetxattr(path, name, buf, buf.length);
        return n < 0 ? null : java.util.Arrays.copyOf(buf, (int) n);
    }

    private static final int O_PATH = 010000000;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_CLOEXEC = 02000000;

    /** Writes everything of the filesystem holding {@code dir} to disk (syncfs(2)): one call for a whole unpacked layer. */
    public static void syncfs(String dir) throws IOException {
        int fd = LIBC.open(dir, O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) throw new IOException("open " + dir + ": " + LIBC.strerror(RT.getLastError()));
        try {
            check(LIBC.syncfs(fd), "syncfs " + dir);
        } finally {
            LIBC.close(fd);
        }
    }

    /**
     * A directory held open, whose entries can be named as {@code /proc/self/fd/N/name}: short whatever the real
     * path's length, which unix sockets (at most 107 bytes of path) need.
     */
    public static final class DirHandle implements AutoCloseable {
        private final int fd;

        public DirHandle(String dir) throws IOException {
            fd = LIBC.open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
            if (fd < 0) throw new IOException("open " + dir + ": " + LIBC.strerror(RT.getLastError()));
        }

        public String entry(String name) {
            return "/proc/self/fd/" + fd + "/" + name;
        }

        @Override
        public void close() {
            LIBC.close(fd);
        }
    }

    /** Creates a symlink whose target is stored byte for byte as given (Java's Path would normalise it). */
    public static void symlink(String target, String linkPath) throws IOException {
        check(LIBC.symlink(target, linkPath), "symlink " + linkPath);
    }

    public static void lchown(String path, int uid, int gid) throws IOException {
        check(LIBC.lchown(path, uid, gid), "lchown " + path);
    }

    /** chmod with the setuid, setgid and sticky bits, which Java's permission API cannot set. */
    public static void chmod(String path, int mode) throws IOException {
        check(LIBC.chmod(path, mode & 07777), "chmod " + path);
    }

    /** Sets atime and mtime of a path without following a final symlink. */
    public static void lutimes(String path, long epochSeconds, long nanos) throws IOException {
        long[] ts = {epochSeconds, nanos, epochSeconds, nanos};
        check(LIBC.utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), "utimensat " + path);
    }

    /** Sends a signal to a host process; false when it no longer exists. */
    public static boolean kill(int pid, int signal) throws IOException {
        if (pid <= 0) throw new IllegalArgumentException("pid " + pid);
        if (LIBC.kill(pid, signal) == 0) return true;
        int errno = RT.getLastError();
        if (errno == 3 /* ESRCH */) return false;
        throw new IOException("kill " + pid + ": " + LIBC.strerror(errno));
    }

    private static void check(int rc, String what) throws IOException {
        if (rc != 0) throw new IOException(what + ": " + LIBC.strerror(RT.getLastError()));
    }
}
