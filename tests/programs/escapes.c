/* A dynamically linked program reaching the kernel's socket calls in the ways an LD_PRELOAD
 * library cannot see (docs/security.md, "Limits"), for tests/seccomp.rs. IPv4 only.
 *   escapes connect HOST PORT         libc's connect (what the others are compared with)
 *   escapes syscall HOST PORT         syscall(SYS_connect, ...)
 *   escapes asm HOST PORT             an inline `syscall` instruction
 *   escapes emptyenv HOST PORT        starts itself (`connect HOST PORT`) with execve and an
 *                                     empty environment, and waits for it
 *   escapes deepbind PLUGIN HOST PORT dlopen(PLUGIN, RTLD_DEEPBIND) and its plugin_connect
 *   escapes dlmopen PLUGIN HOST PORT  dlmopen(LM_ID_NEWLM, PLUGIN) and its plugin_connect
 *   escapes resolve NAME              getaddrinfo(NAME), IPv4: "resolve: ADDRESS" or
 *                                     "resolve: EAI_..."
 * Each connect prints "connect: OK" or "connect: ERRNO" (errname.h); each process prints "pid: PID"
 * first (the process an event must name). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errname.h"

static void report(int r) {
    printf("connect: %s\n", r < 0 ? errname(errno) : "OK");
    fflush(stdout);
}

/* connect(2) by the `syscall` instruction itself: no libc on the way. */
static long raw_connect(int fd, const void *addr, unsigned len) {
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_connect), "D"((long)fd), "S"(addr), "d"((long)len), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static int plugin(void *handle, const char *host, const char *port) {
    if (!handle) {
        fprintf(stderr, "cannot load the plugin: %s\n", dlerror());
        return 2;
    }
    int (*plugin_connect)(const char *, int) = (int (*)(const char *, int))dlsym(handle, "plugin_connect");
    if (!plugin_connect) {
        fprintf(stderr, "no plugin_connect: %s\n", dlerror());
        return 2;
    }
    int e = plugin_connect(host, atoi(port));
    printf("connect: %s\n", errname(e));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: escapes MODE ARGS\n");
        return 2;
    }
    const char *mode = argv[1];
    printf("pid: %d\n", (int)getpid());
    fflush(stdout);
    if (!strcmp(mode, "resolve")) {
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
        int r = getaddrinfo(argv[2], NULL, &hints, &res);
        if (r != 0) {
            const char *name = r == EAI_AGAIN ? "EAI_AGAIN" : r == EAI_NONAME ? "EAI_NONAME"
                             : r == EAI_FAIL ? "EAI_FAIL" : r == EAI_SYSTEM ? "EAI_SYSTEM" : "EAI_other";
            printf("resolve: %s\n", name);
            return 0;
        }
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
        printf("resolve: %s\n", ip);
        freeaddrinfo(res);
        return 0;
    }
    if (!strcmp(mode, "deepbind") && argc == 5)
        return plugin(dlopen(argv[2], RTLD_NOW | RTLD_DEEPBIND), argv[3], argv[4]);
    if (!strcmp(mode, "dlmopen") && argc == 5)
        return plugin(dlmopen(LM_ID_NEWLM, argv[2], RTLD_NOW), argv[3], argv[4]);
    if (argc != 4) {
        fprintf(stderr, "usage: escapes %s HOST PORT\n", mode);
        return 2;
    }
    if (!strcmp(mode, "emptyenv")) {
        pid_t pid = fork();
        if (pid == 0) {
            /* Its own path, not /proc/self/exe: the new program keeps the name "escapes". */
            char self[4096];
            ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
            if (n < 0) { perror("readlink"); _exit(127); }
            self[n] = 0;
            char *child_argv[] = {argv[0], "connect", argv[2], argv[3], NULL};
            char *no_env[] = {NULL};
            execve(self, child_argv, no_env);
            perror("execve");
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("child: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", argv[2]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (!strcmp(mode, "connect")) {
        report(connect(fd, (struct sockaddr *)&to, sizeof to));
    } else if (!strcmp(mode, "syscall")) {
        report(syscall(SYS_connect, fd, &to, sizeof to));
    } else if (!strcmp(mode, "asm")) {
        long r = raw_connect(fd, &to, sizeof to);
        if (r < 0) errno = (int)-r;
        report(r < 0 ? -1 : 0);
    } else {
        fprintf(stderr, "escapes: unknown mode %s\n", mode);
        return 2;
    }
    close(fd);
    return 0;
}
