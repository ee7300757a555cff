package dev.berth.schedulerapi.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.berth.events.Topics;
import io.quarkus.test.junit.QuarkusTest;
import java.util.Arrays;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

/** Topic names are written in application.properties for the connector; they must be the ones in Topics. */
@QuarkusTest
class TopicsConfigTest {
    @ConfigProperty(name = "mp.messaging.incoming.events.topics")
    String topics;

    @ConfigProperty(name = "mp.messaging.incoming.events.dead-letter-queue.topic")
    String deadLetter;

    @Test
    void configuredTopicsAreTheEventBusTopics() {
        assertEquals(Topics.EVENT_TOPICS, Arrays.asList(topics.split(",")));
        assertEquals(Topics.DEAD_LETTER, deadLetter);
    }
}
