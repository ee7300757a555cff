package dev.berth.events.outbox;

import dev.berth.events.EventEnvelope;
import dev.berth.events.KafkaClientProperties;
import dev.berth.events.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Publishes an {@link Outbox} to Kafka, one batch at a time, on its own thread.
 *
 * <p>Each batch is sent with an idempotent producer (acks=all, at most 5 requests in flight, so the broker keeps
 * each partition in send order and drops the producer's own retries), keyed by subject id so one container's
 * events share a partition. The relay waits for every acknowledgement and marks sent exactly the records Kafka
 * acknowledged; anything else stays in the outbox and is sent again after a backoff (doubling from
 * {@code initialBackoff} to {@code maxBackoff}, with jitter), on a fresh producer. So an event reaches Kafka at
 * least once, and a repeat has the same event id; a record that failed while a later one of the same subject got
 * through is re-sent behind it, which is why consumers order by {@link EventEnvelope#sequence()}.
 *
 * <p>A record whose type has no topic (a bug in whoever wrote it), and a record Kafka refuses for good (larger than
 * the broker or producer accepts, a form the broker rejects: {@link RelayRecords#refusedForGood}), go to
 * {@link Topics#DEAD_LETTER} with the reason instead of stopping the relay: sending them again could never succeed,
 * and every batch would start with them.
 */
public final class OutboxRelay implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(OutboxRelay.class.getName());

    /**
     * How the relay works. {@code login} (how to log in to the broker) goes to the producer first, then
     * {@code producerOverrides}; the relay's own delivery settings (idempotence, acks=all, in-flight limit,
     * serializers) are applied over them and cannot be weakened.
     */
    public record Settings(
            String bootstrapServers,
            String clientId,
            int batchSize,
            Duration idlePoll,
            Duration initialBackoff,
            Duration maxBackoff,
            Duration deliveryTimeout,
            Duration stopTimeout,
            KafkaClientProperties login,
            Map<String, Object> producerOverrides) {

        public Settings {
            Objects.requireNonNull(bootstrapServers, "bootstrapServers");
            Objects.requireNonNull(login, "login");
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be at least 1");
            }
            producerOverrides = Map.copyOf(producerOverrides);
        }

        /** Batches of 500, an idle poll every 200 ms, backoff 100 ms doubling to 10 s, 30 s to deliver a batch, no login. */
        public static Settings defaults(String bootstrapServers) {
            return new Settings(bootstrapServers, "berth-outbox-relay", 500, Duration.ofMillis(200), Duration.ofMillis(100),
                    Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(10), KafkaClientProperties.none(), Map.of());
        }

        public Settings withClientId(String value) {
            return new Settings(bootstrapServers, value, batchSize, idlePoll, initialBackoff, maxBackoff, deliveryTimeout, stopTimeout, login, producerOverrides);
        }

        public Settings withBatchSize(int value) {
            return new Settings(bootstrapServers, clientId, value, idlePoll, initialBackoff, maxBackoff, deliveryTimeout, stopTimeout, login, producerOverrides);
        }

        public Settings withIdlePoll(Duration value) {
            return new Settings(bootstrapServers, clientId, batchSize, value, initialBackoff, maxBackoff, deliveryTimeout, stopTimeout, login, producerOverrides);
        }

        public Settings withBackoff(Duration initial, Duration max) {
            return new Settings(bootstrapServers, clientId, batchSize, idlePoll, initial, max, deliveryTimeout, stopTimeout, login, producerOverrides);
        }

        public Settings withDeliveryTimeout(Duration value) {
            return new Settings(bootstrapServers, clientId, batchSize, idlePoll, initialBackoff, maxBackoff, value, stopTimeout, login, producerOverrides);
        }

        public Settings withStopTimeout(Duration value) {
            return new Settings(bootstrapServers, clientId, batchSize, idlePoll, initialBackoff, maxBackoff, deliveryTimeout, value, login, producerOverrides);
        }

        public Settings withLogin(KafkaClientProperties value) {
            return new Settings(bootstrapServers, clientId, batchSize, idlePoll, initialBackoff, maxBackoff, deliveryTimeout, stopTimeout, value, producerOverrides);
        }

        public Settings withProducerOverrides(Map<String, Object> value) {
            return new Settings(bootstrapServers, clientId, batchSize, idlePoll, initialBackoff, maxBackoff, deliveryTimeout, stopTimeout, login, value);
        }
    }

    private final Outbox outbox;
    private final Settings settings;
    private final Object signal = new Object();
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong failedAttempts = new AtomicLong();
    private final AtomicLong deadLettered = new AtomicLong();
    private boolean workPending; // guarded by signal
    private volatile boolean running;
    private Thread thread;
    private Producer<String, byte[]> producer; // used only by the relay thread

    public OutboxRelay(Outbox outbox, Settings settings) {
        this.outbox = Objects.requireNonNull(outbox, "outbox");
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    /** The producer configuration the relay uses, overrides included. */
    public static Map<String, Object> producerConfig(Settings settings) {
        Map<String, Object> config = new HashMap<>(settings.login().asMap());
        config.putAll(settings.producerOverrides());
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        config.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, settings.clientId());
        config.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) Math.min(settings.deliveryTimeout().toMillis(), 10_000));
        config.putIfAbsent(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000);
        config.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, 1_000);
        long delivery = settings.deliveryTimeout().toMillis();
        config.putIfAbsent(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(1_000, Math.min(delivery / 3, 30_000)));
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) delivery);
        // the guarantees: every in-sync replica has it, the broker drops the producer's own duplicates, order kept
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
        Object inFlight = config.get(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION);
        if (inFlight == null || Integer.parseInt(inFlight.toString()) > 5 || Integer.parseInt(inFlight.toString()) < 1) {
            config.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        }
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return config;
    }

    /** Starts the relay thread; returns this. */
    public synchronized OutboxRelay start() {
        if (thread != null) {
            throw new IllegalStateException("relay already started");
        }
        running = true;
        thread = new Thread(this::run, settings.clientId());
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    /** Tells the relay new records were committed, so it does not wait for its idle poll. */
    public void wakeUp() {
        synchronized (signal) {
            workPending = true;
            signal.notifyAll();
        }
    }

    /** Records acknowledged by Kafka and marked sent since start. */
    public long publishedCount() {
        return published.get();
    }

    /** Records Kafka refused for good (too large, say) that went to the dead-letter topic instead, since start. */
    public long deadLetteredCount() {
        return deadLettered.get();
    }

    /** Batches that failed (broker unreachable, outbox failing...) and were retried. */
    public long failedAttempts() {
        return failedAttempts.get();
    }

    /**
     * Stops the relay: the batch in flight gets {@code stopTimeout} to be acknowledged and marked, then the thread
     * is interrupted. Whatever was not marked sent is published again by the next relay.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            t = thread;
            running = false;
        }
        if (t == null) {
            return;
        }
        wakeUp();
        try {
            t.join(settings.stopTimeout().toMillis());
            if (t.isAlive()) {
                t.interrupt();
                t.join(settings.stopTimeout().toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        Duration backoff = settings.initialBackoff();
        try {
            while (running) {
                try {
                    int relayed = relayOneBatch();
                    backoff = settings.initialBackoff();
                    if (relayed == 0) {
                        awaitWork(settings.idlePoll());
                    }
                } catch (InterruptedException e) {
                    if (!running) {
                        break;
                    }
                } catch (Exception e) {
                    failedAttempts.incrementAndGet();
                    LOG.log(System.Logger.Level.WARNING, "outbox relay: batch not delivered, retrying in about "
                            + backoff.toMillis() + " ms: " + e);
                    discardProducer();
                    if (!sleep(jitter(backoff))) {
                        break;
                    }
                    backoff = min(backoff.multipliedBy(2), settings.maxBackoff());
                }
            }
        } finally {
            discardProducer();
        }
    }

    /**
     * Sends one batch, waits for every ack, replaces each record Kafka refused for good by its dead-letter copy, and
     * marks sent the acknowledged records and the replaced ones; returns the batch size.
     */
    private int relayOneBatch() throws Exception {
        List<OutboxRecord> batch = outbox.fetchUnsent(settings.batchSize());
        if (batch.isEmpty()) {
            return 0;
        }
        Producer<String, byte[]> p = producer();
        List<ProducerRecord<String, byte[]>> records = new ArrayList<>(batch.size());
        List<Future<RecordMetadata>> pending = new ArrayList<>(batch.size());
        Exception failure = null;
        for (OutboxRecord record : batch) {
            ProducerRecord<String, byte[]> producerRecord = RelayRecords.toProducerRecord(record);
            Future<RecordMetadata> sent;
            try {
                sent = p.send(producerRecord);
            } catch (KafkaException e) { // refused at once; those already sent are on their way
                failure = e;
                break;
            }
            records.add(producerRecord);
            pending.add(sent);
            if (sent.isDone() && failedForNow(sent)) { // e.g. no metadata within max.block.ms: the rest would wait too
                break;
            }
        }
        if (failure == null) {
            flush(p); // the batch is complete: send what linger.ms would still hold back instead of waiting it out
        }
        List<Long> acknowledged = new ArrayList<>(pending.size());
        List<Integer> refused = new ArrayList<>();
        for (int i = 0; i < pending.size(); i++) {
            try {
                pending.get(i).get();
                acknowledged.add(batch.get(i).id());
            } catch (ExecutionException e) {
                if (RelayRecords.refusedForGood(e.getCause())) {
                    refused.add(i);
                } else if (failure == null) {
                    failure = e.getCause() instanceof Exception cause ? cause : e;
                }
            }
        }
        acknowledged.addAll(deadLetterRefused(p, batch, records, pending, refused));
        if (!acknowledged.isEmpty()) {
            outbox.markSent(acknowledged);
            published.addAndGet(acknowledged.size());
        }
        if (failure != null) {
            throw new KafkaException((batch.size() - acknowledged.size()) + " of " + batch.size()
                    + " records not acknowledged: " + failure, failure);
        }
        return batch.size();
    }

    /**
     * Sends the dead-letter copy of each record Kafka refused for good (so it holds up nothing behind it: its
     * subject's later events keep their order, with a gap where it was) and returns the ids of those whose copy was
     * acknowledged. A copy that fails leaves its record unsent, for the next attempt.
     */
    private List<Long> deadLetterRefused(Producer<String, byte[]> p, List<OutboxRecord> batch,
            List<ProducerRecord<String, byte[]>> records, List<Future<RecordMetadata>> pending, List<Integer> refused)
            throws InterruptedException {
        List<Long> replaced = new ArrayList<>(refused.size());
        for (int i : refused) {
            Throwable why = causeOf(pending.get(i));
            LOG.log(System.Logger.Level.ERROR, "outbox relay: Kafka refused outbox row " + batch.get(i).id()
                    + " for good, sending it to " + Topics.DEAD_LETTER + " instead: " + why);
            try {
                p.send(RelayRecords.refused(batch.get(i), records.get(i), why)).get();
                replaced.add(batch.get(i).id());
                deadLettered.incrementAndGet();
            } catch (ExecutionException | KafkaException e) {
                LOG.log(System.Logger.Level.WARNING, "outbox relay: the dead-letter copy of outbox row " + batch.get(i).id()
                        + " was not acknowledged, the row stays unsent: " + e);
            }
        }
        return replaced;
    }

    private static Throwable causeOf(Future<RecordMetadata> failed) throws InterruptedException {
        try {
            failed.get();
            throw new IllegalStateException("not a failed send");
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    private static void flush(Producer<String, byte[]> p) throws InterruptedException {
        try {
            p.flush();
        } catch (InterruptException e) { // the relay is being stopped: as if interrupted while awaiting the acks
            throw new InterruptedException(e.getMessage());
        }
    }

    /** A send that failed already, for a reason that would hold up the rest of the batch too. */
    private static boolean failedForNow(Future<RecordMetadata> done) {
        try {
            done.get();
            return false;
        } catch (ExecutionException e) {
            return !RelayRecords.refusedForGood(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    private Producer<String, byte[]> producer() {
        if (producer == null) {
            producer = new KafkaProducer<>(producerConfig(settings));
        }
        return producer;
    }

    private void discardProducer() {
        if (producer != null) {
            try {
                producer.close(running ? Duration.ZERO : settings.stopTimeout());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "outbox relay: closing the producer failed: " + e);
            }
            producer = null;
        }
    }

    private void awaitWork(Duration timeout) throws InterruptedException {
        synchronized (signal) {
            if (!workPending && running) {
                signal.wait(Math.max(1, timeout.toMillis()));
            }
            workPending = false;
        }
    }

    /** Sleeps unless stopped; false when the relay is stopping. */
    private boolean sleep(Duration duration) {
        long deadline = System.nanoTime() + duration.toNanos();
        synchronized (signal) {
            while (running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return true;
                }
                try {
                    signal.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    return running;
                }
            }
        }
        return false;
    }

    private static Duration jitter(Duration d) {
        double factor = 0.8 + ThreadLocalRandom.current().nextDouble(0.4);
        return Duration.ofMillis((long) (d.toMillis() * factor));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
