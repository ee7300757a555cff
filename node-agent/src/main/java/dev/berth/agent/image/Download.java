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
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One blob on its way into the content store, shared by every pull that needs it: each pull {@link #attach attaches}
 * (to hear its progress, follow its bytes as they arrive to unpack a layer as it streams, and learn its verdict) and
 * detaches when done or cancelled. It goes on while anyone is attached and stops when the last one leaves. Only
 * {@link Attachment#awaitVerified()} says the bytes were the right ones. A broken connection is resumed from the bytes
 * already written, with an HTTP Range request; a registry that stalls (sends nothing for the stall timeout) fails it.
 */
final class Download implements Runnable {

    private static final Logger LOG = Logger.getLogger(Download.class.getName());
    static final int RESUME_ATTEMPTS = 3;

    private final RegistryClient registry;
    private final Reference ref;
    private final Descriptor desc;
    private final ContentStore content;
    private final ContentStore.Writer writer;
    // guarded by this
    private final List<Attachment> attached = new ArrayList<>();
    private long written;
    private boolean done;
    /** Everyone left before it finished: it stops, and a new pull starts a new download (resuming the partial). */
    private boolean stopping;
    private Throwable failure;
    /** The registry's response being read now, closed to stop a download no one wants. */
    private InputStream body;

    Download(RegistryClient registry, ContentStore content, Reference ref, Descriptor desc) throws IOException {
        this.registry = registry;
        this.ref = ref;
        this.desc = desc;
        this.content = content;
        this.writer = content.resumableWriter(desc);
    }

    Descriptor descriptor() {
        return desc;
    }

    /** Joins the download, its progress told to {@code progress}; null when it is stopping (everyone left): start another. */
    Attachment attach(LongConsumer progress) {
        Attachment a = new Attachment(progress);
        long now;
        synchronized (this) {
            if (stopping) return null;
            attached.add(a);
            now = written;
        }
        if (now > 0) a.progress(now);
        return a;
    }

    /** Waits until the download has ended, whatever the outcome, and its partial file is closed. */
    synchronized void awaitEnd() throws IOException {
        while (!done) waitHere();
    }

    @Override
    public void run() {
        Throwable error = null;
        byte[] buf = new byte[1 << 16];
        try (ContentStore.Writer w = writer) {
            if (w.written() > 0) {
                LOG.info("resuming download of " + desc.digest().shortHex() + " at " + w.written() + " of " + desc.size() + " bytes");
                advance();
            }
            int attempt = 0;
            while (w.written() < desc.size()) {
                try (InputStream in = open(w.written())) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        w.write(buf, 0, n);
                        advance();
                    }
                    break;
                } catch (IOException | OciException e) {
                    if (isStopping()) throw abandoned();
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

    /** The blob from {@code from} on, unless everyone has left. */
    private InputStream open(long from) throws IOException {
        if (isStopping()) throw abandoned();
        InputStream in = registry.openBlob(ref, desc.digest(), from);
        synchronized (this) {
            if (!stopping) {
                body = in;
                return in;
            }
        }
        in.close();
        throw abandoned();
    }

    private synchronized boolean isStopping() {
        return stopping;
    }

    private InterruptedIOException abandoned() {
        return new InterruptedIOException("download of " + desc.digest() + " stopped: every pull that wanted it was cancelled");
    }

    private void advance() {
        List<Attachment> to;
        long now;
        synchronized (this) {
            written = now = writer.written();
            notifyAll();
            to = List.copyOf(attached);
        }
        for (Attachment a : to) a.progress(now);
    }

    private synchronized void finish(Throwable t) {
        done = true;
        failure = t;
        body = null;
        notifyAll();
    }

    private void waitHere() throws IOException {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for " + desc.digest());
        }
    }

    /** One pull's share of the download. Closing it detaches the pull: its waits end, the download goes on for the others. */
    final class Attachment implements AutoCloseable {

        private volatile LongConsumer progress;
        private boolean detached; // guarded by Download.this

        private Attachment(LongConsumer progress) {
            this.progress = progress;
        }

        Descriptor descriptor() {
            return desc;
        }

        /** Tells this pull how far the download is; a listener that fails (its client gone) is not told again. */
        private void progress(long now) {
            LongConsumer p = progress;
            if (p == null) return;
            try {
                p.accept(now);
            } catch (RuntimeException e) {
                progress = null;
                LOG.log(Level.FINE, "a pull's progress listener failed; the download goes on", e);
            }
        }

        /** Waits until the blob is committed; throws what made it fail (a digest mismatch, a broken registry). */
        void awaitVerified() throws IOException {
            synchronized (Download.this) {
                while (!done && !detached) waitHere();
                check();
                rethrow();
            }
        }

        private void check() throws InterruptedIOException {
            if (detached) throw new InterruptedIOException("pull cancelled while downloading " + desc.digest());
        }

        private void rethrow() throws IOException {
            if (failure == null) return;
            if (failure instanceof IOException io) throw io;
            if (failure instanceof RuntimeException re) throw re;
            throw new IOException(failure);
        }

        /** The blob's bytes as they arrive; ends when the download does, fails when it fails or this pull leaves. */
        InputStream follow() throws IOException {
            RandomAccessFile file;
            try {
                file = new RandomAccessFile(writer.tempPath().toFile(), "r");
            } catch (java.io.FileNotFoundException alreadyCommitted) {
                // the download finished before we looked: its verdict, then the blob where it now lives
                awaitVerified();
                return content.open(desc.digest());
            }
            return new dev.berth.oci.BulkInputStream() {
                private long pos;


                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    long available;
                    synchronized (Download.this) {
                        while (written <= pos && !done && !detached) waitHere();
                        check();
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

        /** Leaves the download; when this was the last pull attached, the download stops. */
        @Override
        public void close() {
            InputStream stop = null;
            synchronized (Download.this) {
                if (detached) return;
                detached = true;
                attached.remove(this);
                if (attached.isEmpty() && !done) {
                    stopping = true;
                    stop = body;
                }
                Download.this.notifyAll();
            }
            if (stop != null) {
                LOG.info("download of " + desc.digest().shortHex() + " stopped: no pull wants it any more");
                try {
                    stop.close(); // wakes the download's read, wherever the registry is
                } catch (IOException ignored) {
                    // it is being given up
                }
            }
        }
    }
}
