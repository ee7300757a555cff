package dev.berth.agent.image;

import dev.berth.agent.content.ContentStore;
import dev.berth.oci.Descriptor;
import dev.berth.oci.OciException;
import dev.berth.oci.Reference;
import dev.berth.oci.RegistryClient;
import dev.berth.oci.RegistryStalledException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.util.function.LongConsumer;
import java.util.logging.Logger;

/**
 * One blob on its way into the content store. Any number of readers may follow it while it arrives (to unpack a
 * layer as it streams); only {@link #awaitVerified()} says the bytes were the right ones. A broken connection is
 * resumed from the bytes already written, with an HTTP Range request; a registry that stalls (sends nothing for the
 * stall timeout) fails it.
 */
final class Download implements Runnable {

    private static final Logger LOG = Logger.getLogger(Download.class.getName());
    static final int RESUME_ATTEMPTS = 3;

    private final RegistryClient registry;
    private final Reference ref;
    private final Descriptor desc;
    private final ContentStore content;
    private final ContentStore.Writer writer;
    private final LongConsumer progress;
    private long written;
    private boolean done;
    private Throwable failure;

    Download(RegistryClient registry, ContentStore content, Reference ref, Descriptor desc, LongConsumer progress) throws IOException {
        this.registry = registry;
        this.ref = ref;
        this.desc = desc;
        this.content = content;
        this.writer = content.resumableWriter(desc);
        this.progress = progress;
    }

    Descriptor descriptor() {
        return desc;
    }

    @Override
    public void run() {
        Throwable error = null;
        if (writer.written() > 0) {
            LOG.info("resuming download of " + desc.digest().shortHex() + " at " + writer.written() + " of " + desc.size() + " bytes");
            advance(0);
        }
        byte[] buf = new byte[1 << 16];
        try (ContentStore.Writer w = writer) {
            int attempt = 0;
            while (w.written() < desc.size()) {
                try (InputStream in = registry.openBlob(ref, desc.digest(), w.written())) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        w.write(buf, 0, n);
                        advance(n);
                    }
                    break;
                } catch (IOException | OciException e) {
                    if (e instanceof OciException && !(e.getCause() instanceof IOException)) throw e;
                    if (e instanceof RegistryStalledException) throw e; // a progress deadline: a stall ends the pull
                    if (++attempt > RESUME_ATTEMPTS || w.written() >= desc.size()) throw e;
                    LOG.warning("download of " + desc.digest().shortHex() + " broke at " + w.written() + " bytes (" + e.getMessage() + "); resuming");
                }
            }
            w.commit();
        } catch (Throwable t) {
            error = t;
        }
        finish(error);
    }

    private synchronized void advance(long n) {
        written = writer.written();
        notifyAll();
        progress.accept(written);
    }

    private synchronized void finish(Throwable t) {
        done = true;
        failure = t;
        notifyAll();
    }

    /** Waits until the blob is committed; throws what made it fail (a digest mismatch, a broken registry). */
    synchronized void awaitVerified() throws IOException {
        while (!done) waitHere();
        rethrow();
    }

    private void rethrow() throws IOException {
        if (failure == null) return;
        if (failure instanceof IOException io) throw io;
        if (failure instanceof RuntimeException re) throw re;
        throw new IOException(failure);
    }

    private void waitHere() throws IOException {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + desc.digest());
        }
    }

    /** The blob's bytes as they arrive; ends when the download does, fails when it fails. */
    InputStream follow() throws IOException {
        RandomAccessFile file;
        try {
            file = new RandomAccessFile(writer.tempPath().toFile(), "r");
        } catch (java.io.FileNotFoundException alreadyCommitted) {
            // the download finished before we looked: its verdict, then the blob where it now lives
            awaitVerified();
            return content.open(desc.digest());
        }
        return new InputStream() {
            private long pos;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                long available;
                synchronized (Download.this) {
                    while (written <= pos && !done) waitHere();
                    if (written <= pos) {
                        rethrow();
                        return -1;
                    }
                    available = written - pos;
                }
                int n = file.read(b, off, (int) Math.min(len, available));
                if (n > 0) pos += n;
                return n;
            }

            @Override
            public void close() throws IOException {
                file.close();
            }
        };
    }
}
