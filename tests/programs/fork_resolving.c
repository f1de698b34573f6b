// A thread connects to 127.0.0.1:PORT, which a rule naming `armr-fork.test` protects, so that
// armr resolves the name (for a second: slow_getaddrinfo.c); 200 ms later the main thread forks,
// and the child connects there too. Prints how long `fork` took and what each connect got.
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int port;

static int try_connect(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    int e = r == 0 ? 0 : errno;
    close(s);
    return e;
}

static void *resolving(void *unused) {
    (void)unused;
    return (void *)(long)try_connect();
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    port = atoi(argv[1]);
    pthread_t t;
    pthread_create(&t, NULL, resolving, NULL);
    usleep(200000);
    double before = now();
    pid_t child = fork();
    if (child == 0) {
        int e = try_connect();
        printf("child: errno=%d\n", e);
        fflush(stdout);
        _exit(0);
    }
    printf("fork took %.0f ms\n", (now() - before) * 1000);
    int status;
    waitpid(child, &status, 0);
    void *e;
    pthread_join(t, &e);
    printf("thread: errno=%ld\n", (long)e);
    return 0;
}
