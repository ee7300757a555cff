package dev.berth.schedulerapi.events;

import dev.berth.events.Topics;
import dev.berth.events.testing.KafkaSupport;
import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The app reading topics of this test run's own (and its own consumer group), for tests that publish poison: on
 * Berth's shared topics, a consumer of an older build reading from the start would stall on it. The names depend
 * only on the JVM, so the profile and the test agree on them whichever class loader reads this class.
 */
public class OwnTopics implements QuarkusTestProfile {
    public static final String PREFIX = "test-" + ProcessHandle.current().pid() + "-"
            + ProcessHandle.current().info().startInstant().map(i -> Long.toString(i.toEpochMilli())).orElse("0") + ".";

    public static String deadLetter() {
        return PREFIX + Topics.DEAD_LETTER;
    }

    /** Creates the run's topics (3 partitions, as Berth's), so a test can read where they end before using them. */
    public static void create() throws Exception {
        List<String> names = new ArrayList<>(Topics.EVENT_TOPICS.stream().map(t -> PREFIX + t).toList());
        names.add(deadLetter());
        try (Admin admin = KafkaSupport.admin(KafkaSupport.bootstrap())) {
            for (var created : admin.createTopics(names.stream().map(n -> new NewTopic(n, 3, (short) 1)).toList()).values().values()) {
                try {
                    created.get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
        }
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "mp.messaging.incoming.events.topics", Topics.EVENT_TOPICS.stream().map(t -> PREFIX + t).collect(Collectors.joining(",")),
                "mp.messaging.incoming.events.dead-letter-queue.topic", deadLetter(),
                "mp.messaging.incoming.events.group.id", PREFIX + "scheduler-api",
                "berth.events.create-topics", "false"); // Berth's names; the test creates its own (create())
    }
}
