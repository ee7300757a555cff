package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which runc versions have the container-escape fixes, and what the agent does at start with this machine's runc. */
class RuntimeVersionTest {

    @Test
    void versionsBeforeTheFixesAreUnpatched() {
        for (String v : new String[] {"1.1.5+ds1", "1.1.12", "1.1.15", "1.2.0", "1.2.7", "1.3.0", "1.3.2", "1.4.0-rc.1", "1.4.0-rc.2"}) {
            assertFalse(RuntimeVersion.parse("runc version " + v + "\ncommit: x\n").patched(), v);
        }
        for (String v : new String[] {"1.2.8", "1.2.9", "1.3.3", "1.4.0-rc.3", "1.4.0", "1.5.1", "2.0.0"}) {
            assertTrue(RuntimeVersion.parse("runc version " + v + "\n").patched(), v);
        }
        assertEquals("1.1.5+ds1", RuntimeVersion.parse("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\n").text());
        assertThrows(IllegalArgumentException.class, () -> RuntimeVersion.parse("crun version 1.8.1"));
    }

    /** The real runc on this machine: refused at start when it lacks the fixes, unless the operator allows it. */
    @Test
    void thisMachinesRuncIsCheckedAtStart() throws Exception {
        String runc = "/usr/sbin/runc";
        if (RuntimeVersion.of(runc).patched()) {
            assertNull(RuntimeVersion.check(runc, false));
            return;
        }
        var refused = assertThrows(IllegalStateException.class, () -> RuntimeVersion.check(runc, false));
        assertTrue(refused.getMessage().contains("CVE-2025-31133") && refused.getMessage().contains("berth.agent.allow-unpatched-runtime"),
                refused.getMessage());
        assertTrue(RuntimeVersion.check(runc, true).contains("started anyway"));
    }
}
