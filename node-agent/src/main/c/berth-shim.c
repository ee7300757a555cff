/*
 * berth-shim: per-container supervisor for the Berth node agent.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o berth-shim berth-shim.c
 *
 * Usage:
 *   berth-shim --id ID --bundle BUNDLE_DIR --state STATE_DIR \
 *              --runtime RUNTIME_BINARY --runtime-root ROOT_DIR
 *
 * The process started by the agent (the "launcher") double-forks the real
 * shim (a daemon in its own session, not a child of the agent) and waits on a
 * pipe until the shim reports the result of `RUNTIME create`:
 *   success: launcher prints the container init pid on stdout, exits 0;
 *   failure: launcher prints "runc create failed: MSG" (or
 *            "berth-shim: MSG" for shim-internal failures) on stderr and
 *            exits 1; by then the shim has exited.
 *
 * The shim is a child subreaper, so the container init (and anything else in
 * the container that gets orphaned) is reparented to it.  When the init exits
 * it writes STATE_DIR/exit atomically ("EXIT_CODE SIGNAL EXITED_AT_NANOS\n"),
 * sends the same line to every client connected to STATE_DIR/shim.sock,
 * removes shim.sock and exits 0.
 *
 * Only libc, no threads, no heap buffers: footprint is a few pages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CLIENTS 16
#define MSG_MAX 1024       /* max length of an error message reported */
#define LINE_MAX_LEN 4096  /* runtime.log lines longer than this are truncated */

#define SOCK_NAME "shim.sock"
#define EXIT_NAME "exit"
#define EXIT_TMP_NAME "exit.tmp"
#define PID_NAME "shim.pid"
#define PID_TMP_NAME "shim.pid.tmp"
#define INIT_PID_NAME "init.pid"
#define RUNTIME_LOG_NAME "runtime.log"
#define STDOUT_NAME "stdout.log"
#define STDERR_NAME "stderr.log"
#define SHIM_LOG_NAME "shim.log"

#define RUNC_PREFIX "runc create failed: "

struct opts {
    const char *id;
    char bundle[PATH_MAX];
    char state[PATH_MAX];
    char runtime[PATH_MAX];
    char root[PATH_MAX];
};

static struct opts g_opts;
static int g_report_fd = -1; /* write end of the pipe to the launcher */
static int g_in_state_dir;    /* shim.log may be written (cwd is STATE_DIR) */

/* ------------------------------------------------------------------ utils */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int close_noeintr(int fd)
{
    /* On Linux the fd is released even if close() returns EINTR: never retry. */
    return close(fd);
}

