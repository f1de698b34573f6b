// A handler in signal context, as C runs it (CPython runs a Python handler later, between
// bytecodes, outside any hook): SIGALRM every 200 µs while the main thread connects in a loop to
// an allowed, logged address; the handler connects to a protected one (enforcement.md: -1
// ECONNREFUSED and no system call, whenever it is made). The thread's reentrancy guard is never
// held around the program's own call, nor while armr sends an event.
//
// It also counts the handler runs that found a TCP socket of armr's in SYN_SENT while the main
// thread was inside its `connect`: with `ARMR_LOG=tcp://` at a listener whose accept queue is
// full, the kernel drops armr's SYN and armr's own non-blocking connect waits (a few
// milliseconds, once a second), so those runs landed inside armr's sink. Arguments:
// PROTECTED_PORT ALLOWED_PORT SECONDS [INSIDE_RUNS]: the program stops after SECONDS, or once
// INSIDE_RUNS runs landed inside the sink. Compiled at test time with `cc`.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
static struct sockaddr_in prot, ok;
static volatile sig_atomic_t main_fd = -1;
static volatile sig_atomic_t runs, refused, connected, other, inside, inside_refused;
/* A TCP socket of armr's waiting for its handshake: armr is connecting to its log destination. */
static int armr_connecting(void) {
    for (int fd = 3; fd < 256; fd++) {
        if (fd == main_fd) continue;
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_SYN_SENT)
            return 1;
    }
    return 0;
}
static void handler(int sig) {
    (void)sig;
    int saved = errno;
    int in_sink = main_fd >= 0 && armr_connecting();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(fd, (struct sockaddr *)&prot, sizeof prot);
    int e = errno;
    if (r == 0) connected++;
    else if (e == ECONNREFUSED) refused++;
    else other++;
    if (in_sink) {
        inside++;
        if (r != 0 && e == ECONNREFUSED) inside_refused++;
    }
    close(fd);
    runs++;
    errno = saved;
}
int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) return 2;
    prot.sin_family = ok.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &prot.sin_addr);
    ok.sin_addr = prot.sin_addr;
    prot.sin_port = htons(atoi(argv[1]));
    ok.sin_port = htons(atoi(argv[2]));
    double seconds = atof(argv[3]);
    int inside_runs = argc == 5 ? atoi(argv[4]) : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long mains = 0;
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        main_fd = fd;
        connect(fd, (struct sockaddr *)&ok, sizeof ok);
        main_fd = -1;
        close(fd);
        mains++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((inside_runs == 0 || inside < inside_runs)
             && (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    setitimer(ITIMER_REAL, &off, 0);
    printf("main: %ld connects\nhandler: %d runs, %d refused, %d connected, %d other\n"
           "inside armr's sink: %d runs, %d refused\n",
           mains, (int)runs, (int)refused, (int)connected, (int)other, (int)inside,
           (int)inside_refused);
    return 0;
}
