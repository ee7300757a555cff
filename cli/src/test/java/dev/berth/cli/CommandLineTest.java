package dev.berth.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The command line's own layer: parsing, usage errors and their exit codes, values, formats. No agent needed. */
class CommandLineTest {

    /** Runs berth with these arguments against a socket that does not exist; exit code and stderr. */
    private static Object[] berth(String... args) {
        PrintStream err = System.err;
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        try {
            String[] withAddress = new String[args.length + 2];
            withAddress[0] = "--address";
            withAddress[1] = "/nonexistent/berth-test.sock";
            System.arraycopy(args, 0, withAddress, 2, args.length);
            return new Object[] {Berth.run(withAddress), buf.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(err);
            System.setOut(out);
        }
    }

    @Test
    void usageMistakesExitTwoAndPointAtTheHelp() {
        Object[] r = berth("frobnicate");
        assertEquals(2, r[0]);
        assertTrue(((String) r[1]).contains("unknown command 'frobnicate'"), (String) r[1]);
        r = berth("ps", "--bogus");
        assertEquals(2, r[0]);
        assertTrue(((String) r[1]).contains("--bogus") && ((String) r[1]).contains("berth ps --help"), (String) r[1]);
        r = berth("stop");
        assertEquals(2, r[0]);
        assertTrue(((String) r[1]).contains("needs CONTAINER"), (String) r[1]);
        r = berth("ps", "extra");
        assertEquals(2, r[0]);
        r = berth("images", "frob");
        assertEquals(2, r[0]);
        assertTrue(((String) r[1]).contains("unknown command 'images frob'"), (String) r[1]);
    }

    @Test
    void anUnknownOptionBeforeTheImageIsRefusedNotTakenForTheImage() {
        Object[] r = berth("run", "--bogus", "busybox");
        assertEquals(2, r[0]);
        assertTrue(((String) r[1]).contains("--bogus"), (String) r[1]);
    }

    @Test
    void badValuesAreRefusedBeforeAnyCall() {
        assertEquals(2, berth("run", "--memory", "lots", "busybox", "true")[0]);
        assertEquals(2, berth("run", "--cpus", "half", "busybox")[0]);
        assertEquals(2, berth("kill", "-s", "NOPE", "c1")[0]);
        assertEquals(2, berth("update", "c1")[0]);
        assertEquals(2, berth("logs", "--since", "yesterday", "c1")[0]);
        assertEquals(2, berth("stop", "-t", "soon", "c1")[0]);
    }

    @Test
    void aMissingSocketIsNamedWithWhatToDo() {
        Object[] r = berth("ps");
        assertEquals(1, r[0]);
        assertTrue(((String) r[1]).contains("/nonexistent/berth-test.sock does not exist"), (String) r[1]);
    }

    @Test
    void helpAndVersionNeedNoAgent() {
        assertEquals(0, berth("--help")[0]);
        assertEquals(0, berth("run", "--help")[0]);
        assertEquals(0, berth("images", "--help")[0]);
        assertEquals(0, berth("images", "pull", "-h")[0]);
        assertEquals(0, berth("--version")[0]);
    }

    @Test
    void everyVerbHasAUniqueNameAndOptionsThatBuild() {
        Set<String> words = new HashSet<>();
        for (Verb v : Verbs.all()) {
            assertTrue(words.add(v.name), v.name);
            for (String a : v.aliases) assertTrue(words.add(a), a);
            v.options(new org.apache.commons.cli.Options());
            if (v instanceof Verb.Group g) {
                Set<String> sub = new HashSet<>();
                for (Verb s : g.verbs()) {
                    assertTrue(sub.add(s.name), v.name + " " + s.name);
                    s.options(new org.apache.commons.cli.Options());
                }
            }
            assertEquals(v.getClass(), Verbs.find(v.name).getClass(), v.name);
        }
    }

    @Test
    void sizes() {
        assertEquals(64L << 20, RunCommand.bytes("64m"));
        assertEquals(1L << 30, RunCommand.bytes("1G"));
        assertEquals(512L << 10, RunCommand.bytes("512kb"));
        assertEquals(1048576, RunCommand.bytes("1048576"));
        for (String bad : List.of("", "m", "-1", "+5", "1x", "lots", "99999999999999999999g")) {
            assertThrows(Args.UsageException.class, () -> RunCommand.bytes(bad), bad);
        }
        assertEquals("1012 B", Format.size(1012));
        assertEquals("1.5 KiB", Format.size(1536));
        assertEquals("143 MiB", Format.size(150_000_000));
        assertEquals("2.0 MiB", Format.size(2 << 20));
        assertEquals("1.24s", Format.seconds(1_236_000_000L));
        assertEquals("0.05s", Format.seconds(50_000_000L));
    }

    @Test
    void signalsByNameOrNumber() {
        assertEquals(15, TaskCommands.signalNumber("TERM"));
        assertEquals(15, TaskCommands.signalNumber("sigterm"));
        assertEquals(1, TaskCommands.signalNumber("HUP"));
        assertEquals(9, TaskCommands.signalNumber("9"));
        assertEquals(28, TaskCommands.signalNumber("WINCH"));
        assertThrows(Args.UsageException.class, () -> TaskCommands.signalNumber("0"));
        assertThrows(Args.UsageException.class, () -> TaskCommands.signalNumber("65"));
        assertThrows(Args.UsageException.class, () -> TaskCommands.signalNumber("NOPE"));
    }

    @Test
    void sinceAsADurationOrATime() {
        long now = System.currentTimeMillis() * 1_000_000L;
        long thirty = ContainerCommands.sinceNanos("30s");
        assertTrue(Math.abs(now - 30_000_000_000L - thirty) < 2_000_000_000L, Long.toString(now - thirty));
        assertEquals(1_764_313_200_000_000_000L, ContainerCommands.sinceNanos("2025-11-28T07:00:00Z"));
        assertThrows(Args.UsageException.class, () -> ContainerCommands.sinceNanos("5 minutes"));
    }

    @Test
    void jsonRoundTripKeepsOrderAndTypes() throws Exception {
        Object doc = Json.parse("{\"b\":1,\"a\":{\"args\":[\"sh\",\"-c\",\"é\"]},\"n\":0.5,\"t\":true,\"z\":null}".getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of("sh", "-c", "é"), Json.at(doc, "a", "args"));
        assertEquals(null, Json.at(doc, "a", "missing", "deeper"));
        assertEquals(List.of("b", "a", "n", "t", "z"), List.copyOf(((Map<?, ?>) doc).keySet()));
        String again = new String(Json.write(doc), StandardCharsets.UTF_8);
        assertEquals(doc, Json.parse(again.getBytes(StandardCharsets.UTF_8)));
        assertTrue(Json.pretty(doc).contains("\n  \"a\""), Json.pretty(doc));
        assertThrows(java.io.IOException.class, () -> Json.parse("{nope".getBytes(StandardCharsets.UTF_8)));
    }
}
