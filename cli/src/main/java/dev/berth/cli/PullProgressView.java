package dev.berth.cli;

import dev.berth.api.services.images.v1.PullProgress;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Shows a pull as it goes: on a terminal one line per layer, redrawn in place with bytes and rate; elsewhere
 * (a pipe, a log) one plain line each time a layer changes phase.
 */
final class PullProgressView {

    private final PrintStream out;
    private final boolean terminal;
    private final Map<String, Layer> layers = new LinkedHashMap<>();
    private int drawn;

    private static final class Layer {
        String phase = "";
        long current;
        long total;
        long startedNanos;
    }

    PullProgressView(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    void update(PullProgress p) {
        if (p.getLayerDigest().isEmpty()) return;
        Layer l = layers.computeIfAbsent(p.getLayerDigest(), k -> new Layer());
        boolean changed = !l.phase.equals(p.getStatus());
        if (l.startedNanos == 0 && p.getStatus().equals("downloading")) l.startedNanos = System.nanoTime();
        l.phase = p.getStatus();
        l.current = p.getCurrent();
        l.total = p.getTotal();
        if (terminal) redraw();
        else if (changed && !l.phase.equals("downloading") && !l.phase.equals("waiting")) out.println(line(p.getLayerDigest(), l));
    }

    private void redraw() {
        StringBuilder b = new StringBuilder();
        if (drawn > 0) b.append("\033[").append(drawn).append('F'); // back to the first layer's line
        for (Map.Entry<String, Layer> e : layers.entrySet()) b.append("\033[2K").append(line(e.getKey(), e.getValue())).append('\n');
        drawn = layers.size();
        out.print(b);
        out.flush();
    }

    private static String line(String digest, Layer l) {
        String id = digest.length() > 19 ? digest.substring(0, 19) : digest;
        String detail = switch (l.phase) {
            case "downloading" -> {
                double secs = (System.nanoTime() - l.startedNanos) / 1e9;
                String rate = secs > 0.05 ? "  " + Format.size((long) (l.current / secs)) + "/s" : "";
                yield Format.size(l.current) + " / " + Format.size(l.total) + rate;
            }
            case "done", "downloaded" -> Format.size(l.total);
            case "exists" -> "already present";
            default -> "";
        };
        return String.format("%s  %-11s %s", id, l.phase, detail).stripTrailing();
    }
}
