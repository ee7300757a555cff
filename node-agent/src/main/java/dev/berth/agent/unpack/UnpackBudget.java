package dev.berth.agent.unpack;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One image's unpack against its {@link UnpackLimits}: its layers unpack at once and share the image's count, each
 * layer keeps its own. Bytes are charged before they are written, so a refused entry writes nothing.
 */
public final class UnpackBudget {
    /** The disk's free space is asked again after this many bytes are charged (or for any file this large). */
    private static final long DISK_CHECK_BYTES = 64L << 20;

    private final UnpackLimits limits;
    private final AtomicLong imageBytes = new AtomicLong();
    private final AtomicLong sinceDiskCheck = new AtomicLong();

    public UnpackBudget(UnpackLimits limits) {
        this.limits = limits;
    }

    public UnpackLimits limits() {
        return limits;
    }

    /** The counts of one layer of this image. */
    Layer layer(Path upper) throws IOException {
        return new Layer(Files.getFileStore(upper));
    }

    final class Layer {
        private final FileStore disk;
        private long entries;
        private long bytes;

        private Layer(FileStore disk) {
            this.disk = disk;
        }

        void entry(String name) {
            if (++entries > limits.maxLayerEntries()) {
                throw new UnsafeLayerException("the layer has more than " + limits.maxLayerEntries() + " entries (at '" + name + "'), the bound "
                        + UnpackLimits.MAX_ENTRIES_SETTING);
            }
        }

        /** Charges a file of {@code size} bytes (a sparse file's full size) before it is written. */
        void file(String name, long size) throws IOException {
            if (size > limits.maxLayerBytes() - bytes) {
                throw new UnsafeLayerException("the layer unpacks to more than " + limits.maxLayerBytes() + " bytes (at '" + name + "', "
                        + size + " bytes), the bound " + UnpackLimits.MAX_LAYER_SETTING);
            }
            bytes += size;
            long image = imageBytes.addAndGet(size);
            if (image > limits.maxImageBytes()) {
                throw new UnsafeLayerException("the image unpacks to more than " + limits.maxImageBytes() + " bytes (at '" + name + "'), the bound "
                        + UnpackLimits.MAX_IMAGE_SETTING);
            }
            if (size >= DISK_CHECK_BYTES || sinceDiskCheck.addAndGet(size) >= DISK_CHECK_BYTES) {
                sinceDiskCheck.set(0);
                long free = disk.getUsableSpace();
                if (free - size < limits.minFreeDiskBytes()) {
                    throw new dev.berth.oci.OciException("unpacking '" + name + "' (" + size + " bytes) would leave the node's disk with less than "
                            + limits.minFreeDiskBytes() + " bytes free (" + free + " now), the reserve " + UnpackLimits.MIN_FREE_SETTING
                            + "; free disk space (berth images gc) or lower the reserve");
                }
            }
        }
    }
}
