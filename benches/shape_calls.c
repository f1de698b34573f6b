/* benches/shape_calls.c: the per-call figures of the policy-shape table (scripts/bench, 1c).
 *
 *   shape_calls callgrind K CONNECT_PORT BIND_PORT LISTEN_PORT
 *       K times each, on 127.0.0.1 and on ::1: connect of TCP (to a closed port), sendto and
 *       sendmsg of one UDP datagram (to the same port: nothing listens, and an unconnected UDP
 *       socket is not told), accept (of a connection this process makes to its listener on
 *       LISTEN_PORT, fixed so that the rules can leave it out), bind+listen (on BIND_PORT,
 *       reused). Each kind's statistics are dumped once ("connect4", "sendto6", ...): made
 *       for `valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no
 *       --toggle-collect=do_*`, like benches/calls.c, whose method it follows (each kind runs 16
 *       times uncounted first). Prints "connects=K refused=R" (R: connects refused by the
 *       kernel; a refusal by armr would be EACCES or differ in count).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

typedef struct {
    struct sockaddr_storage s;
    socklen_t len;
} addr_t;

static void die(const char *what) {
    perror(what);
    exit(1);
}

static addr_t loopback(int family, int port) {
    addr_t a;
    memset(&a, 0, sizeof a);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&a.s;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_port = htons(port);
        a.len = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.s;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        v6->sin6_port = htons(port);
        a.len = sizeof *v6;
    }
    return a;
}

/* The counted calls: one function each, named for --toggle-collect. */
__attribute__((noinline)) int do_connect(int fd, const addr_t *to) {
    return connect(fd, (const struct sockaddr *)&to->s, to->len);
}

__attribute__((noinline)) ssize_t do_sendto(int fd, const addr_t *to) {
    return sendto(fd, "x", 1, 0, (const struct sockaddr *)&to->s, to->len);
}

__attribute__((noinline)) ssize_t do_sendmsg(int fd, const addr_t *to) {
    struct iovec v = {"x", 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = (void *)&to->s;
    m.msg_namelen = to->len;
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    return sendmsg(fd, &m, 0);
}

__attribute__((noinline)) int do_accept(int fd) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    return accept(fd, (struct sockaddr *)&peer, &len);
}

__attribute__((noinline)) int do_bind_listen(int fd, const addr_t *at) {
    if (bind(fd, (const struct sockaddr *)&at->s, at->len) != 0)
        return -1;
    return listen(fd, 16);
}

static int one_connect(int family, const addr_t *closed) {
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int r = do_connect(fd, closed);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : e;
}

static void one_bind_listen(int family, const addr_t *at) {
    int fd = socket(family, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (do_bind_listen(fd, at) != 0)
        die("bind+listen");
    close(fd);
}

static void one_accept(int family, int lfd, const addr_t *at) {
    int c = socket(family, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)&at->s, at->len) != 0)
        die("connect to the listener");
    int a = do_accept(lfd);
    if (a < 0)
        die("accept");
    struct linger l = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c);
    close(a);
}

int main(int argc, char **argv) {
    if (argc != 6 || strcmp(argv[1], "callgrind")) {
        fprintf(stderr, "usage: shape_calls callgrind K CONNECT_PORT BIND_PORT LISTEN_PORT\n");
        return 2;
    }
    long k = atol(argv[2]), refused = 0;
    int cp = atoi(argv[3]), bp = atoi(argv[4]), lp = atoi(argv[5]);
    CALLGRIND_START_INSTRUMENTATION;
    static const int families[2] = {AF_INET, AF_INET6};
    static const char *names[2][5] = {{"connect4", "sendto4", "sendmsg4", "accept4", "bind_listen4"},
                                      {"connect6", "sendto6", "sendmsg6", "accept6", "bind_listen6"}};
    for (int f = 0; f < 2; f++) {
        int family = families[f];
        addr_t closed = loopback(family, cp), bound = loopback(family, bp), at = loopback(family, lp);
        int udp = socket(family, SOCK_DGRAM, 0);
        int lfd = socket(family, SOCK_STREAM, 0), one = 1;
        if (lfd >= 0)
            setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (udp < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&at.s, at.len) || listen(lfd, 128) ||
            getsockname(lfd, (struct sockaddr *)&at.s, &at.len))
            die("sockets");
        for (int i = 0; i < 17; i++) {
            if (i == 16)
                CALLGRIND_ZERO_STATS;
            one_connect(family, &closed);
            if (do_sendto(udp, &closed) != 1 || do_sendmsg(udp, &closed) != 1)
                die("send");
            one_accept(family, lfd, &at);
            one_bind_listen(family, &bound);
        }
        CALLGRIND_ZERO_STATS;
        for (long i = 0; i < k; i++)
            refused += one_connect(family, &closed) == ECONNREFUSED;
        CALLGRIND_DUMP_STATS_AT(names[f][0]);
        for (long i = 0; i < k; i++)
            if (do_sendto(udp, &closed) != 1)
                die("sendto");
        CALLGRIND_DUMP_STATS_AT(names[f][1]);
        for (long i = 0; i < k; i++)
            if (do_sendmsg(udp, &closed) != 1)
                die("sendmsg");
        CALLGRIND_DUMP_STATS_AT(names[f][2]);
        for (long i = 0; i < k; i++)
            one_accept(family, lfd, &at);
        CALLGRIND_DUMP_STATS_AT(names[f][3]);
        for (long i = 0; i < k; i++)
            one_bind_listen(family, &bound);
        CALLGRIND_DUMP_STATS_AT(names[f][4]);
        close(udp);
        close(lfd);
    }
    printf("connects=%ld refused=%ld\n", 2 * k, refused);
    return 0;
}
