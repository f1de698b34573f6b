/* The fortified receive calls (_FORTIFY_SOURCE: __recv_chk, __recvfrom_chk, __read_chk) on an
 * unconnected UDP socket, under an accept rule that protects 127.0.0.3: each returns the datagram
 * from 127.0.0.2 sent after a refused one. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp(const char *host, struct sockaddr_in *address) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    memset(address, 0, sizeof *address);
    address->sin_family = AF_INET;
    inet_pton(AF_INET, host, &address->sin_addr);
    socklen_t len = sizeof *address;
    if (fd < 0 || bind(fd, (struct sockaddr *)address, len) != 0 ||
        getsockname(fd, (struct sockaddr *)address, &len) != 0) {
        perror("udp");
        return -1;
    }
    return fd;
}

int main(void) {
    struct sockaddr_in r, b, g;
    int receiver = udp("127.0.0.1", &r), bad = udp("127.0.0.3", &b), good = udp("127.0.0.2", &g);
    if (receiver < 0 || bad < 0 || good < 0)
        return 1;
    char buf[64];
    /* Unknown to the compiler: the fortified functions are called, not their unchecked
     * aliases. */
    volatile size_t unknown = sizeof buf - 1;
    size_t room = unknown;
    const char *cases[] = {"recv", "recvfrom", "read"};
    for (int i = 0; i < 3; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "bad-%s", cases[i]);
        sendto(bad, payload, strlen(payload), 0, (struct sockaddr *)&r, sizeof r);
        snprintf(payload, sizeof payload, "good-%s", cases[i]);
        sendto(good, payload, strlen(payload), 0, (struct sockaddr *)&r, sizeof r);
        usleep(50000);
        ssize_t n;
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        memset(&from, 0, sizeof from);
        if (i == 0)
            n = recv(receiver, buf, room, 0);
        else if (i == 1)
            n = recvfrom(receiver, buf, room, 0, (struct sockaddr *)&from, &from_len);
        else
            n = read(receiver, buf, room);
        buf[n < 0 ? 0 : n] = 0;
        char ip[INET_ADDRSTRLEN] = "-";
        if (i == 1)
            inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
        printf("%s: %s from %s\n", cases[i], buf, ip);
    }
    printf("done: yes\n");
    return 0;
}
