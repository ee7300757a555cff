package dev.berth.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.testing.KafkaSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The dev broker authenticates every client (a host-network container shares the node's loopback): without the
 * login nothing is written, with a wrong password the client is told so, with the login the event goes through.
 */
class KafkaLoginTest {
    private static final String BOOTSTRAP = KafkaSupport.bootstrap();

    @Test
    void theSharedBrokerTakesOnlyClientsThatLogIn() throws Exception {
        KafkaClientProperties login = KafkaSupport.login();
        assertFalse(login.isEmpty(), "the shared broker's login is missing: deploy/dev-services.sh up writes "
                + "deploy/.state/kafka/auth/client.properties, or set " + KafkaClientProperties.ENV);
        KafkaSupport.ensureTopics(BOOTSTRAP);
        String key = "login-test-" + UUID.randomUUID();

        ExecutionException anonymous = assertThrows(ExecutionException.class, () -> send(Map.of(), key));
        assertTrue(anonymous.getCause() instanceof org.apache.kafka.common.errors.TimeoutException, anonymous.toString());

        Map<String, Object> wrong = new HashMap<>(login.asMap());
        wrong.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
                + "username=\"berth\" password=\"not-the-password\";");
        ExecutionException refused = assertThrows(ExecutionException.class, () -> send(wrong, key));
        assertInstanceOf(SaslAuthenticationException.class, refused.getCause(), refused.toString());

        var from = KafkaSupport.endOffsets(BOOTSTRAP, Topics.DEAD_LETTER);
        send(login.asMap(), key);
        assertEquals(1, KafkaSupport.readAfter(BOOTSTRAP, from, r -> key.equals(r.key()), 1,
                Duration.ofMillis(500), Duration.ofSeconds(30)).size(), "only the client that logged in wrote");
    }

    @Test
    void theLoginFileIsReadWithoutShowingItsSecrets() throws Exception {
        Path file = Files.createTempFile("client", ".properties");
        try {
            Files.writeString(file, "security.protocol=SASL_PLAINTEXT\nsasl.jaas.config=x password=\"s3cret\";\n", StandardCharsets.UTF_8);
            KafkaClientProperties p = KafkaClientProperties.load(file);
            assertEquals("SASL_PLAINTEXT", p.asMap().get("security.protocol"));
            assertFalse(p.toString().contains("s3cret"), p.toString());
            assertTrue(p.toString().contains("sasl.jaas.config"), p.toString());
        } finally {
            Files.delete(file);
        }
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> KafkaClientProperties.load(Path.of("/nonexistent/client.properties")));
        assertTrue(missing.getMessage().contains("/nonexistent/client.properties does not exist"), missing.getMessage());
        assertTrue(missing.getMessage().contains("deploy/dev-services.sh up"), missing.getMessage());
    }

    /** One record, acknowledged within 8 s, with {@code login} as the producer's extra settings. */
    private static void send(Map<String, Object> login, String key) throws Exception {
        Map<String, Object> config = new HashMap<>(login);
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 6_000);
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 8_000);
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config, new StringSerializer(), new StringSerializer())) {
            producer.send(new ProducerRecord<>(Topics.DEAD_LETTER, key, "login test")).get(10, TimeUnit.SECONDS);
        }
    }
}
