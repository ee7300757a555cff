package dev.berth.oci.auth;

import dev.berth.oci.seed.LocalRegistry;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A real registry (Debian's docker-registry) like {@link LocalRegistry}, optionally with {@code auth: htpasswd:}
 * (HTTP Basic; the file is written with bcrypt, the only scheme distribution accepts).
 */
final class AuthRegistry implements AutoCloseable {

    private final Path dir;
    private final Process process;
    private final int port;

    private AuthRegistry(Path dir, Process process, int port) {
        this.dir = dir;
        this.process = process;
        this.port = port;
    }

    /** Without authentication. */
    static AuthRegistry open() throws IOException {
        return start(Map.of());
    }

    /** With htpasswd (Basic) authentication for these users. */
    static AuthRegistry htpasswd(Map<String, String> users) throws IOException {
        if (users.isEmpty()) throw new IllegalArgumentException("htpasswd needs at least one user");
        return start(users);
    }

    private static AuthRegistry start(Map<String, String> users) throws IOException {
        if (!Files.isExecutable(Path.of(LocalRegistry.BINARY))) {
            throw new IOException(LocalRegistry.BINARY + " is missing: install Debian's docker-registry package (apt-get install docker-registry)");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path dir = Files.createTempDirectory("berth-auth-registry");
        StringBuilder config = new StringBuilder("""
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
                """.formatted(dir.resolve("data"), port));
        if (!users.isEmpty()) {
            StringBuilder htpasswd = new StringBuilder();
            users.forEach((u, p) -> htpasswd.append(u).append(':').append(BCrypt.hash(p, 5)).append('\n'));
            Files.writeString(dir.resolve("htpasswd"), htpasswd);
            config.append("""
                    auth:
                      htpasswd:
                        realm: berth-test
                        path: %s
                    """.formatted(dir.resolve("htpasswd")));
        }
        Path configFile = dir.resolve("config.yml");
        Files.writeString(configFile, config);
        Process p = new ProcessBuilder(LocalRegistry.BINARY, "serve", configFile.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("registry.log").toFile())
                .start();
        AuthRegistry r = new AuthRegistry(dir, p, port);
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
                if (code == 200 || (code == 401 && !users.isEmpty())) return r;
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
    String address() {
        return "127.0.0.1:" + port;
    }

    String url() {
        return "http://" + address();
    }

    String log() throws IOException {
        return Files.readString(dir.resolve("registry.log"));
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
            for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
        }
    }
}
