/* benches/calls.c: the socket calls that scripts/bench measures.
 *
 *   calls callgrind K     K times each, on 127.0.0.1: connect (to a closed port), bind+listen
 *                         (on one port, reused), accept (of a connection this process makes).
 *                         Made for `valgrind --tool=callgrind --collect-atstart=no
 *                         --toggle-collect=do_connect --toggle-collect=do_bind_listen
 *                         --toggle-collect=do_accept`: only the hooked calls are counted, and
 *                         the statistics are dumped once per kind ("connect", "bind_listen",
 *                         "accept"), so each dump's total / K is the instructions of one call.
 *                         Each kind runs 16 times first, uncounted, so that one-time work (the
 *                         dlsym lookups) is not in the figure. Run with --instr-atstart=no, the
 *                         rules load uninstrumented: instrumentation starts here.
 *   calls loop N          N loopback connections: socket, connect, accept, close both; prints
 *                         "seconds=S cpu=C" (wall time of the loop, CLOCK_MONOTONIC, and the
 *                         process's user+system CPU time in it, getrusage: less disturbed by
 *                         other work on a shared machine).
 *   calls connects PORT N N connects to 127.0.0.1:PORT (nothing listens there); prints
 *                         "connects=N refused=R seconds=S".
 *   calls ports           prints three free TCP ports of 127.0.0.1 (connect, bind, spare).
 *   calls cycle K PORT    K times socket + connect (to 127.0.0.1:PORT, nothing listening) +
 *                         close, counted whole (`--toggle-collect=do_cycle`, one dump "cycle"):
 *                         the loop scripts/bench compares with proxychains-ng's.
 *
 * Every connection is closed with SO_LINGER 0 (a reset), so that no TIME_WAIT is left behind and
 * repeated runs never run out of ephemeral ports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

static void close_reset(int fd) {
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

/* A free port: bound to port 0, asked, closed. */
static int free_port(void) {
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
        die("free port");
    close(fd);
    return ntohs(a.sin_port);
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int listener(struct sockaddr_in *at) {
    *at = loopback(0);
    socklen_t len = sizeof *at;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)at, sizeof *at) || listen(fd, 128) ||
        getsockname(fd, (struct sockaddr *)at, &len))
        die("listener");
    return fd;
}

/* The counted calls: one function each, named for --toggle-collect. */
__attribute__((noinline)) int do_connect(int fd, const struct sockaddr_in *to) {
    return connect(fd, (const struct sockaddr *)to, sizeof *to);
}

__attribute__((noinline)) int do_bind_listen(int fd, const struct sockaddr_in *at) {
    if (bind(fd, (const struct sockaddr *)at, sizeof *at) != 0)
        return -1;
    return listen(fd, 16);
}

/* A TCP socket created and closed: armr hooks both when the policy has bind(client:) rules. */
__attribute__((noinline)) void do_socket_close(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    close(fd);
}

__attribute__((noinline)) int do_accept(int fd, struct sockaddr_in *peer, socklen_t *len) {
    return accept(fd, (struct sockaddr *)peer, len);
}

static int one_connect(const struct sockaddr_in *closed) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int r = do_connect(fd, closed);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : e;
}

/* socket + connect + close, counted as one (the loop compared with proxychains-ng). */
__attribute__((noinline)) int do_cycle(const struct sockaddr_in *to) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int r = connect(fd, (const struct sockaddr *)to, sizeof *to);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : e;
}

static void one_bind_listen(const struct sockaddr_in *at) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (do_bind_listen(fd, at) != 0)
        die("bind+listen");
    close(fd);
}

static void one_accept(int lfd, const struct sockaddr_in *at, int counted) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)at, sizeof *at) != 0)
        die("connect to the listener");
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int a = counted ? do_accept(lfd, &peer, &len) : accept(lfd, (struct sockaddr *)&peer, &len);
    if (a < 0)
        die("accept");
    close_reset(c);
    close(a);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "ports")) {
        printf("%d %d %d\n", free_port(), free_port(), free_port());
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "callgrind")) {
        long k = atol(argv[2]);
        struct sockaddr_in closed = loopback(atoi(argv[3])), bound = loopback(atoi(argv[4])), at;
        /* Under --instr-atstart=no, loading the rules ran uninstrumented (fast). */
        CALLGRIND_START_INSTRUMENTATION;
        int lfd = listener(&at);
        for (int i = 0; i < 16; i++) {
            one_connect(&closed);
            one_bind_listen(&bound);
            one_accept(lfd, &at, 0);
        }
        /* Warm-up of the wrappers themselves (their PLT entries), uncounted. */
        CALLGRIND_ZERO_STATS;
        one_connect(&closed);
        one_bind_listen(&bound);
        one_accept(lfd, &at, 1);
        do_socket_close();
        CALLGRIND_ZERO_STATS;
        long refused = 0;
        for (long i = 0; i < k; i++)
            refused += one_connect(&closed) == ECONNREFUSED;
        CALLGRIND_DUMP_STATS_AT("connect");
        for (long i = 0; i < k; i++)
            one_bind_listen(&bound);
        CALLGRIND_DUMP_STATS_AT("bind_listen");
        for (long i = 0; i < k; i++)
            one_accept(lfd, &at, 1);
        CALLGRIND_DUMP_STATS_AT("accept");
        for (long i = 0; i < k; i++)
            do_socket_close();
        CALLGRIND_DUMP_STATS_AT("socket_close");
        printf("connects=%ld refused=%ld\n", k, refused);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "cycle")) {
        long k = atol(argv[2]), refused = 0;
        struct sockaddr_in to = loopback(atoi(argv[3]));
        CALLGRIND_START_INSTRUMENTATION;
        for (int i = 0; i < 16; i++)
            do_cycle(&to);
        CALLGRIND_ZERO_STATS;
        for (long i = 0; i < k; i++)
            refused += do_cycle(&to) == ECONNREFUSED;
        CALLGRIND_DUMP_STATS_AT("cycle");
        printf("connects=%ld refused=%ld\n", k, refused);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "loop")) {
        long n = atol(argv[2]);
        struct sockaddr_in at;
        int lfd = listener(&at);
        double start = now(), start_cpu = cpu();
        for (long i = 0; i < n; i++)
            one_accept(lfd, &at, 1);
        double cpu_s = cpu() - start_cpu;
        printf("seconds=%.6f cpu=%.6f\n", now() - start, cpu_s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "connects")) {
        struct sockaddr_in to = loopback(atoi(argv[2]));
        long n = atol(argv[3]), refused = 0;
        double start = now();
        for (long i = 0; i < n; i++)
            refused += one_connect(&to) == ECONNREFUSED;
        printf("connects=%ld refused=%ld seconds=%.6f\n", n, refused, now() - start);
        return 0;
    }
    fprintf(stderr, "usage: calls callgrind K CONNECT_PORT BIND_PORT | loop N | connects PORT N | cycle K PORT | ports\n");
    return 2;
}
