package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.metadata.MetadataStore.ImageRecord;
import dev.berth.agent.runtime.RunRequest;
import dev.berth.agent.runtime.TaskException;
import dev.berth.agent.runtime.TaskExit;
import dev.berth.oci.Digest;
import dev.berth.oci.testing.ImageBuilder;
import dev.berth.oci.OciException;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.testing.LocalRegistry;
import dev.berth.oci.testing.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pull from a real registry, unpack into real overlay snapshots, run with real runc through the shim. */
class PullAndRunTest {

    static LocalRegistry registry;
    static AgentFixture fx;
    static String busybox;
    static String layers;

    @BeforeAll
    static void setUp() throws Exception {
        registry = LocalRegistry.start();
        Path work = Files.createTempDirectory("berth-images");
        TestImages images = new TestImages(new RegistryClient(), registry.address(), work);
        images.busybox();
        images.layers();
        busybox = registry.address() + "/test/busybox:latest";
        layers = registry.address() + "/test/layers:latest";
        fx = new AgentFixture();
        fx.agent.images().pull("default", busybox);
        fx.agent.images().pull("default", layers);
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (fx != null) fx.close();
        if (registry != null) registry.close();
    }

    @Test
    void pulledImageIsRecordedWithDigestAndSize() {
        ImageRecord img = fx.agent.images().get("default", busybox).orElseThrow();
        assertTrue(img.digest().startsWith("sha256:"), img.digest());
        assertTrue(img.size() > 500_000, "busybox image should weigh more than the binary's compressed size, was " + img.size());
        assertTrue(fx.agent.content().has(Digest.parse(img.manifestDigest())));
        assertTrue(fx.agent.images().get("other", busybox).isEmpty(), "images are per namespace");
    }

    @Test
    void runsEchoAndCapturesItsOutput() throws Exception {
        TaskExit exit = fx.run("default", "echo", busybox, AgentFixture.args("echo", "hello"));
        assertEquals(0, exit.exitCode());
        assertEquals("hello\n", fx.stdout("default", "echo"));
        fx.remove("default", "echo");
        assertFalse(Files.exists(fx.agent.tasks().taskDir("default", "echo")), "task dir removed");
    }

    @Test
    void exitCodeIsTheContainers() throws Exception {
        TaskExit exit = fx.run("default", "exit3", busybox, AgentFixture.args("sh", "-c", "echo oops >&2; exit 3"));
        assertEquals(3, exit.exitCode());
        assertEquals("oops\n", dev.berth.agent.runtime.ContainerLog.text(fx.agent.tasks().logDir("default", "exit3"), "stderr"));
        fx.remove("default", "exit3");
    }

    @Test
    void killedTaskReportsTheSignal() throws Exception {
        var c = fx.agent.containers().create("default", "sleeper", busybox, null, AgentFixture.args("sleep", "300"), null, null);
        fx.agent.tasks().create(c);
        fx.agent.tasks().start("default", "sleeper");
        fx.agent.tasks().kill("default", "sleeper", 9, false);
        TaskExit exit = fx.agent.tasks().waitFor("default", "sleeper").get(30, TimeUnit.SECONDS);
        assertEquals(137, exit.exitCode());
        assertEquals(9, exit.signal());
        fx.remove("default", "sleeper");
    }

    @Test
    void whiteoutsAndOpaqueDirectoriesHideLowerFiles() throws Exception {
        TaskExit exit = fx.run("default", "wh", layers, AgentFixture.args("sh", "-c", "ls /data; echo --; ls /opaque; cat /data/keep"));
        assertEquals(0, exit.exitCode());
        assertEquals("keep\n--\nnew\nkept\n", fx.stdout("default", "wh"));
        fx.remove("default", "wh");
    }

    @Test
    void imageConfigIsHonoured() throws Exception {
        TaskExit exit = fx.run("default", "cfg", busybox, AgentFixture.args("sh", "-c", "pwd; id -u; echo $PATH; hostname"));
        assertEquals(0, exit.exitCode());
        assertEquals("/\n0\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\ncfg\n", fx.stdout("default", "cfg"));
        fx.remove("default", "cfg");
    }

