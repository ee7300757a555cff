package dev.berth.agent;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.SpecBuilder;
import dev.berth.agent.sys.Syscalls;
import dev.berth.oci.ImageConfig;
import dev.berth.oci.Index;
import dev.berth.oci.Json;
import dev.berth.oci.Manifest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Sets up, once the agent serves and off any request's path, what the first pull and the first container of a freshly
 * started agent would otherwise set up while the user waits: the libc binding (jnr-ffi generates it at its first use:
 * about 270 classes), the JSON readers of manifests, indexes and configs (about 190), SHA-256, gzip and the tar reader,
 * the run request's reader and an OCI spec built and written (Jackson introspects a type the first time it meets it:
 * a fresh agent's first Containers.Create took 47 ms, the next ones 7-11 ms). Nothing is pulled, created or written:
 * it is class loading and initialisation done early, which a request arriving meanwhile simply waits for instead of
 * doing it itself. (A whole warm-up pull was tried: a real pull arriving during it took longer.)
 * Measured on a 2-core machine, a fresh agent's first pull of the 150 MB test/big through the CLI: 1.51-1.89 s (median
 * 1.57) with it, 1.88-2.11 s (2.09) without, rounds alternating.
 */
final class FirstUseReadiness implements Runnable {

    private static final Logger LOG = Logger.getLogger(FirstUseReadiness.class.getName());
    private static final String CONFIG = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sh\"],"
            + "\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" + "0".repeat(64) + "\"]}}";
    private static final String DIGEST = "sha256:" + "0".repeat(64);

    static void startInBackground() {
        Thread t = new Thread(new FirstUseReadiness(), "first-use-readiness");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    @Override
    public void run() {
        long start = System.nanoTime();
        try {
            Syscalls.lgetxattr("/", "user.berth.readiness");
            Json.read(("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
                    + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + DIGEST + "\",\"size\":2},\"layers\":[{\"mediaType\":"
                    + "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + DIGEST + "\",\"size\":1}]}").getBytes(StandardCharsets.UTF_8),
                    Manifest.class, "readiness manifest");
            Json.read(("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\""
                    + DIGEST + "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}").getBytes(StandardCharsets.UTF_8),
                    Index.class, "readiness index");
            ImageConfig config = Json.read(CONFIG.getBytes(StandardCharsets.UTF_8), ImageConfig.class, "readiness config");
            byte[] tar = tarGz();
            MessageDigest.getInstance("SHA-256").digest(tar);
            try (TarArchiveInputStream in = new TarArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(tar)), "UTF-8")) {
                while (in.getNextEntry() != null) in.readAllBytes();
            }
            RunRequest run = Json.read("{\"args\":[\"true\"],\"env\":[\"A=B\"],\"network\":\"none\"}".getBytes(StandardCharsets.UTF_8),
                    RunRequest.class, "readiness run request");
            byte[] spec = Json.write(SpecBuilder.build("readiness", "readiness", config, run));
            Json.MAPPER.readValue(spec, new TypeReference<Map<String, Object>>() { });
            LOG.fine("ready for a first pull and container in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        } catch (IOException | RuntimeException | java.security.NoSuchAlgorithmException e) {
            // only a head start: the first pull sets up whatever failed here itself
            LOG.log(Level.FINE, "first-use readiness incomplete", e);
        }
    }

    /** A gzipped tar of one directory and one file. */
    private static byte[] tarGz() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(new GZIPOutputStream(bytes))) {
            out.putArchiveEntry(new TarArchiveEntry("etc/"));
            out.closeArchiveEntry();
            TarArchiveEntry f = new TarArchiveEntry("etc/hostname");
            byte[] content = "berth\n".getBytes(StandardCharsets.UTF_8);
            f.setSize(content.length);
            out.putArchiveEntry(f);
            out.write(content);
            out.closeArchiveEntry();
        }
        return bytes.toByteArray();
    }
}
