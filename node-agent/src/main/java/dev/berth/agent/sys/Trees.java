package dev.berth.agent.sys;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** Removing whole directory trees the agent owns (snapshots, bundles), never crossing into a mount below them. */
public final class Trees {
    private Trees() {}

    public static void remove(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
        try {
            removeWithin(p); // in-process: no rm process per container (two trees go with each one)
        } catch (IOException e) {
            removeWithRm(p); // what the walk refuses (a mount still inside) gets rm's own verdict and message
        }
    }

    /**
     * Depth first, links removed and never followed; as root, modes do not matter and whiteout devices are files
     * like any other. A directory on another filesystem (a container rootfs whose lazy unmount has not finished)
     * stops the walk before anything inside it is touched.
     */
    private static void removeWithin(Path top) throws IOException {
        Object device = Files.getAttribute(top, "unix:dev", LinkOption.NOFOLLOW_LINKS);
        Files.walkFileTree(top, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!device.equals(Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
                    throw new IOException(dir + " is on another filesystem (still mounted?)");
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** rm copes with odd cases the walk refuses; --one-file-system keeps it out of anything still mounted inside. */
    private static void removeWithRm(Path p) throws IOException {
        try {
            Process rm = new ProcessBuilder("rm", "-rf", "--one-file-system", "--", p.toString()).redirectErrorStream(true).start();
            String out = new String(rm.getInputStream().readAllBytes());
            if (rm.waitFor() != 0) throw new IOException("cannot remove " + p + ": " + out.trim());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
