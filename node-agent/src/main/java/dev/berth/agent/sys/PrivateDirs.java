package dev.berth.agent.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The agent's directories under its root and state: each top one is root's alone (0700), so nothing below it
 * (a snapshot's setuid file, a private image's blob, a container's log) is reachable by another host user
 * whatever its own mode, as containerd does since CVE-2021-41103. The root and state themselves stay 0711.
 */
public final class PrivateDirs {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> TRAVERSE_ONLY = PosixFilePermissions.fromString("rwx--x--x");

    private PrivateDirs() {}

    /** Creates {@code dir} (and missing parents) as 0700, or narrows an existing one to 0700. */
    public static Path create(Path dir) throws IOException {
        FileAttribute<Set<PosixFilePermission>> mode = PosixFilePermissions.asFileAttribute(OWNER_ONLY);
        Files.createDirectories(dir, mode);
        Files.setPosixFilePermissions(dir, OWNER_ONLY);
        return dir;
    }

    /** Creates {@code dir} (and missing parents) as 0700 if it is missing; an existing one is left as it is. */
    public static Path ensure(Path dir) throws IOException {
        return Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    }

    /**
     * Makes {@code top} a store root others may traverse but not list (0711), and narrows every directory in it to
     * 0700: what an older agent made with the default umask is closed at start.
     */
    public static void secureStoreRoot(Path top) throws IOException {
        Files.createDirectories(top);
        Files.setPosixFilePermissions(top, TRAVERSE_ONLY);
        try (Stream<Path> children = Files.list(top)) {
            for (Path child : children.toList()) {
                if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) Files.setPosixFilePermissions(child, OWNER_ONLY);
            }
        }
    }
}
