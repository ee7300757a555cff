package dev.berth.cli;

import dev.berth.api.services.logs.v1.LogChunk;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Human-readable sizes, durations and aligned tables (by hand: java.util.Formatter costs a command's start). */
final class Format {
    private Format() {}

    private static final String[] UNITS = {"KiB", "MiB", "GiB", "TiB"};

    /** 1012 B, 1.5 KiB, 150 MiB: one decimal under 100, none from 100 on. */
    static String size(long bytes) {
        if (bytes < 1024) return bytes + " B";
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < UNITS.length - 1) {
            v /= 1024;
            u++;
        }
        return (v >= 100 ? Long.toString(Math.round(v)) : decimals(v, 1)) + " " + UNITS[u];
    }

    /** Nanoseconds as seconds with two decimals: "1.24s". */
    static String seconds(long nanos) {
        return decimals(nanos / 1e9, 2) + "s";
    }

    /** {@code v} rounded half-up to {@code places} decimals (v not negative). */
    static String decimals(double v, int places) {
        long scale = places == 1 ? 10 : places == 2 ? 100 : 1;
        long n = Math.round(v * scale);
        String frac = Long.toString(n % scale);
        while (frac.length() < places) frac = "0" + frac;
        return places == 0 ? Long.toString(n) : (n / scale) + "." + frac;
    }

    /** A chunk of a container's output, to the stream it came from, at once. */
    static void write(LogChunk chunk) {
        PrintStream to = chunk.getStream() == LogChunk.Stream.STDERR ? System.err : System.out;
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
            StringBuilder all = new StringBuilder();
            for (String[] r : rows) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < cols; i++) {
                    b.append(r[i]);
                    if (i < cols - 1) b.append(" ".repeat(w[i] - r[i].length() + 3));
                }
                all.append(b.toString().stripTrailing()).append('\n');
            }
            out.print(all);
        }
    }
}
