/*
 * syscall-probe NAME...: makes each named syscall with harmless arguments and prints "NAME errno" (0 when it
 * succeeded), so a test can tell a call the seccomp filter refused (EPERM) from one the kernel answered itself.
 * Static, so it runs in any container image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(const char *name) {
    if (strcmp(name, "getpid") == 0) return syscall(SYS_getpid);
    /* a null params pointer: the kernel answers EFAULT, a filter EPERM */
    if (strcmp(name, "io_uring_setup") == 0) return syscall(SYS_io_uring_setup, 1, NULL);
    /* SYSLOG_ACTION_SIZE_BUFFER */
    if (strcmp(name, "syslog") == 0) return syscall(SYS_syslog, 10, NULL, 0);
    /* ADDR_NO_RANDOMIZE: turns address space randomisation off for what the process runs next */
    if (strcmp(name, "personality-no-randomize") == 0) return syscall(SYS_personality, 0x0040000);
    if (strcmp(name, "personality-query") == 0) return syscall(SYS_personality, 0xffffffff);
    /* AF_VSOCK, SOCK_STREAM */
    if (strcmp(name, "socket-vsock") == 0) return syscall(SYS_socket, 40, 1, 0);
    /* AF_UNIX, SOCK_STREAM */
    if (strcmp(name, "socket-unix") == 0) return syscall(SYS_socket, 1, 1, 0);
    /* no keyring of the host's for a container: a bad type pointer, EFAULT from the kernel */
    if (strcmp(name, "add_key") == 0) return syscall(SYS_add_key, NULL, NULL, NULL, 0, 0);
    errno = EINVAL;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = call(argv[i]);
        printf("%s %d\n", argv[i], r == -2 ? -1 : (r < 0 ? errno : 0));
    }
    return 0;
}
