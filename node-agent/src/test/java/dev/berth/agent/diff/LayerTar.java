package dev.berth.agent.diff;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A layer tar written byte by byte (ustar headers plus PAX extended headers), so that every field a layer can
 * carry is exactly as the test says: owners beyond ustar's range, nanosecond and out-of-range mtimes, device
 * numbers, and xattr values of any bytes (empty, binary, not UTF-8), which a tar library would re-encode.
 */
public final class LayerTar {

    /** 2020-09-13T12:26:40Z: every entry's default mtime is this plus its sequence number, so mix-ups show. */
    static final long T = 1_600_000_000L;

    private final List<Entry> entries = new ArrayList<>();
    private static int seq;

    static final class Entry {
        final String name;
        final char type;
        int mode = 0644;
        long uid;
        long gid;
        long mtime = T + (++seq);
        int nanos;
        String link = "";
        int major;
        int minor;
        byte[] content = new byte[0];
        final Map<String, byte[]> xattrs = new LinkedHashMap<>();

        Entry(String name, char type) {
            this.name = name;
            this.type = type;
        }

        Entry mode(int m) { mode = m; return this; }
        Entry owner(long u, long g) { uid = u; gid = g; return this; }
        Entry mtime(long secs) { mtime = secs; nanos = 0; return this; }
        Entry mtime(long secs, int ns) { mtime = secs; nanos = ns; return this; }
        Entry xattr(String key, byte[] value) { xattrs.put(key, value); return this; }
        Entry xattr(String key, String value) { return xattr(key, value.getBytes(StandardCharsets.UTF_8)); }
    }

    Entry add(String name, char type) {
        Entry e = new Entry(name, type);
        entries.add(e);
        return e;
    }

    Entry dir(String name, int mode) {
        return add(name.endsWith("/") ? name : name + "/", '5').mode(mode);
    }

    Entry file(String name, int mode, String content) {
        Entry e = add(name, '0').mode(mode);
        e.content = content.getBytes(StandardCharsets.UTF_8);
        return e;
    }

    Entry symlink(String name, String target) {
        Entry e = add(name, '2').mode(0777);
        e.link = target;
        return e;
    }

    /** A hard link whose header carries its source's attributes, as Docker and BuildKit write them. */
    Entry hardlink(String name, Entry source) {
        Entry e = rawHardlink(name, source.name).mode(source.mode).owner(source.uid, source.gid).mtime(source.mtime, source.nanos);
        e.xattrs.putAll(source.xattrs);
        return e;
    }

    /** A hard link with a header of its own (mode 0644, root, its own mtime) whatever the source's. */
    Entry rawHardlink(String name, String target) {
        Entry e = add(name, '1');
        e.link = target;
        return e;
    }

    Entry charDev(String name, int major, int minor, int mode) {
        Entry e = add(name, '3').mode(mode);
        e.major = major;
        e.minor = minor;
        return e;
    }

    Entry blockDev(String name, int major, int minor, int mode) {
        Entry e = add(name, '4').mode(mode);
        e.major = major;
        e.minor = minor;
        return e;
    }

    Entry fifo(String name, int mode) {
        return add(name, '6').mode(mode);
    }

    /** Deletes {@code path} from the layers below: an empty file {@code .wh.NAME}. */
    Entry whiteout(String path) {
        int slash = path.lastIndexOf('/');
        return file(slash < 0 ? ".wh." + path : path.substring(0, slash + 1) + ".wh." + path.substring(slash + 1), 0644, "");
    }

