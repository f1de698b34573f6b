/* tests/programs/hot_path.c: socket calls whose answer armr already knows, for tests/hot_path.rs
 * to count the system calls armr adds (under strace) and check what the program sees.
 *
 *   hot_path sendto N PORT      one UDP socket, N sendto to 127.0.0.1:PORT; prints
 *                               "sent=S refused=R" (R: EACCES)
 *   hot_path udpconnect N PORT  N times: a UDP socket, connect to 127.0.0.1:PORT, close; prints
 *                               "connected=C"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: hot_path sendto|udpconnect N PORT\n");
        return 2;
    }
    long n = atol(argv[2]);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons(atoi(argv[3]))};
    if (!strcmp(argv[1], "sendto")) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        long sent = 0, refused = 0;
        for (long i = 0; i < n; i++) {
            if (sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof to) == 1)
                sent++;
            else if (errno == EACCES)
                refused++;
        }
        printf("sent=%ld refused=%ld\n", sent, refused);
        return 0;
    }
    if (!strcmp(argv[1], "udpconnect")) {
        long connected = 0;
        for (long i = 0; i < n; i++) {
            int fd = socket(AF_INET, SOCK_DGRAM, 0);
            connected += connect(fd, (struct sockaddr *)&to, sizeof to) == 0;
            close(fd);
        }
        printf("connected=%ld\n", connected);
        return 0;
    }
    return 2;
}
