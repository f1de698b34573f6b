// `PORT SECONDS`: SIGALRM every millisecond; the handler connects to 127.0.0.1:PORT (refused by
// a rule with `stacktrace: "full"`) while the main thread allocates and frees blocks of 2 to 64
// KiB (past malloc's per-thread cache, so malloc works on the arena itself, under its lock: a
// second thread exists). The program's own `malloc`, `calloc`, `realloc` and `free` (exported
// with `-rdynamic`, so that every library's calls land here) count the calls made while the
// handler runs. Writes `main: start` to standard error before the first event.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile sig_atomic_t in_handler, allocations, runs, refused;
void *malloc(size_t n) { if (in_handler) allocations++; return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { if (in_handler) allocations++; return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { if (in_handler) allocations++; return __libc_realloc(p, n); }
void free(void *p) { if (in_handler && p) allocations++; __libc_free(p); }
static struct sockaddr_in prot;
void handler(int sig) {
    (void)sig;
    int saved = errno;
    in_handler = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&prot, sizeof prot) != 0 && errno == ECONNREFUSED) refused++;
    close(fd);
    in_handler = 0;
    runs++;
    errno = saved;
}
static void *idle(void *unused) { (void)unused; pause(); return 0; }
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    prot.sin_family = AF_INET;
    prot.sin_port = htons(atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &prot.sin_addr);
    double seconds = atof(argv[2]);
    /* The idle thread never takes SIGALRM: the handler always interrupts main, and nothing
       main allocates is counted as the handler's. */
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, 0);
    pthread_t t;
    pthread_create(&t, 0, idle, 0);
    pthread_sigmask(SIG_UNBLOCK, &alarm, 0);
    static char *blocks[64];
    static size_t sizes[64];
    write(2, "main: start\n", 12);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned x = 2463534242u;
    long rounds = 0, bad = 0;
    do {
        for (int k = 0; k < 1000; k++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            int i = x % 64;
            if (blocks[i]) {
                if (blocks[i][0] != (char)i || blocks[i][sizes[i] - 1] != (char)i) bad++;
                free(blocks[i]);
            }
            sizes[i] = 2048 + (x >> 8) % 63488;
            blocks[i] = malloc(sizes[i]);
            blocks[i][0] = blocks[i][sizes[i] - 1] = (char)i;
        }
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (runs < 3 || (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    setitimer(ITIMER_REAL, &off, 0);
    printf("handler: %d runs, %d refused, %d allocations\nmain: %ld rounds, %ld bad blocks\n",
           (int)runs, (int)refused, (int)allocations, rounds, bad);
    return 0;
}
