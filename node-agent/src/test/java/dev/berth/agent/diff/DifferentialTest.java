package dev.berth.agent.diff;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.berth.agent.NodeAgent;
import dev.berth.agent.diff.TrickyImages.Image;
import dev.berth.agent.metadata.MetadataStore.ContainerRecord;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.TaskExit;
import dev.berth.agent.sys.Syscalls;
import dev.berth.oci.Descriptor;
import dev.berth.oci.Digest;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.Json;
import dev.berth.oci.Manifest;
import dev.berth.oci.MediaTypes;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import jnr.ffi.LibraryLoader;
import jnr.ffi.types.size_t;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Differential test of unpacking: the same tricky images are pulled into Berth and into a real containerd 1.6 (its
 * overlay snapshotter), a container of each is run in both, and the container's view of its root filesystem must
 * be the same: every path with its type, mode (special bits included), owner, size, mtime (to the nanosecond),
 * symlink target, device numbers, link count, hard-link grouping and content hash, listed by busybox from inside the
 * container. Xattrs, which busybox cannot list, are compared from the host on each side's merged overlay view.
 *
 * <p>Needs root, overlayfs, runc, containerd and ctr 1.6, and Debian's docker-registry.
 */
class DifferentialTest {

    private static final String NS = "diff";

    /** The listing's last line: a listing without it was cut short. */
    static final String LISTING_END = "END|";

    /**
     * Lists the container's root file system from inside. {@code -xdev} keeps find on the root overlay: the
     * runtime's mounts (/proc, /sys, /dev and what is under it, /run) are listed as mount points and not entered.
     */
    static final String LISTING_SCRIPT = String.join("\n",
            "exec 2>&1", // errors (an entry listed but not found) are part of the listing
            "awk '{print \"M|\" $5}' /proc/self/mountinfo",
            "find / -xdev -exec stat -c 'E|%i|%h|%a|%u|%g|%s|%Y|%y|%t|%T|%F|%n' {} +",
            "find / -xdev -type l -exec sh -c 'for l do printf \"L|%s|%s\\n\" \"$(readlink \"$l\")\" \"$l\"; done' sh {} +",
            "find / -xdev -type f -exec sha256sum {} + | sed 's/^/H|/'",
            "echo '" + LISTING_END + "'"); // the listing is whole only with this last line

    static Path base;
    static LocalRegistry registry;
    static NodeAgent agent;
    static Process containerd;
    static Path ctrdDir;
    static Path ctrdSock;
    static long startEpoch;
    static final Map<String, String> refs = new LinkedHashMap<>();
    /** Per image, empty once pulled into both, or why a pull failed. */
    static final Map<String, String> pulled = new ConcurrentHashMap<>();
    static final Map<String, Long> timings = new TreeMap<>();

    /** Built once: every entry's default mtime depends on the order the layers are built in. */
    static final List<Image> IMAGES = TrickyImages.all();

    static Stream<String> images() {
        return IMAGES.stream().map(Image::name);
    }

    private static Image image(String name) {
        return IMAGES.stream().filter(i -> i.name().equals(name)).findFirst().orElseThrow();
    }

    @BeforeAll
    static void setUp() throws Exception {
        long t0 = System.nanoTime();
        startEpoch = System.currentTimeMillis() / 1000;
        // short paths: shim and containerd sockets live under these dirs and unix socket paths are limited to 108 bytes
        base = Files.createTempDirectory(Path.of("/tmp"), "df");
        registry = LocalRegistry.start();
        pushImages();
        startContainerd();
        agent = new NodeAgent(new NodeAgent.Settings(base.resolve("b/root"), base.resolve("b/state"), shimPath(), "/usr/sbin/runc"));
        System.out.printf("differential setup (registry, %d images pushed, containerd started): %.1fs%n", refs.size(), (System.nanoTime() - t0) / 1e9);
    }

