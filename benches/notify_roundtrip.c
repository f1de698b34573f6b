/* benches/notify_roundtrip.c: what a socket system call costs under seccomp user notification,
 * for benches/engine.sh (issue 15, "Performance").
 *
 *   notify_roundtrip bare N      the calls below, N times each, with no filter: run it alone
 *                                (the kernel's own cost) or under `armr run --engine seccomp`
 *                                (armr's engine: its filter and supervisor)
 *   notify_roundtrip minimal N   the same under a minimal supervisor: this program forks, the
 *                                child installs a filter shaped like armr's (the same calls sent
 *                                to the supervisor, sendto without an address settled in the
 *                                filter) and the parent answers each notification at once with
 *                                SECCOMP_USER_NOTIF_FLAG_CONTINUE: the bare notification round
 *                                trip, the floor of any supervisor
 *
 * Prints one line per call, "CALL NS" (nanoseconds per call, CLOCK_MONOTONIC around each call):
 *   connect  TCP connect to a closed loopback port (ECONNREFUSED), a new socket each time
 *   accept   accept of a connection already queued (its connect, also notified, not counted)
 *   sendto   UDP sendto with an address, to a bound loopback port
 *   send     UDP sendto without an address on a connected socket: settled in the filter */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* A loopback port nothing listens on, and a listening / bound pair for accept and sendto. */
static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static int bound(int type, struct sockaddr_in *addr) {
    int fd = socket(AF_INET, type, 0);
    socklen_t len = sizeof *addr;
    *addr = loopback(0);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof *addr) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0)
        die("bind");
    return fd;
}

static void measure(long n) {
    struct sockaddr_in closed;
    close(bound(SOCK_STREAM, &closed)); /* bound, never listened: connects are refused */
    long long total = 0;
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        long long t = now_ns();
        int r = connect(fd, (struct sockaddr *)&closed, sizeof closed);
        total += now_ns() - t;
        if (r == 0 || errno != ECONNREFUSED) die("connect to a closed port was not refused");
        close(fd);
    }
    printf("connect %.0f\n", (double)total / n);

    struct sockaddr_in at;
    int listener = bound(SOCK_STREAM, &at);
    if (listen(listener, 16) != 0) die("listen");
    total = 0;
    for (long i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&at, sizeof at) != 0) die("connect");
        long long t = now_ns();
        int a = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        total += now_ns() - t;
        if (a < 0) die("accept");
        close(a);
        close(c);
    }
    printf("accept %.0f\n", (double)total / n);
    close(listener);

    struct sockaddr_in sink;
    int receiver = bound(SOCK_DGRAM, &sink);
    int sender = socket(AF_INET, SOCK_DGRAM, 0);
    total = 0;
    for (long i = 0; i < n; i++) {
        long long t = now_ns();
        ssize_t r = sendto(sender, "x", 1, 0, (struct sockaddr *)&sink, sizeof sink);
        total += now_ns() - t;
        if (r != 1) die("sendto");
    }
    printf("sendto %.0f\n", (double)total / n);
    if (connect(sender, (struct sockaddr *)&sink, sizeof sink) != 0) die("connect udp");
    total = 0;
    for (long i = 0; i < n; i++) {
        long long t = now_ns();
        ssize_t r = send(sender, "x", 1, 0);
        total += now_ns() - t;
        if (r != 1) die("send");
    }
    printf("send %.0f\n", (double)total / n);
    close(sender);
    close(receiver);
    fflush(stdout);
}

/* The shape of armr's filter (docs/engines.md): native ABI only; connect, accept, accept4,
 * sendmsg, sendmmsg, bind, listen and sendto with an address to the supervisor; the rest
 * allowed in the kernel. */
#define NOTIFY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)
static struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    NOTIFY(SYS_connect),
    NOTIFY(SYS_accept),
    NOTIFY(SYS_accept4),
    NOTIFY(SYS_bind),
    NOTIFY(SYS_listen),
    NOTIFY(SYS_sendmsg),
    NOTIFY(SYS_sendmmsg),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendto, 0, 5),
    /* sendto: the address (args[4]) null in both halves: the connected peer, allowed here. */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4]) + 4),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static int minimal(long n) {
    int ready[2], ack[2];
    if (pipe(ready) != 0 || pipe(ack) != 0) die("pipe");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
        int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (fd < 0) die("seccomp");
        /* write and read are not filtered: the parent takes the listener, then says so. */
        if (write(ready[1], &fd, sizeof fd) != sizeof fd) die("write");
        char c;
        if (read(ack[0], &c, 1) != 1) die("read");
        close(fd);
        measure(n);
        _exit(0);
    }
    int number;
    if (read(ready[0], &number, sizeof number) != sizeof number) die("read");
    int pidfd = syscall(SYS_pidfd_open, child, 0);
    int listener = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, number, 0);
    if (listener < 0) die("pidfd_getfd");
    if (write(ack[1], "", 1) != 1) die("write");
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) die("SECCOMP_GET_NOTIF_SIZES");
    struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
    struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
    for (;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (p.revents & POLLHUP) break; /* no process holds the filter any more */
        memset(req, 0, sizes.seccomp_notif);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            die("SECCOMP_IOCTL_NOTIF_RECV");
        }
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0 && errno != ENOENT) die("SECCOMP_IOCTL_NOTIF_SEND");
    }
    int status;
    if (waitpid(child, &status, 0) != child) die("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: notify_roundtrip bare|minimal N\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "bare")) {
        measure(n);
        return 0;
    }
    if (!strcmp(argv[1], "minimal")) return minimal(n);
    fprintf(stderr, "notify_roundtrip: unknown mode %s\n", argv[1]);
    return 2;
}
