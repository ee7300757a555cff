package dev.berth.agent.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The OCI runtime binary (runc, or crun) driven by its command line, one root directory per namespace. */
public final class Runc {

    private final String binary;
    private final Path rootBase;

    public Runc(String binary, Path rootBase) {
        this.binary = binary;
        this.rootBase = rootBase;
    }

    public String binary() {
        return binary;
    }

    public Path root(String namespace) {
        return rootBase.resolve(namespace);
    }

    public void start(String ns, String id) throws IOException {
        run(ns, "start", id);
    }

    public void kill(String ns, String id, int signal, boolean all) throws IOException {
        if (all) run(ns, "kill", "--all", id, Integer.toString(signal));
        else run(ns, "kill", id, Integer.toString(signal));
    }

    public void delete(String ns, String id, boolean force) throws IOException {
        if (force) run(ns, "delete", "--force", id);
        else run(ns, "delete", id);
    }

    /** Runs one runtime command; a non-zero exit becomes an IOException carrying the runtime's own message. */
    String run(String ns, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(binary, "--root", root(ns).toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(binary + " " + args[0] + " timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) throw new IOException(binary + " " + args[0] + " failed: " + lastLine(out));
        return out;
    }

    private static String lastLine(String s) {
        String[] lines = s.split("\n");
        String last = lines[lines.length - 1];
        int msg = last.indexOf("msg=");
        return msg >= 0 ? last.substring(msg + 4).replace("\"", "") : last;
    }
}