    @AfterAll
    static void tearDown() throws Exception {
        List<String> problems = new ArrayList<>();
        if (agent != null) {
            try {
                for (ContainerRecord c : agent.containers().list(NS)) {
                    if (agent.tasks().get(NS, c.id()).isPresent()) agent.tasks().delete(NS, c.id(), true);
                    agent.containers().delete(NS, c.id());
                }
            } catch (Exception e) {
                problems.add("berth containers: " + e);
            }
            try {
                agent.close();
            } catch (Exception e) {
                problems.add("berth agent: " + e);
            }
        }
        if (containerd != null) {
            try {
                for (String id : ctrOut("tasks", "ls", "-q").lines().map(String::trim).filter(s -> !s.isEmpty()).toList()) {
                    ctrQuiet("tasks", "kill", "-s", "SIGKILL", id);
                    ctrQuiet("tasks", "rm", "-f", id);
                }
                for (String id : ctrOut("containers", "ls", "-q").lines().map(String::trim).filter(s -> !s.isEmpty()).toList()) {
                    ctrQuiet("containers", "rm", id);
                }
            } catch (Exception e) {
                problems.add("containerd containers: " + e);
            }
            containerd.destroy();
            if (!containerd.waitFor(20, TimeUnit.SECONDS)) {
                containerd.destroyForcibly();
                containerd.waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (base != null) {
            // whatever a failed step left mounted under the test's dirs (rootfs, snapshot views), deepest first
            List<String> mounts = Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                    .map(l -> l.split(" ")[1]).filter(t -> t.startsWith(base.toString())).sorted(Comparator.reverseOrder()).toList();
            for (String m : mounts) {
                try {
                    Syscalls.unmount(m);
                } catch (IOException e) {
                    problems.add(e.getMessage());
                }
            }
            new ProcessBuilder("rm", "-rf", "--one-file-system", base.toString()).inheritIO().start().waitFor();
        }
        if (registry != null) registry.close();
        System.out.println("differential timings (ms): " + timings);
        assertTrue(problems.isEmpty(), "tear-down: " + problems);
    }

    // -----------------------------------------------------------------------------------------------------------
    // the comparisons
    // -----------------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("images")
    void containerSeesTheSameRootFilesystem(String name) throws Exception {
        Image img = image(name);
        pull(img);
        long t0 = System.nanoTime();
        String fromContainerd = runInContainerd("ls-" + img.name(), refs.get(img.name()));
        String fromBerth = runInBerth("ls-" + img.name(), refs.get(img.name()));
        timings.put(img.name() + ".run", (System.nanoTime() - t0) / 1_000_000);
        List<String> ctrd = canonical(fromContainerd);
        List<String> berth = canonical(fromBerth);
        assertTrue(ctrd.size() > 250, "the listing covers busybox's applets too, got " + ctrd.size() + " lines:\n" + fromContainerd);
        compare(img, "root file system listing", ctrd, berth);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("images")
    void xattrsAreTheSame(String name) throws Exception {
        Image img = image(name);
        pull(img);
        String chainId = agent.images().get(NS, refs.get(img.name())).orElseThrow().chainId();
        List<String> ctrd = xattrsOfContainerdView(img.name(), chainId);
        List<String> berth = xattrsOfBerthView(img.name(), chainId);
        if (img.name().equals("xattrs")) {
            // not a vacuous comparison: containerd's view has the xattrs that are hardest to carry over
            String all = String.join("\n", ctrd);
            for (String expected : List.of("/xa/f\tuser.empty=\"\"", "/xa/f\tuser.bin=\"\\x00\\x01", "/xa/cap-setuid\tsecurity.capability=\"\\x01\\x00\\x00\\x02\\x80",
                    "/xa/caplink\tsecurity.capability=", "/xa/dir2\tuser.keep=\"kept\"", "/xa/big\tuser.big=")) {
                assertTrue(all.contains(expected), "containerd's view lacks " + expected + ":\n" + all);
            }
        }
        compare(img, "xattrs of the merged view", ctrd, berth);
    }

    /**
     * Asserts two canonical listings (one line per path, sorted by path) are equal, but for the paths an image's
     * known difference covers: those must differ (so that a fix shows up here and the exception is removed).
     */
    private static void compare(Image img, String what, List<String> ctrd, List<String> berth) {
        if (img.known() == null) {
            if (!ctrd.equals(berth)) fail(img.name() + ": " + what + " differs from containerd's (" + img.covers() + ")\n" + diff(ctrd, berth));
            return;
        }
        List<String> ctrdRest = ctrd.stream().filter(l -> !isKnown(img, l)).toList();
        List<String> berthRest = berth.stream().filter(l -> !isKnown(img, l)).toList();
        if (!ctrdRest.equals(berthRest)) {
            fail(img.name() + ": " + what + " differs from containerd's outside the known difference\n" + diff(ctrdRest, berthRest));
        }
        if (what.startsWith("root")) {
            assertFalse(ctrd.equals(berth), img.name() + ": Berth now matches containerd where it was known to differ ("
                    + img.known().reason() + "): remove the known difference from TrickyImages");
            System.out.println(img.name() + ": known difference from containerd (" + img.known().reason() + "):\n" + diff(ctrd, berth));
        }
    }

    private static boolean isKnown(Image img, String line) {
        String path = line.substring(0, line.indexOf('\t'));
        for (String p : img.known().paths()) {
            if (path.equals(p) || path.startsWith(p + "/")) return true;
            // an error line names its path somewhere in the message
            if (path.startsWith("~") && (line.contains(p + "/") || line.contains(p + ":") || line.contains(p + "'"))) return true;
        }
        return false;
    }

    /** The differing lines, path by path: {@code -} containerd's, {@code +} Berth's; at most 60 of them. */
    static String diff(List<String> ctrd, List<String> berth) {
        Map<String, String> a = byPath(ctrd);
        Map<String, String> b = byPath(berth);
        TreeMap<String, Boolean> paths = new TreeMap<>();
        a.keySet().forEach(p -> paths.put(p, true));
        b.keySet().forEach(p -> paths.put(p, true));
        StringBuilder out = new StringBuilder("--- containerd\n+++ berth\n");
        int shown = 0;
        int total = 0;
        for (String p : paths.keySet()) {
            String x = a.get(p);
            String y = b.get(p);
            if (x != null && x.equals(y)) continue;
            total++;
            if (shown++ >= 60) continue;
            if (x != null) out.append("- ").append(x).append('\n');
            if (y != null) out.append("+ ").append(y).append('\n');
        }
        if (total > 60) out.append("... ").append(total - 60).append(" more differing paths\n");
        return out.toString();
    }

    private static Map<String, String> byPath(List<String> lines) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String l : lines) m.merge(l.substring(0, l.indexOf('\t')), l, (x, y) -> x + "\n  " + y);
        return m;
    }

    // -----------------------------------------------------------------------------------------------------------
    // canonical listing
    // -----------------------------------------------------------------------------------------------------------

    /**
     * One line per path, sorted: {@code PATH<TAB>type mode uid gid [size] mtime [rdev] [nlink] [hard-link group]
     * [-> target] [sha256]}. Normalised, and only these:
     * <ul>
     * <li>mount points of the runtime (/proc, /sys, /dev, /run: runc mounts them, creating /run since busybox has
     * none) show as {@code <runtime mount>}: their attributes are the mounted file system's, not the image's;
     * <li>an mtime within the test's run shows as {@code NOW}: it was set by the unpack or the runtime at its own
     * moment (a directory the layer never names but writes into; the root, whose mtime changes when runc creates
     * /run), never taken from a layer, since every mtime the images carry is years away from today;
     * <li>hard links are grouped by the first path of the group, not by inode number;
     * <li>directories show no size and no link count (both depend on the file system's bookkeeping, not on the image).
     * </ul>
     * Nothing else is excluded: neither runtime adds files to the rootfs here (no /etc/hostname, /etc/hosts or
     * /etc/resolv.conf is bound in without host networking), and anything find reports as an error (a whiteout
     * listed in a directory but not found) is compared too, as {@code ~error} lines.
     */
    static List<String> canonical(String raw) {
        long nowFrom = startEpoch - 60;
        long nowTo = System.currentTimeMillis() / 1000 + 60;
        java.util.Set<String> mounts = new java.util.HashSet<>();
        Map<String, String> targets = new HashMap<>();
        Map<String, String> hashes = new HashMap<>();
        List<String[]> entries = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        for (String line : raw.split("\n")) {
            if (line.startsWith("M|")) {
                mounts.add(line.substring(2).replace("\\040", " "));
            } else if (line.startsWith("E|")) {
                entries.add(line.split("\\|", 13));
            } else if (line.startsWith("L|")) {
                String rest = line.substring(2);
                int bar = rest.lastIndexOf("|/");
                targets.put(rest.substring(bar + 1), rest.substring(0, bar));
            } else if (line.startsWith("H|")) {
                String rest = line.substring(2);
                hashes.put(rest.substring(66), rest.substring(0, 64));
            } else if (!line.isBlank() && !line.equals(LISTING_END)) {
                errors.add("~error\t" + line);
            }
        }
        // hard-link groups: non-directories sharing an inode, named by their first path
        Map<String, List<String>> byInode = new HashMap<>();
        for (String[] e : entries) {
            if (!e[11].equals("directory") && !mounts.contains(e[12])) byInode.computeIfAbsent(e[1], k -> new ArrayList<>()).add(e[12]);
        }
        List<String> out = new ArrayList<>();
        for (String[] e : entries) {
            String path = e[12];
            if (!path.equals("/") && mounts.contains(path)) {
                out.add(path + "\t<runtime mount>");
                continue;
            }
            String type = switch (e[11]) {
                case "directory" -> "dir";
                case "regular file", "regular empty file" -> "file";
                case "symbolic link" -> "symlink";
                case "character special file" -> "chr";
                case "block special file" -> "blk";
                case "fifo" -> "fifo";
                case "socket" -> "socket";
                default -> throw new IllegalStateException("unknown type " + e[11] + " of " + path);
            };
            StringBuilder s = new StringBuilder(path).append('\t').append(type).append(" mode=").append(e[3])
                    .append(" uid=").append(e[4]).append(" gid=").append(e[5]);
            if (type.equals("file") || type.equals("symlink")) s.append(" size=").append(e[6]);
            long mtime = Long.parseLong(e[7]);
            s.append(" mtime=").append(mtime >= nowFrom && mtime <= nowTo ? "NOW" : e[8]);
            if (type.equals("chr") || type.equals("blk")) {
                s.append(" rdev=").append(Long.parseLong(e[9], 16)).append(':').append(Long.parseLong(e[10], 16));
            }
            if (!type.equals("dir")) {
                s.append(" nlink=").append(e[2]);
                List<String> group = byInode.get(e[1]);
                if (group.size() > 1) s.append(" hardlinks=").append(group.stream().sorted().findFirst().orElseThrow());
            }
            if (type.equals("symlink")) s.append(" -> ").append(targets.get(path));
            if (type.equals("file")) s.append(" sha256=").append(hashes.get(path));
            out.add(s.toString());
        }
        out.sort(Comparator.comparing((String l) -> l.substring(0, l.indexOf('\t'))));
        out.addAll(errors);
        return out;
    }

    // -----------------------------------------------------------------------------------------------------------
    // images
    // -----------------------------------------------------------------------------------------------------------

    /** Pushes each image: ImageBuilder's busybox base as tag {@code base}, then that plus the image's layers as {@code latest}. */
    private static void pushImages() throws IOException {
        RegistryClient client = new RegistryClient();
        Path work = Files.createDirectories(base.resolve("push"));
        List<String> applets = ImageBuilder.busyboxApplets(TestImages.BUSYBOX);
        for (Image img : IMAGES) {
            String repo = registry.address() + "/diff/" + img.name();
            Reference baseRef = Reference.parse(repo + ":base");
            new ImageBuilder().busyboxBase(TestImages.BUSYBOX, applets).push(client, baseRef, work);
            Manifest m = Json.read(client.fetchManifest(baseRef, "base").bytes(), Manifest.class, "base manifest");
            byte[] configBytes;
            try (InputStream in = client.openBlob(baseRef, m.config().digest(), 0)) {
                configBytes = in.readAllBytes();
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> config = Json.MAPPER.readValue(configBytes, LinkedHashMap.class);
            @SuppressWarnings("unchecked")
            Map<String, Object> rootfs = (Map<String, Object>) config.get("rootfs");
            List<Object> diffIds = new ArrayList<>((List<?>) rootfs.get("diff_ids"));
            List<Descriptor> layers = new ArrayList<>(m.layers());
            for (LayerTar layer : img.layers()) {
                byte[] tar = layer.bytes();
                ByteArrayOutputStream gz = new ByteArrayOutputStream();
                try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
                    z.write(tar);
                }
                byte[] blob = gz.toByteArray();
                Digest d = Digest.sha256(blob);
                Path tmp = Files.write(work.resolve(d.hex()), blob);
                client.pushBlob(baseRef, d, tmp);
                Files.delete(tmp);
                layers.add(new Descriptor(MediaTypes.OCI_LAYER_GZIP, d, blob.length));
                diffIds.add(Digest.sha256(tar).toString());
            }
            rootfs.put("diff_ids", diffIds);
            byte[] newConfig = Json.MAPPER.writeValueAsBytes(config);
            Digest cd = Digest.sha256(newConfig);
            Path tmp = Files.write(work.resolve(cd.hex()), newConfig);
            client.pushBlob(baseRef, cd, tmp);
            Files.delete(tmp);
            Map<String, Object> manifest = new LinkedHashMap<>();
            manifest.put("schemaVersion", 2);
            manifest.put("mediaType", MediaTypes.OCI_MANIFEST);
            manifest.put("config", new Descriptor(MediaTypes.OCI_CONFIG, cd, newConfig.length));
            manifest.put("layers", layers);
            client.pushManifest(baseRef, "latest", Json.write(manifest), MediaTypes.OCI_MANIFEST);
            refs.put(img.name(), repo + ":latest");
        }
    }

    /** Pulls an image into containerd and into Berth, once; a refusal by either fails every test of that image. */
    private static void pull(Image img) throws Exception {
        String ref = refs.get(img.name());
        String failure = pulled.computeIfAbsent(img.name(), n -> {
            long t0 = System.nanoTime();
            try {
                ctr("images", "pull", "--plain-http", ref);
            } catch (Exception e) {
                return "containerd could not pull " + ref + " (the test image is wrong): " + e.getMessage();
            }
            long t1 = System.nanoTime();
            try {
                agent.images().pull(NS, ref);
            } catch (Exception e) {
                return "Berth refused " + ref + ", which containerd unpacked: " + e;
            }
            timings.put(n + ".pull.containerd", (t1 - t0) / 1_000_000);
            timings.put(n + ".pull.berth", (System.nanoTime() - t1) / 1_000_000);
            return "";
        });
        if (!failure.isEmpty()) fail(img.name() + ": " + failure);
    }

    // -----------------------------------------------------------------------------------------------------------
    // running the listing
    // -----------------------------------------------------------------------------------------------------------

    private static String runInBerth(String id, String ref) throws Exception {
        RunRequest req = RunRequest.ofArgs(List.of("sh", "-c", LISTING_SCRIPT));
        try {
            // as ctr run does: no /etc/hosts, /etc/hostname or /etc/resolv.conf mounted over the image's tree
            var image = agent.images().get(NS, ref).orElseThrow();
            java.util.Map<String, Object> spec = dev.berth.agent.runtime.SpecBuilder.build(NS, id, agent.images().config(image), req);
            ((java.util.Map<?, ?>) spec.get("annotations")).remove(dev.berth.agent.runtime.SpecBuilder.ETC_ANNOTATION);
            ContainerRecord c = agent.containers().create(NS, id, ref, new String(dev.berth.oci.Json.write(spec)), null, null, null);
            agent.tasks().create(c);
            agent.tasks().start(NS, id);
            TaskExit exit = agent.tasks().waitFor(NS, id).get(120, TimeUnit.SECONDS);
            String out = dev.berth.agent.runtime.ContainerLog.text(agent.tasks().logDir(NS, id), "stdout");
            String err = dev.berth.agent.runtime.ContainerLog.text(agent.tasks().logDir(NS, id), "stderr");
            assertEquals(0, exit.exitCode(), "listing in Berth's container failed: " + err);
            assertTrue(out.contains(LISTING_END), "Berth's log lost the end of the listing: the shim must keep every line");
            return out;
        } finally {
            if (agent.tasks().get(NS, id).isPresent()) agent.tasks().delete(NS, id, true);
            if (agent.containers().get(NS, id).isPresent()) agent.containers().delete(NS, id);
        }
    }

    /**
     * {@code ctr run} sometimes loses the tail of a container's output on a loaded machine (its copy of the
     * container's stdout stops when the task exits): a listing without its last line is taken again, up to 3 times.
     */
    private static String runInContainerd(String id, String ref) throws Exception {
        String out = "";
        for (int attempt = 1; attempt <= 3; attempt++) {
            out = ctr("run", "--rm", ref, id, "sh", "-c", LISTING_SCRIPT);
            if (out.contains(LISTING_END)) return out;
        }
        throw new AssertionError("containerd's listing was cut short 3 times running; the last ended with: "
                + out.substring(Math.max(0, out.length() - 300)));
    }

    // -----------------------------------------------------------------------------------------------------------
    // xattrs, from the host
    // -----------------------------------------------------------------------------------------------------------

    /** llistxattr and lgetxattr, which Berth's Syscalls do not offer. */
    public interface XattrCalls {
        long llistxattr(String path, byte[] list, @size_t long size);
        long lgetxattr(String path, String name, byte[] value, @size_t long size);
    }

    private static final XattrCalls XATTR = LibraryLoader.create(XattrCalls.class).load("c");

    /** A fresh writable snapshot over the image's chain, mounted as Berth would mount a container's rootfs. */
    private static List<String> xattrsOfBerthView(String name, String chainId) throws Exception {
        String key = "xv-" + name;
        Path target = Files.createDirectories(base.resolve("bv-" + name));
        agent.snapshots().prepare(key, chainId);
        try {
            agent.snapshots().mount(key, target);
            try {
                return xattrs(target);
            } finally {
                Syscalls.unmount(target.toString());
            }
        } finally {
            agent.snapshots().remove(key);
        }
    }

    /** The same from containerd: a snapshot prepared over the same chain id, mounted as {@code ctr snapshots mounts} says. */
    private static List<String> xattrsOfContainerdView(String name, String chainId) throws Exception {
        String key = "xv-" + name;
        Path target = Files.createDirectories(base.resolve("cv-" + name));
        ctr("snapshots", "prepare", key, chainId);
        try {
            String mountCmd = ctr("snapshots", "mounts", target.toString(), key).trim();
            assertTrue(mountCmd.startsWith("mount "), "ctr snapshots mounts printed: " + mountCmd);
            run(List.of("sh", "-c", mountCmd));
            try {
                return xattrs(target);
            } finally {
                Syscalls.unmount(target.toString());
            }
        } finally {
            ctrQuiet("snapshots", "rm", key);
        }
    }

    /** {@code PATH<TAB>name=value} for every xattr under {@code root}, values with non-printable bytes escaped. */
    static List<String> xattrs(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                add(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                add(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                // overlay lists the whiteouts of a directory that only its upper layer has, but they cannot be looked up
                out.add("/" + root.relativize(file) + "\t<" + e.getClass().getSimpleName() + ">");
                return FileVisitResult.CONTINUE;
            }

            private void add(Path p) {
                String rel = "/" + root.relativize(p);
                byte[] list = new byte[65536];
                long n = XATTR.llistxattr(p.toString(), list, list.length);
                if (n < 0) throw new IllegalStateException("llistxattr " + p + " failed");
                int start = 0;
                for (int i = 0; i < n; i++) {
                    if (list[i] != 0) continue;
                    String xname = new String(list, start, i - start, StandardCharsets.UTF_8);
                    start = i + 1;
                    byte[] value = new byte[65536];
                    long len = XATTR.lgetxattr(p.toString(), xname, value, value.length);
                    if (len < 0) throw new IllegalStateException("lgetxattr " + xname + " of " + p + " failed");
                    out.add(rel + "\t" + xname + "=" + escape(value, (int) len));
                }
            }
        });
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private static String escape(byte[] b, int len) {
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < len; i++) {
            int c = b[i] & 0xff;
            if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') s.append((char) c);
            else s.append(String.format("\\x%02x", c));
        }
        return s.append('"').toString();
    }