    @Test
    void containerWritesStayInItsOwnSnapshot() throws Exception {
        assertEquals(0, fx.run("default", "w1", busybox, AgentFixture.args("sh", "-c", "echo mine > /tmp/f; cat /tmp/f")).exitCode());
        assertEquals(1, fx.run("default", "w2", busybox, AgentFixture.args("cat", "/tmp/f")).exitCode());
        fx.remove("default", "w1");
        fx.remove("default", "w2");
    }

    @Test
    void nameInUseIsRefused() throws Exception {
        fx.agent.containers().create("default", "dup", busybox, null, AgentFixture.args("true"), null, null);
        TaskException e = assertThrows(TaskException.class,
                () -> fx.agent.containers().create("default", "dup", busybox, null, AgentFixture.args("true"), null, null));
        assertEquals(TaskException.Kind.ALREADY_EXISTS, e.kind());
        assertTrue(e.getMessage().contains("already in use"), e.getMessage());
        fx.remove("default", "dup");
    }

    @Test
    void badCommandFailsAtCreateAndLeavesNothing() throws Exception {
        var c = fx.agent.containers().create("default", "nope", busybox, null, AgentFixture.args("/no/such/binary"), null, null);
        TaskException e = assertThrows(TaskException.class, () -> fx.agent.tasks().create(c));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        assertTrue(fx.agent.tasks().get("default", "nope").isEmpty());
        assertFalse(Files.exists(fx.agent.tasks().taskDir("default", "nope")));
        fx.remove("default", "nope");
    }

    @Test
    void unknownImageAndUnreachableRegistryAreClearErrors() {
        OciException missing = assertThrows(OciException.class, () -> fx.agent.images().pull("default", registry.address() + "/test/absent:latest"));
        assertTrue(missing.getMessage().startsWith("image not found"), missing.getMessage());
        OciException down = assertThrows(OciException.class, () -> fx.agent.images().pull("default", "127.0.0.1:1/test/busybox:latest"));
        assertTrue(down.getMessage().contains("cannot reach registry 127.0.0.1:1"), down.getMessage());
        TaskException notPulled = assertThrows(TaskException.class,
                () -> fx.agent.containers().create("default", "x", registry.address() + "/test/absent:latest", null, AgentFixture.args("true"), null, null));
        assertTrue(notPulled.getMessage().contains("pull it first"), notPulled.getMessage());
    }

    @Test
    void corruptedBlobIsRefusedAndNothingIsKept() throws Exception {
        Path work = Files.createTempDirectory("berth-corrupt");
        String ref = registry.address() + "/test/corrupt:latest";
        ImageBuilder.Pushed pushed = new ImageBuilder()
                .layer(l -> l.file("payload", 0644, "unique " + System.nanoTime() + " ".repeat(4096)))
                .cmd(List.of("/payload"))
                .push(new RegistryClient(), Reference.parse(ref), work);
        Digest layer = pushed.layerDigests().get(0);
        Path blob = registry.blobData(layer.hex());
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length / 2] ^= 0x5a; // one flipped byte, same size: only the digest can tell
        Files.write(blob, bytes);
        int snapshotsBefore = fx.agent.snapshots().list().size();

