package dev.berth.agent.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.diff.LayerTar;
import dev.berth.oci.OciException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers of a few bytes that ask for a lot: a sparse file of a terabyte, header records the tar reader would hold
 * in memory whole, more entries or bytes than the bounds allow. Each is refused with the bound and its setting
 * named, before it writes what it asks for; within the bounds, a sparse file lands sparse.
 */
class HostileArchiveTest {

    private static final long GNU_MAX_REAL_SIZE = 077777777777L;

    @TempDir
    Path tmp;
    Path upper;

    @BeforeEach
    void setUp() throws IOException {
        upper = Files.createDirectories(tmp.resolve("upper"));
    }

    private static byte[] tar(byte[]... records) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] r : records) out.write(r);
        out.write(LayerTar.end());
        return out.toByteArray();
    }

    private static Map<String, byte[]> records(String... keyValues) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) m.put(keyValues[i], keyValues[i + 1].getBytes(StandardCharsets.UTF_8));
        return m;
    }

    /** A PAX 0.1 sparse file: {@code realSize} bytes of which only the last one holds data, in one block of data. */
    private static byte[] sparse(String name, long realSize) throws IOException {
        return tar(LayerTar.paxHeader(name, records("GNU.sparse.size", Long.toString(realSize), "GNU.sparse.numblocks", "1",
                "GNU.sparse.map", (realSize - 1) + ",1")), LayerTar.record(name, '0', 1, new byte[] {'x'}));
    }

    /**
     * Old GNU sparse entries ('S'), each of the largest real size the header's octal field holds (8 GiB) and one
     * byte of data at offset 0: {@code count} of them make a layer of a few KB that expands to terabytes.
     */
    private static byte[] gnuSparse(String name, int count) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            byte[] rec = LayerTar.record(name + i, 'S', 1, new byte[] {'x'});
            System.arraycopy("ustar  \0".getBytes(StandardCharsets.US_ASCII), 0, rec, 257, 8);
            System.arraycopy(String.format("%011o\0%011o\0", 0, 1).getBytes(StandardCharsets.US_ASCII), 0, rec, 386, 24); // sparse[0]
            System.arraycopy(String.format("%011o\0", GNU_MAX_REAL_SIZE).getBytes(StandardCharsets.US_ASCII), 0, rec, 483, 12); // realsize
            java.util.Arrays.fill(rec, 148, 156, (byte) ' ');
            int sum = 0;
            for (int b = 0; b < 512; b++) sum += rec[b] & 0xff;
            System.arraycopy(String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII), 0, rec, 148, 8);
            out.write(rec);
        }
        return tar(out.toByteArray());
    }

    private void apply(byte[] tar, UnpackBudget budget) throws IOException {
        LayerApplier.apply(new ByteArrayInputStream(tar), upper, List::of, budget);
    }

    private static UnpackBudget budget(long maxHeader, long maxEntries, long maxLayer, long maxImage, long minFree) {
        return new UnpackBudget(new UnpackLimits(maxHeader, maxEntries, maxLayer, maxImage, minFree));
    }

    @Test
    void aSparseBombIsRefusedBeforeAnythingIsWritten() throws IOException {
        byte[] bomb = gnuSparse("bomb", 128);
        assertTrue(bomb.length < 200_000, "the whole layer is " + bomb.length + " bytes, for a TiB of files");
        var e = assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                assertThrows(UnsafeLayerException.class, () -> apply(bomb, budget(1 << 20, 1000, 4L << 30, 1L << 40, 0))));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_LAYER_SETTING) && e.getMessage().contains("'bomb0'"), e.getMessage());
        assertTrue(Files.notExists(upper.resolve("bomb0")), "nothing of the refused file is written");
        // the PAX form (commons-compress itself refuses a real size past 2^31 there): the layer bound
        e = assertThrows(UnsafeLayerException.class, () -> apply(sparse("pax", (1L << 31) - 1), budget(512, 100, 1L << 30, 1L << 40, 0)));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_LAYER_SETTING), e.getMessage());
    }

    @Test
    void aSparseFileWithinTheBoundsLandsSparse() throws Exception {
        long size = 256L << 20;
        apply(sparse("holes", size), new UnpackBudget(UnpackLimits.DEFAULT));
        Path f = upper.resolve("holes");
        assertEquals(size, Files.size(f));
        long blocks = allocated(f);
        assertTrue(blocks < (1L << 20), "on disk: " + blocks + " bytes, not the " + size + " the file holds");
        try (var ch = java.nio.channels.FileChannel.open(f)) {
            java.nio.ByteBuffer last = java.nio.ByteBuffer.allocate(1);
            ch.read(last, size - 1);
            assertEquals('x', last.get(0));
        }
    }

    /** Bytes the file occupies on disk, from du (st_blocks). */
    private static long allocated(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", f.toString()).start();
        String[] out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim().split(" ");
        p.waitFor();
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    @Test
    void headerRecordsOverTheBoundAreRefusedUnread() throws IOException {
        byte[] comment = new byte[2 << 20];
        java.util.Arrays.fill(comment, (byte) 'a');
        Map<String, byte[]> big = new LinkedHashMap<>();
        big.put("comment", comment);
        byte[] pax = tar(LayerTar.paxHeader("f", big), LayerTar.record("f", '0', 0, new byte[0]));
        var e = assertThrows(UnsafeLayerException.class, () -> apply(pax, new UnpackBudget(UnpackLimits.DEFAULT)));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_HEADER_SETTING), e.getMessage());

        byte[] name = new byte[2 << 20];
        java.util.Arrays.fill(name, (byte) 'n');
        byte[] longName = tar(LayerTar.record("././@LongLink", 'L', name.length, name), LayerTar.record("short", '0', 0, new byte[0]));
        e = assertThrows(UnsafeLayerException.class, () -> apply(longName, new UnpackBudget(UnpackLimits.DEFAULT)));
        assertTrue(e.getMessage().contains("GNU long name") && e.getMessage().contains(UnpackLimits.MAX_HEADER_SETTING), e.getMessage());
    }

    @Test
    void entriesAndBytesAreBoundedPerLayerAndPerImage() throws IOException {
        byte[] elevenFiles;
        ByteArrayOutputStream many = new ByteArrayOutputStream();
        for (int i = 0; i < 11; i++) many.write(LayerTar.record("f" + i, '0', 0, new byte[0]));
        elevenFiles = tar(many.toByteArray());
        var e = assertThrows(UnsafeLayerException.class, () -> apply(elevenFiles, budget(512, 10, 1 << 20, 1 << 20, 0)));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_ENTRIES_SETTING), e.getMessage());

        byte[] sixHundred = new byte[600];
        UnpackBudget image = budget(512, 100, 1000, 1000, 0);
        apply(tar(LayerTar.record("a", '0', 600, sixHundred)), image);
        upper = Files.createDirectories(tmp.resolve("upper2"));
        e = assertThrows(UnsafeLayerException.class, () -> apply(tar(LayerTar.record("b", '0', 600, sixHundred)), image));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_IMAGE_SETTING), e.getMessage());
        e = assertThrows(UnsafeLayerException.class, () -> apply(tar(LayerTar.record("c", '0', 1001, new byte[1001])), budget(512, 100, 1000, 1L << 40, 0)));
        assertTrue(e.getMessage().contains(UnpackLimits.MAX_LAYER_SETTING), e.getMessage());
    }

    @Test
    void theNodesDiskReserveIsKept() throws IOException {
        var e = assertThrows(OciException.class, () -> apply(sparse("big", 64L << 20), budget(512, 100, 1L << 40, 1L << 40, Long.MAX_VALUE / 2)));
        assertTrue(e.getMessage().contains(UnpackLimits.MIN_FREE_SETTING), e.getMessage());
    }
}
