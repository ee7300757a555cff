package dev.berth.oci;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A content digest as the OCI image spec defines it: {@code algorithm:encoded}. Only sha256 and sha512 are accepted. */
public record Digest(String algorithm, String hex) implements Comparable<Digest> {

    private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
    private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

    public Digest {
        Pattern p = switch (algorithm) {
            case "sha256" -> SHA256;
            case "sha512" -> SHA512;
            default -> throw new IllegalArgumentException("unsupported digest algorithm '" + algorithm + "': use sha256 or sha512");
        };
        if (!p.matcher(hex).matches()) {
            throw new IllegalArgumentException("malformed " + algorithm + " digest '" + hex + "': expected lowercase hex of the right length");
        }
    }

    public static Digest parse(String s) {
        if (s == null) throw new IllegalArgumentException("missing digest");
        int colon = s.indexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("malformed digest '" + s + "': expected algorithm:hex, e.g. sha256:<64 hex>");
        return new Digest(s.substring(0, colon), s.substring(colon + 1));
    }

    public static boolean isDigest(String s) {
        try {
            parse(s);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static Digest sha256(byte[] data) {
        Hasher h = Hasher.sha256();
        h.update(data, 0, data.length);
        return h.digest();
    }

    public static Digest sha256(InputStream in) throws IOException {
        Hasher h = Hasher.sha256();
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) h.update(buf, 0, n);
        return h.digest();
    }

    /** The digest of the same algorithm as this one, as a fresh hasher (to verify content against this digest). */
    public Hasher newHasher() {
        return new Hasher(algorithm);
    }

    public String encoded() {
        return hex;
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }

    public String shortHex() {
        return hex.substring(0, 12);
    }

    @Override
    public int compareTo(Digest o) {
        return toString().compareTo(o.toString());
    }

    /** Incremental hashing that ends in a {@link Digest}. */
    public static final class Hasher {
        private final String algorithm;
        private final MessageDigest md;

        Hasher(String algorithm) {
            this.algorithm = algorithm;
            try {
                this.md = MessageDigest.getInstance(algorithm.equals("sha256") ? "SHA-256" : "SHA-512");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        public static Hasher sha256() {
            return new Hasher("sha256");
        }

        public void update(byte[] b, int off, int len) {
            md.update(b, off, len);
        }

        public Digest digest() {
            return new Digest(algorithm, HexFormat.of().formatHex(md.digest()));
        }

        /** An output stream that hashes what passes through it on its way to {@code out}. */
        public java.io.OutputStream hashing(java.io.OutputStream out) {
            return new java.io.FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    md.update(b, off, len);
                    out.write(b, off, len);
                }

                @Override
                public void write(int b) throws IOException {
                    md.update((byte) b);
                    out.write(b);
                }
            };
        }
    }
}
