/*
 * berth-shim: per-container supervisor for the Berth node agent.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o berth-shim berth-shim.c
 *
 * Usage:
 *   berth-shim --id ID --bundle BUNDLE_DIR --state STATE_DIR \
 *              --runtime RUNTIME_BINARY --runtime-root ROOT_DIR \
 *              [--log-max-bytes N] [--log-max-files K] \
 *              [--stdin] [--tty] [--start] [--log-dir DIR]
 *
 *   --log-max-bytes N  rotate a log when it would grow beyond N bytes
 *                      (default 10485760; 0 = never rotate)
 *   --log-max-files K  number of files kept per log, the live one included
 *                      (default 3, minimum 1)
 *   --stdin            the container's stdin is a pipe fed by attach clients
 *                      (without it, stdin is /dev/null)
 *   --tty              the bundle has process.terminal=true: the runtime gets
 *                      --console-socket and the shim owns the pty master
 *   --start            run `RUNTIME run --detach` (create + start in one
 *                      runtime call) instead of `RUNTIME create`
 *
 * ------------------------------------------------------------ launching
 * The process started by the agent (the "launcher") double-forks the real
 * shim (a daemon in its own session, not a child of the agent) and waits on a
 * pipe until the shim reports the result of the runtime call:
 *   success: launcher prints the container init pid on stdout, exits 0;
 *   failure: launcher prints one line on stderr and exits 1; by then the
 *            shim has exited.  The line is "runc create failed: MSG" (with
 *            --start: "runc run failed: MSG"), MSG being the runtime's own
 *            error message, or "berth-shim: MSG" for shim-internal failures.
 *
 * The runtime is called as
 *   RUNTIME --root ROOT --log STATE/runtime.log --log-format json
 *           create | run --detach
 *           --bundle BUNDLE --pid-file STATE/init.pid
 *           [--console-socket SOCK] ID
 * SOCK is STATE/console.sock (or /proc/SHIMPID/cwd/console.sock when that
 * path would not fit a unix socket address); it exists only while the
 * runtime runs.
 *
 * The shim is a child subreaper, so the container init, exec processes and
 * anything else that gets orphaned are reparented to it and reaped by it.
 *
 * ----------------------------------------------------------------- files
 * In STATE_DIR:
 *   shim.pid       the shim daemon's pid ("PID\n"), written atomically
 *   init.pid       written by the runtime
 *   runtime.log    the runtime's JSON log
 *   shim.log       the shim's own diagnostics
 *   container.log  the container's output in the CRI log format, one record
 *                  per line:  TIMESTAMP STREAM TAG CONTENT\n
 *                    TIMESTAMP  UTC RFC 3339 with nanoseconds, e.g.
 *                               2026-11-28T07:35:40.123456789Z (time of read)
 *                    STREAM     stdout | stderr (with --tty: all is stdout,
 *                               CR LF kept as produced)
 *                    TAG        F: full line; the line's newline is the
 *                               record's newline
 *                               P: partial line: a line longer than 16384
 *                               bytes is split into P records of 16384 bytes
 *                               (the remainder ends with an F record); bytes
 *                               without a newline are flushed as P when the
 *                               stream ends or its process exits
 *                  What the runtime itself prints on stderr (its errors)
 *                  is logged too, as stderr records.
 *                  Rotation: when a record would make the file exceed
 *                  --log-max-bytes, container.log.(K-2) is renamed to
 *                  .(K-1), ..., container.log to container.log.1 and a fresh
 *                  container.log is started (K=1: truncated in place).  A
 *                  single record larger than N is still written whole.
 *   exit           "EXIT_CODE SIGNAL EXITED_AT_NANOS\n", written atomically
 *                  (via exit.tmp) when the init has exited, after all its
 *                  output is in container.log and after the exit files of
 *                  all execs.  EXIT_CODE is 128+SIGNAL for a signal death.
 *   exec-ID.pid    written by the runtime for exec ID
 *   exec-ID.log    the exec's output, CRI format, same rotation settings
 *   exec-ID.exit   the exec's exit line, same format, written atomically
 *                  (via exec-ID.exit.tmp) after its output is logged
 *   exec-ID.console.sock  console socket for a tty exec while runc runs
 *   shim.sock      the control socket (mode 0600), created once the
 *                  container is created; removed when the shim exits
 *
 * --------------------------------------------------- shim.sock protocol
 * A client that connects and sends nothing (it may half-close) gets the exit
 * line "EXIT_CODE SIGNAL EXITED_AT_NANOS\n" when the init has exited, then
 * EOF.  Otherwise the client sends ONE command line:
 *
 *   ATTACH\n
 *       No reply; the connection switches to frames in both directions.
 *   EXEC <exec-id> <process-json-path> [tty] [stdin]\n
 *       exec-id: [A-Za-z0-9_.-]{1,64}; path: absolute, no spaces.  The shim
 *       runs RUNTIME --root ROOT --log STATE/runtime.log --log-format json
 *       exec --detach --pid-file STATE/exec-ID.pid --process PATH
 *       [--console-socket SOCK] ID, with the exec's stdio being pipes owned
 *       by the shim (or a pty with "tty": the process JSON must then have
 *       terminal=true).  "stdin": the exec's stdin is a pipe fed by 'I'
 *       frames (else /dev/null).  Reply: "OK <pid>\n", then frames, or
 *       "ER <message>\n" and close, MESSAGE being "runc exec failed: MSG"
 *       (MSG the runtime's error) or "berth-shim: MSG" (bad line, id in use
 *       by a running exec, 16 execs running, container has exited).  An id
 *       may be reused once its exec has exited (its files are replaced,
 *       exec-ID.log is appended to).
 *   anything else: "ER unknown command\n" and close.
 *
 * Frames: 1 byte type, 4 bytes big-endian payload length, payload.
 *   client -> shim
 *     'I'  stdin bytes (dropped when there is no stdin or it was closed)
 *     'C'  close stdin, for everyone (empty payload)
 *     'R'  resize: rows uint16 BE, cols uint16 BE (ignored without tty)
 *     other types are skipped
 *   shim -> client
 *     'O'  stdout bytes, 'E' stderr bytes: raw, as read, from attach (or
 *          OK) time on, no replay
 *     'X'  payload "EXIT_CODE SIGNAL EXITED_AT_NANOS" (no newline), sent when
 *          the process has exited (after its exit file); then the shim closes
 *          the connection
 * ATTACH frames concern the container init; EXEC frames the exec process.
 * Input goes to the stdin pipe, or with a tty to the pty master, but only if
 * the process was given stdin (--stdin / "stdin"); with a tty 'C' only stops
 * input (nothing is sent to the terminal).  When an exec's client goes away
 * the exec keeps running (its output is still logged and its exit file
 * written) but its stdin pipe is closed.  Writes to clients never block: a
 * client whose socket buffer is full is dropped.  A full container stdin
 * only stops reading from the clients feeding it.  At most 16 clients are
 * connected at once (further connections wait in the backlog) and 16 execs
 * run at once.
 *
 * When the init exits the shim reads what is left in its pipes (not waiting
 * for other holders of the pipes), writes the records, then reaps the execs:
 * in a container with its own pid namespace they are already dead; any still
 * running get SIGKILL and 2 s to be reaped (else their exit file says
 * "137 9 ...").  Exec exit files are written, then the exit file, then 'X'
 * frames and exit lines are sent, shim.sock is removed and the shim exits 0.
 *
 * Only libc, no threads, no heap: static buffers, footprint a few pages.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CLIENTS 16
#define MAX_EXECS 16
#define MAX_PROCS (1 + MAX_EXECS) /* slot 0 is the container init */
#define MSG_MAX 1024              /* max length of an error message reported */
#define LINE_MAX_LEN 4096         /* runtime.log lines longer than this are truncated */
#define LOG_LINE_MAX 16384        /* longest F record; longer lines are split */
#define IOBUF_SIZE 32768          /* one read from a container stream */
#define LOG_BATCH 16384           /* records gathered before a write */
#define CLIENT_BUF 4096           /* per-client input buffer */
#define ORPHAN_MAX 32             /* statuses of children reaped before known */
#define EXEC_ID_MAX 64
#define CONSOLE_WAIT_MS 5000      /* runtime exited, console fd not yet seen */
#define SHUTDOWN_WAIT_MS 2000     /* init exited, execs not yet reaped */
#define DRAIN_POLL_MS 10          /* an exited process's pipes: idle timeout */
#define DRAIN_ROUNDS 64           /* ... and at most this many reads each */
#define CLIENT_SNDBUF (1 << 20)

