package dev.berth.agent.unpack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * A tar stream that keeps the raw bytes of each entry's PAX header. commons-compress decodes PAX values as UTF-8,
 * which mangles binary xattr values (a security.capability with a byte over 0x7f) and drops empty ones; Go's
 * tar reader, and so containerd, keeps them byte for byte. A header record (PAX, GNU long name or link) larger
 * than the bound is refused before any of it is read: commons-compress would hold it whole in memory.
 */
final class LayerTarStream extends TarArchiveInputStream {
    private static final String PAX_XATTR = "SCHILY.xattr.";
    private final java.io.ByteArrayOutputStream pax = new java.io.ByteArrayOutputStream();
    private final long maxHeaderBytes;

    LayerTarStream(InputStream in, long maxHeaderBytes) {
        super(in, StandardCharsets.UTF_8.name());
        this.maxHeaderBytes = maxHeaderBytes;
    }

    TarArchiveEntry next() throws IOException {
        pax.reset();
        return getNextEntry();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        TarArchiveEntry cur = getCurrentEntry();
        // commons-compress reads a long name or a PAX header whole, into memory: the bound applies before it does
        if (cur != null && (cur.isPaxHeader() || cur.isGlobalPaxHeader() || cur.isGNULongNameEntry() || cur.isGNULongLinkEntry())
                && cur.getSize() > maxHeaderBytes) {
            throw new UnsafeLayerException("a tar header record (a PAX header or a GNU long name) of " + cur.getSize() + " bytes is over the bound of "
                    + maxHeaderBytes + " (" + UnpackLimits.MAX_HEADER_SETTING + ")");
        }
        int n = super.read(b, off, len);
        if (n > 0 && cur != null && cur.isPaxHeader()) pax.write(b, off, n); // commons-compress parses PAX headers through read
        return n;
    }

    /** The entry's xattrs from its raw PAX records; the decoded ones should the raw bytes not have been seen. */
    Map<String, byte[]> rawXattrs(TarArchiveEntry e) {
        Map<String, byte[]> out = new java.util.LinkedHashMap<>();
        byte[] b = pax.toByteArray();
        for (int i = 0; i < b.length; ) {
            int sp = i;
            while (sp < b.length && b[sp] >= '0' && b[sp] <= '9') sp++;
            if (sp == i || sp >= b.length || b[sp] != ' ' || sp - i > 9) break;
            int end = i + Integer.parseInt(new String(b, i, sp - i, StandardCharsets.US_ASCII));
            if (end > b.length || end <= sp + 1 || b[end - 1] != '\n') break;
            int eq = sp + 1;
            while (eq < end && b[eq] != '=') eq++;
            if (eq >= end) break;
            String key = new String(b, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
            if (key.startsWith(PAX_XATTR)) out.put(key.substring(PAX_XATTR.length()), java.util.Arrays.copyOfRange(b, eq + 1, end - 1));
            i = end;
        }
        if (b.length == 0) {
            for (Map.Entry<String, String> x : e.getExtraPaxHeaders().entrySet()) {
                if (x.getKey().startsWith(PAX_XATTR)) {
                    out.put(x.getKey().substring(PAX_XATTR.length()), x.getValue().getBytes(StandardCharsets.ISO_8859_1));
                }
            }
        }
        return out;
    }
}
