/* benches/connect_loop.c: the client that benches/logging.sh times.
 *
 *   connect_loop PORT N    N times: socket(), connect() to 127.0.0.1:PORT, close(). Prints
 *                          "connects=N refused=R other=O seconds=S" (S: wall time of the loop,
 *                          from the first socket() to the last close(), CLOCK_MONOTONIC).
 *   connect_loop free-port prints a TCP port of 127.0.0.1 that nothing listens on
 *
 * With nothing listening on PORT every real connect is refused by the kernel (ECONNREFUSED); under
 * armr a protect rule refuses it without a system call, a detect rule lets it reach the kernel. */
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
    if (argc != 3) {
        fprintf(stderr, "usage: connect_loop PORT N | connect_loop free-port\n");
        return 2;
    }
    to.sin_port = htons(atoi(argv[1]));
    long n = atol(argv[2]), refused = 0, other = 0;
    double start = now();
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno == ECONNREFUSED)
            refused++;
        else
            other++;
        close(fd);
    }
    double seconds = now() - start;
    printf("connects=%ld refused=%ld other=%ld seconds=%.6f\n", n, refused, other, seconds);
    return 0;
}
