package dev.berth.agent.runtime;

import dev.berth.agent.sys.PrivateDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The OCI runtime binary (runc, or crun) driven by its command line, one root directory per namespace. */
public final class Runc {

    /** Longer than any healthy runtime call; a hung one (a stuck hook, a frozen cgroup) is killed, not waited on. */
    static final long TIMEOUT_SECONDS = 60;

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

    /**
     * Deletes the runtime's record of a container whose processes are all gone, without a runtime process where
     * that is safe: runc's own state.json names the container's cgroups, and a stopped container with no hooks
     * leaves nothing else behind. Removing the (empty) cgroups and the state directory is what {@code runc delete}
     * would do; anything unexpected (another runtime, hooks to run, a process still in a cgroup, a cgroup runc did
     * not record) goes through {@code runc delete --force} instead. One Go process less per container.
     */
    public void deleteStopped(String ns, String id) throws IOException {
        if (!removedDirectly(ns, id)) delete(ns, id, true);
    }

    private boolean removedDirectly(String ns, String id) {
        if (!Path.of(binary).getFileName().toString().equals("runc")) return false;
        Path dir = root(ns).resolve(id);
        try {
            com.fasterxml.jackson.databind.JsonNode state = dev.berth.oci.Json.MAPPER.readTree(dir.resolve("state.json").toFile());
            com.fasterxml.jackson.databind.JsonNode hooks = state.path("config").path("Hooks");
            for (com.fasterxml.jackson.databind.JsonNode h : hooks) if (h.isArray() && !h.isEmpty()) return false; // runc runs poststop
            com.fasterxml.jackson.databind.JsonNode paths = state.path("cgroup_paths");
            if (!paths.isObject() || paths.isEmpty()) return false;
            List<Path> cgroups = new ArrayList<>();
            for (com.fasterxml.jackson.databind.JsonNode p : paths) {
                Path cg = Path.of(p.asText());
                if (!cg.isAbsolute() || !cg.normalize().startsWith("/sys/fs/cgroup/")) return false;
                cgroups.add(cg);
            }
            for (Path cg : cgroups) {
                if (!Files.isDirectory(cg)) continue;
                String procs = Files.readString(cg.resolve("cgroup.procs")).trim();
                if (!procs.isEmpty()) return false; // still a process (no pid namespace?): runc kills and waits
            }
            for (Path cg : cgroups) Files.deleteIfExists(cg); // rmdir: fails on a cgroup with children, then runc does it
            dev.berth.agent.sys.Trees.remove(dir);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * A runtime process (runc itself, or the shim that runs it) with the environment it should get: the agent's, plus
     * GOMAXPROCS=1 unless the operator set it. runc is a Go program started for one short call; with a P per CPU its
     * scheduler starts threads that spin looking for work such a call does not have (runc init already limits itself
     * to one). bench/run-throughput, alternating batches: 3.15 and 3.31 times containerd without it, 3.11 to 3.49 with
     * it. The container does not inherit it: runc builds the container's environment from the spec alone.
     */
    static ProcessBuilder process(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putIfAbsent("GOMAXPROCS", "1");
        return pb;
    }

    /** Runs one runtime command; a non-zero exit becomes an IOException carrying the runtime's own message. */
    String run(String ns, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(binary, "--root", root(ns).toString()));
        cmd.addAll(List.of(args));
        PrivateDirs.ensure(rootBase);
        Path out = Files.createTempFile(rootBase, "call", ".out");
        try {
            Process p = process(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!waitFor(p, TIMEOUT_SECONDS)) {
                p.destroyForcibly();
                throw new IOException(binary + " " + args[0] + " did not finish in " + TIMEOUT_SECONDS + " s and was killed");
            }
            String text = Files.readString(out).trim();
            if (p.exitValue() != 0) throw new IOException(binary + " " + args[0] + " failed: " + lastLine(text));
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static boolean waitFor(Process p, long seconds) throws IOException {
        try {
            return p.waitFor(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        }
    }

    private static String lastLine(String s) {
        String[] lines = s.split("\n");
        String last = lines[lines.length - 1];
        int msg = last.indexOf("msg=");
        return msg >= 0 ? last.substring(msg + 4).replace("\"", "") : last;
    }
}
