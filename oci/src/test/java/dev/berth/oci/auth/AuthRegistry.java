package dev.berth.oci.auth;

import dev.berth.oci.testing.LocalRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;

/**
 * A real registry ({@link LocalRegistry}), optionally with {@code auth: htpasswd:} (HTTP Basic; the file is written
 * with bcrypt, the only scheme distribution accepts).
 */
final class AuthRegistry implements AutoCloseable {

    private final LocalRegistry registry;

    private AuthRegistry(LocalRegistry registry) {
        this.registry = registry;
    }

    /** Without authentication. */
    static AuthRegistry open() throws IOException {
        return new AuthRegistry(LocalRegistry.start());
    }

    /** With htpasswd (Basic) authentication for these users. */
    static AuthRegistry htpasswd(Map<String, String> users) throws IOException {
        if (users.isEmpty()) throw new IllegalArgumentException("htpasswd needs at least one user");
        return new AuthRegistry(LocalRegistry.start(dir -> {
            StringBuilder htpasswd = new StringBuilder();
            users.forEach((u, p) -> htpasswd.append(u).append(':').append(BCrypt.hash(p, 5)).append('\n'));
            Files.writeString(dir.resolve("htpasswd"), htpasswd);
            return """
                    auth:
                      htpasswd:
                        realm: berth-test
                        path: %s
                    """.formatted(dir.resolve("htpasswd"));
        }));
    }

    /** host:port, as an image reference names the registry. */
    String address() {
        return registry.address();
    }

    String url() {
        return "http://" + address();
    }

    String log() throws IOException {
        return registry.log();
    }

    @Override
    public void close() throws IOException {
        registry.close();
    }
}
