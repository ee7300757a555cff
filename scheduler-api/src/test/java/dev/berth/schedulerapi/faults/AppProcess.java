package dev.berth.schedulerapi.faults;

import dev.berth.events.KafkaClientProperties;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The packaged scheduler-api (target/quarkus-app) as a process of its own, so a test can kill it with SIGKILL. */
final class AppProcess {
    private final Process process;
    private final int port;

    private AppProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    static AppProcess start(String kafkaBootstrap, String group, String logName) throws IOException, InterruptedException {
        Path jar = Path.of(System.getProperty("berth.app.jar", "target/quarkus-app/quarkus-run.jar"));
        Path logs = Path.of(System.getProperty("berth.it.logs", "target/it-logs"));
        Files.createDirectories(logs);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ProcessBuilder builder = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-Dquarkus.http.port=" + port,
                "-Dkafka.bootstrap.servers=" + kafkaBootstrap,
                "-Dmp.messaging.incoming.events.group.id=" + group,
                "-jar", jar.toString()));
        builder.environment().remove(KafkaClientProperties.ENV); // the private broker takes anyone: no login
        Process p = builder
                .redirectErrorStream(true)
                .redirectOutput(logs.resolve(logName).toFile())
                .start();
        AppProcess app = new AppProcess(p, port);
        app.awaitReady(Duration.ofSeconds(60));
        return app;
    }

    /** Ready means HTTP answers and the Kafka channel and the database are healthy. */
    private void awaitReady(Duration timeout) throws InterruptedException {
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("scheduler-api exited with " + process.exitValue() + " (see target/it-logs)");
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("scheduler-api not ready within " + timeout + " (see target/it-logs)");
    }

    /** SIGKILL: no shutdown hook, no last offset commit, whatever batch it was in the middle of. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            kill();
        }
    }
}
