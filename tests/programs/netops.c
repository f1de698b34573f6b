/* Socket calls through libc, one operation per run, for tests/seccomp.rs. Built twice: static
 * (`cc -static`: no dynamic loader, LD_PRELOAD cannot reach it) and dynamic. IPv4 only.
 *   netops connect HOST PORT [MS]   connect (after MS milliseconds); prints "connect: OK" or
 *                                   "connect: ERRNO"
 *   netops listen HOST PORT         bind + listen; prints "bind: ..." and "listen: ..."
 *   netops accept HOST PORT N       listens, prints "listening: OK", then accepts N connections,
 *                                   each "accept: IP:PORT" (it writes "hello\n" to it and closes
 *                                   it) or "accept: ERRNO"
 *   netops udp HOST PORT            sendto "ping"; prints "sendto: 4" or "sendto: ERRNO"
 *   netops udprecv HOST PORT N      binds a UDP socket ("bound: OK"), then receives N datagrams
 *                                   with recvfrom, each "datagram: IP:PORT DATA" or
 *                                   "datagram: ERRNO"
 *   netops udpread HOST PORT N      the same, receiving with read (no sender): "datagram: DATA"
 * ERRNO is the errno's name (ECONNREFUSED, EACCES...). Each run prints "pid: PID" first (the
 * process an event must name). Exits 0 once the operation was tried. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errname.h"

static void report(const char *what, int r) {
    if (r < 0) printf("%s: %s\n", what, errname(errno));
    else printf("%s: OK\n", what);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: netops connect|listen|accept|udp HOST PORT [N]\n");
        return 2;
    }
    const char *op = argv[1];
    printf("pid: %d\n", (int)getpid());
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", argv[2]);
        return 2;
    }
    if (!strcmp(op, "connect")) {
        if (argc > 4) {
            fflush(stdout);
            usleep(atoi(argv[4]) * 1000);
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        report("connect", connect(fd, (struct sockaddr *)&to, sizeof to));
        close(fd);
    } else if (!strcmp(op, "listen") || !strcmp(op, "accept")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int r = bind(fd, (struct sockaddr *)&to, sizeof to);
        report("bind", r);
        if (r < 0) return 0;
        r = listen(fd, 16);
        report(!strcmp(op, "listen") ? "listen" : "listening", r);
        if (r < 0 || !strcmp(op, "listen")) return 0;
        long n = argc > 4 ? atol(argv[4]) : 1;
        for (long i = 0; i < n; i++) {
            struct sockaddr_in peer;
            socklen_t len = sizeof peer;
            int c = accept(fd, (struct sockaddr *)&peer, &len);
            if (c < 0) {
                printf("accept: %s\n", errname(errno));
            } else {
                char ip[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
                printf("accept: %s:%d\n", ip, ntohs(peer.sin_port));
                if (write(c, "hello\n", 6) != 6) perror("write");
                close(c);
            }
            fflush(stdout);
        }
    } else if (!strcmp(op, "udp")) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        ssize_t n = sendto(fd, "ping", 4, 0, (struct sockaddr *)&to, sizeof to);
        if (n < 0) printf("sendto: %s\n", errname(errno));
        else printf("sendto: %zd\n", n);
    } else if (!strcmp(op, "udprecv") || !strcmp(op, "udpread")) {
        int by_read = !strcmp(op, "udpread");
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        int r = bind(fd, (struct sockaddr *)&to, sizeof to);
        report("bound", r);
        long n = argc > 4 ? atol(argv[4]) : 1;
        for (long i = 0; r == 0 && i < n; i++) {
            char data[64];
            struct sockaddr_in peer;
            socklen_t len = sizeof peer;
            ssize_t got = by_read ? read(fd, data, sizeof data - 1)
                                  : recvfrom(fd, data, sizeof data - 1, 0,
                                             (struct sockaddr *)&peer, &len);
            if (got < 0) {
                printf("datagram: %s\n", errname(errno));
            } else if (by_read) {
                data[got] = 0;
                printf("datagram: %s\n", data);
            } else {
                char ip[INET_ADDRSTRLEN];
                data[got] = 0;
                inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
                printf("datagram: %s:%d %s\n", ip, ntohs(peer.sin_port), data);
            }
            fflush(stdout);
        }
    } else {
        fprintf(stderr, "netops: unknown operation %s\n", op);
        return 2;
    }
    return 0;
}
