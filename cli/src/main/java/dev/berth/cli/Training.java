package dev.berth.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * The training run behind the CLI's class archive (a JDK 25 AOT cache, or a CDS archive on older JDKs): what a JVM
 * loads, links and profiles here starts ready-made in every later {@code berth}. bin/berth runs it once per build,
 * in the background, when the archive is missing. It only reads: the read-only verbs against the agent (when one
 * answers), every verb's option parsing and help, and the CLI's own classes (and through {@link Rpcs} the agent's
 * response messages) loaded, so verbs not exercised here still find most of theirs in the archive. Not every class of
 * the jar: a JDK 25 AOT cache loads all of its classes at each start, and the whole jar (protobuf-lite's and every
 * generated message) cost 10 ms more CPU per command than it saved.
 */
final class Training {
    private Training() {}

    public static void main(String[] args) throws IOException {
        PrintStream out = System.out;
        PrintStream err = System.err;
        PrintStream sink = new PrintStream(OutputStream.nullOutputStream());
        System.setOut(sink);
        System.setErr(sink);
        try {
            for (Verb v : Verbs.all()) {
                Berth.run(v.name, "--help");
                if (v instanceof Verb.Group g) for (Verb sub : g.verbs()) Berth.run(v.name, sub.name, "--help");
            }
            Berth.run("--help");
            Berth.run("run", "--bogus", "x");
            if (Files.exists(Path.of(Berth.defaultAddress()))) {
                for (int i = 0; i < 3; i++) {
                    Berth.run("version");
                    Berth.run("ps", "-a");
                    Berth.run("images", "ls");
                    Berth.run("snapshots", "ls");
                    Berth.run("content", "ls");
                    Berth.run("logs", "berth-training-no-such-container");
                    Berth.run("rm", "berth-training-no-such-container");
                }
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        int loaded = loadAll();
        int messages = exerciseMessages();
        out.println("training: loaded " + loaded + " classes, encoded and decoded " + messages + " message types");
    }

    /**
     * Encodes and decodes every message type the CLI's RPCs carry, nested ones too: protobuf-lite builds each type's
     * schema by reflection the first time it meets it (a real {@code run --rm} in training saved 11 ms of CPU per run,
     * mostly that), and verbs the training cannot run harmlessly (run, exec, rm) still find theirs built.
     */
    private static int exerciseMessages() {
        java.util.Set<Class<?>> seen = new java.util.HashSet<>();
        for (Class<?> holder : Rpcs.class.getDeclaredClasses()) {
            for (java.lang.reflect.Field f : holder.getDeclaredFields()) {
                if (f.getType() != dev.berth.cli.rpc.Method.class) continue;
                if (f.getGenericType() instanceof java.lang.reflect.ParameterizedType t) {
                    for (java.lang.reflect.Type arg : t.getActualTypeArguments()) exercise(arg, seen);
                }
            }
        }
        return seen.size();
    }

    /** {@code type}'s default instance encoded and parsed back, then the same for its message-typed fields. */
    private static void exercise(java.lang.reflect.Type type, java.util.Set<Class<?>> seen) {
        if (type instanceof java.lang.reflect.ParameterizedType p) {
            for (java.lang.reflect.Type arg : p.getActualTypeArguments()) exercise(arg, seen); // lists and maps of messages
            return;
        }
        if (!(type instanceof Class<?> c) || !com.google.protobuf.GeneratedMessageLite.class.isAssignableFrom(c) || !seen.add(c)) return;
        try {
            com.google.protobuf.MessageLite m = (com.google.protobuf.MessageLite) c.getMethod("getDefaultInstance").invoke(null);
            m.getParserForType().parseFrom(m.toByteArray());
        } catch (ReflectiveOperationException | IOException | RuntimeException e) {
            return; // not a generated message after all: nothing to build
        }
        for (java.lang.reflect.Field f : c.getDeclaredFields()) {
            if (!java.lang.reflect.Modifier.isStatic(f.getModifiers())) exercise(f.getGenericType(), seen);
        }
    }

    /** Loads the CLI's own classes (and initialises the RPC holders, whose parsers name the response messages). */
    private static int loadAll() throws IOException {
        Path jar;
        try {
            jar = Path.of(Training.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
        if (!Files.isRegularFile(jar)) return 0;
        int n = 0;
        ClassLoader loader = Training.class.getClassLoader();
        try (JarFile f = new JarFile(jar.toFile())) {
            for (Enumeration<JarEntry> e = f.entries(); e.hasMoreElements(); ) {
                String name = e.nextElement().getName();
                if (!name.endsWith(".class") || !name.startsWith("dev/berth/cli/")) continue;
                String className = name.substring(0, name.length() - 6).replace('/', '.');
                try {
                    Class.forName(className, className.startsWith("dev.berth.cli.Rpcs$"), loader);
                    n++;
                } catch (LinkageError | ClassNotFoundException ex) {
                    // not loadable here (none expected): the command that needs it loads it from the jar
                }
            }
        }
        return n;
    }
}
