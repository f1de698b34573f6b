/* A refused peer against an accept buffer that another thread rewrites, for tests/seccomp.rs:
 *   accept_race N
 * A listener on 127.0.0.1 accepts into a sockaddr_storage-sized buffer that a second thread
 * keeps filling with 127.0.0.1, while a third thread connects N times from 127.0.0.2, then once
 * from 127.0.0.1 (the last). An engine that judges the peer by reading the program's buffer
 * after the kernel wrote it can be made to keep a refused peer's connection. Prints "escaped: X"
 * (connections accepted from 127.0.0.2, as getpeername tells), "sentinel: 1" when the last
 * connection arrived. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_storage shared;
static atomic_int done;
static in_port_t port;
static long n;

static void *flip(void *unused) {
    (void)unused;
    struct sockaddr_in allowed = {.sin_family = AF_INET, .sin_port = htons(1)};
    allowed.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    volatile unsigned char *to = (volatile unsigned char *)&shared;
    const unsigned char *from = (const unsigned char *)&allowed;
    while (!atomic_load_explicit(&done, memory_order_relaxed))
        for (size_t i = 0; i < sizeof allowed; i++) to[i] = from[i];
    return NULL;
}

static int connect_from(const char *source) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { perror("socket"); exit(2); }
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    if (bind(s, (struct sockaddr *)&from, sizeof from) != 0) { perror("bind"); exit(2); }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = port};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A refused peer may be reset before its connect returns. */
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0 && errno != ECONNRESET) {
        perror("connect");
        exit(2);
    }
    return s;
}

static void *connector(void *unused) {
    (void)unused;
    for (long i = 0; i < n; i++) close(connect_from("127.0.0.2"));
    /* The last one stays open until the listener has it. */
    connect_from("127.0.0.1");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: accept_race N\n");
        return 2;
    }
    n = atol(argv[1]);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in here = {.sin_family = AF_INET};
    here.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t hl = sizeof here;
    if (l < 0 || bind(l, (struct sockaddr *)&here, sizeof here) != 0 || listen(l, 4096) != 0 ||
        getsockname(l, (struct sockaddr *)&here, &hl) != 0) {
        perror("listener");
        return 2;
    }
    port = here.sin_port;
    pthread_t flipper, client;
    if (pthread_create(&flipper, NULL, flip, NULL) != 0) return 2;
    if (pthread_create(&client, NULL, connector, NULL) != 0) return 2;
    long escaped = 0;
    int sentinel = 0;
    while (!sentinel) {
        socklen_t len = sizeof shared;
        int c = accept(l, (struct sockaddr *)&shared, &len);
        if (c < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            return 2;
        }
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        if (getpeername(c, (struct sockaddr *)&peer, &pl) != 0) {
            /* Reset before the question: a refused peer's connection, or a closed one. */
            close(c);
            continue;
        }
        if (peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            sentinel = 1;
        else
            escaped++;
        close(c);
    }
    atomic_store(&done, 1);
    pthread_join(flipper, NULL);
    pthread_join(client, NULL);
    printf("escaped: %ld\nsentinel: %d\n", escaped, sentinel);
    return 0;
}
