// Slows `getaddrinfo` down by a second: preloaded after libarmr.so, it is what armr's resolver
// calls, so that a resolution is reliably in progress when the program forks. It answers
// `armr-fork.test` itself, with 127.0.0.1, so that no query leaves the machine (`localhost`
// would not do: armr never resolves it).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        dlsym(RTLD_NEXT, "getaddrinfo");
    usleep(1000000);
    if (node && strcmp(node, "armr-fork.test") == 0)
        node = "127.0.0.1";
    return real(node, service, hints, res);
}
