/* getaddrinfo_a, for tests/resolver.rs: glibc runs the requests on a thread of its own.

   Usage: gai_async MODE NAME...  MODE is `wait` (GAI_WAIT) or `thread` (GAI_NOWAIT, notified by
   a SIGEV_THREAD function). Prints `NAME: ok ADDRESS` or `NAME: EAI_...` per name, and
   `notified` once the notification ran (thread mode). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sem_t done;

static void notify(union sigval value) {
    (void)value;
    sem_post(&done);
}

static const char *code(int e) {
    switch (e) {
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_INPROGRESS: return "EAI_INPROGRESS";
    default: return "EAI_OTHER";
    }
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    int n = argc - 2;
    struct gaicb *list[16];
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    for (int i = 0; i < n && i < 16; i++) {
        list[i] = calloc(1, sizeof *list[i]);
        list[i]->ar_name = argv[i + 2];
        list[i]->ar_request = &hints;
    }
    int wait = strcmp(argv[1], "wait") == 0;
    struct sigevent sev = {0};
    sem_init(&done, 0, 0);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = notify;
    int r = getaddrinfo_a(wait ? GAI_WAIT : GAI_NOWAIT, list, n, wait ? NULL : &sev);
    if (r != 0) {
        printf("getaddrinfo_a: %d\n", r);
        return 1;
    }
    if (!wait) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 20;
        if (sem_timedwait(&done, &deadline) != 0) {
            printf("not notified\n");
            return 1;
        }
        printf("notified\n");
    }
    for (int i = 0; i < n; i++) {
        int e = gai_error(list[i]);
        if (e == 0) {
            char text[64];
            struct sockaddr_in *sin = (struct sockaddr_in *)list[i]->ar_result->ai_addr;
            printf("%s: ok %s\n", argv[i + 2], inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text));
        } else {
            printf("%s: %s\n", argv[i + 2], code(e));
        }
    }
    return 0;
}
