package dev.berth.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Human-readable sizes, durations and aligned tables. */
final class Format {
    private Format() {}

    static String size(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }

    /** A chunk of a container's output, to the stream it came from, at once. */
    static void write(dev.berth.api.services.logs.v1.LogChunk chunk) {
        PrintStream to = chunk.getStream() == dev.berth.api.services.logs.v1.LogChunk.Stream.STDERR ? System.err : System.out;
        to.write(chunk.getData().toByteArray(), 0, chunk.getData().size());
        to.flush();
    }

    static String ago(long epochSeconds) {
        long s = Math.max(0, System.currentTimeMillis() / 1000 - epochSeconds);
        if (s < 60) return s + " seconds ago";
        if (s < 3600) return s / 60 + " minutes ago";
        if (s < 86400) return s / 3600 + " hours ago";
        return s / 86400 + " days ago";
    }

    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(cells);
        }

        void print(PrintStream out) {
            int cols = rows.get(0).length;
            int[] w = new int[cols];
            for (String[] r : rows) for (int i = 0; i < cols; i++) w[i] = Math.max(w[i], r[i].length());
            for (String[] r : rows) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < cols; i++) {
                    b.append(r[i]);
                    if (i < cols - 1) b.append(" ".repeat(w[i] - r[i].length() + 3));
                }
                out.println(b.toString().stripTrailing());
            }
        }
    }
}
