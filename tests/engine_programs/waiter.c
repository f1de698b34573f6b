/* Listens on 127.0.0.1 (an ephemeral port), prints "pid PID port PORT", then waits in a blocking
 * accept. SIGUSR1 and SIGTERM have a handler that notes the signal, installed with SA_RESTART
 * when the first argument is "restart". After each accept it prints
 * "accept RESULT errno NAME signal N"; it exits 7 after SIGTERM, 0 after a connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void note(int s) { got = s; }

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = note;
    if (argc > 1 && strcmp(argv[1], "restart") == 0) sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, 0);
    sigaction(SIGTERM, &sa, 0);
    setvbuf(stdout, 0, _IONBF, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {AF_INET, 0, {htonl(INADDR_LOOPBACK)}};
    socklen_t len = sizeof a;
    if (bind(fd, (void *)&a, sizeof a) != 0 || listen(fd, 4) != 0) {
        printf("listen: %s\n", strerror(errno));
        return 1;
    }
    getsockname(fd, (void *)&a, &len);
    printf("pid %d port %d\n", (int)getpid(), ntohs(a.sin_port));
    for (;;) {
        int c = accept(fd, 0, 0);
        printf("accept %d errno %s signal %d\n", c < 0 ? -1 : 0,
               c < 0 ? (errno == EINTR ? "EINTR" : strerror(errno)) : "-", (int)got);
        if (got == SIGTERM) return 7;
        if (c >= 0) return 0;
    }
}
