/* A refused sender against a msghdr that another thread rewrites, for tests/seccomp.rs:
 *   recvmsg_race N [recvmmsg]
 * A UDP socket on 127.0.0.1 receives with recvmsg (or recvmmsg, one message at a time) while a second thread keeps pointing the
 * msghdr's msg_name at a decoy buffer (and its length at 0); a third thread sends N datagrams
 * "2" from 127.0.0.2, then "1" from 127.0.0.1 (the last). An engine that lets the kernel read
 * the program's msghdr after its own look judges an address it never received. Prints
 * "escaped: X" (datagrams "2" received) and "sentinel: 1". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static struct mmsghdr shared_mm;
#define shared (shared_mm.msg_hdr)
static struct sockaddr_storage decoy;
static atomic_int done;
static struct sockaddr_in here;
static long n;

static void *flip(void *unused) {
    (void)unused;
    volatile struct msghdr *msg = &shared;
    while (!atomic_load_explicit(&done, memory_order_relaxed)) {
        msg->msg_name = &decoy;
        msg->msg_namelen = 0;
    }
    return NULL;
}

static void send_from(const char *source, const char *what, long count) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    if (s < 0 || bind(s, (struct sockaddr *)&from, sizeof from) != 0) {
        perror("sender");
        exit(2);
    }
    for (long i = 0; i < count; i++) {
        if (sendto(s, what, 1, 0, (struct sockaddr *)&here, sizeof here) != 1) {
            perror("sendto");
            exit(2);
        }
        /* Paced, so that the receive buffer never drops one. */
        if (i % 64 == 63) usleep(1000);
    }
    close(s);
}

static void *sender(void *unused) {
    (void)unused;
    send_from("127.0.0.2", "2", n);
    send_from("127.0.0.1", "1", 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: recvmsg_race N [recvmmsg]\n");
        return 2;
    }
    int many = argc == 3;
    n = atol(argv[1]);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    here.sin_family = AF_INET;
    here.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t hl = sizeof here;
    int big = 1 << 20;
    setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (u < 0 || bind(u, (struct sockaddr *)&here, sizeof here) != 0 ||
        getsockname(u, (struct sockaddr *)&here, &hl) != 0) {
        perror("receiver");
        return 2;
    }
    pthread_t flipper, client;
    if (pthread_create(&flipper, NULL, flip, NULL) != 0) return 2;
    if (pthread_create(&client, NULL, sender, NULL) != 0) return 2;
    long escaped = 0;
    int sentinel = 0;
    struct sockaddr_storage name;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    while (!sentinel) {
        shared.msg_name = &name;
        shared.msg_namelen = sizeof name;
        shared.msg_iov = &iov;
        shared.msg_iovlen = 1;
        shared.msg_control = NULL;
        shared.msg_controllen = 0;
        ssize_t got = many ? recvmmsg(u, &shared_mm, 1, 0, NULL) : recvmsg(u, &shared, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("recvmsg");
            return 2;
        }
        if (byte == '1')
            sentinel = 1;
        else
            escaped++;
    }
    atomic_store(&done, 1);
    pthread_join(flipper, NULL);
    pthread_join(client, NULL);
    printf("escaped: %ld\nsentinel: %d\n", escaped, sentinel);
    return 0;
}
