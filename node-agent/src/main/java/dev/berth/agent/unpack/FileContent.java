package dev.berth.agent.unpack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes layer entries' content into new files, with buffers allocated once per layer: reads from the tar, few
 * large writes (up to 256 KiB); a sparse entry's blocks of zeros are skipped, so its holes stay holes.
 */
final class FileContent {
    private final byte[] copyChunk = new byte[1 << 16];
    private final ByteBuffer copyBuffer = ByteBuffer.allocateDirect(1 << 18);

    /** Creates {@code target} (never following a link there) and writes {@code data} into it. */
    void write(InputStream data, Path target, boolean sparse) throws IOException {
        try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            if (sparse) copySparse(data, out);
            else copy(data, out);
        }
    }

    /** Copies an entry's content into a new file in writes of up to 256 KiB. */
    private void copy(InputStream data, FileChannel out) throws IOException {
        for (;;) {
            int n = data.read(copyChunk);
            if (n > 0 && copyBuffer.remaining() < n) flush(out);
            if (n < 0) break;
            copyBuffer.put(copyChunk, 0, n);
        }
        flush(out);
    }

    /** Copies a sparse entry's expanded content, skipping over blocks of zeros instead of writing them. */
    private void copySparse(InputStream data, FileChannel out) throws IOException {
        long end = 0;
        for (int n; (n = data.readNBytes(copyChunk, 0, copyChunk.length)) > 0; ) {
            if (!allZero(copyChunk, n)) out.write(ByteBuffer.wrap(copyChunk, 0, n), end);
            end += n;
        }
        if (out.size() < end) out.write(ByteBuffer.wrap(new byte[1]), end - 1); // a hole at the end still counts in the size
    }

    private static boolean allZero(byte[] b, int n) {
        for (int i = 0; i < n; i++) if (b[i] != 0) return false;
        return true;
    }

    private void flush(FileChannel out) throws IOException {
        copyBuffer.flip();
        while (copyBuffer.hasRemaining()) out.write(copyBuffer);
        copyBuffer.clear();
    }
}
