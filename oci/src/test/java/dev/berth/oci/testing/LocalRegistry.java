package dev.berth.oci.testing;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A real registry (Debian's docker-registry, distribution 2.8) on a free loopback port with its own storage,
 * for tests and benchmarks that must not share state with anything else.
 */
public final class LocalRegistry implements AutoCloseable {

    public static final String BINARY = System.getProperty("berth.registry.binary", "/usr/bin/docker-registry");

    private final Path dir;
    private final Process process;
    private final int port;

    private LocalRegistry(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** More of the registry's config.yml (an auth section, say), given the registry's own directory for its files. */
    public interface ExtraConfig {
        String yaml(Path dir) throws IOException;
    }

    public static LocalRegistry start() throws IOException {
        return start(dir -> "");
    }

    /** A certificate chain and its private key, PEM files, that the registry serves HTTPS with. */
    public record Tls(Path certificate, Path key) {
    }

    public static LocalRegistry start(ExtraConfig extra) throws IOException {
        return start(extra, null);
    }

    /** Serving HTTPS only, with this certificate (plain HTTP on the port is refused). */
    public static LocalRegistry startTls(Tls tls) throws IOException {
        return start(dir -> "", tls);
    }

    private static LocalRegistry start(ExtraConfig extra, Tls tls) throws IOException {
        if (!Files.isExecutable(Path.of(BINARY))) {
            throw new IOException(BINARY + " is missing: install Debian's docker-registry package (apt-get install docker-registry)");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path dir = Files.createTempDirectory("berth-registry");
        Path config = dir.resolve("config.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  level: warn
                storage:
                  filesystem:
                    rootdirectory: %s
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:%d
                """.formatted(dir.resolve("data"), port) + (tls == null ? "" : """
                  tls:
                    certificate: %s
                    key: %s
                """.formatted(tls.certificate(), tls.key())) + extra.yaml(dir));
        Process p = new ProcessBuilder(BINARY, "serve", config.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("registry.log").toFile())
                .start();
        LocalRegistry r = new LocalRegistry(dir, p, port);
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                String log = Files.readString(dir.resolve("registry.log"));
                r.close();
                throw new IOException("docker-registry exited at start: " + log);
            }
            try {
                HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + port + "/v2/").toURL().openConnection();
                int code = c.getResponseCode();
                if (code == 200 || code == 401) return r; // 401: up, and asking for the credentials it was configured with
                if (tls != null && code == 400) return r; // an HTTPS server's answer to plain HTTP: up
            } catch (IOException notYet) {
                // still starting
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        r.close();
        throw new IOException("docker-registry did not answer on 127.0.0.1:" + port + " within 20 s");
    }

    /** host:port, as an image reference names the registry. */
    public String address() {
        return "127.0.0.1:" + port;
    }

    /** The registry's own log, for a test's failure message. */
    public String log() throws IOException {
        return Files.readString(dir.resolve("registry.log"));
    }

    /** Where the registry keeps blobs, so a test can corrupt one the way a failing disk would. */
    public Path blobData(String hex) {
        return dir.resolve("data/docker/registry/v2/blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex).resolve("data");
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
