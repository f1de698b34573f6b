"""AF_UNIX sockets pass through a policy that protects every connect, server bind, client bind
and accept. argv: DIRECTORY (for socket paths)."""

import ctypes
import os
import select
import socket

import armrtest
from armrtest import describe, emit, iovec, libc, mmsghdr, outcome, watchdog

directory = armrtest.args()[0]
watchdog(60)

# The policy is active: a TCP connect is refused.
emit("tcp_connect", armrtest.try_connect(("127.0.0.1", 9)))

for name, address in [("path", os.path.join(directory, "stream.sock")), ("abstract", f"\0armr-robustness-{os.getpid()}")]:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    emit(f"{name}_bind", outcome(srv.bind, address))
    emit(f"{name}_listen", outcome(srv.listen, 4))
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    emit(f"{name}_connect", outcome(c.connect, address))
    srv.settimeout(10)
    try:
        conn, _ = srv.accept()
        conn.settimeout(10)
        c.sendall(b"ping")
        conn.sendall(conn.recv(4))
        emit(f"{name}_accept_echo", c.recv(4).decode())
        conn.close()
    except OSError as e:
        emit(f"{name}_accept_echo", describe(e))
    c.close()
    srv.close()

# A named client bound before it connects, and a non-blocking server.
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
srv.bind(os.path.join(directory, "nb.sock"))
srv.listen(4)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
emit("client_bind", outcome(c.bind, os.path.join(directory, "client.sock")))
emit("client_bound_connect", outcome(c.connect, os.path.join(directory, "nb.sock")))
select.select([srv], [], [], 10)
emit("nonblocking_accept", outcome(lambda: srv.accept()[0].close()))
emit("nonblocking_accept_again", outcome(srv.accept))
c.close()

# Datagrams: sendto, sendmsg and sendmmsg to a path.
rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
rx_path = os.path.join(directory, "dgram.sock")
emit("dgram_bind", outcome(rx.bind, rx_path))
tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
emit("dgram_sendto", outcome(tx.sendto, b"a", rx_path))
emit("dgram_sendmsg", outcome(tx.sendmsg, [b"b"], [], 0, rx_path))
rx.settimeout(5)
emit("dgram_received", ",".join(rx.recv(10).decode() for _ in range(2)))

# sendmmsg with sockaddr_un destinations, built by hand.
class sockaddr_un(ctypes.Structure):
    _fields_ = [("sun_family", ctypes.c_ushort), ("sun_path", ctypes.c_char * 108)]


sa = sockaddr_un(socket.AF_UNIX, rx_path.encode())
vec = (mmsghdr * 2)()
bufs = [ctypes.create_string_buffer(b"c", 1), ctypes.create_string_buffer(b"d", 1)]
iovs = [iovec(ctypes.cast(b, ctypes.c_void_p), 1) for b in bufs]
for i in range(2):
    vec[i].msg_hdr.msg_name = ctypes.cast(ctypes.pointer(sa), ctypes.c_void_p)
    vec[i].msg_hdr.msg_namelen = ctypes.sizeof(sa)
    vec[i].msg_hdr.msg_iov = ctypes.pointer(iovs[i])
    vec[i].msg_hdr.msg_iovlen = 1
ctypes.set_errno(0)
emit("dgram_sendmmsg", f"ret={libc.sendmmsg(tx.fileno(), vec, 2, 0)} errno={ctypes.get_errno()}")
emit("dgram_received_mmsg", ",".join(rx.recv(10).decode() for _ in range(2)))

a, b = socket.socketpair()
a.sendall(b"pair")
b.settimeout(5)
emit("socketpair", b.recv(4).decode())
emit("done", "yes")
