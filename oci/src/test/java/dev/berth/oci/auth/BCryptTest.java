package dev.berth.oci.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The test-only bcrypt agrees with the C library's (libxcrypt's) hashes. */
class BCryptTest {

    @Test
    void piDigitsAreBlowfishsConstants() {
        int[] w = BCrypt.piWords(18 + 1024);
        assertEquals(0x243f6a88, w[0], "P[0]");
        assertEquals(0x8979fb1b, w[17], "P[17]");
        assertEquals(0xd1310ba6, w[18], "S0[0]");
        assertEquals(0x3ac372e6, w[18 + 1023], "S3[255]");
    }

    @Test
    void knownVectors() {
        assertEquals("$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", BCrypt.hash("", "$2a$06$DCq7YPn5Rq63x1Lad4cll."));
        assertEquals("$2a$05$If6bvum7DFjUnE9p2uDeDudcfGDKSydAV3pW3bGlIunMVJASCOEIu", BCrypt.hash("abc", "$2a$05$If6bvum7DFjUnE9p2uDeDu"));
    }

    @Test
    void randomSaltsDiffer() {
        String a = BCrypt.hash("pw", 4);
        String b = BCrypt.hash("pw", 4);
        assertNotEquals(a, b);
        assertTrue(a.matches("\\$2a\\$04\\$[./A-Za-z0-9]{53}"), a);
        assertEquals(a, BCrypt.hash("pw", a.substring(0, 29)));
    }
}
