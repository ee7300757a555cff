package dev.berth.agent.runtime;

import dev.berth.agent.sys.Syscalls;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One connection to a container's shim ({@code shim.sock} in its task directory). After a command line
 * ({@code ATTACH} or {@code EXEC ...}) both sides speak frames: a type byte, a 4-byte big-endian length, the payload.
 * Client to shim: {@code I} stdin bytes, {@code C} close stdin, {@code R} resize (rows, cols as two uint16).
 * Shim to client: {@code O} stdout, {@code E} stderr, {@code X} the exit line ("CODE SIGNAL NANOS"), then EOF.
 */
public final class ShimConnection implements AutoCloseable {

    public static final byte STDIN = 'I';
    public static final byte CLOSE_STDIN = 'C';
    public static final byte RESIZE = 'R';
    public static final byte STDOUT = 'O';
    public static final byte STDERR = 'E';
    public static final byte EXIT = 'X';
    private static final int MAX_FRAME = 1 << 20;

    /** A frame from the shim. */
    public record Frame(byte type, byte[] payload) {}

    private final SocketChannel channel;
    private final DataInputStream in;
    private final OutputStream out;

    private ShimConnection(SocketChannel channel) {
        this.channel = channel;
        // not Channels.newInputStream/newOutputStream: both hold the channel's blocking lock, so a blocked read
        // would stall every write (stdin could not reach a process whose output we wait for)
        this.in = new DataInputStream(new java.io.BufferedInputStream(new dev.berth.oci.BulkInputStream() {

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : channel.read(ByteBuffer.wrap(b, off, len));
            }
        }));
        this.out = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) channel.write(buf);
            }
        };
    }

    /** Connects through the directory's fd: the socket's full path may exceed what unix sockets allow. */
    public static ShimConnection open(Path taskDir) throws IOException {
        try (Syscalls.DirHandle h = new Syscalls.DirHandle(taskDir.toString())) {
            return new ShimConnection(SocketChannel.open(UnixDomainSocketAddress.of(h.entry("shim.sock"))));
        }
    }

    /** Longer than any healthy runtime call the shim makes before it answers (runc exec under a loaded machine). */
    static final long REPLY_TIMEOUT_SECONDS = Runc.TIMEOUT_SECONDS;

    private static final java.util.concurrent.ScheduledExecutorService DEADLINES =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "shim-reply-deadlines");
                t.setDaemon(true);
                return t;
            });

    /**
     * Sends a command line and, when {@code reply}, reads the shim's one-line answer. A shim that does not answer
     * in {@value #REPLY_TIMEOUT_SECONDS} s (hung, or its runtime call is) gets its connection closed: the caller,
     * who may hold the container's lock, fails instead of waiting for ever.
     */
    public String command(String line, boolean reply) throws IOException {
        synchronized (out) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        if (!reply) return null;
        java.util.concurrent.ScheduledFuture<?> deadline = DEADLINES.schedule(() -> {
            try {
                channel.close();
            } catch (IOException e) {
                // closing is all that was wanted
            }
        }, REPLY_TIMEOUT_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
        try {
            return readLine();
        } catch (java.nio.channels.AsynchronousCloseException e) {
            throw new IOException("the shim did not answer '" + line.split(" ", 2)[0] + "' within " + REPLY_TIMEOUT_SECONDS + " s", e);
        } finally {
            deadline.cancel(false);
        }
    }

    public void send(byte type, byte[] payload, int off, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(5 + len);
        b.put(type).putInt(len).put(payload, off, len);
        synchronized (out) {
            out.write(b.array());
        }
    }

    public void resize(int rows, int cols) throws IOException {
        send(RESIZE, new byte[] {(byte) (rows >> 8), (byte) rows, (byte) (cols >> 8), (byte) cols}, 0, 4);
    }

    /** The next frame, or null at the end of the stream. */
    public Frame read() throws IOException {
        int type;
        try {
            type = in.readUnsignedByte();
        } catch (EOFException e) {
            return null;
        }
        int len = in.readInt();
        if (len < 0 || len > MAX_FRAME) throw new IOException("shim sent a frame of " + len + " bytes");
        byte[] p = new byte[len];
        in.readFully(p);
        return new Frame((byte) type, p);
    }

    /** Everything until EOF, as text: what a silent watcher gets (the exit line). */
    public String readAll() throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        InputStream s = in;
        for (int c; (c = s.read()) != '\n'; ) {
            if (c < 0) throw new EOFException("the shim closed the connection without answering");
            line.write(c);
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
