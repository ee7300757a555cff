package dev.berth.agent.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Removing whole directory trees the agent owns (snapshots, bundles), never crossing into a mount below them. */
public final class Trees {
    private Trees() {}

    public static void remove(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
        // rm copes with whiteout devices, odd modes and read-only bits; --one-file-system keeps it out of
        // anything still mounted inside (a container rootfs whose lazy unmount has not finished)
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
