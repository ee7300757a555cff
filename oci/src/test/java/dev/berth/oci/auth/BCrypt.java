package dev.berth.oci.auth;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

/**
 * bcrypt ($2a$), enough to write an htpasswd file for docker-registry (which accepts bcrypt only) without
 * apache2-utils or a crypto library. Blowfish's initial P-array and S-boxes are the hexadecimal digits of pi,
 * computed here with Machin's formula rather than copied as a table.
 */
final class BCrypt {

    private static final String STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    private static final String BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static final int[] PI_WORDS = piWords(18 + 1024);
    private static final byte[] MAGIC = "OrpheanBeholderScryDoubt".getBytes(StandardCharsets.US_ASCII);

    private BCrypt() {}

    /** The first {@code n} 32-bit words of pi's fractional part: 0x243f6a88, 0x85a308d3, ... */
    static int[] piWords(int n) {
        int bits = n * 32 + 64;
        BigInteger one = BigInteger.ONE.shiftLeft(bits);
        BigInteger pi = arctanInverse(5, one).shiftLeft(4).subtract(arctanInverse(239, one).shiftLeft(2));
        BigInteger fraction = pi.subtract(BigInteger.valueOf(3).shiftLeft(bits)).shiftRight(64);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = fraction.shiftRight((n - 1 - i) * 32).intValue();
        return out;
    }

    private static BigInteger arctanInverse(int x, BigInteger one) {
        BigInteger x2 = BigInteger.valueOf((long) x * x);
        BigInteger term = one.divide(BigInteger.valueOf(x));
        BigInteger sum = term;
        for (int k = 1; term.signum() != 0; k++) {
            term = term.divide(x2);
            BigInteger t = term.divide(BigInteger.valueOf(2L * k + 1));
            sum = (k & 1) == 1 ? sum.subtract(t) : sum.add(t);
        }
        return sum;
    }

    static String hash(String password, int cost) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return hash(password, cost, salt);
    }

    /** Hashes with the cost and salt of an existing hash or salt string such as {@code $2a$06$DCq7YPn5Rq63x1Lad4cll.}. */
    static String hash(String password, String saltString) {
        int cost = Integer.parseInt(saltString.substring(4, 6));
        return hash(password, cost, decode(saltString.substring(7, 29), 16));
    }

    static String hash(String password, int cost, byte[] salt) {
        byte[] pw = password.getBytes(StandardCharsets.UTF_8);
        byte[] key = Arrays.copyOf(pw, Math.min(pw.length + 1, 72)); // NUL-terminated, at most 72 bytes
        int[] p = Arrays.copyOfRange(PI_WORDS, 0, 18);
        int[] s = Arrays.copyOfRange(PI_WORDS, 18, 18 + 1024);
        expand(p, s, key, salt);
        for (long i = 0, rounds = 1L << cost; i < rounds; i++) {
            expand(p, s, key, null);
            expand(p, s, salt, null);
        }
        int[] c = new int[6];
        int[] off = {0};
        for (int i = 0; i < 6; i++) c[i] = word(MAGIC, off);
        for (int i = 0; i < 64; i++) for (int j = 0; j < 6; j += 2) encipher(p, s, c, j);
        byte[] out = new byte[24];
        for (int i = 0; i < 6; i++) for (int b = 0; b < 4; b++) out[i * 4 + b] = (byte) (c[i] >>> (24 - 8 * b));
        return "$2a$" + (cost < 10 ? "0" : "") + cost + "$" + encode(salt) + encode(Arrays.copyOf(out, 23));
    }

    /** Blowfish key schedule, with the salt mixed in when {@code data} is given (eksblowfish's ExpandKey). */
    private static void expand(int[] p, int[] s, byte[] key, byte[] data) {
        int[] koff = {0};
        for (int i = 0; i < 18; i++) p[i] ^= word(key, koff);
        int[] lr = {0, 0};
        int[] doff = {0};
        for (int i = 0; i < 18; i += 2) {
            if (data != null) {
                lr[0] ^= word(data, doff);
                lr[1] ^= word(data, doff);
            }
            encipher(p, s, lr, 0);
            p[i] = lr[0];
            p[i + 1] = lr[1];
        }
        for (int i = 0; i < 1024; i += 2) {
            if (data != null) {
                lr[0] ^= word(data, doff);
                lr[1] ^= word(data, doff);
            }
            encipher(p, s, lr, 0);
            s[i] = lr[0];
            s[i + 1] = lr[1];
        }
    }

    private static int word(byte[] data, int[] off) {
        int w = 0;
        for (int i = 0; i < 4; i++) {
            w = (w << 8) | (data[off[0]] & 0xff);
            off[0] = (off[0] + 1) % data.length;
        }
        return w;
    }

    private static void encipher(int[] p, int[] s, int[] lr, int off) {
        int l = lr[off] ^ p[0];
        int r = lr[off + 1];
        for (int i = 1; i <= 16; i += 2) {
            r ^= f(s, l) ^ p[i];
            l ^= f(s, r) ^ p[i + 1];
        }
        lr[off] = r ^ p[17];
        lr[off + 1] = l;
    }

    private static int f(int[] s, int x) {
        return ((s[x >>> 24] + s[0x100 | ((x >>> 16) & 0xff)]) ^ s[0x200 | ((x >>> 8) & 0xff)]) + s[0x300 | (x & 0xff)];
    }

    private static String encode(byte[] b) {
        String std = Base64.getEncoder().withoutPadding().encodeToString(b);
        StringBuilder out = new StringBuilder(std.length());
        for (char c : std.toCharArray()) out.append(BCRYPT.charAt(STD.indexOf(c)));
        return out.toString();
    }

    private static byte[] decode(String s, int len) {
        StringBuilder std = new StringBuilder(s.length());
        for (char c : s.toCharArray()) std.append(STD.charAt(BCRYPT.indexOf(c)));
        return Arrays.copyOf(Base64.getDecoder().decode(std.toString()), len);
    }
}
