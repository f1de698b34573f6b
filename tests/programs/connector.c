/* A client for tests/logging.rs: makes TCP connects, in ways that exercise armr's logging.
 *   connector count HOST PORT N          N connects
 *   connector pause HOST PORT N M        N connects, prints "paused", waits for a line on stdin, M more
 *   connector closefds HOST PORT FILE    one connect; closes every descriptor above 2; opens FILE (it
 *                                        takes the lowest free number: armr's old one) and writes to it;
 *                                        one more connect; writes to FILE again
 * Prints "refused=R other=O" at the end. Built with -O0 -rdynamic so that its stack frames keep
 * their names: main -> connect_many -> connect_once -> connect. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long refused, other;

__attribute__((noinline)) int connect_once(const struct sockaddr_in *to) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); exit(2); }
    int r = connect(fd, (const struct sockaddr *)to, sizeof *to);
    int e = r == 0 ? 0 : errno;
    close(fd);
    if (e == ECONNREFUSED) refused++; else other++;
    return e;
}

__attribute__((noinline)) long connect_many(const struct sockaddr_in *to, long n) {
    long failed = 0;
    for (long i = 0; i < n; i++) failed += connect_once(to) != 0;
    return failed;
}

static void put(int fd, const char *s) {
    if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) { perror("write"); exit(2); }
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: connector count|pause|closefds HOST PORT ARG [ARG]\n"); return 2; }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    if (!strcmp(argv[1], "count")) {
        connect_many(&to, atol(argv[4]));
    } else if (!strcmp(argv[1], "pause") && argc == 6) {
        connect_many(&to, atol(argv[4]));
        printf("paused\n");
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin)) return 2;
        connect_many(&to, atol(argv[5]));
    } else if (!strcmp(argv[1], "closefds")) {
        connect_once(&to);
        for (int fd = 3; fd < 1024; fd++) close(fd);
        int own = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (own < 0) { perror(argv[4]); return 2; }
        put(own, "program data\n");
        connect_once(&to);
        put(own, "more program data\n");
        close(own);
    } else {
        fprintf(stderr, "connector: unknown mode %s\n", argv[1]);
        return 2;
    }
    printf("refused=%ld other=%ld\n", refused, other);
    return 0;
}
