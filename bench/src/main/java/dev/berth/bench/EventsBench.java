package dev.berth.bench;

import dev.berth.events.EventCodec;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.Topics;
import dev.berth.events.outbox.OutboxRelay;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The measuring side of {@code bench/events}: synthetic container lifecycles committed to the agent's SQLite
 * outbox, published by the real {@link OutboxRelay} to the real broker (on topics of this run only, see
 * {@link TopicPrefixInterceptor}), projected by a scheduler-api process into Postgres. Prints {@code key=value}
 * lines for the script.
 *
 * <pre>
 * EventsBench free-port
 * EventsBench topics BOOTSTRAP PREFIX create|delete [GROUP]
 * EventsBench pipeline BOOTSTRAP PREFIX JDBC_URL WORKDIR EVENTS RATE SECONDS
 * EventsBench kafka-anchor BOOTSTRAP PREFIX RECORD_BYTES SECONDS
 * </pre>
 *
 * <p>{@code pipeline} runs, in one JVM so the relay is as warm in each part as the agent's would be:
 * <ol>
 *   <li>a cold pass of {@value #COLD_PASS_FACTOR} x EVENTS events ({@code cold_*}): the consumers join their group
 *       and three JVMs compile their hot paths, which on two cores takes a good part of it;
 *   <li>EVENTS events ({@code tp_*}): the sustained rate;
 *   <li>RATE events/s for {@value #LATENCY_WARM_UP_SECONDS} s, then for SECONDS, timed ({@code lat_*}) by polling
 *       Postgres for each event's row.
 * </ol>
 * Every look at Postgres goes through one connection with prepareThreshold=0 ({@link #pollingConnection}).
 *
 */
public final class EventsBench {
    /** Topic of the raw producer anchor (under the run's prefix). */
    static final String ANCHOR_TOPIC = "anchor";
    /** Partitions of the run's topics, as Berth's own. */
    static final int PARTITIONS = 3;
    static final int LATENCY_WARM_UP_SECONDS = 5;
    /** The cold pass is this many times EVENTS: long enough for the three JVMs to finish compiling before (a) is timed. */
    static final int COLD_PASS_FACTOR = 2;
    /** How every client of the run logs in to Kafka: the file $BERTH_KAFKA_CLIENT_PROPERTIES names (bench/events sets it). */
    private static final KafkaClientProperties LOGIN = KafkaClientProperties.fromEnvironment();
    private static final String PG_USER = System.getenv().getOrDefault("BERTH_PG_USER", "berth");
    private static final String PG_PASSWORD = System.getenv().getOrDefault("BERTH_PG_PASSWORD", "berth");

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "free-port" -> {
                try (ServerSocket s = new ServerSocket(0)) {
                    System.out.println(s.getLocalPort());
                }
            }
            case "topics" -> topics(args[1], args[2], args[3], args.length > 4 ? args[4] : null);
            case "pipeline" -> {
                String bootstrap = args[1];
                String prefix = args[2];
                Path work = Path.of(args[4]);
                int events = Integer.parseInt(args[5]);
                try (Connection db = pollingConnection(args[3])) {
                    pass("cold", bootstrap, prefix, db, work, COLD_PASS_FACTOR * events);
                    pass("tp", bootstrap, prefix, db, work, events);
                    latency(bootstrap, prefix, db, work, Integer.parseInt(args[6]), Integer.parseInt(args[7]));
                }
            }
            case "kafka-anchor" -> kafkaAnchor(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
        System.exit(0); // the relay's and HTTP client's threads are daemons, but Kafka's are not all
    }

    /**
     * The connection that watches Postgres for projected rows. prepareThreshold=0: every poll is an unnamed statement
     * planned for its own parameters, never a server-side prepared one whose cached generic plan (chosen after a
     * few executions, while the table looked different) would make the polls, and so the figures, slower than the
     * projection they watch.
     */
    static Connection pollingConnection(String url) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", PG_USER);
        p.setProperty("password", PG_PASSWORD);
        p.setProperty("prepareThreshold", "0");
        return DriverManager.getConnection(url, p);
    }

    private static List<String> topicNames(String prefix) {
        List<String> names = new ArrayList<>();
        Topics.EVENT_TOPICS.forEach(t -> names.add(prefix + t));
        names.add(prefix + Topics.DEAD_LETTER);
        names.add(prefix + ANCHOR_TOPIC);
        return names;
    }

    /** Creates this run's topics (3 partitions, as Berth's), or deletes them and the run's consumer group. */
    static void topics(String bootstrap, String prefix, String action, String group) throws Exception {
        Map<String, Object> adminConfig = new HashMap<>(LOGIN.asMap());
        adminConfig.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminConfig)) {
            if (action.equals("create")) {
                admin.createTopics(topicNames(prefix).stream().map(n -> new NewTopic(n, PARTITIONS, (short) 1)).toList()).all().get(30, TimeUnit.SECONDS);
                // what scheduler-api must read and dead-letter to, for the script to pass on
                System.out.println("consume=" + String.join(",", Topics.EVENT_TOPICS.stream().map(t -> prefix + t).toList()));
                System.out.println("dead_letter=" + prefix + Topics.DEAD_LETTER);
            } else {
                if (group != null) {
                    try {
                        admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        System.err.println("consumer group " + group + " not deleted: " + e.getMessage());
                    }
                }
                admin.deleteTopics(topicNames(prefix)).all().get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static OutboxRelay relay(String bootstrap, String prefix, SyntheticNode node, String name) {
        OutboxRelay.Settings settings = OutboxRelay.Settings.defaults(bootstrap) // the agent's own settings
                .withLogin(LOGIN)
                .withClientId("bench-" + name + "-" + ProcessHandle.current().pid())
                .withProducerOverrides(Map.of(
                        ProducerConfig.INTERCEPTOR_CLASSES_CONFIG, TopicPrefixInterceptor.class.getName(),
                        TopicPrefixInterceptor.PREFIX, prefix));
        OutboxRelay relay = new OutboxRelay(node.outbox, settings);
        node.outbox.onAppend(relay::wakeUp);
        return relay.start();
    }

    private static long count(Connection db, String sql, Object parameter) throws Exception {
        try (PreparedStatement s = db.prepareStatement(sql)) {
            s.setObject(1, parameter);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static long projected(Connection db, String namespace) throws Exception {
        return count(db, "SELECT count(*) FROM event WHERE namespace = ?", namespace);
    }

    /**
     * Waits until the events of a pass are all in Postgres; returns the nanoTime they were, or -1 after the timeout.
     * It watches the markers, the last event committed to the outbox on each partition: a consumer commits a
     * partition's batches in order, so a marker's row means every event before it on that partition has its row.
     * Those are a few index lookups; counting the namespace's rows (a scan) is done once, to confirm.
     */
    private static long awaitProjected(Connection db, SyntheticNode node, List<String> markers, long expected, long t0,
            Duration timeout) throws Exception {
        long deadline = t0 + timeout.toNanos();
        java.sql.Array ids = db.createArrayOf("text", markers.toArray());
        while (count(db, "SELECT count(*) FROM event WHERE subject_kind = 'container' AND subject_id = ANY(?)", ids) < markers.size()) {
            if (System.nanoTime() > deadline) {
                return -1;
            }
            Thread.sleep(5);
        }
        long done = System.nanoTime();
        while (projected(db, node.namespace) < expected) { // only after a relay retry reordered a partition
            if (System.nanoTime() > deadline) {
                return -1;
            }
            Thread.sleep(20);
            done = System.nanoTime();
        }
        return done;
    }

    /**
     * A pass of {@code events} lifecycle events (plus one marker per partition), all committed to a fresh outbox
     * first, timed from the relay's start until the last one has its row in Postgres. Prints {@code <key>_...} lines.
     */
    static void pass(String key, String bootstrap, String prefix, Connection db, Path work, int events) throws Exception {
        String tag = key + Long.toString(ProcessHandle.current().pid(), 36);
        try (SyntheticNode node = new SyntheticNode(work.resolve(key), "bench-node-" + tag, "bench-" + tag, tag)) {
            long f0 = System.nanoTime();
            for (int left = events; left > 0; left -= 1000) {
                node.commit(Math.min(1000, left));
            }
            List<String> markers = node.commitMarkers(PARTITIONS);
            long total = node.generated();
            double fillSeconds = (System.nanoTime() - f0) / 1e9;

            AtomicLong relayDone = new AtomicLong(-1);
            long t0 = System.nanoTime();
            long t1;
            try (OutboxRelay relay = relay(bootstrap, prefix, node, key)) {
                Thread watch = new Thread(() -> {
                    while (relay.publishedCount() < total) {
                        LockSupport.parkNanos(1_000_000);
                    }
                    relayDone.set(System.nanoTime());
                });
                watch.setDaemon(true);
                watch.start();
                t1 = awaitProjected(db, node, markers, total, t0, Duration.ofSeconds(180));
            }
            long projected = projected(db, node.namespace);
            double seconds = ((t1 < 0 ? System.nanoTime() : t1) - t0) / 1e9;
            System.out.printf("%s_events=%d%n%s_projected=%d%n%s_fill_seconds=%.3f%n%s_seconds=%.3f%n%s_rate=%.0f%n",
                    key, total, key, projected, key, fillSeconds, key, seconds, key, projected / seconds);
            if (relayDone.get() > 0) {
                double relaySeconds = (relayDone.get() - t0) / 1e9;
                System.out.printf("%s_relay_seconds=%.3f%n%s_relay_rate=%.0f%n", key, relaySeconds, key, total / relaySeconds);
            }
            if (key.equals("tp")) {
                double recordBytes = 0;
                double payloadBytes = 0;
                try (SyntheticNode sample = new SyntheticNode(work.resolve("sample"), "bench-node-sample", "bench-sample-" + tag, "s" + tag)) {
                    sample.commit(SyntheticNode.BLOCK * 4);
                    var rows = sample.meta.unsentOutbox(SyntheticNode.BLOCK * 4);
                    for (var row : rows) {
                        recordBytes += row.envelope().length();
                        payloadBytes += EventCodec.payloadJson(EventCodec.decode(row.envelope())).length();
                    }
                    recordBytes /= rows.size();
                    payloadBytes /= rows.size();
                }
                System.out.printf("record_bytes=%.0f%npayload_bytes=%.0f%n", recordBytes, payloadBytes);
            }
        }
    }

    /** How often the latency pass looks for its events' rows: its resolution. */
    static final int LATENCY_POLL_MILLIS = 2;

    // One index probe per event still awaited (event_subject_idx), as the projector's lock does it: LATERAL keeps a
    // nested loop whatever the planner thinks of unnest()'s row count.
    private static final String POLL_ROWS = """
            SELECT k.id, k.seq, e.occurred_at, e.received_at FROM unnest(?::text[], ?::int8[]) AS k(id, seq)
            CROSS JOIN LATERAL (SELECT occurred_at, received_at FROM event
                                WHERE subject_kind = 'container' AND subject_id = k.id AND sequence = k.seq) e""";

    /**
     * (b) Latency at a fixed rate: events committed to the outbox every 5 ms (RATE/200 per SQLite transaction), each
     * timed from its envelope's time (set when the agent records it) to the poll that first finds its row in
     * Postgres (committed by scheduler-api). The polls run every {@value #LATENCY_POLL_MILLIS} ms on {@code db}, for
     * the events not yet found, and the time taken is that of the poll's start, so the figure is at most one poll
     * interval late. The first {@value #LATENCY_WARM_UP_SECONDS} s run at the same rate and are not counted.
     */
    static void latency(String bootstrap, String prefix, Connection db, Path work, int rate, int seconds) throws Exception {
        String tag = Long.toString(ProcessHandle.current().pid(), 36);
        int warm = rate * LATENCY_WARM_UP_SECONDS;
        int measured = rate * seconds;
        long[] micros = new long[measured];
        long[] inMicros = new long[measured]; // envelope time to the start of the transaction that wrote its row
        AtomicInteger received = new AtomicInteger();
        AtomicLong polls = new AtomicLong();
        AtomicReference<Instant> measureFrom = new AtomicReference<>(Instant.MAX); // events recorded from then on count
        AtomicReference<Exception> pollFailure = new AtomicReference<>();
        Queue<SyntheticNode.EventKey> committed = new ConcurrentLinkedQueue<>();
        Map<SyntheticNode.EventKey, Long> committedAt = new ConcurrentHashMap<>(); // micros since the epoch
        LatencyStages stages = new LatencyStages();
        AtomicBoolean polling = new AtomicBoolean(true);
        try (SyntheticNode node = new SyntheticNode(work.resolve("latency"), "bench-node-lat", "bench-lat-" + tag, "l" + tag);
             KafkaTap tap = new KafkaTap(bootstrap, LOGIN, prefix + Topics.CONTAINER_EVENTS).start()) {
            Thread poller = new Thread(() -> {
                Set<SyntheticNode.EventKey> awaited = new HashSet<>();
                try (PreparedStatement poll = db.prepareStatement(POLL_ROWS)) {
                    while (polling.get()) {
                        for (SyntheticNode.EventKey k; (k = committed.poll()) != null; ) {
                            awaited.add(k);
                        }
                        long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LATENCY_POLL_MILLIS);
                        if (!awaited.isEmpty()) {
                            String[] ids = new String[awaited.size()];
                            Long[] sequences = new Long[awaited.size()];
                            int i = 0;
                            for (SyntheticNode.EventKey k : awaited) {
                                ids[i] = k.subjectId();
                                sequences[i++] = k.sequence();
                            }
                            poll.setArray(1, db.createArrayOf("text", ids));
                            poll.setArray(2, db.createArrayOf("int8", sequences));
                            Instant asked = Instant.now();
                            try (ResultSet r = poll.executeQuery()) {
                                while (r.next()) {
                                    SyntheticNode.EventKey key = new SyntheticNode.EventKey(r.getString(1), r.getLong(2));
                                    awaited.remove(key);
                                    Instant time = r.getObject(3, OffsetDateTime.class).toInstant();
                                    Instant start = r.getObject(4, OffsetDateTime.class).toInstant();
                                    if (!time.isBefore(measureFrom.get())) {
                                        int n = received.getAndIncrement();
                                        if (n < measured) {
                                            micros[n] = Duration.between(time, asked).toNanos() / 1000;
                                            inMicros[n] = Duration.between(time, start).toNanos() / 1000;
                                            KafkaTap.Seen seen = tap.seen(key);
                                            Long commit = committedAt.get(key);
                                            if (seen != null && commit != null) {
                                                stages.add(epochMicros(time), commit, seen.sentMillis() * 1000,
                                                        seen.tappedMillis() * 1000, epochMicros(start), epochMicros(asked));
                                            }
                                        }
                                    }
                                    committedAt.remove(key);
                                }
                            }
                            polls.incrementAndGet();
                        }
                        LockSupport.parkNanos(next - System.nanoTime());
                    }
                } catch (Exception e) {
                    pollFailure.set(e);
                }
            }, "latency-poll");
            poller.setDaemon(true);
            poller.start();

            try (OutboxRelay relay = relay(bootstrap, prefix, node, "latency")) {
                long tick = 5_000_000;
                long t0 = System.nanoTime();
                long measureStart = 0;
                for (long next = t0; node.generated() < warm + measured; next += tick) {
                    LockSupport.parkNanos(next - System.nanoTime());
                    long due = Math.min(warm + measured, (long) ((System.nanoTime() - t0) / 1e9 * rate)) - node.generated();
                    if (node.generated() < warm) {
                        due = Math.min(due, warm - node.generated());
                    }
                    if (due > 0) {
                        long first = node.generated();
                        node.commit((int) due);
                        long commit = epochMicros(Instant.now());
                        for (long k = first; k < node.generated(); k++) {
                            committedAt.put(node.key(k), commit);
                            committed.add(node.key(k));
                        }
                    }
                    if (measureStart == 0 && node.generated() == warm) {
                        measureFrom.set(Instant.now());
                        measureStart = System.nanoTime();
                    }
                }
                double writeSeconds = (System.nanoTime() - measureStart) / 1e9;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (received.get() < measured && System.nanoTime() < deadline && pollFailure.get() == null) {
                    Thread.sleep(10);
                }
                polling.set(false);
                poller.join(TimeUnit.SECONDS.toMillis(10));
                System.out.printf("lat_sent=%d%nlat_received=%d%nlat_write_seconds=%.3f%nlat_rate=%.0f%nlat_poll_ms=%d%nlat_polls=%d%n",
                        measured, received.get(), writeSeconds, measured / writeSeconds, LATENCY_POLL_MILLIS, polls.get());
            }
        }
        if (pollFailure.get() != null) {
            System.out.println("lat_poll_failed=" + pollFailure.get());
        }
        int n = Math.min(received.get(), measured);
        long[] sorted = Arrays.copyOf(micros, n);
        Arrays.sort(sorted);
        if (n > 0) {
            System.out.printf("lat_p50_ms=%.1f%nlat_p99_ms=%.1f%nlat_max_ms=%.1f%n", percentile(sorted, 50) / 1000.0,
                    percentile(sorted, 99) / 1000.0, sorted[n - 1] / 1000.0);
            long[] in = Arrays.copyOf(inMicros, n);
            Arrays.sort(in);
            System.out.printf("lat_in_p50_ms=%.1f%nlat_in_p99_ms=%.1f%n", percentile(in, 50) / 1000.0, percentile(in, 99) / 1000.0);
        }
        stages.print("lat_stage");
    }

    private static long epochMicros(Instant t) {
        return t.getEpochSecond() * 1_000_000 + t.getNano() / 1000;
    }

    private static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    /**
     * (c) The broker's own figure: a plain loop of sends with the relay's producer settings (idempotent, acks=all,
     * linger 5 ms), records of the events' average size, as many as the broker acknowledges in SECONDS.
     */
    static void kafkaAnchor(String bootstrap, String prefix, int recordBytes, int seconds) throws Exception {
        Map<String, Object> config = new HashMap<>(OutboxRelay.producerConfig(OutboxRelay.Settings.defaults(bootstrap)
                .withLogin(LOGIN)
                .withClientId("bench-anchor-" + ProcessHandle.current().pid())));
        byte[] value = new byte[recordBytes];
        Arrays.fill(value, (byte) 'x');
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        String topic = prefix + ANCHOR_TOPIC;
        long sent = 0;
        long t0;
        long t1;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(config)) {
            producer.partitionsFor(topic); // metadata first: not part of the rate
            t0 = System.nanoTime();
            long stop = t0 + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < stop) {
                producer.send(new ProducerRecord<>(topic, "c-anchor-" + (sent % 50_000), value), (m, e) -> {
                    if (e == null) {
                        acked.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                });
                sent++;
            }
            producer.flush();
            t1 = System.nanoTime();
        }
        double s = (t1 - t0) / 1e9;
        System.out.printf("records=%d%nfailed=%d%nseconds=%.3f%nrate=%.0f%n", acked.get(), failed.get(), s, acked.get() / s);
    }
}
