package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.oci.ImageConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the spec denies a container: syscalls off the allowlist, /proc working directories, the masked paths. */
class SpecBuilderSecurityTest {

    private static ImageConfig image(String workingDir) {
        return new ImageConfig("amd64", "linux", null, null,
                new ImageConfig.Execution(null, null, null, null, List.of("true"), null, workingDir, null, null), null, null);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> linux(Map<String, Object> spec) {
        return (Map<String, Object>) spec.get("linux");
    }

    @Test
    void anImagesWorkdirInProcIsRefusedWhereverItLeads() {
        for (String dir : List.of("/proc/self/fd/7", "/proc", "/usr/../proc/1/cwd", "//proc/self/cwd")) {
            var e = assertThrows(IllegalArgumentException.class, () -> SpecBuilder.build("default", "c", image(dir), RunRequest.ofArgs(null)), dir);
            assertTrue(e.getMessage().contains("is in /proc") && e.getMessage().contains("CVE-2024-21626"), e.getMessage());
        }
        assertEquals("/procedures", ((Map<?, ?>) SpecBuilder.build("default", "c", image("/procedures/"), RunRequest.ofArgs(null)).get("process")).get("cwd"));
    }

    @Test
    void powercapIsMaskedAsContainerdMasksIt() {
        assertTrue(((List<?>) linux(SpecBuilder.build("default", "c", image(null), RunRequest.ofArgs(null))).get("maskedPaths"))
                .contains("/sys/devices/virtual/powercap"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void seccompRefusesWhatItDoesNotName() {
        Map<String, Object> seccomp = (Map<String, Object>) linux(SpecBuilder.build("default", "c", image(null), RunRequest.ofArgs(null))).get("seccomp");
        assertEquals("SCMP_ACT_ERRNO", seccomp.get("defaultAction"));
        List<String> allowed = SeccompProfile.allowed();
        for (String never : List.of("io_uring_setup", "io_uring_enter", "io_uring_register", "syslog", "keyctl", "add_key", "bpf", "mount",
                "unshare", "setns", "ptrace", "perf_event_open", "userfaultfd", "kexec_load", "init_module", "open_by_handle_at")) {
            assertFalse(allowed.contains(never), never);
        }
        assertEquals(allowed.size(), new java.util.HashSet<>(allowed).size(), "each syscall is named once");
        List<Map<String, Object>> rules = (List<Map<String, Object>>) seccomp.get("syscalls");
        Map<String, Object> clone = rules.stream().filter(r -> r.get("names").equals(List.of("clone"))).findFirst().orElseThrow();
        assertEquals("SCMP_CMP_MASKED_EQ", ((List<Map<String, Object>>) clone.get("args")).get(0).get("op"));
    }
}
