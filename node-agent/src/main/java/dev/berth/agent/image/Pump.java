package dev.berth.agent.image;

import dev.berth.oci.Digest;
import dev.berth.oci.OciException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Decompresses and hashes a layer on its own thread, handing the tar stream over in large chunks: the reader
 * (the layer applier, writing files) and the inflater then use two cores, and the inflater is called with big
 * buffers instead of the tar reader's 512-byte records. Also the decompression-bomb guard: a layer that unpacks
 * to more than the limit is refused.
 */
final class Pump extends dev.berth.oci.BulkInputStream implements Runnable {

    private static final int CHUNK = 1 << 20;
    private static final byte[] END = new byte[0];

    private final InputStream source;
    private final long limit;
    private final Digest.Hasher hasher = Digest.Hasher.sha256();
    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(8);
    private volatile boolean closed;
    private volatile Throwable failure;
    private volatile long count;
    private volatile Digest digest;
    private byte[] current = new byte[0];
    private int offset;
    private boolean ended;

    Pump(InputStream decompressed, long limit) {
        this.source = decompressed;
        this.limit = limit;
    }

    @Override
    public void run() {
        try {
            while (!closed) {
                byte[] b = new byte[CHUNK];
                int n = source.readNBytes(b, 0, CHUNK);
                if (n == 0) break;
                hasher.update(b, 0, n);
                count += n;
                if (count > limit) {
                    throw new OciException("layer unpacks to more than " + limit + " bytes, the bound " + dev.berth.agent.unpack.UnpackLimits.MAX_LAYER_SETTING + ": refused as a decompression bomb");
                }
                put(n == CHUNK ? b : Arrays.copyOf(b, n));
            }
            digest = hasher.digest();
        } catch (Throwable t) {
            failure = t;
        } finally {
            try {
                put(END);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void put(byte[] b) throws InterruptedException {
        while (!closed && !chunks.offer(b, 100, TimeUnit.MILLISECONDS)) {
            // the reader is busy writing files; wait for room
        }
    }


    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (ended) return -1;
        if (offset == current.length) {
            try {
                current = chunks.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException();
            }
            offset = 0;
            if (current == END) {
                ended = true;
                rethrow();
                return -1;
            }
        }
        int n = Math.min(len, current.length - offset);
        System.arraycopy(current, offset, b, off, n);
        offset += n;
        return n;
    }

    private void rethrow() throws IOException {
        Throwable t = failure;
        if (t == null) return;
        if (t instanceof IOException io) throw io;
        if (t instanceof RuntimeException re) throw re;
        throw new IOException(t);
    }

    /** The diff id (digest of the whole uncompressed stream); valid once the reader has seen the end. */
    Digest diffId() {
        return digest;
    }

    long count() {
        return count;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        chunks.clear();
        source.close();
    }
}
