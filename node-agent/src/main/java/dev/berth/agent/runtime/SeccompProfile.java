package dev.berth.agent.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seccomp filter every container gets: an allowlist. A syscall not named here fails with EPERM, so one a
 * future kernel adds is refused until it is reviewed and listed (the runtime answers ENOSYS for numbers above the
 * newest one it knows, so libc falls back as it does on an older kernel). The reference is containerd's default
 * profile for a container with Berth's capability set (no CAP_SYS_ADMIN, CAP_SYSLOG, CAP_SYS_PTRACE...):
 * io_uring, syslog, keyrings, bpf, mount and namespace calls are not on it.
 */
final class SeccompProfile {
    private SeccompProfile() {}

    /**
     * The ABIs a process on this machine can make syscalls through, which the filter must cover: listing foreign
     * ones only makes the runtime compile filters that can never match.
     */
    static final List<String> ARCHES = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
        case "aarch64", "arm64" -> List.of("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
        default -> List.of("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
    };

    /** Files, directories, links, extended attributes and the descriptors that read and write them. */
    private static final List<String> FILES = List.of(
            "access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "chmod", "fchmod", "fchmodat", "fchmodat2",
            "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "creat", "open", "openat", "openat2",
            "close", "close_range", "dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "read", "readv", "pread64", "preadv",
            "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek", "sendfile", "sendfile64",
            "splice", "tee", "vmsplice", "copy_file_range", "readahead", "fadvise64", "fadvise64_64", "fallocate",
            "truncate", "truncate64", "ftruncate", "ftruncate64", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
            "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx", "statfs",
            "statfs64", "fstatfs", "fstatfs64", "getdents", "getdents64", "mkdir", "mkdirat", "mknod", "mknodat", "rmdir",
            "link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat", "unlink", "unlinkat", "rename", "renameat",
            "renameat2", "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "getxattr", "lgetxattr",
            "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
            "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
            "fanotify_mark", "ioctl", "pipe", "pipe2", "memfd_create");

    /** Waiting on descriptors and asynchronous I/O (the older aio interface; io_uring is not here). */
    private static final List<String> EVENTS = List.of(
            "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64", "epoll_create",
            "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
            "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64",
            "timerfd_gettime", "timerfd_gettime64", "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents",
            "io_pgetevents", "io_pgetevents_time64");

    /** Memory mappings and their advice. */
    private static final List<String> MEMORY = List.of(
            "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
            "mlockall", "munlock", "munlockall", "remap_file_pages", "membarrier");

    /** Processes, threads, their identities, limits and scheduling. */
    private static final List<String> PROCESSES = List.of(
            "execve", "execveat", "fork", "vfork", "exit", "exit_group", "wait4", "waitid", "waitpid", "getpid", "getppid",
            "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address", "set_robust_list",
            "get_robust_list", "rseq", "futex", "futex_time64", "futex_waitv", "set_thread_area", "get_thread_area",
            "prctl", "capget", "capset", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
            "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32", "getresuid",
            "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid",
            "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid", "setresuid32", "setresgid",
            "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32", "getrlimit",
            "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times", "getpriority", "setpriority", "ioprio_get",
            "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
            "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
            "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64", "getcpu", "sysinfo",
            "uname", "chroot", "pidfd_open", "pidfd_send_signal", "process_mrelease");

    /** Signals and timers. */
    private static final List<String> SIGNALS_AND_TIME = List.of(
            "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigqueueinfo",
            "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
            "sigaltstack", "sigprocmask", "sigreturn", "restart_syscall", "pause", "alarm", "getitimer", "setitimer",
            "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
            "timer_settime64", "nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime",
            "clock_gettime64", "clock_getres", "clock_getres_time64", "gettimeofday", "time", "getrandom");

    /** Sockets (socket itself is below: every family but vsock, the host's hypervisor channel). */
    private static final List<String> NETWORK = List.of(
            "socketpair", "socketcall", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
            "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg",
            "recvmmsg", "recvmmsg_time64", "shutdown");

    /** System V and POSIX IPC, inside the container's own IPC namespace. */
    private static final List<String> IPC = List.of(
            "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
            "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
            "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr");

    /** Calls only some ABIs have. */
    private static final List<String> ARCH_SPECIFIC = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> List.of("arch_prctl", "modify_ldt");
        case "aarch64", "arm64" -> List.of("arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls");
        default -> List.of();
    };

    /** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: new namespaces stay the runtime's business. */
    static final long CLONE_NEW_NAMESPACES = 0x00020000L | 0x02000000L | 0x04000000L | 0x08000000L | 0x10000000L | 0x20000000L | 0x40000000L;
    /** PER_LINUX, PER_LINUX32, UNAME26 (with each of the first two), and the query 0xffffffff. */
    static final long[] PERSONALITIES = {0x0L, 0x8L, 0x20000L, 0x20008L, 0xffffffffL};
    static final int AF_VSOCK = 40;
    static final int EPERM = 1;
    static final int ENOSYS = 38;

    static List<String> allowed() {
        List<String> all = new ArrayList<>();
        for (List<String> group : List.of(FILES, EVENTS, MEMORY, PROCESSES, SIGNALS_AND_TIME, NETWORK, IPC, ARCH_SPECIFIC)) all.addAll(group);
        return all;
    }

    /** The profile as the runtime spec's {@code linux.seccomp}. */
    static Map<String, Object> spec() {
        List<Map<String, Object>> rules = new ArrayList<>();
        rules.add(rule(allowed(), "SCMP_ACT_ALLOW", null, List.of()));
        rules.add(rule(List.of("clone"), "SCMP_ACT_ALLOW", null, List.of(arg(0, CLONE_NEW_NAMESPACES, 0, "SCMP_CMP_MASKED_EQ"))));
        // clone3 passes its flags in memory, where no filter can read them: ENOSYS makes libc fall back to clone
        rules.add(rule(List.of("clone3"), "SCMP_ACT_ERRNO", ENOSYS, List.of()));
        for (long p : PERSONALITIES) rules.add(rule(List.of("personality"), "SCMP_ACT_ALLOW", null, List.of(arg(0, p, 0, "SCMP_CMP_EQ"))));
        rules.add(rule(List.of("socket"), "SCMP_ACT_ALLOW", null, List.of(arg(0, AF_VSOCK, 0, "SCMP_CMP_NE"))));
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("defaultAction", "SCMP_ACT_ERRNO");
        s.put("defaultErrnoRet", EPERM);
        s.put("architectures", ARCHES);
        s.put("syscalls", rules);
        return s;
    }

    private static Map<String, Object> rule(List<String> names, String action, Integer errno, List<Map<String, Object>> args) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("names", names);
        r.put("action", action);
        if (errno != null) r.put("errnoRet", errno);
        if (!args.isEmpty()) r.put("args", args);
        return r;
    }

    private static Map<String, Object> arg(int index, long value, long valueTwo, String op) {
        return Map.of("index", index, "value", value, "valueTwo", valueTwo, "op", op);
    }
}
