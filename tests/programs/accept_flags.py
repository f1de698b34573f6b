"""accept4's flags survive armr's accept rule handling (the policy protects accept from
127.0.0.2). Prints the accepted descriptors' O_NONBLOCK and FD_CLOEXEC. argv: none."""

import ctypes
import select
import socket

from armrtest import emit, fd_flags, libc, watchdog

watchdog(60)


def server(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def client(srv, source="127.0.0.1"):
    c = socket.socket()
    c.bind((source, 0))
    c.settimeout(10)
    c.connect(srv.getsockname())
    return c


# Python's accept (accept4 with SOCK_CLOEXEC), blocking listener.
srv = server()
c = client(srv)
conn, _ = srv.accept()
emit("py_accept_blocking_listener", f"{fd_flags(conn.fileno())} getblocking={conn.getblocking()}")
conn.close()
c.close()

# Listener created with SOCK_NONBLOCK.
srv = server(socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
emit("listener_sock_nonblock", fd_flags(srv.fileno()))
c = client(srv)
select.select([srv], [], [], 10)
conn, _ = srv.accept()
emit("py_accept_nonblock_listener", f"{fd_flags(conn.fileno())} getblocking={conn.getblocking()}")
conn.close()
c.close()


def c_accept(fn, srv, *flags):
    """libc accept/accept4 with a NULL address: the fd's flags and its peer."""
    select.select([srv], [], [], 10)
    ctypes.set_errno(0)
    fd = fn(srv.fileno(), None, None, *flags)
    if fd < 0:
        return f"failed errno={ctypes.get_errno()}"
    flags_text = fd_flags(fd)
    s = socket.socket(fileno=fd)
    peer = s.getpeername()[0]
    s.close()
    return f"{flags_text} peer={peer}"


NB_CE = socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
for name, fn, flags in [
    ("c_accept", libc.accept, ()),
    ("c_accept4_0", libc.accept4, (0,)),
    ("c_accept4_cloexec", libc.accept4, (socket.SOCK_CLOEXEC,)),
    ("c_accept4_nonblock", libc.accept4, (socket.SOCK_NONBLOCK,)),
    ("c_accept4_nonblock_cloexec", libc.accept4, (NB_CE,)),
]:
    srv = server()
    c = client(srv)
    emit(name, c_accept(fn, srv, *flags))
    c.close()
    # A refused peer pending before an allowed one: the one returned still has the flags.
    refused = client(srv, "127.0.0.2")
    allowed = client(srv, "127.0.0.1")
    emit(name + "_after_refusal", c_accept(fn, srv, *flags))
    refused.close()
    allowed.close()
    srv.close()
emit("done", "yes")
