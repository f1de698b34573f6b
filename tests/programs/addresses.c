/* Socket calls with every address form the kernel takes, for tests/addresses.rs.
 *
 * Each argument is one step, `LABEL/OP/...`, run in order; each prints `LABEL: RESULT`, where
 * RESULT is `ok`, `ok N` (a count) or the errno's name. Steps:
 *
 *   LABEL/OP/SOCK/BIND/FORM/IP/PORT   OP: connect, __connect, sendto, sendmsg, sendmmsg,
 *                                     fastopen (sendto with MSG_FASTOPEN), bind, bindlisten
 *       SOCK: tcp4, udp4, tcp6, udp6, with `nb` for non-blocking (tcp4nb, ...)
 *       BIND: `-`, or an address the socket is bound to first (port 0)
 *       FORM: in (sockaddr_in, 16 bytes), unspec (16 bytes, family AF_UNSPEC, IPv4 fields),
 *             in6 (sockaddr_in6, 28 bytes), in6short (the same, 24 bytes: no scope id)
 *   LABEL/mmsg-guard/IP/PORT          sendmmsg of 1024 messages that end at a PROT_NONE page,
 *                                     with vlen 100000 (the kernel sends 1024)
 *   LABEL/bindresvport/SOCK/SIN       SIN: null, in, in6; then listen when SOCK is tcp4
 *   LABEL/rresvport/then/IP/PORT      rresvport, then connect to IP:PORT (`-`: listen instead)
 *   LABEL/rcmd|rexec/HOST/PORT/FD2P   FD2P: 0 (null) or 1
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

extern int __connect(int, const struct sockaddr *, socklen_t);

static const char *name_of(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EINPROGRESS: return "EINPROGRESS";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPFNOSUPPORT: return "EPFNOSUPPORT";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENETUNREACH: return "ENETUNREACH";
    case EADDRINUSE: return "EADDRINUSE";
    case EAGAIN: return "EAGAIN";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static void report(const char *label, long r) {
    if (r < 0)
        printf("%s: %s\n", label, name_of(errno));
    else
        printf("%s: ok\n", label);
    fflush(stdout);
}

static void report_count(const char *label, long r) {
    if (r < 0)
        printf("%s: %s\n", label, name_of(errno));
    else
        printf("%s: ok %ld\n", label, r);
    fflush(stdout);
}

/* An address of FORM; returns its length. */
static socklen_t address(struct sockaddr_storage *ss, const char *form, const char *ip, int port) {
    memset(ss, 0, sizeof *ss);
    if (!strcmp(form, "in") || !strcmp(form, "unspec")) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = strcmp(form, "in") ? AF_UNSPEC : AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) { fprintf(stderr, "bad %s\n", ip); exit(2); }
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1) { fprintf(stderr, "bad %s\n", ip); exit(2); }
    return !strcmp(form, "in6short") ? 24 : sizeof *sin6;
}

static int make(const char *sock) {
    int family = strstr(sock, "6") ? AF_INET6 : AF_INET;
    int type = !strncmp(sock, "tcp", 3) ? SOCK_STREAM : SOCK_DGRAM;
    if (strstr(sock, "nb")) type |= SOCK_NONBLOCK;
    int fd = socket(family, type, 0);
    if (fd < 0) { perror("socket"); exit(2); }
    return fd;
}

static void bind_first(int fd, const char *sock, const char *ip) {
    if (!strcmp(ip, "-")) return;
    struct sockaddr_storage ss;
    socklen_t len = address(&ss, strstr(sock, "6") ? "in6" : "in", ip, 0);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) { perror("bind first"); exit(2); }
}

