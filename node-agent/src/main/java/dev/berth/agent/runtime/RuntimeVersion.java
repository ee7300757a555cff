package dev.berth.agent.runtime;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The version of the runc binary the agent starts containers with, checked at start: a runc without the fixes
 * for the container escapes of CVE-2024-21626 (a working directory in /proc, fixed in 1.1.12) and
 * CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881 (masked paths, /dev/console and procfs writes redirected,
 * fixed in 1.2.8, 1.3.3 and 1.4.0-rc.3) is refused unless the operator allows it knowingly: a distribution may
 * have backported the fixes under an older number, which only the operator can know.
 */
public record RuntimeVersion(int major, int minor, int patch, int releaseCandidate, String text) {
    /** The setting that lets a runtime older than the fixes start containers anyway. */
    public static final String OVERRIDE = "berth.agent.allow-unpatched-runtime (env BERTH_ALLOW_UNPATCHED_RUNTIME=true)";
    static final String CVES = "CVE-2024-21626, CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881";
    private static final Pattern VERSION = Pattern.compile("runc version (\\d+)\\.(\\d+)\\.(\\d+)(?:-rc\\.?(\\d+))?(\\S*)");

    /** Parses {@code runc --version}'s first line; a release is {@code releaseCandidate} {@link Integer#MAX_VALUE}. */
    public static RuntimeVersion parse(String output) {
        Matcher m = VERSION.matcher(output);
        if (!m.find()) throw new IllegalArgumentException("not a runc version: " + output.lines().findFirst().orElse("(nothing)"));
        int rc = m.group(4) == null ? Integer.MAX_VALUE : Integer.parseInt(m.group(4));
        return new RuntimeVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)), rc,
                m.group(0).substring("runc version ".length()));
    }

    /** Runs {@code binary --version} and parses what it prints. */
    public static RuntimeVersion of(String binary) throws IOException {
        Process p = new ProcessBuilder(List.of(binary, "--version")).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(binary + " --version failed: " + out.strip());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking " + binary + " for its version", e);
        }
        return parse(out);
    }

    /** Whether this version has every fix in {@link #CVES}. */
    public boolean patched() {
        if (major != 1) return major > 1;
        return switch (minor) {
            case 0, 1 -> false;
            case 2 -> patch >= 8;
            case 3 -> patch >= 3;
            case 4 -> patch > 0 || releaseCandidate >= 3;
            default -> true;
        };
    }

    /**
     * Refuses (IllegalStateException, with the reason and the fix) a runc without the fixes, unless {@code allowUnpatched};
     * returns the warning to log when it is allowed, or null.
     */
    public static String check(String binary, boolean allowUnpatched) throws IOException {
        RuntimeVersion v = of(binary);
        if (v.patched()) return null;
        String why = "runc " + v.text() + " at " + binary + " lacks the fixes for " + CVES
                + " (container escapes; fixed in runc 1.2.8, 1.3.3 and 1.4.0)";
        if (!allowUnpatched) {
            throw new IllegalStateException(why + ": install a fixed runc, or, if your distribution backported the fixes, set " + OVERRIDE);
        }
        return why + "; started anyway because " + OVERRIDE + " is set";
    }
}
