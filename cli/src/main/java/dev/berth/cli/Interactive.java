package dev.berth.cli;

import com.google.protobuf.ByteString;
import dev.berth.api.services.attach.v1.AttachInput;
import dev.berth.api.services.attach.v1.AttachOutput;
import dev.berth.api.services.attach.v1.AttachStart;
import dev.berth.api.services.attach.v1.TerminalSize;
import dev.berth.cli.rpc.ResponseStream;
import dev.berth.cli.rpc.RpcException;
import dev.berth.cli.rpc.StreamingCall;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import sun.misc.Signal;
import sun.misc.SignalHandler;

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
        String saved = terminal ? stty("-g").trim() : null;
        try (StreamingCall<AttachInput, AttachOutput> call = c.open(Rpcs.Attach.ATTACH)) {
            if (terminal) stty("raw", "-echo");
            call.send(AttachInput.newBuilder().setStart(start).build());
            if (terminal) watchWindow(call);
            StdinPump pump = stdin ? new StdinPump(call) : null;
            if (pump != null) pump.start();
            ResponseStream<AttachOutput> out = call.responses();
            while (out.hasNext()) {
                AttachOutput o = out.next();
                switch (o.getKindCase()) {
                    case STDOUT -> write(System.out, o.getStdout());
                    case STDERR -> write(System.err, o.getStderr());
                    case EXIT -> {
                        if (pump != null) pump.exited = true;
                        if (o.getExit().getOomKilled()) System.err.println("berth: the container was killed for exceeding its memory limit (OOM)");
                        return o.getExit().getExitStatus();
                    }
                    default -> { }
                }
            }
            return 0;
        } catch (RpcException e) {
            throw new CliException(Berth.describe(e), 125);
        } finally {
            if (saved != null) stty(saved);
        }
    }

    /** Our stdin to the process until it ends (then the process's stdin is closed) or the process exits. */
    private static final class StdinPump extends Thread {
        private final StreamingCall<AttachInput, AttachOutput> call;
        volatile boolean exited;

        StdinPump(StreamingCall<AttachInput, AttachOutput> call) {
            super("stdin");
            setDaemon(true);
            this.call = call;
        }

        @Override
        public void run() {
            InputStream s = System.in;
            byte[] buf = new byte[8192];
            try {
                // send() waits while the agent's window is full: a slow reader in the container holds back our stdin
                for (int n; !exited && (n = s.read(buf)) > 0; ) {
                    call.send(AttachInput.newBuilder().setStdin(ByteString.copyFrom(buf, 0, n)).build());
                }
                if (!exited) call.send(AttachInput.newBuilder().setCloseStdin(true).build());
            } catch (IOException | RuntimeException e) {
                // the stream ended: the exit (or the error) is reported by the output side
            }
        }
    }

    @SuppressWarnings("restriction")
    private static void watchWindow(StreamingCall<AttachInput, AttachOutput> call) {
        try {
            Signal.handle(new Signal("WINCH"), new SignalHandler() {
                @Override
                public void handle(Signal sig) {
                    TerminalSize s = size();
                    if (s == null) return;
                    try {
                        call.send(AttachInput.newBuilder().setResize(s).build());
                    } catch (RpcException e) {
                        // the call has ended: nothing to resize
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