    /** Hides what the layers below have in {@code dir}. */
    Entry opaque(String dir) {
        return file(dir + "/.wh..wh..opq", 0644, "");
    }

    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            for (Entry e : entries) write(out, e);
            out.write(new byte[1024]); // two zero blocks end the archive
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
        return out.toByteArray();
    }

    private static void write(OutputStream out, Entry e) throws IOException {
        Map<String, byte[]> pax = new LinkedHashMap<>();
        byte[] name = e.name.getBytes(StandardCharsets.UTF_8);
        byte[] link = e.link.getBytes(StandardCharsets.UTF_8);
        if (name.length > 100) pax.put("path", name);
        if (link.length > 100) pax.put("linkpath", link);
        if (e.uid > 07777777) pax.put("uid", Long.toString(e.uid).getBytes(StandardCharsets.US_ASCII));
        if (e.gid > 07777777) pax.put("gid", Long.toString(e.gid).getBytes(StandardCharsets.US_ASCII));
        if (e.nanos != 0 || e.mtime < 0 || e.mtime > 077777777777L) {
            String t = e.nanos == 0 ? Long.toString(e.mtime) : e.mtime + "." + String.format("%09d", e.nanos);
            pax.put("mtime", t.getBytes(StandardCharsets.US_ASCII));
        }
        for (Map.Entry<String, byte[]> x : e.xattrs.entrySet()) pax.put("SCHILY.xattr." + x.getKey(), x.getValue());
        if (!pax.isEmpty()) {
            ByteArrayOutputStream records = new ByteArrayOutputStream();
            for (Map.Entry<String, byte[]> r : pax.entrySet()) records.write(paxRecord(r.getKey(), r.getValue()));
            byte[] data = records.toByteArray();
            String base = e.name.replaceAll("/+$", "");
            base = base.substring(base.lastIndexOf('/') + 1);
            out.write(header(truncate("PaxHeaders/" + base), 'x', 0644, 0, 0, data.length, 0, new byte[0], 0, 0));
            out.write(data);
            pad(out, data.length);
        }
        long uid = e.uid > 07777777 ? 0 : e.uid;
        long gid = e.gid > 07777777 ? 0 : e.gid;
        long mtime = e.mtime < 0 || e.mtime > 077777777777L ? 0 : e.mtime;
        out.write(header(Arrays.copyOf(name, Math.min(name.length, 100)), e.type, e.mode, uid, gid, e.content.length, mtime,
                Arrays.copyOf(link, Math.min(link.length, 100)), e.major, e.minor));
        out.write(e.content);
        pad(out, e.content.length);
    }

    /**
     * One raw tar record: a ustar header of {@code type} claiming {@code size} bytes, then {@code data} (which may be
     * shorter than the claim or hold what the header type says, such as a sparse map) padded to the block. For
     * hostile archives no library would write.
     */
    public static byte[] record(String name, char type, long size, byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(header(truncate(name), type, 0644, 0, 0, size, T, new byte[0], 0, 0));
        out.write(data);
        pad(out, data.length);
        return out.toByteArray();
    }

    /** A PAX extended header record ('x') carrying {@code records} for the entry after it. */
    public static byte[] paxHeader(String name, Map<String, byte[]> records) throws IOException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, byte[]> r : records.entrySet()) data.write(paxRecord(r.getKey(), r.getValue()));
        return record("PaxHeaders/" + name, 'x', data.size(), data.toByteArray());
    }

    /** The two zero blocks that end an archive. */
    public static byte[] end() {
        return new byte[1024];
    }

    private static byte[] truncate(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, Math.min(b.length, 100));
    }

    /** {@code "LEN key=value\n"}, LEN counting the whole record, itself included. */
    private static byte[] paxRecord(String key, byte[] value) throws IOException {
        int rest = 1 + key.getBytes(StandardCharsets.UTF_8).length + 1 + value.length + 1;
        int len = rest + 1;
        while (Integer.toString(len).length() + rest != len) len = Integer.toString(len).length() + rest;
        ByteArrayOutputStream r = new ByteArrayOutputStream();
        r.write((len + " " + key + "=").getBytes(StandardCharsets.UTF_8));
        r.write(value);
        r.write('\n');
        return r.toByteArray();
    }

    private static byte[] header(byte[] name, char type, int mode, long uid, long gid, long size, long mtime, byte[] link, int major, int minor) {
        byte[] h = new byte[512];
        System.arraycopy(name, 0, h, 0, name.length);
        octal(h, 100, 8, mode & 07777);
        octal(h, 108, 8, uid);
        octal(h, 116, 8, gid);
        octal(h, 124, 12, size);
        octal(h, 136, 12, mtime);
        Arrays.fill(h, 148, 156, (byte) ' ');
        h[156] = (byte) type;
        System.arraycopy(link, 0, h, 157, link.length);
        System.arraycopy("ustar\0".getBytes(StandardCharsets.US_ASCII), 0, h, 257, 6);
        h[263] = '0';
        h[264] = '0';
        octal(h, 329, 8, major);
        octal(h, 337, 8, minor);
        int sum = 0;
        for (byte b : h) sum += b & 0xff;
        byte[] chk = String.format("%06o", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(chk, 0, h, 148, 6);
        h[154] = 0;
        h[155] = ' ';
        return h;
    }

    private static void octal(byte[] h, int off, int len, long v) {
        byte[] s = String.format("%0" + (len - 1) + "o", v).getBytes(StandardCharsets.US_ASCII);
        if (s.length > len - 1) throw new IllegalArgumentException(v + " does not fit a " + len + "-byte tar field");
        System.arraycopy(s, 0, h, off, s.length);
        h[off + len - 1] = 0;
    }

    private static void pad(OutputStream out, long n) throws IOException {
        int rem = (int) (n % 512);
        if (rem != 0) out.write(new byte[512 - rem]);
    }
}
