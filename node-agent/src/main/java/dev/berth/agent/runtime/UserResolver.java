package dev.berth.agent.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns an image's or request's user ({@code uid}, {@code uid:gid}, {@code name}, {@code name:group}) into numeric
 * ids, reading the container's own /etc/passwd and /etc/group. Those files are read only when they are plain
 * files: a symlink there could point at the host's.
 */
public final class UserResolver {

    /** A passwd or group file larger than this is not a real one. */
    static final long MAX_DB_BYTES = 4L << 20;


    public record Ids(int uid, int gid, List<Integer> additionalGids) {}

    private UserResolver() {}

    public static Ids resolve(Path rootfs, String user) throws IOException {
        String u = user;
        String g = null;
        int colon = user.indexOf(':');
        if (colon >= 0) {
            u = user.substring(0, colon);
            g = user.substring(colon + 1);
        }
        Integer uid = number(u);
        Integer gid;
        String name;
        if (uid == null) {
            String[] entry = find(rootfs.resolve("etc/passwd"), u);
            if (entry == null) throw new IllegalArgumentException("user '" + u + "' is not in the image's /etc/passwd: use a numeric uid or a user the image defines");
            uid = Integer.parseInt(entry[2]);
            gid = Integer.parseInt(entry[3]);
            name = u;
        } else {
            String[] entry = findByUid(rootfs.resolve("etc/passwd"), uid);
            gid = entry == null ? 0 : Integer.parseInt(entry[3]);
            name = entry == null ? null : entry[0];
        }
        if (g != null && !g.isEmpty()) {
            Integer n = number(g);
            if (n == null) {
                String[] entry = find(rootfs.resolve("etc/group"), g);
                if (entry == null) throw new IllegalArgumentException("group '" + g + "' is not in the image's /etc/group: use a numeric gid or a group the image defines");
                n = Integer.parseInt(entry[2]);
            }
            gid = n;
        }
        // supplementary groups: every group of the image's /etc/group that lists the user, as containerd adds them
        List<Integer> extra = new ArrayList<>();
        if (name != null) {
            for (String[] grp : entries(rootfs.resolve("etc/group"))) {
                if (grp.length < 4 || grp[3].isEmpty()) continue;
                if (List.of(grp[3].split(",")).contains(name)) {
                    int id = Integer.parseInt(grp[2]);
                    if (id != gid && !extra.contains(id)) extra.add(id);
                }
            }
        }
        return new Ids(uid, gid, extra);
    }

    private static Integer number(String s) {
        try {
            int n = Integer.parseInt(s);
            if (n < 0) throw new IllegalArgumentException("negative id '" + s + "'");
            return n;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String[] find(Path file, String name) throws IOException {
        for (String[] e : entries(file)) if (e[0].equals(name)) return e;
        return null;
    }

    private static String[] findByUid(Path file, int uid) throws IOException {
        for (String[] e : entries(file)) if (e.length > 3 && e[2].equals(Integer.toString(uid))) return e;
        return null;
    }

    private static List<String[]> entries(Path file) throws IOException {
        List<String[]> out = new ArrayList<>();
        if (!Files.isDirectory(file.getParent(), LinkOption.NOFOLLOW_LINKS) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return out;
        // the container controls this file: never follow a link swapped in, never read more than a real one holds
        byte[] data;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            if (ch.size() > MAX_DB_BYTES) throw new IllegalArgumentException(file.getFileName() + " in the image is over " + MAX_DB_BYTES + " bytes; use a numeric uid:gid");
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf) > 0) { }
            data = java.util.Arrays.copyOf(buf.array(), buf.position());
        }
        for (String line : new String(data, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split(":", -1);
            if (f.length >= 3) out.add(f);
        }
        return out;
    }
}
