/* benches/noop_preload.c: a do-nothing LD_PRELOAD library, the baseline of scripts/bench.
 *
 * It exports the 8 functions libarmr.so exports and forwards each to the next definition
 * (libc's), found with dlsym(RTLD_NEXT) on first use and kept, as armr does. What armr costs
 * beyond this is what its work costs, not what interposing costs.
 *
 *   cc -shared -fPIC -O2 -o noop_preload.so benches/noop_preload.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

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
