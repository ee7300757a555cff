package dev.berth.schedulerapi.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.events.EventCodec;
import dev.berth.events.EventEnvelope;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The live stream: Server-Sent Events of newly projected events, filtered, each event once. */
@QuarkusTest
class EventStreamTest {
    @TestHTTPResource("/api/v1/events/stream")
    URL stream;

    /** Opens the stream and queues each SSE data line as an envelope. */
    private static CompletableFuture<HttpResponse<Stream<String>>> subscribe(URI uri, BlockingQueue<EventEnvelope> received) {
        HttpRequest request = HttpRequest.newBuilder(uri).header("Accept", "text/event-stream").GET().build();
        return HttpClient.newHttpClient().sendAsync(request, HttpResponse.BodyHandlers.ofLines()).thenApply(response -> {
            CompletableFuture.runAsync(() -> response.body()
                    .filter(line -> line.startsWith("data:"))
                    .forEach(line -> {
                        try {
                            received.add(EventCodec.decode(line.substring(5).trim()));
                        } catch (Exception e) {
                            throw new AssertionError("not an envelope on the stream: " + line, e);
                        }
                    }));
            return response;
        });
    }

    @Test
    void newEventsMatchingTheFiltersAreStreamedOnce() throws Exception {
        try (TestEvents events = new TestEvents()) {
            BlockingQueue<EventEnvelope> all = new LinkedBlockingQueue<>();
            BlockingQueue<EventEnvelope> exits = new LinkedBlockingQueue<>();
            var allResponse = subscribe(URI.create(stream + "?namespace=" + events.namespace), all).get(10, TimeUnit.SECONDS);
            var exitResponse = subscribe(URI.create(stream + "?namespace=" + events.namespace + "&type=container.exited"), exits)
                    .get(10, TimeUnit.SECONDS);
            assertEquals(200, allResponse.statusCode());
            assertTrue(allResponse.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
            Thread.sleep(300); // the subscription reaches the broadcaster just after the headers

            String id = events.containerId();
            List<EventEnvelope> life = events.shortLife(id, 9);
            events.publish(life);
            events.publish(life.get(2)); // a duplicate is not news
            try (TestEvents elsewhere = new TestEvents()) {
                elsewhere.publish(elsewhere.shortLife(elsewhere.containerId(), 0)); // another namespace: filtered out
            }
            for (EventEnvelope expected : life) {
                EventEnvelope got = all.poll(30, TimeUnit.SECONDS);
                assertNotNull(got, "streamed: " + expected.type());
                assertEquals(expected, got);
            }
            EventEnvelope exit = exits.poll(30, TimeUnit.SECONDS);
            assertEquals(life.get(2), exit);
            events.publish(events.deleted(id, 4)); // a marker behind the duplicate, same partition
            assertEquals("container.deleted", all.poll(30, TimeUnit.SECONDS).type(), "the duplicate was not streamed");
            assertNull(exits.poll(500, TimeUnit.MILLISECONDS), "nothing but exits on the filtered stream");
            allResponse.body().close();
            exitResponse.body().close();
        }
    }

    @Test
    void anUnknownTypeFilterIsAProblem() throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(stream + "?type=nope")).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(400, response.statusCode());
        assertEquals("application/problem+json", response.headers().firstValue("content-type").orElse(""));
    }
}
