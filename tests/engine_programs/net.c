/* A small static network client/server for the seccomp engine's tests, making its socket calls
 * with libc (statically linked: LD_PRELOAD cannot reach them).
 *
 *   net connect HOST PORT            TCP connect; prints "connected" or "connect: ERRNO-NAME"
 *   net connect-nb HOST PORT         non-blocking connect; prints the first result, then the
 *                                    outcome after waiting (SO_ERROR)
 *   net listen HOST PORT             TCP listen; prints "listening PORT" or "listen: ERRNO-NAME"
 *   net serve HOST PORT              listen, accept one connection, print its peer, reply "hi"
 *   net udp-send HOST PORT           sendto a datagram; prints "sent N" or "sendto: ERRNO-NAME"
 *   net udp-bind HOST PORT           bind a UDP socket; prints "bound" or "bind: ERRNO-NAME"
 *   net udp-sendmsg HOST PORT        sendmsg a datagram; prints "sent N" or "sendmsg: ERRNO-NAME"
 *   net udp-sendmmsg HOST PORT       sendmmsg three datagrams: to HOST PORT+1, to HOST PORT, to
 *                                    HOST PORT+1; prints "sent N" (messages) and each msg_len,
 *                                    or "sendmmsg: ERRNO-NAME"
 *   net udp-recvmmsg HOST PORT       bind, print "ready", then recvmmsg (MSG_WAITFORONE, 4 at a
 *                                    time, SO_RCVTIMEO 2 s) until 3 datagrams: each "got DATA""
 * HOST is an IPv4 or IPv6 literal. Every command first prints "pid PID". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case EACCES: return "EACCES";
    case EINPROGRESS: return "EINPROGRESS";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case ENOSYS: return "ENOSYS";
    case 0: return "0";
    default: return strerror(e);
    }
}

static socklen_t address(const char *host, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return sizeof *in;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return sizeof *in6;
    }
    fprintf(stderr, "bad address %s\n", host);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: net COMMAND HOST PORT\n");
        return 2;
    }
    const char *cmd = argv[1];
    struct sockaddr_storage ss;
    socklen_t len = address(argv[2], atoi(argv[3]), &ss);
    int udp = strncmp(cmd, "udp", 3) == 0;
    int fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0) {
        printf("socket: %s\n", name(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("pid %d\n", (int)getpid());
    if (strcmp(cmd, "connect") == 0) {
        if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
            printf("connect: %s\n", name(errno));
            return 1;
        }
        printf("connected\n");
        char buf[16] = {0};
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) printf("read %s\n", buf);
        return 0;
    }
    if (strcmp(cmd, "connect-nb") == 0) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
        int r = connect(fd, (struct sockaddr *)&ss, len);
        printf("connect: %s\n", r == 0 ? "0" : name(errno));
        if (r != 0 && errno != EINPROGRESS) return 1;
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, 5000);
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
        printf("outcome: %s\n", name(err));
        return err != 0;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (strcmp(cmd, "listen") == 0 || strcmp(cmd, "serve") == 0) {
        if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
            printf("bind: %s\n", name(errno));
            return 1;
        }
        if (listen(fd, 16) != 0) {
            printf("listen: %s\n", name(errno));
            return 1;
        }
        struct sockaddr_storage local;
        socklen_t ll = sizeof local;
        getsockname(fd, (struct sockaddr *)&local, &ll);
        printf("listening %d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));
        if (strcmp(cmd, "listen") == 0) return 0;
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        int c = accept(fd, (struct sockaddr *)&peer, &pl);
        if (c < 0) {
            printf("accept: %s\n", name(errno));
            return 1;
        }
        char text[64];
        if (peer.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, text, sizeof text);
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, text, sizeof text);
        printf("accepted %s len %d\n", text, (int)pl);
        write(c, "hi", 2);
        close(c);
        return 0;
    }
    if (strcmp(cmd, "udp-send") == 0) {
        ssize_t n = sendto(fd, "ping", 4, 0, (struct sockaddr *)&ss, len);
        if (n < 0) {
            printf("sendto: %s\n", name(errno));
            return 1;
        }
        printf("sent %d\n", (int)n);
        return 0;
    }
    if (strcmp(cmd, "udp-sendmsg") == 0) {
        struct iovec iov[2] = {{"pi", 2}, {"ng", 2}};
        struct msghdr m = {0};
        m.msg_name = &ss;
        m.msg_namelen = len;
        m.msg_iov = iov;
        m.msg_iovlen = 2;
        ssize_t n = sendmsg(fd, &m, 0);
        if (n < 0) {
            printf("sendmsg: %s\n", name(errno));
            return 1;
        }
        printf("sent %d\n", (int)n);
        return 0;
    }
    if (strcmp(cmd, "udp-sendmmsg") == 0) {
        struct sockaddr_storage next = ss;
        int port = atoi(argv[3]) + 1;
        if (ss.ss_family == AF_INET) ((struct sockaddr_in *)&next)->sin_port = htons(port);
        else ((struct sockaddr_in6 *)&next)->sin6_port = htons(port);
        struct iovec iov[3] = {{"one", 3}, {"two!", 4}, {"three", 5}};
        struct mmsghdr mm[3];
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 3; i++) {
            mm[i].msg_hdr.msg_name = i == 1 ? &ss : &next;
            mm[i].msg_hdr.msg_namelen = len;
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
            mm[i].msg_len = 99;
        }
        int n = sendmmsg(fd, mm, 3, 0);
        if (n < 0) {
            printf("sendmmsg: %s\n", name(errno));
            return 1;
        }
        printf("sent %d lens %u %u %u\n", n, mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
        return 0;
    }
    if (strcmp(cmd, "udp-recvmmsg") == 0) {
        if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
            printf("bind: %s\n", name(errno));
            return 1;
        }
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        printf("ready\n");
        int got = 0;
        while (got < 3) {
            char bufs[4][32];
            struct iovec iov[4];
            struct mmsghdr mm[4];
            memset(mm, 0, sizeof mm);
            for (int i = 0; i < 4; i++) {
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = sizeof bufs[i] - 1;
                mm[i].msg_hdr.msg_iov = &iov[i];
                mm[i].msg_hdr.msg_iovlen = 1;
            }
            int n = recvmmsg(fd, mm, 4, MSG_WAITFORONE, NULL);
            if (n < 0) {
                printf("recvmmsg: %s\n", name(errno));
                return 1;
            }
            for (int i = 0; i < n; i++) {
                bufs[i][mm[i].msg_len] = 0;
                printf("got %s\n", bufs[i]);
            }
            got += n;
        }
        return 0;
    }
    if (strcmp(cmd, "udp-bind") == 0) {
        if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
            printf("bind: %s\n", name(errno));
            return 1;
        }
        printf("bound\n");
        return 0;
    }
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
