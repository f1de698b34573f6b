/* A shim preloaded BEFORE libarmr.so (LD_PRELOAD=count_allocations.so:libarmr.so): its connect
 * wraps the next one (armr's) and counts the allocations made while it runs, which are armr's
 * (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign all pass through here first).
 * A hook may run in a signal handler that interrupted malloc: it must allocate nothing.
 * At exit prints "connects=C allocations in connect=N" on standard error.
 * Allocation is forwarded to glibc's __libc_* entry points, not through dlsym (which itself
 * allocates, and would recurse). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread int inside __attribute__((tls_model("initial-exec")));
static long allocations, connects;
static int (*next_connect)(int, const struct sockaddr *, socklen_t);

static void count(void) {
    if (inside) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t align, size_t n) { count(); return __libc_memalign(align, n); }
void *aligned_alloc(size_t align, size_t n) { count(); return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
    count();
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((constructor)) static void init(void) {
    next_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
}

int connect(int fd, const struct sockaddr *to, socklen_t len) {
    if (!next_connect) init();
    __atomic_add_fetch(&connects, 1, __ATOMIC_RELAXED);
    inside = 1;
    int r = next_connect(fd, to, len);
    inside = 0;
    return r;
}

__attribute__((destructor)) static void report(void) {
    char line[96];
    int n = snprintf(line, sizeof line, "connects=%ld allocations in connect=%ld\n", connects,
                     allocations);
    if (n > 0 && write(2, line, (size_t)n) < 0) return;
}
