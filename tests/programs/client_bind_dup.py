"""An explicit client bind is judged at connect however the descriptor was duplicated (the policy
protects bind(client: "127.0.0.2:0")). argv: ALLOWED (a TCP listener on 127.0.0.1)."""

import fcntl
import os
import socket

import armrtest
from armrtest import emit, outcome, watchdog

allowed = int(armrtest.args()[0])
watchdog(60)
TARGET = ("127.0.0.1", allowed)


def bound(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.2", 0))
    return s


s = bound()
emit("same_fd", outcome(s.connect, TARGET))
s.close()
s = bound(socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
emit("same_fd_nonblocking", outcome(s.connect, TARGET))
s.close()


def through(dup, close_original=False):
    original = bound()
    copy = socket.socket(fileno=dup(original.fileno()))
    if close_original:
        original.close()
    try:
        return outcome(copy.connect, TARGET)
    finally:
        copy.close()
        original.close()


emit("dup", through(os.dup))
emit("dup_original_closed", through(os.dup, close_original=True))
emit("dup2", through(lambda fd: os.dup2(fd, 210)))
emit("fcntl_dupfd", through(lambda fd: fcntl.fcntl(fd, fcntl.F_DUPFD, 310)))

# Bound through a duplicate, connected through the original.
original = socket.socket()
copy = socket.socket(fileno=os.dup(original.fileno()))
copy.bind(("127.0.0.2", 0))
emit("bound_via_dup_connect_original", outcome(original.connect, TARGET))
copy.close()
original.close()
emit("done", "yes")
