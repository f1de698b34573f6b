// Answers `localhost` with `::1` first, then `127.0.0.1`, as a hosts file with a `::1 localhost`
// line does (this machine's may have none). Preloaded after libarmr.so, it is what armr's
// resolver calls; other names go to libc.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        dlsym(RTLD_NEXT, "getaddrinfo");
    if (!node || strcmp(node, "localhost")) return real(node, service, hints, res);
    struct addrinfo *v6 = 0, *v4 = 0;
    int r = real("::1", service, hints, &v6);
    if (r) return r;
    r = real("127.0.0.1", service, hints, &v4);
    if (r) { freeaddrinfo(v6); return r; }
    struct addrinfo *last = v6;
    while (last->ai_next) last = last->ai_next;
    last->ai_next = v4;
    *res = v6;
    return 0;
}