#define SOCK_NAME "shim.sock"
#define EXIT_NAME "exit"
#define EXIT_TMP_NAME "exit.tmp"
#define PID_NAME "shim.pid"
#define PID_TMP_NAME "shim.pid.tmp"
#define INIT_PID_NAME "init.pid"
#define RUNTIME_LOG_NAME "runtime.log"
#define CONTAINER_LOG_NAME "container.log"
#define CONSOLE_NAME "console.sock"
#define SHIM_LOG_NAME "shim.log"

#define RUNC_CREATE_PREFIX "runc create failed: "
#define RUNC_RUN_PREFIX "runc run failed: "
#define RUNC_EXEC_PREFIX "exec failed: "      /* runc's own prefix */
#define EXEC_ERR_PREFIX "runc exec failed: "  /* ours, in ER replies */

struct opts {
    const char *id;
    char bundle[PATH_MAX];
    char state[PATH_MAX];
    char runtime[PATH_MAX];
    char root[PATH_MAX];
    char log_dir[PATH_MAX];    /* where container.log (and its rotations) live */
    unsigned long long log_max_bytes;
    unsigned log_max_files;
    int stdin_on, tty, start;
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

static int writev_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

static int close_noeintr(int fd)
{
    /* On Linux the fd is released even if close() returns EINTR: never retry. */
    return close(fd);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close_noeintr(*fd);
        *fd = -1;
    }
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
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

static int read_pid_file(const char *name, pid_t *out)
{
    char buf[32];
    int fd = open(name, O_RDONLY | O_CLOEXEC);
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

/* "CODE SIG NANOS\n" for a wait status, timestamped now. */
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

static const char *strip_runtime_prefix(const char *m)
{
    static const char *const prefixes[] = {RUNC_CREATE_PREFIX, RUNC_RUN_PREFIX, RUNC_EXEC_PREFIX};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t l = strlen(prefixes[i]);
        if (strncmp(m, prefixes[i], l) == 0)
            return m + l;
    }
    return m;
}

/* ------------------------------------------------------------ state */

enum { PH_STARTING, PH_RUNNING, PH_SHUTDOWN };
enum { PS_FREE, PS_STARTING, PS_RUNNING, PS_DONE };
enum { CL_FREE, CL_NEW, CL_WATCH, CL_FRAMED, CL_EXEC_WAIT };

struct logfile {
    int fd;
    int failed;                /* a write error was already logged */
    unsigned long long size;
    char name[PATH_MAX];
};

/* An output stream of a process: pipe read end or pty master. */
struct stream {
    int fd;
    char type;  /* 'O' (stdout) or 'E' (stderr) */
    size_t pend; /* bytes of an unfinished line in buf */
    char *buf;   /* LOG_LINE_MAX bytes */
};

/* The init (slot 0) or an exec. */
struct proc {
    int state;
    pid_t rt_pid;     /* the runtime call while it runs */
    int rt_status;
    int rt_done;
    long long con_deadline; /* runtime done, waiting for the pty master */
    int con_failed;
    pid_t pid;
    int tty, stdin_on;
    int in_fd;        /* write end of the stdin pipe (no tty) */
    int master;       /* pty master (tty); also out.fd */
    int in_closed;
    struct stream out, err;
    struct logfile log;
    int con_lfd, con_fd; /* console socket listener / connection */
    off_t rtlog_from;
    int client;       /* exec: its client slot, -1 if none */
    char id[EXEC_ID_MAX + 1];
    char con_name[EXEC_ID_MAX + 24];
};

struct client {
    int fd;
    int mode;
    int proc;          /* CL_FRAMED / CL_EXEC_WAIT: proc slot */
    int blocked;       /* waiting for the proc's stdin to accept data */
    int eof;           /* peer shut down its sending side */
    unsigned char hdr[5];
    int hdr_len;
    uint32_t left;     /* payload bytes still to come */
    unsigned char arg[4];
    int arg_len;
    size_t len;        /* bytes in g_clbuf[slot] */
};

static struct proc g_procs[MAX_PROCS];
static struct client g_cl[MAX_CLIENTS];
static char g_clbuf[MAX_CLIENTS][CLIENT_BUF];
static char g_linebuf[MAX_PROCS][2][LOG_LINE_MAX] __attribute__((aligned(4096)));
static char g_iobuf[IOBUF_SIZE];

static int g_phase = PH_STARTING;
static int g_lfd = -1;    /* shim.sock listener */
static int g_sfd = -1;    /* signalfd */
static long long g_shutdown_deadline;
static char g_init_line[64];

static struct { pid_t pid; int status; } g_orphans[ORPHAN_MAX];
static unsigned g_orphan_next;

/* Last non-empty line logged for g_capture (fallback error message). */
static struct stream *g_capture;
static char g_capbuf[MSG_MAX];

static void orphan_add(pid_t pid, int status)
{
    g_orphans[g_orphan_next % ORPHAN_MAX].pid = pid;
    g_orphans[g_orphan_next % ORPHAN_MAX].status = status;
    g_orphan_next++;
}

static int orphan_take(pid_t pid, int *status)
{
    for (int i = 0; i < ORPHAN_MAX; i++)
        if (g_orphans[i].pid == pid) {
            *status = g_orphans[i].status;
            g_orphans[i].pid = 0;
            return 1;
        }
    return 0;
}

/* ------------------------------------------------------------- log files */

static int logfile_open(struct logfile *lf, const char *name)
{
    struct stat st;
    snprintf(lf->name, sizeof lf->name, "%s", name);
    lf->failed = 0;
    lf->fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (lf->fd < 0)
        return -1;
    lf->size = fstat(lf->fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
    return 0;
}

static void logfile_rotate(struct logfile *lf)
{
    unsigned k = g_opts.log_max_files;
    char a[sizeof lf->name + 16], b[sizeof lf->name + 16];

    if (k <= 1) {
        if (ftruncate(lf->fd, 0) < 0)
            shim_log("truncate %s: %s", lf->name, strerror(errno));
        lf->size = 0;
        return;
    }
    for (unsigned i = k - 1; i >= 2; i--) {
        snprintf(a, sizeof a, "%s.%u", lf->name, i - 1);
        snprintf(b, sizeof b, "%s.%u", lf->name, i);
        if (rename(a, b) < 0 && errno != ENOENT)
            shim_log("rename %s: %s", a, strerror(errno));
    }
    snprintf(b, sizeof b, "%s.1", lf->name);
    if (rename(lf->name, b) < 0)
        shim_log("rename %s: %s", lf->name, strerror(errno));
    int fd = open(lf->name, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC | O_NOCTTY,
                  0640);
    if (fd < 0) {
        shim_log("open %s: %s", lf->name, strerror(errno));
    } else {
        close_noeintr(lf->fd);
        lf->fd = fd;
    }
    lf->size = 0;
}

/* Records are gathered here and written with one write() per chunk read
 * from a stream (or when full), not one per line. */
static struct {
    struct logfile *lf;
    size_t len;
    char buf[LOG_BATCH];
} g_batch;

static void log_write_iov(struct logfile *lf, struct iovec *iov, int cnt)
{
    if (writev_all(lf->fd, iov, cnt) < 0) {
        if (!lf->failed)
            shim_log("write %s: %s", lf->name, strerror(errno));
        lf->failed = 1;
    }
}

static void log_batch_flush(void)
{
    if (g_batch.len > 0 && g_batch.lf && g_batch.lf->fd >= 0) {
        struct iovec iov = {g_batch.buf, g_batch.len};
        log_write_iov(g_batch.lf, &iov, 1);
    }
    g_batch.len = 0;
    g_batch.lf = NULL;
}

static void logfile_write(struct logfile *lf, struct iovec *iov, int cnt, size_t total)
{
    if (lf->fd < 0)
        return;
    if (g_batch.lf != lf)
        log_batch_flush();
    if (g_opts.log_max_bytes > 0 && lf->size > 0 && lf->size + total > g_opts.log_max_bytes) {
        log_batch_flush();
        logfile_rotate(lf);
    }
    lf->size += total;
    if (g_batch.len + total > sizeof g_batch.buf)
        log_batch_flush();
    if (total > sizeof g_batch.buf) {
        log_write_iov(lf, iov, cnt);
        return;
    }
    g_batch.lf = lf;
    for (int i = 0; i < cnt; i++) {
        memcpy(g_batch.buf + g_batch.len, iov[i].iov_base, iov[i].iov_len);
        g_batch.len += iov[i].iov_len;
    }
}

static void logfile_close(struct logfile *lf)
{
    if (g_batch.lf == lf)
        log_batch_flush();
    close_fd(&lf->fd);
}

/* ------------------------------------------------------------ CRI records */

static char g_ts[48];
static size_t g_ts_len;

/* Timestamp for the records of the data just read. */
static void stamp_now(void)
{
    static time_t cached_sec = (time_t)-1;
    static char cached[32];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    int n = snprintf(g_ts, sizeof g_ts, "%s.%09ldZ", cached, ts.tv_nsec);
    g_ts_len = n > 0 ? (size_t)n : 0;
}

static void capture_line(const char *a, size_t alen, const char *b, size_t blen)
{
    char tmp[MSG_MAX];
    size_t n = 0;
    for (size_t i = 0; i < alen && n < sizeof tmp - 1; i++)
        tmp[n++] = a[i];
    for (size_t i = 0; i < blen && n < sizeof tmp - 1; i++)
        tmp[n++] = b[i];
    while (n > 0 && (tmp[n - 1] == '\r' || tmp[n - 1] == ' '))
        n--;
    if (n == 0)
        return;
    memcpy(g_capbuf, tmp, n);
    g_capbuf[n] = '\0';
}

static void emit_record(struct proc *p, struct stream *s, char tag, const char *a, size_t alen,
                        const char *b, size_t blen)
{
    char hdr[80];
    int h = snprintf(hdr, sizeof hdr, "%.*s %s %c ", (int)g_ts_len, g_ts,
                     s->type == 'O' ? "stdout" : "stderr", tag);
    if (h < 0)
        return;
    struct iovec iov[4] = {
        {hdr, (size_t)h}, {(void *)a, alen}, {(void *)b, blen}, {"\n", 1},
    };
    logfile_write(&p->log, iov, 4, (size_t)h + alen + blen + 1);
    if (s == g_capture)
        capture_line(a, alen, b, blen);
}

static void log_feed(struct proc *p, struct stream *s, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        while (s->pend + seg > LOG_LINE_MAX) {
            size_t take = LOG_LINE_MAX - s->pend;
            emit_record(p, s, 'P', s->buf, s->pend, data, take);
            s->pend = 0;
            data += take;
            len -= take;
            seg -= take;
        }
        if (!nl) {
            memcpy(s->buf + s->pend, data, seg);
            s->pend += seg;
            return;
        }
        emit_record(p, s, 'F', s->buf, s->pend, data, seg);
        s->pend = 0;
        data += seg + 1;
        len -= seg + 1;
    }
}

static void log_flush_partial(struct proc *p, struct stream *s)
{
    if (s->pend > 0) {
        stamp_now();
        emit_record(p, s, 'P', s->buf, s->pend, "", 0);
        log_batch_flush();
        s->pend = 0;
    }
}

/* ---------------------------------------------------------------- clients */

static void drop_client(int ci);

static int client_send(int ci, const void *buf, size_t len)
{
    struct client *c = &g_cl[ci];
    ssize_t n;
    do {
        n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        drop_client(ci);
        return -1;
    }
    return 0;
}

static int client_send_frame(int ci, char type, const void *data, size_t len)
{
    struct client *c = &g_cl[ci];
    unsigned char h[5] = {(unsigned char)type, (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                          (unsigned char)len};
    struct iovec iov[2] = {{h, sizeof h}, {(void *)data, len}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = len ? 2 : 1;
    ssize_t n;
    do {
        n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != sizeof h + len) {
        /* Full socket buffer (or gone): never wait for a client. */
        drop_client(ci);
        return -1;
    }
    return 0;
}

static void client_reply_close(int ci, const char *kind, const char *msg)
{
    char buf[MSG_MAX + 16];
    int n = snprintf(buf, sizeof buf, "%s %s", kind, msg);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n] = '\0';
    sanitize_line(buf);
    buf[n++] = '\n';
    if (client_send(ci, buf, (size_t)n) == 0)
        drop_client(ci);
}

static void enlarge_sndbuf(int fd)
{
    int v = CLIENT_SNDBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
}

static void forward_output(int pi, char type, const char *data, size_t len)
{
    for (int ci = 0; ci < MAX_CLIENTS; ci++)
        if (g_cl[ci].fd >= 0 && g_cl[ci].mode == CL_FRAMED && g_cl[ci].proc == pi)
            (void)client_send_frame(ci, type, data, len);
}

/* ------------------------------------------------------------ processes */

static int stdin_target(const struct proc *p)
{
    if (p->in_closed)
        return -1;
    if (p->tty)
        return p->stdin_on ? p->master : -1;
    return p->in_fd;
}

static void unblock_clients(int pi)
{
    for (int ci = 0; ci < MAX_CLIENTS; ci++)
        if (g_cl[ci].fd >= 0 && g_cl[ci].proc == pi)
            g_cl[ci].blocked = 0;
}

static void proc_close_stdin(int pi)
{
    struct proc *p = &g_procs[pi];
    p->in_closed = 1;
    close_fd(&p->in_fd);
    unblock_clients(pi); /* their pending input is now discarded */
}

static void stream_close(struct proc *p, struct stream *s)
{
    if (s->fd >= 0 && s->fd == p->master)
        p->master = -1;
    close_fd(&s->fd);
}

/* One read from a stream; returns -1 when the stream is closed. */
static int stream_read(int pi, struct stream *s)
{
    struct proc *p = &g_procs[pi];
    ssize_t n = read(s->fd, g_iobuf, sizeof g_iobuf);
    if (n > 0) {
        stamp_now();
        log_feed(p, s, g_iobuf, (size_t)n);
        log_batch_flush();
        forward_output(pi, s->type, g_iobuf, (size_t)n);
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    /* EOF, or EIO from a pty master whose slave side is closed */
    log_flush_partial(p, s);
    stream_close(p, s);
    return -1;
}

/* The process is gone: read what its streams hold now (do not wait for other
 * holders of the pipes), flush partial lines, close them. */
static void drain_proc(int pi)
{
    struct proc *p = &g_procs[pi];
    for (int round = 0; round < DRAIN_ROUNDS; round++) {
        struct pollfd pf[2];
        struct stream *ss[2];
        int n = 0;
        if (p->out.fd >= 0) {
            pf[n].fd = p->out.fd;
            ss[n++] = &p->out;
        }
        if (p->err.fd >= 0) {
            pf[n].fd = p->err.fd;
            ss[n++] = &p->err;
        }
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            pf[i].events = POLLIN;
            pf[i].revents = 0;
        }
        int r = poll(pf, (nfds_t)n, DRAIN_POLL_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (int i = 0; i < n; i++)
            if (pf[i].revents)
                (void)stream_read(pi, ss[i]);
    }
    log_flush_partial(p, &p->out);
    log_flush_partial(p, &p->err);
    stream_close(p, &p->out);
    stream_close(p, &p->err);
}

static void proc_reset(int pi)
{
    struct proc *p = &g_procs[pi];
    memset(p, 0, sizeof *p);
    p->in_fd = p->master = p->con_lfd = p->con_fd = -1;
    p->out.fd = p->err.fd = p->log.fd = -1;
    p->out.type = 'O';
    p->err.type = 'E';
    p->out.buf = g_linebuf[pi][0];
    p->err.buf = g_linebuf[pi][1];
    p->client = -1;
}

static void proc_free(int pi)
{
    struct proc *p = &g_procs[pi];
    if (p->con_lfd >= 0)
        unlink(p->con_name);
    close_fd(&p->con_lfd);
    close_fd(&p->con_fd);
    stream_close(p, &p->out);
    stream_close(p, &p->err);
    close_fd(&p->in_fd);
    close_fd(&p->master);
    logfile_close(&p->log);
    if (p->client >= 0 && g_cl[p->client].proc == pi)
        g_cl[p->client].proc = -1;
    /* give the line buffers' pages back */
    (void)madvise(g_linebuf[pi], sizeof g_linebuf[pi], MADV_DONTNEED);
    proc_reset(pi);
}

static void pid_file_name(int pi, char *buf, size_t sz)
{
    if (pi == 0)
        snprintf(buf, sz, "%s", INIT_PID_NAME);
    else
        snprintf(buf, sz, "exec-%s.pid", g_procs[pi].id);
}

/* Pipes / console socket for a process about to be started; the child ends
 * go to cfd[0..2] (-1: the shim's /dev/null). */
static int proc_make_io(int pi, int cfd[3], char *conpath, size_t conpathsz, char *err,
                        size_t errsz)
{
    struct proc *p = &g_procs[pi];
    int fds[2];

    cfd[0] = cfd[1] = cfd[2] = -1;
    /* stderr: the container's (no tty) and the runtime's own error output */
    if (pipe2(fds, O_CLOEXEC) < 0)
        goto fail_errno;
    p->err.fd = fds[0];
    cfd[2] = fds[1];
    if (set_nonblock(p->err.fd) < 0)
        goto fail_errno;
    if (!p->tty) {
        if (pipe2(fds, O_CLOEXEC) < 0)
            goto fail_errno;
        p->out.fd = fds[0];
        cfd[1] = fds[1];
        if (set_nonblock(p->out.fd) < 0)
            goto fail_errno;
        if (p->stdin_on) {
            if (pipe2(fds, O_CLOEXEC) < 0)
                goto fail_errno;
            cfd[0] = fds[0];
            p->in_fd = fds[1];
            if (set_nonblock(p->in_fd) < 0)
                goto fail_errno;
        }
        return 0;
    }

    /* tty: a console socket the runtime connects to and sends the master on */
    struct sockaddr_un addr;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail_errno;
    p->con_lfd = fd;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", p->con_name);
    unlink(p->con_name);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (r < 0) {
        close_fd(&p->con_lfd);
        goto fail_errno;
    }
    if (listen(fd, 1) < 0)
        goto fail_errno;
    /* The runtime resolves a relative path against the bundle: give it an
     * absolute one that fits a socket address. */
    int n = snprintf(conpath, conpathsz, "%s/%s", g_opts.state, p->con_name);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path)
        snprintf(conpath, conpathsz, "/proc/%d/cwd/%s", (int)getpid(), p->con_name);
    return 0;

fail_errno:
    snprintf(err, errsz, "berth-shim: stdio for %s: %s", pi ? "exec" : "container",
             strerror(errno));
    for (int i = 0; i < 3; i++)
        close_fd(&cfd[i]);
    return -1;
}

static int spawn_runtime(char *const argv[], int cfd[3], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t empty, defsigs;
    sigemptyset(&empty);
    /* Default dispositions for everything (SIGPIPE is ignored here, and
     * ignored signals would otherwise survive exec into the container). */
    sigfillset(&defsigs);
    posix_spawn_file_actions_init(&fa);
    /* fds 0-2 of the shim are /dev/null; dup2 clears O_CLOEXEC on the targets */
    for (int i = 0; i < 3; i++)
        if (cfd[i] >= 0)
            posix_spawn_file_actions_adddup2(&fa, cfd[i], i);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defsigs);
    int rc = posix_spawnp(pid, g_opts.runtime, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

static void __attribute__((noreturn)) shim_fail_exit(pid_t init_pid);
static void proc_exited(int pi, int status);

/* Start of a process failed: log what the runtime wrote, report, clean up.
 * `internal`: a shim-side message (else the runtime's error is used). */
static void proc_start_failed(int pi, const char *internal)
{
    struct proc *p = &g_procs[pi];
    char msg[MSG_MAX], rt[MSG_MAX];

    g_capture = &p->err;
    g_capbuf[0] = '\0';
    drain_proc(pi);
    g_capture = NULL;

    if (internal) {
        snprintf(msg, sizeof msg, "%s", internal);
    } else {
        const char *m = rt;
        if (last_runtime_error(p->rtlog_from, rt, sizeof rt) < 0) {
            if (g_capbuf[0])
                snprintf(rt, sizeof rt, "%s", g_capbuf);
            else if (WIFSIGNALED(p->rt_status))
                snprintf(rt, sizeof rt, "%.256s killed by signal %d", g_opts.runtime,
                         WTERMSIG(p->rt_status));
            else
                snprintf(rt, sizeof rt, "%.256s exited with status %d", g_opts.runtime,
                         WIFEXITED(p->rt_status) ? WEXITSTATUS(p->rt_status) : -1);
        }
        m = strip_runtime_prefix(m);
        snprintf(msg, sizeof msg, "%s%s",
                 pi ? EXEC_ERR_PREFIX : g_opts.start ? RUNC_RUN_PREFIX : RUNC_CREATE_PREFIX, m);
    }
    if (pi == 0) {
        report_err("%s", msg);
        shim_fail_exit(p->pid);
    }
    shim_log("exec %s: %s", p->id, msg);
    if (p->client >= 0)
        client_reply_close(p->client, "ER", msg);
    proc_free(pi);
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

/* The runtime exited successfully and (tty) the master arrived. */
static void proc_start_ok(int pi)
{
    struct proc *p = &g_procs[pi];
    char name[EXEC_ID_MAX + 16], msg[MSG_MAX];
    int status = 0, early;
    pid_t pid;

    pid_file_name(pi, name, sizeof name);
    if (read_pid_file(name, &pid) < 0) {
        snprintf(msg, sizeof msg, "berth-shim: read %s: %s", name, strerror(errno));
        proc_start_failed(pi, msg);
        return;
    }
    p->pid = pid;
    /* The process must have been reparented to us (we are a subreaper); it
     * may even be reaped already. */
    early = orphan_take(pid, &status);
    if (!early) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
            snprintf(msg, sizeof msg, "berth-shim: %s %d is not a child of the shim: %s",
                     pi ? "exec process" : "container init", (int)pid, strerror(errno));
            kill(pid, SIGKILL);
            proc_start_failed(pi, msg);
            return;
        }
    }
    p->state = PS_RUNNING;
    p->con_deadline = 0;

    snprintf(msg, sizeof msg, "%d", (int)pid);
    if (pi == 0) {
        g_lfd = create_listener();
        if (g_lfd < 0) {
            report_err("berth-shim: listen on %s/%s: %s", g_opts.state, SOCK_NAME,
                       strerror(errno));
            shim_fail_exit(pid);
        }
        report("OK", msg);
        g_phase = PH_RUNNING;
    } else {
        int ci = p->client;
        char line[32];
        int n = snprintf(line, sizeof line, "OK %s\n", msg);
        if (ci >= 0 && client_send(ci, line, (size_t)n) == 0) {
            g_cl[ci].mode = CL_FRAMED;
            enlarge_sndbuf(g_cl[ci].fd);
        }
        if (p->client < 0 && !p->tty)
            proc_close_stdin(pi); /* nobody can feed it */
    }
    if (early)
        proc_exited(pi, status);
}

/* The runtime call of a process is over (or the console fd arrived). */
static void proc_runtime_finished(int pi)
{
    struct proc *p = &g_procs[pi];
    if (!WIFEXITED(p->rt_status) || WEXITSTATUS(p->rt_status) != 0) {
        proc_start_failed(pi, NULL);
        return;
    }
    if (p->tty && p->master < 0) {
        if (p->con_failed) {
            proc_start_failed(pi, "berth-shim: the runtime did not send the console");
            return;
        }
        if (!p->con_deadline)
            p->con_deadline = now_ms() + CONSOLE_WAIT_MS;
        return;
    }
    proc_start_ok(pi);
}

/* Receive the pty master sent by the runtime on the console connection:
 * 1 = got it, 0 = not yet, -1 = failed. */
static int console_recv(int pi)
{
    struct proc *p = &g_procs[pi];
    char data[256];
    struct iovec iov = {data, sizeof data};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    ssize_t n = recvmsg(p->con_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    int got = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < cnt; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got < 0)
                got = fd;
            else
                close_noeintr(fd);
        }
    }
    if (got < 0)
        return n == 0 ? -1 : 0;
    if (set_nonblock(got) < 0) {
        close_noeintr(got);
        return -1;
    }
    p->master = got;
    p->out.fd = got;
    return 1;
}

