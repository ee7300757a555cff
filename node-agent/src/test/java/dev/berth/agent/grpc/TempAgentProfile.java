package dev.berth.agent.grpc;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** The Quarkus-started agent on fresh, short temporary directories (shim socket paths must stay under 108 bytes). */
public class TempAgentProfile implements QuarkusTestProfile {

    static final Path BASE;

    static {
        try {
            BASE = Files.createTempDirectory(Path.of("/tmp"), "bq");
            // the agent's files go with the test JVM; the tests delete their containers, so nothing is mounted
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    new ProcessBuilder("rm", "-rf", "--one-file-system", BASE.toString()).start().waitFor();
                } catch (IOException | InterruptedException ignored) {
                    // best effort: a leftover temp dir is harmless
                }
            }));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "berth.agent.root", BASE.resolve("root").toString(),
                "berth.agent.state", BASE.resolve("state").toString(),
                "berth.agent.socket", BASE.resolve("agent.sock").toString(),
                "berth.agent.shim", System.getProperty("berth.shim.path"),
                // these machines' Debian runc predates the 2025 fixes; RuntimeVersionTest covers the refusal
                "berth.agent.allow-unpatched-runtime", "true");
    }
}
