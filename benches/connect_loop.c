/* benches/connect_loop.c: the client that benches/logging.sh times.
 *
 *   connect_loop PORT N [tcp] N times: socket(), TCP connect() to 127.0.0.1:PORT, close().
 *   connect_loop PORT N udp   one UDP socket, connect()ed N times to 127.0.0.1:PORT: the cheapest
 *                             connect there is (no handshake, no socket per call), so that the
 *                             cost of what armr adds is not hidden under the kernel's.
 *   Both print "connects=N refused=R accepted=A other=O seconds=S" (S: wall time of the loop,
 *   CLOCK_MONOTONIC).
 *   connect_loop free-port    prints a TCP port of 127.0.0.1 that nothing listens on
 *
 * With nothing listening on PORT every real TCP connect is refused by the kernel (ECONNREFUSED)
 * and every UDP connect succeeds; under armr a protect rule refuses either without a system call,
 * a detect rule lets it reach the kernel. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (argc == 2 && !strcmp(argv[1], "free-port")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        socklen_t len = sizeof to;
        if (fd < 0 || bind(fd, (struct sockaddr *)&to, sizeof to) != 0 || getsockname(fd, (struct sockaddr *)&to, &len) != 0) {
            perror("free-port");
            return 1;
        }
        printf("%d\n", ntohs(to.sin_port));
        close(fd);
        return 0;
    }
    int udp = argc == 4 && !strcmp(argv[3], "udp");
    if (!(argc == 3 || udp || (argc == 4 && !strcmp(argv[3], "tcp")))) {
        fprintf(stderr, "usage: connect_loop PORT N [tcp|udp] | connect_loop free-port\n");
        return 2;
    }
    to.sin_port = htons(atoi(argv[1]));
    long n = atol(argv[2]), refused = 0, accepted = 0, other = 0;
    double start = now();
    if (udp) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        for (long i = 0; i < n; i++) {
            if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0)
                accepted++;
            else if (errno == ECONNREFUSED)
                refused++;
            else
                other++;
        }
        close(fd);
    }
    for (long i = 0; i < n && !udp; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno == ECONNREFUSED)
            refused++;
        else
            other++;  /* nothing listens: a TCP connect is never accepted */
        close(fd);
    }
    double seconds = now() - start;
    printf("connects=%ld refused=%ld accepted=%ld other=%ld seconds=%.6f\n", n, refused, accepted, other, seconds);
    return 0;
}