    // -----------------------------------------------------------------------------------------------------------
    // containerd
    // -----------------------------------------------------------------------------------------------------------

    private static void startContainerd() throws Exception {
        ctrdDir = Files.createDirectories(base.resolve("c"));
        ctrdSock = ctrdDir.resolve("c.sock");
        Path config = ctrdDir.resolve("config.toml");
        Files.writeString(config, """
                version = 2
                root = "%s"
                state = "%s"
                disabled_plugins = ["io.containerd.grpc.v1.cri"]
                [grpc]
                  address = "%s"
                """.formatted(ctrdDir.resolve("root"), ctrdDir.resolve("state"), ctrdSock));
        Path log = ctrdDir.resolve("containerd.log");
        containerd = new ProcessBuilder("containerd", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        for (int i = 0; i < 200 && !Files.exists(ctrdSock); i++) {
            if (!containerd.isAlive()) break;
            Thread.sleep(50);
        }
        if (!Files.exists(ctrdSock)) throw new IOException("containerd did not start: " + Files.readString(log));
    }

    private static String ctr(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ctr", "--address", ctrdSock.toString(), "--namespace", NS));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    private static String ctrOut(String... args) {
        try {
            return ctr(args);
        } catch (Exception e) {
            return "";
        }
    }

    private static void ctrQuiet(String... args) {
        ctrOut(args);
    }

    /** Runs a command to completion; its stdout, or an exception with its stderr. */
    private static String run(List<String> cmd) throws Exception {
        Path out = Files.createTempFile(base, "out", ".txt");
        Path err = Files.createTempFile(base, "err", ".txt");
        try {
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish in 180 s");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + Files.readString(err));
            }
            return Files.readString(out);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static Path shimPath() {
        String p = System.getProperty("berth.shim.path");
        if (p == null) throw new IllegalStateException("berth.shim.path is not set: run the tests through Maven, which builds the shim");
        return Path.of(p);
    }
}
