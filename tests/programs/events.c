// `PORT N [M]`: N connects to 127.0.0.1:PORT (refused and logged by armr); with M, prints
// `paused`, waits for a byte on standard input, then makes M more. Prints `R refused`. The
// connects are refused without a system call, so that a run of 200,000 events is quick.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static long refused;
static void connects(const struct sockaddr_in *a, long n) {
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0 && errno == ECONNREFUSED)
            refused++;
        close(fd);
    }
}
int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) return 2;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connects(&a, atol(argv[2]));
    if (argc == 4) {
        printf("paused\n");
        fflush(stdout);
        char c;
        if (read(0, &c, 1) != 1) return 3;
        connects(&a, atol(argv[3]));
    }
    printf("%ld refused\n", refused);
    return 0;
}
