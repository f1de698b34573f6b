// Counts the `getaddrinfo` calls for names ending in `.test`, and says how many at exit:
// preloaded after libarmr.so, it sees every question armr asks the system resolver.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int calls;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        dlsym(RTLD_NEXT, "getaddrinfo");
    size_t n = node ? strlen(node) : 0;
    if (n > 5 && strcmp(node + n - 5, ".test") == 0)
        __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    return real(node, service, hints, res);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int n = snprintf(line, sizeof line, "getaddrinfo .test calls: %d\n", calls);
    write(2, line, n);
}
