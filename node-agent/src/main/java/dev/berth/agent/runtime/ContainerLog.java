package dev.berth.agent.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A container's log as its shim writes it: {@code container.log} (and, after rotation, {@code container.log.1},
 * {@code .2}, ... older first from the highest number), one record per line in the CRI format:
 * {@code 2026-11-28T07:35:40.123456789Z stdout F content}; tag {@code P} marks a partial line whose rest follows.
 * A reader follows the live file across rotations: a renamed file is read to its end before the new one.
 */
public final class ContainerLog implements AutoCloseable {

    public static final String FILE = "container.log";

    /** One record: its stream (stdout or stderr), time, content (with its newline unless partial). */
    public record Entry(String stream, Instant time, byte[] content) {
        public String text() {
            return new String(content, StandardCharsets.UTF_8);
        }
    }

    private final Path dir;
    private final List<Path> backlog = new ArrayList<>();
    private RandomAccessFile current;
    private Object currentKey;
    private boolean currentIsLive;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final byte[] buf = new byte[64 * 1024];
    private final List<Entry> ready = new ArrayList<>();

    public ContainerLog(Path dir) throws IOException {
        this.dir = dir;
        for (int i = 64; i >= 1; i--) {
            Path rotated = dir.resolve(FILE + "." + i);
            if (Files.exists(rotated)) backlog.add(rotated);
        }
    }

    /** Entries available now (possibly none); the caller polls again to follow. */
    public List<Entry> poll() throws IOException {
        ready.clear();
        while (ready.isEmpty()) {
            if (current == null && !openNext()) break;
            int n = current.read(buf);
            if (n > 0) {
                split(buf, n);
                continue;
            }
            // at the end of this file: move on when it has been rotated away (or was an older file)
            if (!currentIsLive || rotatedAway()) {
                current.close();
                current = null;
                continue;
            }
            break;
        }
        return new ArrayList<>(ready);
    }

    /** Every entry stored now, of both streams, in order. */
    public static List<Entry> readAll(Path dir) throws IOException {
        List<Entry> all = new ArrayList<>();
        try (ContainerLog log = new ContainerLog(dir)) {
            for (List<Entry> batch; !(batch = log.poll()).isEmpty(); ) all.addAll(batch);
        }
        return all;
    }

    /** The text one stream wrote, joined across partial records. */
    public static String text(Path dir, String stream) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Entry e : readAll(dir)) if (e.stream().equals(stream)) sb.append(e.text());
        return sb.toString();
    }

    private boolean openNext() throws IOException {
        Path next = backlog.isEmpty() ? dir.resolve(FILE) : backlog.remove(0);
        if (!Files.exists(next)) return false;
        current = new RandomAccessFile(next.toFile(), "r");
        currentIsLive = next.getFileName().toString().equals(FILE);
        currentKey = currentIsLive ? key(next) : null;
        return true;
    }

    private boolean rotatedAway() {
        if (currentKey == null) return false;
        try {
            return !currentKey.equals(key(dir.resolve(FILE)));
        } catch (IOException e) {
            return false; // between the rename and the new file: wait
        }
    }

    private static Object key(Path p) throws IOException {
        return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
    }

    private void split(byte[] b, int n) {
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (b[i] == '\n') {
                pending.write(b, start, i - start);
                parse(pending.toByteArray());
                pending.reset();
                start = i + 1;
            }
        }
        pending.write(b, start, n - start);
    }

    private void parse(byte[] line) {
        // TIMESTAMP SP STREAM SP TAG SP CONTENT
        int s1 = indexOf(line, 0);
        int s2 = s1 < 0 ? -1 : indexOf(line, s1 + 1);
        int s3 = s2 < 0 ? -1 : indexOf(line, s2 + 1);
        if (s3 < 0) return; // not a record (a torn write after a crash): skip it
        Instant time;
        try {
            time = Instant.parse(new String(line, 0, s1, StandardCharsets.US_ASCII));
        } catch (RuntimeException e) {
            return;
        }
        String stream = new String(line, s1 + 1, s2 - s1 - 1, StandardCharsets.US_ASCII);
        boolean partial = s3 - s2 - 1 == 1 && line[s2 + 1] == 'P';
        int len = line.length - s3 - 1;
        byte[] content = new byte[len + (partial ? 0 : 1)];
        System.arraycopy(line, s3 + 1, content, 0, len);
        if (!partial) content[len] = '\n';
        ready.add(new Entry(stream, time, content));
    }

    private static int indexOf(byte[] b, int from) {
        for (int i = from; i < b.length; i++) if (b[i] == ' ') return i;
        return -1;
    }

    @Override
    public void close() throws IOException {
        if (current != null) current.close();
    }
}
