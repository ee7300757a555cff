package dev.berth.cli;

import com.google.protobuf.ByteString;
import dev.berth.api.services.attach.v1.AttachInput;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.services.attach.v1.TerminalSize;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The terminal side of an attach stream: stdin to the container (raw, when a terminal is asked for and this is
 * one), its output to ours, window size changes passed on, and the exit status returned.
 */
final class Interactive {
    private Interactive() {}

    static int run(AgentClient c, AttachStart.Builder start, boolean stdin, boolean tty) throws IOException {
        // raw mode only when keystrokes go to the container: otherwise Ctrl-C must stay ours
        boolean terminal = tty && stdin && System.console() != null;
        TerminalSize size = terminal ? size() : null;
        if (size != null) start.setSize(size);
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        StreamObserver<AttachInput> in = c.attachAsync.attach(new StreamObserver<>() {
            @Override
            public void onNext(AttachOutput o) {
                switch (o.getKindCase()) {
                    case STDOUT -> write(System.out, o.getStdout());
                    case STDERR -> write(System.err, o.getStderr());
                    case EXIT -> {
                        if (o.getExit().getOomKilled()) System.err.println("berth: the container was killed for exceeding its memory limit (OOM)");
                        exit.complete(o.getExit().getExitStatus());
                    }
                    default -> { }
                }
            }

            @Override
            public void onError(Throwable t) {
                exit.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                exit.complete(exit.getNow(0));
            }
        });
        String saved = terminal ? stty("-g").trim() : null;
        try {
            if (terminal) stty("raw", "-echo");
            synchronized (in) {
                in.onNext(AttachInput.newBuilder().setStart(start).build());
            }
            if (terminal) watchWindow(in);
            if (stdin) pumpStdin(in, exit);
            try {
                return exit.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 130;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof StatusRuntimeException s) throw new CliException(Berth.describe(s), 125);
                throw new CliException("attach failed: " + e.getCause().getMessage(), 125);
            }
        } finally {
            if (saved != null) stty(saved);
        }
    }

    private static void pumpStdin(StreamObserver<AttachInput> in, CompletableFuture<Integer> exit) {
        Thread t = new Thread(() -> {
            InputStream s = System.in;
            byte[] buf = new byte[8192];
            try {
                for (int n; !exit.isDone() && (n = s.read(buf)) > 0; ) {
                    synchronized (in) {
                        in.onNext(AttachInput.newBuilder().setStdin(ByteString.copyFrom(buf, 0, n)).build());
                    }
                }
                synchronized (in) {
                    if (!exit.isDone()) in.onNext(AttachInput.newBuilder().setCloseStdin(true).build());
                }
            } catch (IOException | RuntimeException e) {
                // the stream ended: the exit (or the error) is reported by the output side
            }
        }, "stdin");
        t.setDaemon(true);
        t.start();
    }

    @SuppressWarnings("restriction")
    private static void watchWindow(StreamObserver<AttachInput> in) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), sig -> {
                TerminalSize s = size();
                if (s != null) {
                    synchronized (in) {
                        in.onNext(AttachInput.newBuilder().setResize(s).build());
                    }
                }
            });
        } catch (IllegalArgumentException e) {
            // no SIGWINCH here: the size stays what it was at start
        }
    }

    private static TerminalSize size() {
        String[] f = stty("size").trim().split(" ");
        if (f.length != 2) return null;
        try {
            return TerminalSize.newBuilder().setRows(Integer.parseInt(f[0])).setCols(Integer.parseInt(f[1])).build();
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Runs stty on our terminal; its output, or "" when it fails. */
    private static String stty(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "stty";
        System.arraycopy(args, 0, cmd, 1, args.length);
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/tty")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            return out;
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private static void write(java.io.PrintStream to, ByteString data) {
        to.write(data.toByteArray(), 0, data.size());
        to.flush();
    }
}
