package dev.berth.oci.testing;

import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The images Berth's demo, tests and benchmarks pull, built from real binaries of this machine
 * (busybox-static, shared libraries) because no public registry is reachable.
 */
public final class TestImages {

    public static final Path BUSYBOX = Path.of("/usr/bin/busybox");

    private final RegistryClient client;
    private final String registry;
    private final Path workDir;

    public TestImages(RegistryClient client, String registry, Path workDir) {
        this.client = client;
        this.registry = registry;
        this.workDir = workDir;
    }

    /** {@code test/busybox:latest}: one layer, busybox and its applets, pushed as an OCI index. */
    public ImageBuilder.Pushed busybox() throws IOException {
        return busyboxBuilder().inIndex().push(client, Reference.parse(registry + "/test/busybox:latest"), workDir);
    }

    /**
     * {@code test/layers:latest}: Docker schema 2, three layers; the third deletes a file of the second
     * (whiteout) and replaces a directory's contents (opaque whiteout).
     */
    public ImageBuilder.Pushed layers() throws IOException {
        return busyboxBuilder()
                .layer(l -> l.dir("data", 0755)
                        .file("data/keep", 0644, "kept\n")
                        .file("data/gone", 0644, "deleted in layer 3\n")
                        .dir("opaque", 0755)
                        .file("opaque/old-a", 0644, "hidden by layer 3\n")
                        .file("opaque/old-b", 0644, "hidden by layer 3\n"))
                .layer(l -> l.whiteout("data/gone")
                        .dir("opaque", 0755)
                        .opaque("opaque")
                        .file("opaque/new", 0644, "from layer 3\n"))
                .dockerMediaTypes()
                .push(client, Reference.parse(registry + "/test/layers:latest"), workDir);
    }

    /**
     * {@code test/big:latest}: about 150 MB compressed in four gzip layers (busybox, then shared libraries, a JDK,
     * and /usr/share), real files that compress as real images do. Budgets are uncompressed bytes per layer.
     */
    public ImageBuilder.Pushed big() throws IOException {
        ImageBuilder b = busyboxBuilder();
        List<Path> sources = List.of(Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/lib/jvm"), Path.of("/usr/share"));
        List<Long> budgets = List.of(120L << 20, 45L << 20, 90L << 20);
        for (int i = 0; i < sources.size(); i++) {
            Path src = sources.get(i);
            if (!Files.isDirectory(src)) continue;
            String prefix = "big/layer" + i;
            long budget = budgets.get(i);
            b.layer(l -> l.hostTree(src, prefix, budget));
        }
        return b.push(client, Reference.parse(registry + "/test/big:latest"), workDir);
    }

    private ImageBuilder busyboxBuilder() throws IOException {
        return new ImageBuilder().busyboxBase(BUSYBOX, ImageBuilder.busyboxApplets(BUSYBOX));
    }

    /** Whether the registry already has {@code repo:latest}; seeding is skipped for images already there. */
    public boolean present(String repo) {
        try {
            client.fetchManifest(Reference.parse(registry + "/" + repo + ":latest"), "latest");
            return true;
        } catch (dev.berth.oci.OciException.NotFound e) {
            return false;
        }
    }

    private interface Push {
        ImageBuilder.Pushed push() throws IOException;
    }

    private void seed(String repo, boolean force, Push push) throws IOException {
        if (!force && present(repo)) {
            System.out.println("present " + registry + "/" + repo + ":latest");
            return;
        }
        long t0 = System.nanoTime();
        ImageBuilder.Pushed p = push.push();
        System.out.printf("pushed  %s/%s:latest %s (%.1fs)%n", registry, repo, p.topDigest(), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Seeds a registry: {@code TestImages 127.0.0.1:5000 [--big] [--force] [--auth CONFIG.json]}; images already there
     * are kept. {@code --auth} logs in with the credentials of a Docker config.json.
     */
    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: TestImages REGISTRY_HOST:PORT [--big] [--force] [--auth CONFIG.json]");
            System.exit(2);
        }
        List<String> flags = List.of(args);
        boolean force = flags.contains("--force");
        int auth = flags.indexOf("--auth");
        dev.berth.oci.auth.RegistryCredentials credentials = auth < 0 || auth + 1 >= args.length
                ? dev.berth.oci.auth.RegistryCredentials.none() : dev.berth.oci.auth.RegistryCredentials.load(Path.of(args[auth + 1]));
        Path work = Files.createTempDirectory("berth-seed");
        TestImages images = new TestImages(new RegistryClient(dev.berth.oci.auth.RegistryHosts.none(), credentials), args[0], work);
        images.seed("test/busybox", force, images::busybox);
        images.seed("test/layers", force, images::layers);
        if (flags.contains("--big")) images.seed("test/big", force, images::big);
        Files.deleteIfExists(work);
    }
}