        OciException e = assertThrows(OciException.class, () -> fx.agent.images().pull("default", ref));
        assertTrue(e.getMessage().contains("does not match its digest"), e.getMessage());
        assertFalse(fx.agent.content().has(layer), "a corrupt blob must never enter the content store");
        assertEquals(snapshotsBefore, fx.agent.snapshots().list().size(), "no snapshot left behind");
        assertTrue(fx.agent.images().get("default", ref).isEmpty());
    }

    @Test
    void layersUnpackAtOnceYetStandOnTheirLowers() throws Exception {
        Path work = Files.createTempDirectory("berth-parallel");
        String ref = registry.address() + "/test/parallel:latest";
        String unique = Long.toString(System.nanoTime());
        ImageRecord img = pushAndPull(ref, work, new ImageBuilder()
                .layer(l -> l.dir("shared", 0700).file("shared/base", 0644, unique))
                // no entry for "shared/": its attributes must come from the layer below, once that is unpacked
                .layer(l -> l.file("shared/middle", 0644, unique))
                .layer(l -> l.dir("top", 0755).file("top/file", 0644, unique)));
        List<Path> lowers = fx.agent.snapshots().lowers(img.chainId());
        assertEquals(3, lowers.size());
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(lowers.get(1).resolve("shared"), java.nio.file.LinkOption.NOFOLLOW_LINKS)));
        assertEquals(unique, Files.readString(lowers.get(1).resolve("shared/middle")));
        assertEquals(unique, Files.readString(lowers.get(0).resolve("top/file")));
        fx.agent.images().delete("default", ref);
    }

    @Test
    void aCorruptLowerLayerFailsThePullAndLeavesNoLayerAboveIt() throws Exception {
        Path work = Files.createTempDirectory("berth-corrupt-lower");
        String ref = registry.address() + "/test/corrupt-lower:latest";
        String unique = Long.toString(System.nanoTime());
        ImageBuilder.Pushed pushed = new ImageBuilder()
                .layer(l -> l.file("bottom", 0644, unique + " ".repeat(4096)))
                .layer(l -> l.file("middle/x", 0644, unique))
                .layer(l -> l.file("top", 0644, unique))
                .push(new RegistryClient(), Reference.parse(ref), work);
        Digest bottom = pushed.layerDigests().get(0);
        Path blob = registry.blobData(bottom.hex());
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(blob, bytes);
        int snapshotsBefore = fx.agent.snapshots().list().size();

        OciException e = assertThrows(OciException.class, () -> fx.agent.images().pull("default", ref));
        assertTrue(e.getMessage().contains("does not match its digest") && e.getMessage().contains(bottom.toString()), e.getMessage());
        assertEquals(snapshotsBefore, fx.agent.snapshots().list().size(), "no snapshot of any layer left behind");
        assertTrue(fx.agent.images().get("default", ref).isEmpty());
    }

    private static ImageRecord pushAndPull(String ref, Path work, ImageBuilder b) throws Exception {
        b.push(new RegistryClient(), Reference.parse(ref), work);
        return fx.agent.images().pull("default", ref);
    }

    @Test
    void tasksSurviveTheAgentAndExitsDuringDowntimeAreReported() throws Exception {
        var c = fx.agent.containers().create("default", "survivor", busybox, null, AgentFixture.args("sh", "-c", "sleep 1; exit 7"), null, null);
        fx.agent.tasks().create(c);
        fx.agent.tasks().start("default", "survivor");
        // a second agent over the same directories, as after a restart: it must learn the true exit
        try (NodeAgent restarted = fx.open()) {
            TaskExit exit = restarted.tasks().waitFor("default", "survivor").get(30, TimeUnit.SECONDS);
            assertEquals(7, exit.exitCode());
        }
        assertEquals(7, fx.agent.tasks().waitFor("default", "survivor").get(30, TimeUnit.SECONDS).exitCode());
        fx.remove("default", "survivor");
    }

    @Test
    void aPolicyRestartNeverLeavesTheContainerWithoutATask() throws Exception {
        RunRequest crashing = new RunRequest(null, List.of("sh", "-c", "exit 3"), null, null, null, null, null, null, null, null,
                "always", null, null, null, null);
        var c = fx.agent.containers().create("default", "phoenix", busybox, null, crashing, null, null);
        fx.agent.tasks().run(c);
        // every reader, at every moment, sees a task: the stopped one until its replacement is recorded
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int gaps = 0;
        while (fx.agent.metadata().restartState("default", "phoenix").restartCount() < 3 && System.nanoTime() < deadline) {
            if (fx.agent.tasks().get("default", "phoenix").isEmpty()) gaps++;
        }
        assertTrue(fx.agent.metadata().restartState("default", "phoenix").restartCount() >= 3, "restarted 3 times within 30 s");
        assertEquals(0, gaps, "reads that found the restarting container without a task");
        fx.remove("default", "phoenix");
    }

    @Test
    void mountPointsComeFromALayerSharedByTheImagesContainers() throws Exception {
        assertEquals(0, fx.run("default", "mp1", busybox, AgentFixture.args("true")).exitCode());
        assertEquals(0, fx.run("default", "mp2", busybox, AgentFixture.args("true")).exitCode());
        String shared = fx.agent.metadata().snapshot("default/mp1").orElseThrow().parent();
        assertEquals(shared, fx.agent.metadata().snapshot("default/mp2").orElseThrow().parent(), "one mount-point layer per image");
        // runc found /etc/hosts, /run and the rest in place: the containers' own layers hold nothing they did not write
        String options = fx.agent.snapshots().mountOptions("default/mp1");
        Path upper = Path.of(options.replaceAll(".*upperdir=([^,]+).*", "$1"));
        try (var entries = Files.list(upper)) {
            assertEquals(List.of(), entries.toList());
        }
        // and /etc keeps the image's mtime, though /etc/hosts was added in it
        Path imageEtc = fx.agent.snapshots().lowers(fx.agent.images().get("default", busybox).orElseThrow().chainId()).get(0).resolve("etc");
        Path layerEtc = fx.agent.snapshots().lowers(shared).get(0).resolve("etc");
        assertTrue(Files.exists(layerEtc.resolve("hosts")), "the placeholder is in the shared layer");
        assertEquals(Files.getLastModifiedTime(imageEtc), Files.getLastModifiedTime(layerEtc));
        fx.remove("default", "mp1");
        fx.remove("default", "mp2");
    }

    @Test
    void mountPointsNeverFollowAnImagesSymlinksOutOfIt() throws Exception {
        Path work = Files.createTempDirectory("berth-mp");
        Path outside = Files.createTempDirectory("berth-mp-outside");
        String ref = registry.address() + "/test/mp-escape:latest";
        new ImageBuilder().layer(l -> l.symlink("etc", outside.toString()).symlink("run", outside.toString()).symlink("proc", "/"))
                .cmd(List.of("true")).push(new RegistryClient(), Reference.parse(ref), work);
        fx.agent.images().pull("default", ref);
        fx.agent.containers().create("default", "mp-escape", ref, null, AgentFixture.args("true"), null, null);
        try (var entries = Files.list(outside)) {
            assertEquals(List.of(), entries.toList(), "nothing written through the image's symlinks");
        }
        fx.remove("default", "mp-escape");
    }

    @Test
    void longIdsInLongNamespacesAreSupervisedCorrectly() throws Exception {
        // the shim's socket path is far over the 107 bytes unix sockets allow; the agent must still hear the exit
        String ns = "a-rather-long-namespace-for-tenant-42";
        String id = "c".repeat(76);
        fx.agent.images().pull(ns, busybox);
        assertTrue(fx.agent.tasks().taskDir(ns, id).resolve("shim.sock").toString().length() > 107);
        TaskExit exit = fx.run(ns, id, busybox, AgentFixture.args("sh", "-c", "exit 9"));
        assertEquals(9, exit.exitCode(), "the true exit, not a lost-shim 255");
        fx.remove(ns, id);
    }

    @Test
    void shortLivedTasksNeverStickAsRunning() throws Exception {
        for (int i = 0; i < 15; i++) {
            String id = "quick" + i;
            var c = fx.agent.containers().create("default", id, busybox, null, AgentFixture.args("true"), null, null);
            fx.agent.tasks().create(c);
            fx.agent.tasks().start("default", id);
            assertEquals(0, fx.agent.tasks().waitFor("default", id).get(30, TimeUnit.SECONDS).exitCode());
            // a plain (not forced) delete must succeed: the task is stopped, whatever raced with start
            assertEquals("STOPPED", fx.agent.tasks().delete("default", id, false).status(), "task " + id);
            fx.agent.containers().delete("default", id);
        }
    }

    @Test
    void taskDirectoriesArePrivate() throws Exception {
        var c = fx.agent.containers().create("default", "private", busybox, null, AgentFixture.args("sleep", "300"), null, null);
        fx.agent.tasks().create(c);
        Path dir = fx.agent.tasks().taskDir("default", "private");
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("config.json"))));
        fx.remove("default", "private");
    }

    /**
     * CVE-2021-41103's class: a file a container made setuid, a layer's files, an image's blobs and a container's
     * logs are out of reach of every other host user (here uid 65534), however their own modes read.
     */
    @Test
    void hostUsersReachNothingInsideTheStore() throws Exception {
        var c = fx.agent.containers().create("default", "suid", busybox, null,
                AgentFixture.args("sh", "-c", "cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && echo made && sleep 300"), null, null);
        fx.agent.tasks().create(c);
        fx.agent.tasks().start("default", "suid");
        for (int i = 0; i < 100 && !fx.stdout("default", "suid").contains("made"); i++) Thread.sleep(50);
        assertEquals("made\n", fx.stdout("default", "suid"));
        // the fixture's temporary base is 0700 itself; a node's /var/lib and /run are open to all
        Files.setPosixFilePermissions(fx.base, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        List<Path> tops = List.of(fx.settings().root(), fx.settings().state());
        List<String> inside = new java.util.ArrayList<>();
        List<String> topEntries = new java.util.ArrayList<>();
        for (Path top : tops) {
            try (var walk = Files.walk(top)) {
                walk.forEach(p -> {
                    if (p.getParent() != null && p.getParent().equals(top)) topEntries.add(p.toString());
                    else if (!p.equals(top)) inside.add(p.toString());
                });
            }
        }
        assertTrue(inside.stream().anyMatch(p -> p.endsWith("/fs/tmp/suid")), "the setuid copy is in the container's snapshot");
        assertTrue(inside.stream().anyMatch(p -> p.contains("/blobs/sha256/")), "the image's blobs are in the store");
        // as the unprivileged user: nothing below the top entries exists for it, and no top entry opens to it
        String script = "for p in \"$@\"; do [ -e \"$p\" ] && echo \"reachable: $p\"; done; "
                + "while read -r p; do { [ -r \"$p\" ] || [ -x \"$p\" ]; } && echo \"open: $p\"; done";
        List<String> cmd = new java.util.ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script, "sh"));
        cmd.addAll(inside);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write((String.join("\n", topEntries) + "\n").getBytes());
        }
        String seen = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("", seen, "what uid 65534 reaches in the store");
        fx.remove("default", "suid");
    }

    /**
     * The seccomp filter is an allowlist: io_uring, syslog, keyrings, a personality that turns ASLR off and vsock
     * sockets are refused with EPERM by the filter (the kernel itself would answer EFAULT or succeed), while what
     * programs need passes.
     */
    @Test
    void containersMakeOnlyTheSyscallsTheAllowlistNames() throws Exception {
        String probe = System.getProperty("berth.syscall-probe.path");
        RunRequest req = new RunRequest(null, List.of("/probe", "getpid", "socket-unix", "personality-query", "io_uring_setup", "syslog",
                "add_key", "personality-no-randomize", "socket-vsock"), null, null, null, null, null, null, null,
                List.of(new RunRequest.Mount("bind", probe, "/probe", true, null)), null, null, null, null, null);
        assertEquals(0, fx.run("default", "probe", busybox, req).exitCode());
        assertEquals("""
                getpid 0
                socket-unix 0
                personality-query 0
                io_uring_setup 1
                syslog 1
                add_key 1
                personality-no-randomize 1
                socket-vsock 1
                """, fx.stdout("default", "probe"));
        fx.remove("default", "probe");
    }

    /** CVE-2024-21626's class: a working directory in /proc (from the image or the request) never reaches the runtime. */
    @Test
    void aWorkingDirectoryInProcIsRefused() {
        RunRequest req = new RunRequest(null, List.of("true"), null, "/proc/self/fd/7", null, null, null, null, null, null, null, null, null, null, null);
        var e = assertThrows(TaskException.class, () -> fx.agent.containers().create("default", "procwd", busybox, null, req, null, null));
        assertTrue(e.getMessage().contains("is in /proc"), e.getMessage());
        assertTrue(fx.agent.containers().get("default", "procwd").isEmpty(), "nothing is left of the refused container");
    }

    @Test
    void aShimLaunchedButNeverRecordedIsDiscardedAtStartup() throws Exception {
        var c = fx.agent.containers().create("default", "orphan", busybox, null, AgentFixture.args("sleep", "300"), null, null);
        var t = fx.agent.tasks().create(c);
        long shimPid = Long.parseLong(Files.readString(fx.agent.tasks().taskDir("default", "orphan").resolve("shim.pid")).trim());
        // as if the agent had crashed between launching the shim and recording the task
        fx.agent.metadata().deleteTask("default", "orphan");
        try (NodeAgent restarted = fx.open()) {
            assertFalse(Files.exists(restarted.tasks().taskDir("default", "orphan")), "orphan task dir removed");
            assertFalse(ProcessHandle.of(t.pid()).map(ProcessHandle::isAlive).orElse(false), "orphan container process gone");
            for (int i = 0; i < 100 && ProcessHandle.of(shimPid).map(ProcessHandle::isAlive).orElse(false); i++) Thread.sleep(20);
            assertFalse(ProcessHandle.of(shimPid).map(ProcessHandle::isAlive).orElse(false), "orphan shim gone");
            // and the name works again
            TaskExit exit = fx.run("default", "orphan2", busybox, AgentFixture.args("true"));
            assertEquals(0, exit.exitCode());
        }
        fx.remove("default", "orphan");
        fx.remove("default", "orphan2");
    }

    @Test
    void garbageCollectionFreesOnlyWhatNothingUses() throws Exception {
        Path work = Files.createTempDirectory("berth-gc");
        String ref = registry.address() + "/test/gc-victim:latest";
        new ImageBuilder().busyboxBase(TestImages.BUSYBOX, ImageBuilder.busyboxApplets(TestImages.BUSYBOX))
                .layer(l -> l.file("victim", 0644, "only this image has me " + System.nanoTime()))
                .push(new RegistryClient(), Reference.parse(ref), work);
        ImageRecord victim = fx.agent.images().pull("default", ref);
        ImageRecord base = fx.agent.images().get("default", busybox).orElseThrow();
        var manifest = fx.agent.content().read(Digest.parse(victim.manifestDigest()));
        fx.agent.gc().collect(); // what earlier tests left: the mount-point layers of their removed containers' images
        fx.agent.containers().create("default", "gc-user", ref, null, AgentFixture.args("true"), null, null);
        String mountPoints = fx.agent.metadata().snapshot("default/gc-user").orElseThrow().parent();
        assertEquals(victim.chainId(), fx.agent.metadata().snapshot(mountPoints).orElseThrow().parent(), "the container's snapshot stands on its image's mount points");

        fx.agent.images().delete("default", ref);
        var first = fx.agent.gc().collect();
        assertTrue(fx.agent.snapshots().exists(victim.chainId()), "a container's image chain stays while the container exists");
        assertFalse(fx.agent.content().has(Digest.parse(victim.manifestDigest())), "the deleted image's manifest is removed");
        assertTrue(first.bytesFreed() > 0 && first.snapshotsRemoved() == 0, "first collection: " + first);

        fx.agent.containers().delete("default", "gc-user");
        var result = fx.agent.gc().collect();
        assertFalse(fx.agent.snapshots().exists(victim.chainId()), "the unreferenced chain is removed");
        assertFalse(fx.agent.snapshots().exists(mountPoints), "and the mount points above it");
        assertTrue(fx.agent.snapshots().exists(base.chainId()), "the base chain, shared with a live image, stays");
        assertTrue(fx.agent.content().has(Digest.parse(base.manifestDigest())), "a live image's manifest stays");
        assertEquals(2, result.snapshotsRemoved(), "second collection (the image's own layer and its mount points): " + result);
        assertTrue(manifest.length > 0);
    }
}
