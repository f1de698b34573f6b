/* The plugin tests/programs/escapes.c loads with RTLD_DEEPBIND or dlmopen: its own reference to
 * connect binds to libc's (DEEPBIND: its dependencies come before the global scope; dlmopen: a
 * new namespace with its own libc), past a preloaded library. Returns 0 or the errno. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int plugin_connect(const char *host, int port) {
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) return EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int e = connect(fd, (struct sockaddr *)&to, sizeof to) == 0 ? 0 : errno;
    close(fd);
    return e;
}