/* Diagnostics of the daemon go to STATE_DIR/shim.log (opened on demand). */
static void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...)
{
    char buf[512];
    struct timespec ts;
    int n;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(buf, sizeof buf, "%lld.%09ld berth-shim[%d]: ",
                 (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
    if (!g_in_state_dir || n < 0 || (size_t)n >= sizeof buf)
        return;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    int fd = open(SHIM_LOG_NAME, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return;
    (void)write_all(fd, buf, (size_t)n);
    close_noeintr(fd);
}

/* Replace control characters so that a message stays on one line. */
static void sanitize_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

/* Send the one and only report line to the launcher ("OK pid" / "ER msg"). */
static void report(const char *kind, const char *msg)
{
    char buf[MSG_MAX + 16];
    int n;

    if (g_report_fd < 0)
        return;
    n = snprintf(buf, sizeof buf, "%s %s", kind, msg);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n] = '\0';
    sanitize_line(buf);
    buf[n++] = '\n';
    /* A vanished launcher gives EPIPE (SIGPIPE is ignored): nothing to do. */
    (void)write_all(g_report_fd, buf, (size_t)n);
    if (kind[0] == 'O') {
        close_noeintr(g_report_fd);
        g_report_fd = -1;
    }
    /* On failure the pipe stays open until _exit(), so the launcher's EOF
     * means "the shim has cleaned up and exited". */
}

static void report_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report_err(const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shim_log("%s", msg);
    report("ER", msg);
}

/* Close every fd >= 3 except `keep`. */
static void close_other_fds(int keep)
{
#ifdef SYS_close_range
    if (keep > 3) {
        if (syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0 &&
            syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
            return;
    } else if (keep == 3) {
        if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
            return;
    } else {
        if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
            return;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        if (fd != keep)
            (void)close(fd);
}

/* Make `in` absolute (relative to the cwd) without requiring it to exist. */
static int make_absolute(const char *in, char *out, size_t outsz)
{
    if (in[0] == '/') {
        if (strlen(in) >= outsz) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(out, in);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    int n = snprintf(out, outsz, "%s/%s", cwd, in);
    if (n < 0 || (size_t)n >= outsz) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int write_file_atomic(const char *tmp, const char *dst, const char *data, size_t len,
                             mode_t mode, int sync)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) < 0 || (sync && fsync(fd) < 0)) {
        int e = errno;
        close_noeintr(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close_noeintr(fd) < 0 && errno != EINTR) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (sync) {
        int dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) < 0)
                shim_log("fsync(state dir): %s", strerror(errno));
            close_noeintr(dfd);
        }
    }
    return 0;
}

/* ------------------------------------------------- runtime error message */

/* Decode the JSON string starting right after the opening quote at `p`. */
static void json_unescape(const char *p, char *out, size_t outsz)
{
    size_t o = 0;
    while (*p && *p != '"' && o + 4 < outsz) {
        char c = *p++;
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        c = *p++;
        switch (c) {
        case 'n': case 'r': case 't': case 'b': case 'f':
            out[o++] = ' ';
            break;
        case 'u': {
            unsigned v = 0;
            int i;
            for (i = 0; i < 4 && p[i]; i++) {
                char h = p[i];
                v <<= 4;
                if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                else break;
            }
            if (i < 4) { /* malformed */
                out[o++] = '?';
                break;
            }
            p += 4;
            if (v < 0x20) {
                out[o++] = ' ';
            } else if (v < 0x80) {
                out[o++] = (char)v;
            } else if (v < 0x800) {
                out[o++] = (char)(0xc0 | (v >> 6));
                out[o++] = (char)(0x80 | (v & 0x3f));
            } else if (v >= 0xd800 && v <= 0xdfff) {
                out[o++] = '?'; /* surrogate halves: not worth decoding */
            } else {
                out[o++] = (char)(0xe0 | (v >> 12));
                out[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
                out[o++] = (char)(0x80 | (v & 0x3f));
            }
            break;
        }
        case '\0':
            p--;
            break;
        default: /* \" \\ \/ */
            out[o++] = c;
            break;
        }
    }
    out[o] = '\0';
}

static void consider_log_line(char *line, char *out, size_t outsz)
{
    if (!strstr(line, "\"level\":\"error\"") && !strstr(line, "\"level\":\"fatal\""))
        return;
    char *m = strstr(line, "\"msg\":\"");
    if (!m)
        return;
    json_unescape(m + 7, out, outsz);
}

/* Last error-level "msg" of the runtime's JSON log, from byte offset `from`. */
static int last_runtime_error(off_t from, char *out, size_t outsz)
{
    char chunk[2048];
    char line[LINE_MAX_LEN];
    size_t ll = 0;
    int fd = open(RUNTIME_LOG_NAME, O_RDONLY | O_CLOEXEC);

    out[0] = '\0';
    if (fd < 0)
        return -1;
    if (lseek(fd, from, SEEK_SET) < 0)
        (void)lseek(fd, 0, SEEK_SET);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                line[ll] = '\0';
                consider_log_line(line, out, outsz);
                ll = 0;
            } else if (ll < sizeof line - 1) {
                line[ll++] = chunk[i];
            }
        }
    }
    if (ll > 0) {
        line[ll] = '\0';
        consider_log_line(line, out, outsz);
    }
    close_noeintr(fd);
    return out[0] ? 0 : -1;
}

/* Last non-empty line written to stderr.log (the runtime's stderr) after
 * offset `from`. */
