/* benches/noop_preload.c: a do-nothing LD_PRELOAD library, the baseline of scripts/bench.
 *
 * It exports the 20 functions libarmr.so exports and forwards each to the next definition
 * (libc's), found with dlsym(RTLD_NEXT) on first use and kept, as armr does. What armr costs
 * beyond this is what its work costs, not what interposing costs.
 *
 *   cc -shared -fPIC -O2 -o noop_preload.so benches/noop_preload.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int bindresvport(int fd, struct sockaddr_in *sin);
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int first);

#define FORWARD(ret, name, params, args)                                \
    ret name params {                                                   \
        static ret(*real) params;                                       \
        ret(*f) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);      \
        if (!f) {                                                       \
            f = (ret(*) params)dlsym(RTLD_NEXT, #name);                 \
            if (!f) {                                                   \
                errno = ENOSYS;                                         \
                return -1;                                              \
            }                                                           \
            __atomic_store_n(&real, f, __ATOMIC_RELEASE);               \
        }                                                               \
        return f args;                                                  \
    }

FORWARD(int, bind, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
FORWARD(int, listen, (int fd, int backlog), (fd, backlog))
FORWARD(int, connect, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
FORWARD(int, accept, (int fd, struct sockaddr *a, socklen_t *l), (fd, a, l))
FORWARD(int, accept4, (int fd, struct sockaddr *a, socklen_t *l, int flags), (fd, a, l, flags))
FORWARD(ssize_t, sendto, (int fd, const void *b, size_t n, int flags, const struct sockaddr *a, socklen_t l),
        (fd, b, n, flags, a, l))
FORWARD(ssize_t, sendmsg, (int fd, const struct msghdr *m, int flags), (fd, m, flags))
FORWARD(int, sendmmsg, (int fd, struct mmsghdr *m, unsigned int vlen, int flags), (fd, m, vlen, flags))
FORWARD(int, socket, (int domain, int type, int protocol), (domain, type, protocol))
FORWARD(int, close, (int fd), (fd))
FORWARD(int, dup2, (int old, int new), (old, new))
FORWARD(int, dup3, (int old, int new, int flags), (old, new, flags))
FORWARD(int, fclose, (FILE *stream), (stream))
FORWARD(int, close_range, (unsigned int first, unsigned int last, int flags), (first, last, flags))
FORWARD(int, bindresvport, (int fd, struct sockaddr_in *sin), (fd, sin))
FORWARD(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *at, char *const argv[], char *const envp[]),
        (pid, path, fa, at, argv, envp))
FORWARD(int, posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *at, char *const argv[], char *const envp[]),
        (pid, file, fa, at, argv, envp))
FORWARD(int, system, (const char *command), (command))

/* The two whose failure is not -1. */
void closefrom(int first) {
    static void (*real)(int);
    void (*f)(int) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (void (*)(int))dlsym(RTLD_NEXT, "closefrom");
        if (!f)
            return;
        __atomic_store_n(&real, f, __ATOMIC_RELEASE);
    }
    f(first);
}

FILE *popen(const char *command, const char *mode) {
    static FILE *(*real)(const char *, const char *);
    FILE *(*f)(const char *, const char *) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "popen");
        if (!f) {
            errno = ENOSYS;
            return NULL;
        }
        __atomic_store_n(&real, f, __ATOMIC_RELEASE);
    }
    return f(command, mode);
}
