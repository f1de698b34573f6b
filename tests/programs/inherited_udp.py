"""Runs under armr with a UDP socket on 127.0.0.1 it inherited (argv[1]: its descriptor), under an
accept rule that protects 127.0.0.3, and reads it only with read and readv, which never ask a
descriptor what it is: armr knows the inherited socket from its start. A copy made with dup is
judged too (fcntl(F_DUPFD), which armr does not see, is a documented limit)."""

import os
import socket
import sys
import time

from armrtest import emit, libc, watchdog

watchdog(60)

fd = int(sys.argv[1])
# getsockname only (no receive call): armr learns nothing of the socket here.
R = socket.socket(fileno=os.dup(fd)).getsockname()


def sender(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


bad, good = sender("127.0.0.3"), sender("127.0.0.2")
emit("bad_port", bad.getsockname()[1])


def send(case):
    bad.sendto(f"bad-{case}".encode(), R)
    good.sendto(f"good-{case}".encode(), R)
    time.sleep(0.05)


send("read")
emit("read", os.read(fd, 100).decode())

send("readv")
buf = bytearray(100)
n = os.readv(fd, [buf])
emit("readv", buf[:n].decode())

copy = libc.dup(fd)  # libc's dup (Python's os.dup uses fcntl(F_DUPFD_CLOEXEC))
send("dup_read")
emit("dup_read", os.read(copy, 100).decode())
emit("done", "yes")