static int last_stderr_line(off_t from, char *out, size_t outsz)
{
    struct stat st;
    out[0] = '\0';
    int fd = open(STDERR_NAME, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || st.st_size <= from) {
        close_noeintr(fd);
        return -1;
    }
    off_t start = st.st_size - (off_t)(outsz - 1);
    if (start < from)
        start = from;
    ssize_t n;
    do {
        n = pread(fd, out, (size_t)(st.st_size - start), start);
    } while (n < 0 && errno == EINTR);
    close_noeintr(fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    if (nl)
        memmove(out, nl + 1, strlen(nl + 1) + 1);
    return out[0] ? 0 : -1;
}

/* -------------------------------------------------------------- the shim */

static void reap_all_nohang(void)
{
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0)
            continue;
        if (p < 0 && errno == EINTR)
            continue;
        break;
    }
}

/* Fatal error before success was reported: tell the launcher, clean up, exit. */
static void __attribute__((noreturn)) shim_fail_exit(pid_t init_pid)
{
    if (init_pid > 0) {
        kill(init_pid, SIGKILL);
        int st;
        while (waitpid(init_pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    reap_all_nohang();
    unlink(SOCK_NAME);
    unlink(PID_NAME);
    _exit(1);
}

static int read_init_pid(pid_t *out)
{
    char buf[32];
    int fd = open(INIT_PID_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do {
        n = read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    close_noeintr(fd);
    if (n <= 0) {
        errno = EINVAL;
        return -1;
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (errno || end == buf || *end || v <= 0 || v > INT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    *out = (pid_t)v;
    return 0;
}

static int create_listener(void)
{
    struct sockaddr_un addr;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    /* Relative name (cwd is STATE_DIR): avoids the 108-byte sun_path limit. */
    memcpy(addr.sun_path, SOCK_NAME, sizeof SOCK_NAME);
    unlink(SOCK_NAME);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    if (r < 0 || chmod(SOCK_NAME, 0600) < 0 || listen(fd, MAX_CLIENTS) < 0) {
        e = r < 0 ? e : errno;
        close_noeintr(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void format_exit_line(int status, char *buf, size_t bufsz)
{
    struct timespec ts;
    int code, sig = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        code = 128 + sig;
    } else {
        code = 255;
    }
    unsigned long long nanos =
        (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
    snprintf(buf, bufsz, "%d %d %llu\n", code, sig, nanos);
}

static void send_line(int fd, const char *line, size_t len)
{
    /* Client sockets are non-blocking; a ~40-byte line always fits an empty
     * socket buffer, so a short or failed send just means the client is gone. */
    while (len > 0) {
        ssize_t n = send(fd, line, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        line += n;
        len -= (size_t)n;
    }
}

static void __attribute__((noreturn)) run_shim(void)
{
    struct opts *o = &g_opts;
    sigset_t mask;
    pid_t init_pid = -1;
    int out_fd, err_fd;
    char msg[MSG_MAX];

    /* Own session: no controlling terminal, not in the agent's process group. */
    (void)setsid();

    /* Detach from the agent's stdio: the agent must see EOF when the launcher exits. */
    int nullfd = open("/dev/null", O_RDWR | O_NOCTTY);
    if (nullfd >= 0) {
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(nullfd, 2);
        if (nullfd > 2)
            close_noeintr(nullfd);
    }
    close_other_fds(g_report_fd);

    /* Predictable dispositions whatever the agent left us; SIGPIPE is
     * ignored so that vanished clients/launcher only give EPIPE. */
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    /* Only SIGCHLD blocked (also drops whatever mask the agent left us). */
    if (sigprocmask(SIG_SETMASK, &mask, NULL) < 0) {
        report_err("berth-shim: sigprocmask: %s", strerror(errno));
        _exit(1);
    }
    if (chdir(o->state) < 0) {
        report_err("berth-shim: chdir %s: %s", o->state, strerror(errno));
        _exit(1);
    }
    g_in_state_dir = 1;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) < 0) {
        report_err("berth-shim: prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
        _exit(1);
    }
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        report_err("berth-shim: signalfd: %s", strerror(errno));
        _exit(1);
    }

    /* Stale results of an earlier run in the same state dir would mislead. */
    unlink(EXIT_NAME);
    unlink(EXIT_TMP_NAME);
    unlink(INIT_PID_NAME);
    unlink(SOCK_NAME);

    {
        char pidbuf[32];
        int n = snprintf(pidbuf, sizeof pidbuf, "%d\n", (int)getpid());
        if (write_file_atomic(PID_TMP_NAME, PID_NAME, pidbuf, (size_t)n, 0644, 0) < 0) {
            report_err("berth-shim: write %s: %s", PID_NAME, strerror(errno));
            _exit(1);
        }
    }

    out_fd = open(STDOUT_NAME, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (out_fd < 0) {
        report_err("berth-shim: open %s: %s", STDOUT_NAME, strerror(errno));
        shim_fail_exit(-1);
    }
    err_fd = open(STDERR_NAME, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (err_fd < 0) {
        report_err("berth-shim: open %s: %s", STDERR_NAME, strerror(errno));
        shim_fail_exit(-1);
    }

    /* Remember where the logs end, to find only this run's error messages. */
    struct stat st;
    off_t log_from = 0, err_from = 0;
    if (stat(RUNTIME_LOG_NAME, &st) == 0)
        log_from = st.st_size;
    if (fstat(err_fd, &st) == 0)
        err_from = st.st_size;

    /* RUNTIME --root ROOT --log STATE/runtime.log --log-format json create
     *         --bundle BUNDLE --pid-file STATE/init.pid ID */
    char log_path[PATH_MAX], pid_path[PATH_MAX];
    if (snprintf(log_path, sizeof log_path, "%s/%s", o->state, RUNTIME_LOG_NAME) >=
            (int)sizeof log_path ||
        snprintf(pid_path, sizeof pid_path, "%s/%s", o->state, INIT_PID_NAME) >=
            (int)sizeof pid_path) {
        report_err("berth-shim: state path too long");
        shim_fail_exit(-1);
    }
    char *argv[] = {
        o->runtime, "--root", o->root, "--log", log_path, "--log-format", "json",
        "create", "--bundle", o->bundle, "--pid-file", pid_path, (char *)o->id, NULL,
    };

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t empty, defsigs;
    sigemptyset(&empty);
    /* Default dispositions for everything (SIGPIPE is ignored here, and
     * ignored signals would otherwise survive exec into the container). */
    sigfillset(&defsigs);
    posix_spawn_file_actions_init(&fa);
    /* fd 0 is already /dev/null; dup2 clears O_CLOEXEC on the targets. */
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defsigs);

    pid_t rpid;
    int rc = posix_spawnp(&rpid, o->runtime, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        report_err(RUNC_PREFIX "exec %s: %s", o->runtime, strerror(rc));
        shim_fail_exit(-1);
    }

    int status;
    for (;;) {
        pid_t p = waitpid(rpid, &status, 0);
        if (p == rpid)
            break;
        if (p < 0 && errno != EINTR) {
            report_err("berth-shim: waitpid(runtime): %s", strerror(errno));
            shim_fail_exit(-1);
        }
    }

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const char *m = msg;
        if (last_runtime_error(log_from, msg, sizeof msg) < 0 &&
            last_stderr_line(err_from, msg, sizeof msg) < 0) {
            if (WIFSIGNALED(status))
                snprintf(msg, sizeof msg, "%.256s killed by signal %d", o->runtime,
                         WTERMSIG(status));
            else
                snprintf(msg, sizeof msg, "%.256s exited with status %d", o->runtime,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        /* runc already prefixes its message with "runc create failed: ". */
        if (strncmp(m, RUNC_PREFIX, sizeof RUNC_PREFIX - 1) == 0)
            m += sizeof RUNC_PREFIX - 1;
        report_err(RUNC_PREFIX "%s", m);
        shim_fail_exit(-1);
    }
    close_noeintr(err_fd);
    close_noeintr(out_fd);

    if (read_init_pid(&init_pid) < 0) {
        report_err("berth-shim: read %s: %s", INIT_PID_NAME, strerror(errno));
        shim_fail_exit(-1);
    }
    /* The init must have been reparented to us (we are a subreaper); peek
     * without reaping. */
    {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)init_pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            report_err("berth-shim: container init %d is not a child of the shim: %s",
                       (int)init_pid, strerror(errno));
            kill(init_pid, SIGKILL);
            shim_fail_exit(-1);
        }
    }

    int lfd = create_listener();
    if (lfd < 0) {
        report_err("berth-shim: listen on %s/%s: %s", o->state, SOCK_NAME, strerror(errno));
        shim_fail_exit(init_pid);
    }

    snprintf(msg, sizeof msg, "%d", (int)init_pid);
    report("OK", msg);

    /* ------------------------------------------------------- main loop */
    /* Clients: fd, and whether they already shut down their write side
     * (then they are only watched for POLLHUP, i.e. a full close). */
    int clients[MAX_CLIENTS];
    char client_eof[MAX_CLIENTS];
    int nclients = 0;
    int init_status = 0, init_done = 0;

    while (!init_done) {
        struct pollfd pfds[2 + MAX_CLIENTS];
        int n = 0;
        pfds[n].fd = sfd;
        pfds[n].events = POLLIN;
        n++;
        /* When full, leave new connections in the backlog (drained at exit). */
        pfds[n].fd = nclients < MAX_CLIENTS ? lfd : -1;
        pfds[n].events = POLLIN;
        n++;
        for (int i = 0; i < nclients; i++) {
            pfds[n].fd = clients[i];
            pfds[n].events = client_eof[i] ? 0 : POLLIN;
            n++;
        }
        for (int i = 0; i < n; i++)
            pfds[i].revents = 0;

        int r = poll(pfds, (nfds_t)n, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            shim_log("poll: %s", strerror(errno));
            sleep(1);
            continue;
        }

        if (pfds[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            for (;;) {
                int ws;
                pid_t p = waitpid(-1, &ws, WNOHANG);
                if (p < 0 && errno == EINTR)
                    continue;
                if (p <= 0)
                    break;
                if (p == init_pid) {
                    init_status = ws;
                    init_done = 1;
                }
            }
        }

        /* Client sockets: data is ignored; a half-close (EOF) is tolerated,
         * a full close or an error drops the client. */
        for (int i = 2, ci = 0; i < n; i++, ci++) {
            short re = pfds[i].revents;
            if (!re)
                continue;
            int drop = 0;
            if (re & (POLLERR | POLLNVAL)) {
                drop = 1;
            } else if (re & POLLIN) {
                char junk[64];
                ssize_t k = recv(pfds[i].fd, junk, sizeof junk, 0);
                if (k == 0)
                    client_eof[ci] = 1;
                else if (k < 0 && errno != EINTR && errno != EAGAIN)
                    drop = 1;
            } else if (re & POLLHUP) {
                drop = 1;
            }
            if (drop) {
                close_noeintr(pfds[i].fd);
                pfds[i].fd = -1;
            }
        }
        /* compact the client list */
        {
            int k = 0;
            for (int i = 2, ci = 0; i < n; i++, ci++)
                if (pfds[i].fd >= 0) {
                    clients[k] = pfds[i].fd;
                    client_eof[k] = client_eof[ci];
                    k++;
                }
            nclients = k;
        }

        if (pfds[1].revents & POLLIN) {
            while (nclients < MAX_CLIENTS) {
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c < 0) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    if (errno != EAGAIN && errno != EWOULDBLOCK)
                        shim_log("accept: %s", strerror(errno));
                    break;
                }
                clients[nclients] = c;
                client_eof[nclients] = 0;
                nclients++;
            }
        }
    }

    /* ------------------------------------------------------ init exited */
    char line[64];
    format_exit_line(init_status, line, sizeof line);
    size_t len = strlen(line);

    if (write_file_atomic(EXIT_TMP_NAME, EXIT_NAME, line, len, 0640, 1) < 0)
        shim_log("writing %s: %s", EXIT_NAME, strerror(errno));

    for (int i = 0; i < nclients; i++) {
        send_line(clients[i], line, len);
        close_noeintr(clients[i]);
    }
    /* Connections still waiting in the backlog get the line too. */
    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        send_line(c, line, len);
        close_noeintr(c);
    }
    unlink(SOCK_NAME);
    close_noeintr(lfd);
    reap_all_nohang();
    _exit(0);
}

/* ---------------------------------------------------------- the launcher */

static void usage(void)
{
    static const char u[] =
        "usage: berth-shim --id ID --bundle BUNDLE_DIR --state STATE_DIR "
        "--runtime RUNTIME_BINARY --runtime-root ROOT_DIR\n";
    (void)write_all(2, u, sizeof u - 1);
}

static void __attribute__((noreturn)) die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    char buf[MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    (void)write_all(2, buf, (size_t)n);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *id = NULL, *bundle = NULL, *state = NULL, *runtime = NULL, *root = NULL;

    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "--id")) dst = &id;
        else if (!strcmp(argv[i], "--bundle")) dst = &bundle;
        else if (!strcmp(argv[i], "--state")) dst = &state;
        else if (!strcmp(argv[i], "--runtime")) dst = &runtime;
        else if (!strcmp(argv[i], "--runtime-root")) dst = &root;
        if (!dst || i + 1 >= argc) {
            usage();
            die("berth-shim: bad argument: %s", argv[i]);
        }
        *dst = argv[++i];
    }
    if (!id || !bundle || !state || !runtime || !root || !*id || !*bundle || !*state ||
        !*runtime || !*root) {
        usage();
        exit(1);
    }

    /* Make sure fds 0-2 exist so the pipe below never lands on them. */
    for (;;) {
        int fd = open("/dev/null", O_RDWR | O_NOCTTY);
        if (fd < 0)
            die("berth-shim: open /dev/null: %s", strerror(errno));
        if (fd > 2) {
            close_noeintr(fd);
            break;
        }
    }

    struct opts *o = &g_opts;
    o->id = id;
    if (!realpath(bundle, o->bundle))
        die("berth-shim: bundle %s: %s", bundle, strerror(errno));
    if (mkdir(state, 0711) < 0 && errno != EEXIST)
        die("berth-shim: state dir %s: %s", state, strerror(errno));
    if (!realpath(state, o->state))
        die("berth-shim: state dir %s: %s", state, strerror(errno));
    if (make_absolute(root, o->root, sizeof o->root) < 0)
        die("berth-shim: runtime root %s: %s", root, strerror(errno));
    if (strchr(runtime, '/')) {
        if (make_absolute(runtime, o->runtime, sizeof o->runtime) < 0)
            die("berth-shim: runtime %s: %s", runtime, strerror(errno));
    } else {
        if (strlen(runtime) >= sizeof o->runtime)
            die("berth-shim: runtime name too long");
        strcpy(o->runtime, runtime); /* looked up in PATH */
    }

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("berth-shim: pipe: %s", strerror(errno));

    pid_t mid = fork();
    if (mid < 0)
        die("berth-shim: fork: %s", strerror(errno));
    if (mid == 0) {
        /* intermediate: new session, fork the daemon, exit at once */
        close_noeintr(p[0]);
        (void)setsid();
        pid_t d = fork();
        if (d < 0) {
            char m[128];
            int n = snprintf(m, sizeof m, "ER berth-shim: fork: %s\n", strerror(errno));
            (void)write_all(p[1], m, (size_t)n);
            _exit(1);
        }
        if (d > 0)
            _exit(0);
        g_report_fd = p[1];
        run_shim();
    }

    close_noeintr(p[1]);
    {
        int st;
        while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
            ;
    }

    /* Read the report until EOF: EOF means the daemon reported (and, on
     * failure, exited) or died. */
    char buf[MSG_MAX + 64];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("berth-shim: read from shim: %s", strerror(errno));
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len >= sizeof buf - 1)
            break;
    }
    close_noeintr(p[0]);
    buf[len] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';

    if (!strncmp(buf, "OK ", 3)) {
        char out[32];
        int n = snprintf(out, sizeof out, "%s\n", buf + 3);
        if (write_all(1, out, (size_t)n) < 0)
            exit(1);
        exit(0);
    }
    if (!strncmp(buf, "ER ", 3))
        die("%s", buf + 3);
    die("berth-shim: shim exited without reporting a result");
}
