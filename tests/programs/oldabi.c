/* The other ways into the kernel's socket calls from a 64-bit x86 program, for tests/seccomp.rs:
 *   oldabi HOST PORT
 * tries, and prints one "WHAT: OK" or "WHAT: ERRNO" line for each:
 *   socketcall socket, socketcall connect   the i386 ABI's socketcall (102) through `int $0x80`
 *                                           (the connect on a socket of its own if socketcall
 *                                           could not make one)
 *   i386 connect                            the i386 ABI's own connect (362) through `int $0x80`
 *   x32 connect                             connect with the x32 bit (0x40000000) set
 *   io_uring_setup                          the raw system call (425), no liburing
 * The i386 calls take 32-bit pointers: their arguments are in memory below 4 GiB (MAP_32BIT). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errname.h"

/* A system call of the i386 ABI: number in eax, arguments in ebx, ecx, edx. */
static long int80(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "0"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static void report(const char *what, long r) {
    printf("%s: %s\n", what, r < 0 ? errname((int)-r) : "OK");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: oldabi HOST PORT\n");
        return 2;
    }
    struct low {
        uint32_t args[3];
        struct sockaddr_in to;
        struct { uint32_t w[30]; } params; /* struct io_uring_params: 120 bytes */
    } *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) { perror("mmap"); return 2; }
    low->to.sin_family = AF_INET;
    low->to.sin_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &low->to.sin_addr) != 1) return 2;
    uint32_t to = (uint32_t)(uintptr_t)&low->to, args = (uint32_t)(uintptr_t)low->args;

    low->args[0] = AF_INET, low->args[1] = SOCK_STREAM, low->args[2] = 0;
    long fd = int80(102, 1 /* SYS_SOCKET */, args, 0);
    report("socketcall socket", fd);
    if (fd < 0) fd = socket(AF_INET, SOCK_STREAM, 0);
    low->args[0] = (uint32_t)fd, low->args[1] = to, low->args[2] = sizeof low->to;
    report("socketcall connect", int80(102, 3 /* SYS_CONNECT */, args, 0));
    close((int)fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    report("i386 connect", int80(362, fd, to, sizeof low->to));
    close((int)fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    long r = syscall(SYS_connect | 0x40000000, fd, &low->to, sizeof low->to);
    report("x32 connect", r < 0 ? -errno : r);
    close((int)fd);

    memset(&low->params, 0, sizeof low->params);
    r = syscall(425, 8, &low->params);
    report("io_uring_setup", r < 0 ? -errno : r);
    if (r >= 0) close((int)r);
    return 0;
}