static void step(char *spec) {
    char *f[8] = {0};
    int n = 0;
    for (char *p = strtok(spec, "/"); p && n < 8; p = strtok(NULL, "/")) f[n++] = p;
    const char *label = f[0], *op = f[1];
    char byte = 'x';
    if (!strcmp(op, "mmsg-guard")) {
        int fd = make("udp4");
        struct sockaddr_storage ss;
        socklen_t len = address(&ss, "in", f[2], atoi(f[3]));
        long page = sysconf(_SC_PAGESIZE);
        size_t size = 1024 * sizeof(struct mmsghdr);
        size_t pages = (size + page - 1) / page;
        char *region = mmap(NULL, (pages + 1) * page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (region == MAP_FAILED || mprotect(region + pages * page, page, PROT_NONE)) { perror("mmap"); exit(2); }
        struct mmsghdr *msgs = (struct mmsghdr *)(region + pages * page - size);
        static struct iovec iov = {.iov_base = "m", .iov_len = 1};
        for (int i = 0; i < 1024; i++) {
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_name = &ss;
            msgs[i].msg_hdr.msg_namelen = len;
            msgs[i].msg_hdr.msg_iov = &iov;
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        report_count(label, sendmmsg(fd, msgs, 100000, 0));
        close(fd);
        return;
    }
    if (!strcmp(op, "bindresvport")) {
        int fd = make(f[2]);
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = !strcmp(f[3], "in6") ? AF_INET6 : AF_INET;
        int r = bindresvport(fd, !strcmp(f[3], "null") ? NULL : &sin);
        if (r == 0 && !strncmp(f[2], "tcp", 3)) r = listen(fd, 1);
        report(label, r);
        close(fd);
        return;
    }
    if (!strcmp(op, "rresvport")) {
        int port = 1023;
        int fd = rresvport(&port);
        if (fd < 0) { report(label, -1); return; }
        int r;
        if (!strcmp(f[2], "-")) {
            r = listen(fd, 1);
        } else {
            struct sockaddr_storage ss;
            socklen_t len = address(&ss, "in", f[2], atoi(f[3]));
            r = connect(fd, (struct sockaddr *)&ss, len);
        }
        report(label, r);
        close(fd);
        return;
    }
    if (!strcmp(op, "rcmd") || !strcmp(op, "rexec")) {
        char *host = f[2];
        int fd2 = -1;
        int *fd2p = atoi(f[4]) ? &fd2 : NULL;
        int r = !strcmp(op, "rcmd")
                    ? rcmd(&host, htons(atoi(f[3])), "root", "root", "true", fd2p)
                    : rexec(&host, htons(atoi(f[3])), "user", "password", "true", fd2p);
        report(label, r);
        if (r >= 0) close(r);
        return;
    }
    const char *sock = f[2];
    int fd = make(sock);
    bind_first(fd, sock, f[3]);
    struct sockaddr_storage ss;
    socklen_t len = address(&ss, f[4], f[5], atoi(f[6]));
    struct sockaddr *sa = (struct sockaddr *)&ss;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_name = sa, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
    if (!strcmp(op, "connect")) report(label, connect(fd, sa, len));
    else if (!strcmp(op, "__connect")) report(label, __connect(fd, sa, len));
    else if (!strcmp(op, "sendto")) report(label, sendto(fd, &byte, 1, 0, sa, len));
    else if (!strcmp(op, "fastopen")) report(label, sendto(fd, &byte, 1, MSG_FASTOPEN, sa, len));
    else if (!strcmp(op, "sendmsg")) report(label, sendmsg(fd, &msg, 0));
    else if (!strcmp(op, "sendmmsg")) {
        struct mmsghdr m[2] = {{.msg_hdr = msg}, {.msg_hdr = msg}};
        report_count(label, sendmmsg(fd, m, 2, 0));
    } else if (!strcmp(op, "bind")) report(label, bind(fd, sa, len));
    else if (!strcmp(op, "bindlisten")) {
        int r = bind(fd, sa, len);
        report(label, r < 0 ? r : listen(fd, 1));
    } else { fprintf(stderr, "unknown op %s\n", op); exit(2); }
    close(fd);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) step(argv[i]);
    printf("done: yes\n");
    return 0;
}