static void console_event(int pi, int listener)
{
    struct proc *p = &g_procs[pi];
    if (listener) {
        int c = accept4(p->con_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
            return;
        close_fd(&p->con_fd);
        p->con_fd = c;
        /* one connection is all the runtime makes */
        unlink(p->con_name);
        close_fd(&p->con_lfd);
        return;
    }
    int r = console_recv(pi);
    if (r == 0)
        return;
    close_fd(&p->con_fd);
    if (r < 0)
        p->con_failed = 1;
    if (p->rt_done)
        proc_runtime_finished(pi);
}

/* ------------------------------------------------------------------ execs */

static void exec_finish(int pi, const char *line)
{
    struct proc *p = &g_procs[pi];
    char name[EXEC_ID_MAX + 16], tmp[EXEC_ID_MAX + 24];
    size_t len = strlen(line);

    snprintf(name, sizeof name, "exec-%s.exit", p->id);
    snprintf(tmp, sizeof tmp, "exec-%s.exit.tmp", p->id);
    if (write_file_atomic(tmp, name, line, len, 0640, 1) < 0)
        shim_log("writing %s: %s", name, strerror(errno));
    for (int ci = 0; ci < MAX_CLIENTS; ci++)
        if (g_cl[ci].fd >= 0 && g_cl[ci].mode == CL_FRAMED && g_cl[ci].proc == pi)
            if (client_send_frame(ci, 'X', line, len - 1) == 0)
                drop_client(ci);
    proc_free(pi);
}

static int valid_exec_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > EXEC_ID_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static void exec_command(int ci, char *args)
{
    char *tok[6], *save = NULL;
    int nt = 0, tty = 0, want_stdin = 0;
    char msg[MSG_MAX];

    for (char *t = strtok_r(args, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (nt == 5) {
            nt++;
            break;
        }
        tok[nt++] = t;
    }
    if (nt < 2 || nt > 4) {
        client_reply_close(ci, "ER",
                           "berth-shim: usage: EXEC <exec-id> <process-json-path> [tty] [stdin]");
        return;
    }
    for (int i = 2; i < nt; i++) {
        if (!strcmp(tok[i], "tty") && !tty) {
            tty = 1;
        } else if (!strcmp(tok[i], "stdin") && !want_stdin) {
            want_stdin = 1;
        } else {
            snprintf(msg, sizeof msg, "berth-shim: bad EXEC flag: %.64s", tok[i]);
            client_reply_close(ci, "ER", msg);
            return;
        }
    }
    const char *id = tok[0], *path = tok[1];
    if (!valid_exec_id(id)) {
        client_reply_close(ci, "ER", "berth-shim: bad exec id");
        return;
    }
    if (path[0] != '/' || strlen(path) >= PATH_MAX) {
        client_reply_close(ci, "ER", "berth-shim: process path must be absolute");
        return;
    }
    if (g_phase != PH_RUNNING) {
        client_reply_close(ci, "ER", "berth-shim: container is not running");
        return;
    }
    int pi = -1;
    for (int i = 1; i < MAX_PROCS; i++) {
        if (g_procs[i].state == PS_FREE) {
            if (pi < 0)
                pi = i;
        } else if (!strcmp(g_procs[i].id, id)) {
            snprintf(msg, sizeof msg, "berth-shim: exec id %s is in use", id);
            client_reply_close(ci, "ER", msg);
            return;
        }
    }
    if (pi < 0) {
        client_reply_close(ci, "ER", "berth-shim: too many execs");
        return;
    }

    struct proc *p = &g_procs[pi];
    char name[EXEC_ID_MAX + 24], pid_path[PATH_MAX], log_path[PATH_MAX];
    char conpath[PATH_MAX], path_copy[PATH_MAX];
    int cfd[3] = {-1, -1, -1};
    struct stat st;

    proc_reset(pi);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(path_copy, sizeof path_copy, "%s", path);
    p->tty = tty;
    p->stdin_on = want_stdin;
    snprintf(p->con_name, sizeof p->con_name, "exec-%s.console.sock", id);
    snprintf(name, sizeof name, "exec-%s.exit", id);
    unlink(name);
    snprintf(name, sizeof name, "exec-%s.exit.tmp", id);
    unlink(name);
    snprintf(name, sizeof name, "exec-%s.pid", id);
    unlink(name);
    if (snprintf(pid_path, sizeof pid_path, "%s/exec-%s.pid", g_opts.state, id) >=
            (int)sizeof pid_path ||
        snprintf(log_path, sizeof log_path, "%s/%s", g_opts.state, RUNTIME_LOG_NAME) >=
            (int)sizeof log_path) {
        client_reply_close(ci, "ER", "berth-shim: state path too long");
        proc_free(pi);
        return;
    }
    snprintf(name, sizeof name, "exec-%s.log", id);
    if (logfile_open(&p->log, name) < 0) {
        snprintf(msg, sizeof msg, "berth-shim: open %s: %s", name, strerror(errno));
        client_reply_close(ci, "ER", msg);
        proc_free(pi);
        return;
    }
    if (proc_make_io(pi, cfd, conpath, sizeof conpath, msg, sizeof msg) < 0) {
        client_reply_close(ci, "ER", msg);
        proc_free(pi);
        return;
    }
    p->rtlog_from = stat(RUNTIME_LOG_NAME, &st) == 0 ? st.st_size : 0;

    char *argv[20];
    int a = 0;
    argv[a++] = g_opts.runtime;
    argv[a++] = "--root";
    argv[a++] = g_opts.root;
    argv[a++] = "--log";
    argv[a++] = log_path;
    argv[a++] = "--log-format";
    argv[a++] = "json";
    argv[a++] = "exec";
    argv[a++] = "--detach";
    argv[a++] = "--pid-file";
    argv[a++] = pid_path;
    argv[a++] = "--process";
    argv[a++] = path_copy;
    if (tty) {
        argv[a++] = "--console-socket";
        argv[a++] = conpath;
    }
    argv[a++] = (char *)g_opts.id;
    argv[a] = NULL;

    int rc = spawn_runtime(argv, cfd, &p->rt_pid);
    for (int i = 0; i < 3; i++)
        close_fd(&cfd[i]);
    if (rc != 0) {
        snprintf(msg, sizeof msg, EXEC_ERR_PREFIX "exec %.256s: %s", g_opts.runtime,
                 strerror(rc));
        client_reply_close(ci, "ER", msg);
        proc_free(pi);
        return;
    }
    p->state = PS_STARTING;
    p->client = ci;
    g_cl[ci].mode = CL_EXEC_WAIT;
    g_cl[ci].proc = pi;
}

/* ------------------------------------------------------- client protocol */

static void drop_client(int ci)
{
    struct client *c = &g_cl[ci];
    if (c->fd < 0)
        return;
    close_noeintr(c->fd);
    if (c->proc > 0 && c->proc < MAX_PROCS && g_procs[c->proc].client == ci) {
        struct proc *p = &g_procs[c->proc];
        p->client = -1;
        /* nobody else can feed an exec's stdin pipe */
        if (p->state == PS_RUNNING && !p->tty)
            proc_close_stdin(c->proc);
    }
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->proc = -1;
    c->mode = CL_FREE;
}

static void frame_done(struct client *c)
{
    struct proc *p = c->proc >= 0 ? &g_procs[c->proc] : NULL;
    if (!p)
        return;
    if (c->hdr[0] == 'C') {
        proc_close_stdin(c->proc);
    } else if (c->hdr[0] == 'R' && c->arg_len == 4 && p->tty && p->master >= 0) {
        struct winsize ws;
        memset(&ws, 0, sizeof ws);
        ws.ws_row = (unsigned short)((c->arg[0] << 8) | c->arg[1]);
        ws.ws_col = (unsigned short)((c->arg[2] << 8) | c->arg[3]);
        if (ioctl(p->master, TIOCSWINSZ, &ws) < 0)
            shim_log("TIOCSWINSZ: %s", strerror(errno));
    }
}

/* Consume frames from a framed client's buffer; stops early only when the
 * target stdin is full (the rest stays buffered, the client is not read). */
static void process_frames(int ci)
{
    struct client *c = &g_cl[ci];
    char *buf = g_clbuf[ci];
    size_t off = 0;

    while (off < c->len && c->fd >= 0) {
        if (c->hdr_len < 5) {
            c->hdr[c->hdr_len++] = (unsigned char)buf[off++];
            if (c->hdr_len == 5) {
                c->left = ((uint32_t)c->hdr[1] << 24) | ((uint32_t)c->hdr[2] << 16) |
                          ((uint32_t)c->hdr[3] << 8) | c->hdr[4];
                c->arg_len = 0;
                if (c->left == 0) {
                    frame_done(c);
                    c->hdr_len = 0;
                }
            }
            continue;
        }
        size_t avail = c->len - off;
        if (avail > c->left)
            avail = c->left;
        size_t used = avail;
        if (c->hdr[0] == 'I') {
            struct proc *p = c->proc >= 0 ? &g_procs[c->proc] : NULL;
            int fd = p ? stdin_target(p) : -1;
            if (fd >= 0) {
                ssize_t n = write(fd, buf + off, avail);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                    c->blocked = 1;
                    break;
                }
                if (n < 0) {
                    if (!p->tty)
                        proc_close_stdin(c->proc); /* EPIPE: reader gone */
                } else {
                    used = (size_t)n;
                }
            }
        } else if (c->hdr[0] == 'R') {
            for (size_t i = 0; i < avail && c->arg_len < 4; i++)
                c->arg[c->arg_len++] = (unsigned char)buf[off + i];
        }
        off += used;
        c->left -= (uint32_t)used;
        if (c->left == 0) {
            frame_done(c);
            c->hdr_len = 0;
        }
    }
    if (c->fd < 0)
        return;
    if (off > 0) {
        memmove(buf, buf + off, c->len - off);
        c->len -= off;
    }
}

static void process_client_input(int ci)
{
    struct client *c = &g_cl[ci];
    if (c->fd < 0)
        return;
    if (c->mode == CL_FRAMED) {
        if (!c->blocked)
            process_frames(ci);
        return;
    }
    if (c->mode == CL_WATCH) {
        c->len = 0;
        return;
    }
    if (c->mode != CL_NEW)
        return;
    char *buf = g_clbuf[ci];
    char *nl = memchr(buf, '\n', c->len);
    if (!nl) {
        if (c->len >= CLIENT_BUF)
            client_reply_close(ci, "ER", "command too long");
        else if (c->eof && c->len > 0)
            client_reply_close(ci, "ER", "unknown command");
        return;
    }
    char line[CLIENT_BUF];
    size_t ll = (size_t)(nl - buf);
    memcpy(line, buf, ll);
    line[ll] = '\0';
    c->len -= ll + 1;
    memmove(buf, nl + 1, c->len);

    if (!strcmp(line, "ATTACH")) {
        c->mode = CL_FRAMED;
        c->proc = 0;
        enlarge_sndbuf(c->fd);
        process_frames(ci);
    } else if (!strncmp(line, "EXEC ", 5)) {
        exec_command(ci, line + 5);
    } else {
        client_reply_close(ci, "ER", "unknown command");
    }
}

static void client_event(int ci, short re)
{
    struct client *c = &g_cl[ci];
    if (re & (POLLERR | POLLNVAL)) {
        drop_client(ci);
        return;
    }
    if (re & POLLIN) {
        ssize_t k = recv(c->fd, g_clbuf[ci] + c->len, CLIENT_BUF - c->len, 0);
        if (k > 0) {
            c->len += (size_t)k;
            process_client_input(ci);
        } else if (k == 0) {
            c->eof = 1;
            if (c->mode == CL_NEW && c->len == 0)
                c->mode = CL_WATCH; /* the silent watcher, half-closed */
            else
                process_client_input(ci);
        } else if (errno != EINTR && errno != EAGAIN) {
            drop_client(ci);
        }
        return;
    }
    if (re & POLLHUP)
        drop_client(ci);
}

static void accept_clients(void)
{
    for (;;) {
        int slot = -1;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (g_cl[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot < 0)
            return; /* full: the rest waits in the backlog */
        int c = accept4(g_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                shim_log("accept: %s", strerror(errno));
            return;
        }
        memset(&g_cl[slot], 0, sizeof g_cl[slot]);
        g_cl[slot].fd = c;
        g_cl[slot].mode = CL_NEW;
        g_cl[slot].proc = -1;
    }
}

/* ------------------------------------------------------------- lifecycle */

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
    unlink(CONSOLE_NAME);
    unlink(SOCK_NAME);
    unlink(PID_NAME);
    _exit(1);
}

/* A process of ours exited (status from waitpid). */
static void proc_exited(int pi, int status)
{
    struct proc *p = &g_procs[pi];
    char line[64];

    format_exit_line(status, line, sizeof line);
    drain_proc(pi);
    if (pi != 0) {
        exec_finish(pi, line);
        return;
    }
    memcpy(g_init_line, line, sizeof line);
    p->state = PS_DONE;
    proc_close_stdin(0);
    close_fd(&p->master);
    g_phase = PH_SHUTDOWN;
    g_shutdown_deadline = now_ms() + SHUTDOWN_WAIT_MS;
    /* Without a pid namespace of its own the container's execs survive its
     * init: the container is over, so are they. */
    for (int i = 1; i < MAX_PROCS; i++)
        if (g_procs[i].state == PS_RUNNING)
            kill(g_procs[i].pid, SIGKILL);
}

static void handle_sigchld(void)
{
    struct signalfd_siginfo si;
    while (read(g_sfd, &si, sizeof si) > 0)
        ;
    for (;;) {
        int ws;
        pid_t pid = waitpid(-1, &ws, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            break;
        int found = 0;
        for (int i = 0; i < MAX_PROCS && !found; i++) {
            struct proc *p = &g_procs[i];
            if (p->state == PS_STARTING && p->rt_pid == pid) {
                found = 1;
                p->rt_pid = 0;
                p->rt_status = ws;
                p->rt_done = 1;
                proc_runtime_finished(i);
            } else if (p->state == PS_RUNNING && p->pid == pid) {
                found = 1;
                proc_exited(i, ws);
            }
        }
        if (!found)
            orphan_add(pid, ws);
    }
}

static int execs_active(void)
{
    for (int i = 1; i < MAX_PROCS; i++)
        if (g_procs[i].state == PS_STARTING || g_procs[i].state == PS_RUNNING)
            return 1;
    return 0;
}

static void __attribute__((noreturn)) finish(void)
{
    const char *line = g_init_line;
    size_t len = strlen(line);

    if (write_file_atomic(EXIT_TMP_NAME, EXIT_NAME, line, len, 0640, 1) < 0)
        shim_log("writing %s: %s", EXIT_NAME, strerror(errno));

    for (int ci = 0; ci < MAX_CLIENTS; ci++) {
        struct client *c = &g_cl[ci];
        if (c->fd < 0)
            continue;
        if (c->mode == CL_FRAMED && c->proc == 0) {
            if (client_send_frame(ci, 'X', line, len - 1) < 0)
                continue;
        } else if (c->mode == CL_NEW || c->mode == CL_WATCH) {
            /* ~40 bytes always fit an empty socket buffer; a failure just
             * means the client is gone */
            (void)send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        drop_client(ci);
    }
    /* Connections still waiting in the backlog get the line too. */
    for (;;) {
        int c = accept4(g_lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        (void)send(c, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        close_noeintr(c);
    }
    unlink(SOCK_NAME);
    close_fd(&g_lfd);
    reap_all_nohang();
    _exit(0);
}

/* Called every loop turn while the init is gone. */
static void shutdown_step(void)
{
    if (!execs_active())
        finish();
    if (now_ms() < g_shutdown_deadline)
        return;
    for (int i = 1; i < MAX_PROCS; i++) {
        struct proc *p = &g_procs[i];
        if (p->state == PS_RUNNING) {
            shim_log("exec %s (pid %d) not reaped after the container exited", p->id,
                     (int)p->pid);
            proc_exited(i, SIGKILL); /* recorded as killed */
        } else if (p->state == PS_STARTING) {
            if (p->rt_pid > 0)
                kill(p->rt_pid, SIGKILL);
            proc_start_failed(i, "berth-shim: container exited");
        }
    }
    finish();
}

enum { T_SIG, T_LISTEN, T_OUT, T_ERR, T_STDIN, T_CONL, T_CONC, T_CLIENT };

#define MAX_POLL (2 + MAX_PROCS * 5 + MAX_CLIENTS)

static void __attribute__((noreturn)) main_loop(void)
{
    struct pollfd pfds[MAX_POLL];
    unsigned char kind[MAX_POLL];
    unsigned char idx[MAX_POLL];

    for (;;) {
        long long now = now_ms();
        int timeout = -1;

        /* deadlines */
        for (int i = 0; i < MAX_PROCS; i++) {
            struct proc *p = &g_procs[i];
            if (p->state != PS_STARTING || !p->con_deadline)
                continue;
            if (now >= p->con_deadline) {
                proc_start_failed(i, "berth-shim: timed out waiting for the console from the runtime");
                continue;
            }
            long long d = p->con_deadline - now;
            if (timeout < 0 || d < timeout)
                timeout = (int)d;
        }
        if (g_phase == PH_SHUTDOWN) {
            shutdown_step();
            long long d = g_shutdown_deadline - now_ms();
            if (d < 0)
                d = 0;
            if (timeout < 0 || d < timeout)
                timeout = (int)d;
        }
        /* input left in framed clients' buffers (unblocked, or just switched) */
        for (int ci = 0; ci < MAX_CLIENTS; ci++)
            if (g_cl[ci].fd >= 0 && g_cl[ci].mode == CL_FRAMED && !g_cl[ci].blocked &&
                g_cl[ci].len > 0)
                process_frames(ci);

        int n = 0;
#define ADD(fd_, ev_, k_, i_)                                                                  \
    do {                                                                                       \
        pfds[n].fd = (fd_);                                                                    \
        pfds[n].events = (ev_);                                                                \
        pfds[n].revents = 0;                                                                   \
        kind[n] = (k_);                                                                        \
        idx[n] = (unsigned char)(i_);                                                          \
        n++;                                                                                   \
    } while (0)
        ADD(g_sfd, POLLIN, T_SIG, 0);
        if (g_lfd >= 0) {
            int has_free = 0;
            for (int ci = 0; ci < MAX_CLIENTS; ci++)
                if (g_cl[ci].fd < 0)
                    has_free = 1;
            if (has_free)
                ADD(g_lfd, POLLIN, T_LISTEN, 0);
        }
        for (int i = 0; i < MAX_PROCS; i++) {
            struct proc *p = &g_procs[i];
            if (p->state == PS_STARTING) {
                if (p->con_lfd >= 0)
                    ADD(p->con_lfd, POLLIN, T_CONL, i);
                if (p->con_fd >= 0)
                    ADD(p->con_fd, POLLIN, T_CONC, i);
            } else if (p->state == PS_RUNNING) {
                if (p->out.fd >= 0)
                    ADD(p->out.fd, POLLIN, T_OUT, i);
                if (p->err.fd >= 0)
                    ADD(p->err.fd, POLLIN, T_ERR, i);
                int in = stdin_target(p);
                if (in >= 0) {
                    int blocked = 0;
                    for (int ci = 0; ci < MAX_CLIENTS; ci++)
                        if (g_cl[ci].fd >= 0 && g_cl[ci].proc == i && g_cl[ci].blocked)
                            blocked = 1;
                    if (blocked)
                        ADD(in, POLLOUT, T_STDIN, i);
                }
            }
        }
        for (int ci = 0; ci < MAX_CLIENTS; ci++) {
            struct client *c = &g_cl[ci];
            if (c->fd < 0)
                continue;
            short ev = 0;
            if ((c->mode == CL_NEW || c->mode == CL_FRAMED) && !c->blocked && !c->eof &&
                c->len < CLIENT_BUF)
                ev = POLLIN;
            ADD(c->fd, ev, T_CLIENT, ci);
        }
#undef ADD

        int r = poll(pfds, (nfds_t)n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            shim_log("poll: %s", strerror(errno));
            sleep(1);
            continue;
        }

        /* I/O first (each entry re-checked: an earlier one may have closed
         * its fd), then new connections, then children. */
        int sig = 0, listen_ready = 0;
        for (int k = 0; k < n; k++) {
            short re = pfds[k].revents;
            if (!re)
                continue;
            int i = idx[k];
            struct proc *p = &g_procs[i];
            switch (kind[k]) {
            case T_SIG:
                sig = 1;
                break;
            case T_LISTEN:
                listen_ready = 1;
                break;
            case T_OUT:
                if (p->state == PS_RUNNING && p->out.fd == pfds[k].fd)
                    (void)stream_read(i, &p->out);
                break;
            case T_ERR:
                if (p->state == PS_RUNNING && p->err.fd == pfds[k].fd)
                    (void)stream_read(i, &p->err);
                break;
            case T_STDIN:
                if (p->state == PS_RUNNING && stdin_target(p) == pfds[k].fd)
                    unblock_clients(i);
                break;
            case T_CONL:
                if (p->state == PS_STARTING && p->con_lfd == pfds[k].fd)
                    console_event(i, 1);
                break;
            case T_CONC:
                if (p->state == PS_STARTING && p->con_fd == pfds[k].fd)
                    console_event(i, 0);
                break;
            case T_CLIENT:
                if (g_cl[i].fd == pfds[k].fd)
                    client_event(i, re);
                break;
            }
        }
        if (listen_ready && g_lfd >= 0)
            accept_clients();
        if (sig)
            handle_sigchld();
    }
}

static void __attribute__((noreturn)) run_shim(void)
{
    struct opts *o = &g_opts;
    sigset_t mask;
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
    g_sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (g_sfd < 0) {
        report_err("berth-shim: signalfd: %s", strerror(errno));
        _exit(1);
    }

    for (int i = 0; i < MAX_PROCS; i++)
        proc_reset(i);
    for (int ci = 0; ci < MAX_CLIENTS; ci++) {
        g_cl[ci].fd = -1;
        g_cl[ci].proc = -1;
    }

    /* Stale results of an earlier run in the same state dir would mislead. */
    unlink(EXIT_NAME);
    unlink(EXIT_TMP_NAME);
    unlink(INIT_PID_NAME);
    unlink(SOCK_NAME);
    unlink(CONSOLE_NAME);

    {
        char pidbuf[32];
        int n = snprintf(pidbuf, sizeof pidbuf, "%d\n", (int)getpid());
        if (write_file_atomic(PID_TMP_NAME, PID_NAME, pidbuf, (size_t)n, 0644, 0) < 0) {
            report_err("berth-shim: write %s: %s", PID_NAME, strerror(errno));
            _exit(1);
        }
    }

    struct proc *p = &g_procs[0];
    p->tty = o->tty;
    p->stdin_on = o->stdin_on;
    snprintf(p->con_name, sizeof p->con_name, "%s", CONSOLE_NAME);
    char clog[PATH_MAX];
    if (snprintf(clog, sizeof clog - 16, "%s/%s", o->log_dir[0] ? o->log_dir : ".", CONTAINER_LOG_NAME) >= (int)sizeof clog - 16) {
        report_err("berth-shim: log dir path too long");
        shim_fail_exit(-1);
    }
    if (logfile_open(&p->log, clog) < 0) {
        report_err("berth-shim: open %s: %s", clog, strerror(errno));
        shim_fail_exit(-1);
    }

    /* RUNTIME --root ROOT --log STATE/runtime.log --log-format json
     *         create|run --detach --bundle BUNDLE --pid-file STATE/init.pid
     *         [--console-socket SOCK] ID */
    char log_path[PATH_MAX], pid_path[PATH_MAX], conpath[PATH_MAX];
    if (snprintf(log_path, sizeof log_path, "%s/%s", o->state, RUNTIME_LOG_NAME) >=
            (int)sizeof log_path ||
        snprintf(pid_path, sizeof pid_path, "%s/%s", o->state, INIT_PID_NAME) >=
            (int)sizeof pid_path) {
        report_err("berth-shim: state path too long");
        shim_fail_exit(-1);
    }
    int cfd[3];
    if (proc_make_io(0, cfd, conpath, sizeof conpath, msg, sizeof msg) < 0) {
        report_err("%s", msg);
        shim_fail_exit(-1);
    }
    /* Remember where the runtime log ends, to find only this run's errors. */
    struct stat st;
    p->rtlog_from = stat(RUNTIME_LOG_NAME, &st) == 0 ? st.st_size : 0;

    char *argv[20];
    int a = 0;
    argv[a++] = o->runtime;
    argv[a++] = "--root";
    argv[a++] = o->root;
    argv[a++] = "--log";
    argv[a++] = log_path;
    argv[a++] = "--log-format";
    argv[a++] = "json";
    if (o->start) {
        argv[a++] = "run";
        argv[a++] = "--detach";
    } else {
        argv[a++] = "create";
    }
    argv[a++] = "--bundle";
    argv[a++] = o->bundle;
    argv[a++] = "--pid-file";
    argv[a++] = pid_path;
    if (o->tty) {
        argv[a++] = "--console-socket";
        argv[a++] = conpath;
    }
    argv[a++] = (char *)o->id;
    argv[a] = NULL;

    int rc = spawn_runtime(argv, cfd, &p->rt_pid);
    for (int i = 0; i < 3; i++)
        close_fd(&cfd[i]);
    if (rc != 0) {
        report_err("%sexec %s: %s", o->start ? RUNC_RUN_PREFIX : RUNC_CREATE_PREFIX, o->runtime,
                   strerror(rc));
        shim_fail_exit(-1);
    }
    p->state = PS_STARTING;
    main_loop();
}

/* ---------------------------------------------------------- the launcher */

static void usage(void)
{
    static const char u[] =
        "usage: berth-shim --id ID --bundle BUNDLE_DIR --state STATE_DIR "
        "--runtime RUNTIME_BINARY --runtime-root ROOT_DIR [--log-max-bytes N] "
        "[--log-max-files K] [--stdin] [--tty] [--start]\n";
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

static unsigned long long parse_count(const char *flag, const char *s, unsigned long long min,
                                      unsigned long long max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        usage();
        die("berth-shim: bad value for %s: %s", flag, s);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *id = NULL, *bundle = NULL, *state = NULL, *runtime = NULL, *root = NULL;
    struct opts *o = &g_opts;

    o->log_max_bytes = 10485760ULL;
    o->log_max_files = 3;
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "--stdin")) { o->stdin_on = 1; continue; }
        if (!strcmp(argv[i], "--tty")) { o->tty = 1; continue; }
        if (!strcmp(argv[i], "--start")) { o->start = 1; continue; }
        if (!strcmp(argv[i], "--log-dir") && i + 1 < argc) {
            if (make_absolute(argv[++i], o->log_dir, sizeof o->log_dir) < 0)
                die("--log-dir: path too long");
            continue;
        }
        if (!strcmp(argv[i], "--log-max-bytes") && i + 1 < argc) {
            o->log_max_bytes = parse_count(argv[i], argv[i + 1], 0, (1ULL << 62));
            i++;
            continue;
        }
        if (!strcmp(argv[i], "--log-max-files") && i + 1 < argc) {
            o->log_max_files = (unsigned)parse_count(argv[i], argv[i + 1], 1, 1000);
            i++;
            continue;
        }
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
