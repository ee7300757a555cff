package dev.berth.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Where one event's latency went, stage by stage, for the latency pass's breakdown: from its envelope time to the
 * outbox commit (the agent's SQLite), to the relay's send (the record's CreateTime), to a plain consumer's receipt
 * (Kafka), to the start of scheduler-api's transaction (its consumer and batching), to the poll that found its row
 * (the transaction and the poll). Timestamps in microseconds since the epoch, on this machine's one clock (the
 * record's CreateTime has milliseconds only).
 */
final class LatencyStages {
    static final String[] NAMES = {"commit", "relay", "kafka", "consume", "project"};

    private final List<long[]> events = new ArrayList<>();

    /** Notes one event's stages from its timestamps, in the order of {@link #NAMES} plus the found time. */
    synchronized void add(long time, long committed, long sent, long tapped, long received, long found) {
        events.add(new long[] {committed - time, sent - committed, tapped - sent, received - tapped, found - received,
                found - time});
    }

    /** Prints key=value lines: each stage's p50 and p99, and each stage's mean over the slowest 1 % of events. */
    synchronized void print(String key) {
        int n = events.size();
        System.out.printf("%s_events=%d%n", key, n);
        if (n == 0) {
            return;
        }
        for (int s = 0; s < NAMES.length; s++) {
            long[] stage = new long[n];
            for (int i = 0; i < n; i++) {
                stage[i] = events.get(i)[s];
            }
            Arrays.sort(stage);
            System.out.printf("%s_%s_p50_ms=%.1f%n%s_%s_p99_ms=%.1f%n", key, NAMES[s], stage[(n - 1) / 2] / 1000.0,
                    key, NAMES[s], stage[Math.max(0, (int) Math.ceil(0.99 * n) - 1)] / 1000.0);
        }
        List<long[]> slowest = new ArrayList<>(events);
        slowest.sort(Comparator.comparingLong((long[] e) -> e[NAMES.length]).reversed());
        int top = Math.max(1, n / 100);
        StringBuilder line = new StringBuilder();
        for (int s = 0; s < NAMES.length; s++) {
            long sum = 0;
            for (int i = 0; i < top; i++) {
                sum += slowest.get(i)[s];
            }
            line.append(s == 0 ? "" : " ").append(NAMES[s]).append(' ').append(String.format("%.1f", sum / 1000.0 / top));
        }
        System.out.printf("%s_slowest_1pct_ms=%s%n", key, line);
    }
}
