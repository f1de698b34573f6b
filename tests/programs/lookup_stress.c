/* Lookups from several threads while /etc/resolv.conf is rewritten and res_init is called, for
   tests/resolver.rs (run under valgrind): armr changes and restores each thread's resolver state
   around every lookup, and must never lose, share or free what glibc keeps there.

   Usage: lookup_stress ROUNDS THREADS CONF_A CONF_B. Thread 0 rewrites /etc/resolv.conf with
   CONF_A and CONF_B in turn every 5 rounds. Prints `thread N ok OK bad BAD` per thread. */
#include <arpa/nameser.h>
#include <fcntl.h>
#include <unistd.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rounds;
static const char *confs[2];

/* One write of the same length over the old text: a reader sees the old list or the new one,
   never an empty file. */
static void rewrite(int i) {
    int fd = open("/etc/resolv.conf", O_WRONLY);
    const char *text = confs[i % 2];
    if (fd < 0 || pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text)) {
        perror("/etc/resolv.conf");
        exit(2);
    }
    close(fd);
}

static void *worker(void *arg) {
    long id = (long)arg;
    int ok = 0, bad = 0;
    for (int i = 0; i < rounds; i++) {
        char name[64];
        snprintf(name, sizeof name, "t%ld-%d.example", id, i);
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        int e = getaddrinfo(name, "80", &hints, &res);
        if (e == 0) {
            ok++;
            freeaddrinfo(res);
        } else {
            bad++;
            fprintf(stderr, "getaddrinfo %s: %s\n", name, gai_strerror(e));
        }
        unsigned char answer[512];
        if (res_query(name, C_IN, T_A, answer, sizeof answer) > 0) {
            ok++;
        } else {
            bad++;
            fprintf(stderr, "res_query %s: h_errno %d\n", name, h_errno);
        }
        struct __res_state state;
        memset(&state, 0, sizeof state);
        if (res_ninit(&state) == 0) {
            if (res_nquery(&state, name, C_IN, T_A, answer, sizeof answer) > 0) {
                ok++;
            } else {
                bad++;
                fprintf(stderr, "res_nquery %s: h_errno %d\n", name, state.res_h_errno);
            }
            res_nclose(&state);
        } else {
            bad++;
        }
        if (id == 0 && i % 5 == 4)
            rewrite(i / 5 + 1);
        if (i % 7 == 6)
            res_init();
    }
    printf("thread %ld ok %d bad %d\n", id, ok, bad);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5)
        return 2;
    rounds = atoi(argv[1]);
    int threads = atoi(argv[2]);
    confs[0] = argv[3];
    confs[1] = argv[4];
    pthread_t t[16];
    for (long i = 0; i < threads && i < 16; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (long i = 0; i < threads && i < 16; i++)
        pthread_join(t[i], NULL);
    return 0;
}
