/* Time of check against time of use, for tests/seccomp.rs:
 *   toctou HOST ALLOWED_PORT PROTECTED_PORT N [sendto|sendmsg|sendmsg-name]
 * One thread flips the port of a sockaddr between ALLOWED_PORT and PROTECTED_PORT in a tight
 * loop while the main thread connects N times with that same buffer (sendmsg-name: flips a
 * msghdr's msg_name between no destination and PROTECTED_PORT's, while the main thread sends
 * with that header). An engine that judges the
 * address and lets the kernel read it again lets some connects through to the protected port.
 * Prints "ok: X", "refused: Y" and "other: Z" lines (connects that succeeded, failed with
 * ECONNREFUSED, failed otherwise). The calls start once the flipper runs; datagrams go on past
 * N until one was refused. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static struct sockaddr_in shared;
static atomic_int done;
/* How many times the flipper has flipped: the sends start once it runs (on a loaded machine
 * it may not be scheduled for a while). */
static atomic_long flips;
static uint16_t ports[2];
static struct msghdr named;
static struct iovec one = { .iov_base = "x", .iov_len = 1 };

static void *flip_name(void *unused) {
    (void)unused;
    volatile struct msghdr *msg = &named;
    for (unsigned i = 0; !atomic_load_explicit(&done, memory_order_relaxed); i++) {
        msg->msg_name = (i & 1) ? (void *)&shared : NULL;
        atomic_fetch_add_explicit(&flips, 1, memory_order_relaxed);
    }
    return NULL;
}

static void *flip(void *unused) {
    (void)unused;
    volatile uint16_t *port = &shared.sin_port;
    for (unsigned i = 0; !atomic_load_explicit(&done, memory_order_relaxed); i++) {
        *port = ports[i & 1];
        atomic_fetch_add_explicit(&flips, 1, memory_order_relaxed);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: toctou HOST ALLOWED_PORT PROTECTED_PORT N [sendto|sendmsg|sendmsg-name]\n");
        return 2;
    }
    shared.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &shared.sin_addr) != 1) return 2;
    ports[0] = htons(atoi(argv[2]));
    ports[1] = htons(atoi(argv[3]));
    shared.sin_port = ports[0];
    long n = atol(argv[4]), ok = 0, refused = 0, other = 0;
    pthread_t flipper;
    /* sendmsg-name: the destination's pointer flipped, to the protected port's address. */
    int by_name = argc == 6 && argv[5][7] == '-';
    if (by_name) {
        shared.sin_port = ports[1];
        named.msg_namelen = sizeof shared;
        named.msg_iov = &one;
        named.msg_iovlen = 1;
    }
    if (pthread_create(&flipper, NULL, by_name ? flip_name : flip, NULL) != 0) return 2;
    while (atomic_load(&flips) < 1000) sched_yield();
    if (argc == 6) {
        /* Datagrams from one UDP socket, each to the flipped address: "ok" counts those sent,
         * "refused" those refused with EACCES, "other" those failed otherwise (sendmsg-name:
         * no destination). */
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) { perror("socket"); return 2; }
        int use_msg = argv[5][4] == 'm';
        /* At least N sends, more (up to 50 N) until one was refused: a flipper descheduled for
         * the whole loop would test nothing. */
        for (long i = 0; i < n || (refused == 0 && i < 50 * n); i++) {
            ssize_t r;
            if (by_name) {
                r = sendmsg(fd, &named, 0);
            } else if (use_msg) {
                struct iovec iov = { .iov_base = "x", .iov_len = 1 };
                struct msghdr msg = { .msg_name = &shared, .msg_namelen = sizeof shared,
                                      .msg_iov = &iov, .msg_iovlen = 1 };
                r = sendmsg(fd, &msg, 0);
            } else {
                r = sendto(fd, "x", 1, 0, (struct sockaddr *)&shared, sizeof shared);
            }
            if (r == 1) ok++;
            else if (errno == EACCES) refused++;
            else other++;
        }
        close(fd);
        atomic_store(&done, 1);
        pthread_join(flipper, NULL);
        printf("ok: %ld\nrefused: %ld\nother: %ld\n", ok, refused, other);
        return 0;
    }
    for (long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { perror("socket"); return 2; }
        if (connect(fd, (struct sockaddr *)&shared, sizeof shared) == 0) ok++;
        else if (errno == ECONNREFUSED) refused++;
        else other++;
        close(fd);
    }
    atomic_store(&done, 1);
    pthread_join(flipper, NULL);
    printf("ok: %ld\nrefused: %ld\nother: %ld\n", ok, refused, other);
    return 0;
}
