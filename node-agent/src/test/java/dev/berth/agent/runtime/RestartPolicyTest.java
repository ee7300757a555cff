package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RestartPolicyTest {

    @Test
    void dockersSpellingsAreAccepted() {
        assertEquals(RestartPolicy.NO, RestartPolicy.parse(null));
        assertEquals(RestartPolicy.NO, RestartPolicy.parse("no"));
        assertEquals("always", RestartPolicy.parse("always").toString());
        // a user's stop is remembered across agent restarts, so always already is docker's unless-stopped
        assertEquals(RestartPolicy.parse("always"), RestartPolicy.parse("unless-stopped"));
        assertEquals("on-failure", RestartPolicy.parse("on-failure").toString());
        assertEquals("on-failure:3", RestartPolicy.parse("on-failure:3").toString());
    }

    @Test
    void whatItRestarts() {
        assertTrue(RestartPolicy.parse("unless-stopped").restarts(0, 100));
        assertFalse(RestartPolicy.parse("on-failure:2").restarts(0, 0), "a clean exit is not a failure");
        assertTrue(RestartPolicy.parse("on-failure:2").restarts(1, 1));
        assertFalse(RestartPolicy.parse("on-failure:2").restarts(1, 2), "at most N restarts");
        assertTrue(RestartPolicy.parse("on-failure").restarts(1, 1000));
        assertFalse(RestartPolicy.NO.restarts(1, 0));
    }

    @Test
    void anythingElseIsRefusedNamingTheChoices() {
        for (String bad : new String[] {"sometimes", "on-failure:0", "on-failure:x", "always:3"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RestartPolicy.parse(bad));
            assertTrue(e.getMessage().contains("'" + bad + "'") && e.getMessage().contains("unless-stopped"), e.getMessage());
        }
    }

    @Test
    void backoffDoublesFrom100MsUpTo10s() {
        assertEquals(100, RestartPolicy.backoffMs(0));
        assertEquals(200, RestartPolicy.backoffMs(1));
        assertEquals(10_000, RestartPolicy.backoffMs(50));
    }
}
