"""Type flags on socket() and duplicated descriptors do not escape connect rules (the policy
protects connect to 127.0.0.1:PROTECTED). argv: PROTECTED."""

import fcntl
import os
import socket

import armrtest
from armrtest import emit, outcome, watchdog

protected = int(armrtest.args()[0])
watchdog(60)
TARGET = ("127.0.0.1", protected)

for name, kind in [
    ("sock_cloexec", socket.SOCK_STREAM | socket.SOCK_CLOEXEC),
    ("sock_nonblock", socket.SOCK_STREAM | socket.SOCK_NONBLOCK),
    ("sock_nonblock_cloexec", socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC),
]:
    s = socket.socket(socket.AF_INET, kind)
    emit(name, outcome(s.connect, TARGET))
    s.close()


def through(dup):
    """Connects through a duplicate of a fresh socket's descriptor (the original stays open)."""
    original = socket.socket()
    fd = dup(original.fileno())
    copy = socket.socket(fileno=fd)
    try:
        return outcome(copy.connect, TARGET)
    finally:
        copy.close()
        original.close()


emit("dup", through(os.dup))
emit("dup2", through(lambda fd: os.dup2(fd, 200)))
emit("fcntl_dupfd", through(lambda fd: fcntl.fcntl(fd, fcntl.F_DUPFD, 300)))
emit("fcntl_dupfd_cloexec", through(lambda fd: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 400)))
emit("socket_dup", through(lambda fd: socket.socket(fileno=os.dup(fd)).detach()))
emit("done", "yes")
