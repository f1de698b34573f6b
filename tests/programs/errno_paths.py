"""errno on the paths armr forwards, and on its refusals. argv: PROTECTED_PORT.

The policy protects 127.0.0.1:PROTECTED_PORT and allows (with a message, so that a log line is
written on the forwarding path) every other connect to 127.0.0.1, every bind and every accept.
The C-level checks set errno to a sentinel (4242) before the call: a call that succeeds must leave
it untouched, as libc does."""

import ctypes
import os
import select
import socket
import time

import armrtest
from armrtest import c_call, emit, libc, make_sockaddr_in, make_sockaddr_in6, outcome, watchdog

protected = int(armrtest.args()[0])
HOST = "127.0.0.1"
SENTINEL = 4242
watchdog(60)

srv = socket.socket()
srv.bind((HOST, 0))
srv.listen(64)
srv_addr = srv.getsockname()

# A TCP port that is bound but not listening: the kernel refuses connections to it.
closed = socket.socket()
closed.bind((HOST, 0))
closed_port = closed.getsockname()[1]
emit("closed_port", closed_port)

# Allowed by the policy, refused by the kernel.
emit("closed_blocking", armrtest.try_connect((HOST, closed_port)))
s = socket.socket()
s.setblocking(False)
r = s.connect_ex((HOST, closed_port))
select.select([], [s], [], 5)
emit("closed_nonblocking", f"connect_ex={r} so_error={s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)}")
s.close()

# Protected: refused by armr, blocking or not, at once.
emit("protected_blocking", armrtest.try_connect((HOST, protected)))
s = socket.socket()
s.setblocking(False)
t0 = time.monotonic()
emit("protected_nonblocking", outcome(s.connect, (HOST, protected)))
emit("protected_nonblocking_connect_ex", s.connect_ex((HOST, protected)))
emit("protected_nonblocking_fast", time.monotonic() - t0 < 1.0)
s.close()

# Allowed, non-blocking: EINPROGRESS passes through, then the connection completes.
s = socket.socket()
s.setblocking(False)
emit("allowed_nonblocking", outcome(s.connect, srv_addr))
_, writable, _ = select.select([], [s], [], 5)
so_error = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
conn, _ = srv.accept()
s.setblocking(True)
s.settimeout(5)
s.sendall(b"ping")
conn.settimeout(5)
emit("allowed_nonblocking_completed", f"writable={int(bool(writable))} so_error={so_error} echo={conn.recv(4).decode()}")
s2 = socket.socket()
s2.setblocking(False)
emit("allowed_nonblocking_connect_ex", s2.connect_ex(srv_addr))
for c in (s, conn):
    c.close()
select.select([], [s2], [], 5)
s2.close()
srv.accept()[0].close()

# C level: errno untouched by calls that succeed, the kernel's errno for calls that fail.
sa = make_sockaddr_in(*srv_addr)
fd = socket.socket()
emit("c_connect_success", c_call(libc.connect, fd.fileno(), ctypes.byref(sa), ctypes.sizeof(sa), errno_before=SENTINEL))
# A second connect on a connected socket: the kernel's EISCONN.
emit("c_reconnect", c_call(libc.connect, fd.fileno(), ctypes.byref(sa), ctypes.sizeof(sa), errno_before=SENTINEL))
srv.accept()[0].close()
fd.close()

tcp = socket.socket()
local = make_sockaddr_in(HOST, 0)
emit("c_bind_tcp_success", c_call(libc.bind, tcp.fileno(), ctypes.byref(local), ctypes.sizeof(local), errno_before=SENTINEL))
emit("c_connect_after_bind_success", c_call(libc.connect, tcp.fileno(), ctypes.byref(sa), ctypes.sizeof(sa), errno_before=SENTINEL))
srv.accept()[0].close()
tcp.close()

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("c_bind_udp_success", c_call(libc.bind, udp.fileno(), ctypes.byref(local), ctypes.sizeof(local), errno_before=SENTINEL))
dest = make_sockaddr_in(*udp.getsockname())
payload = ctypes.create_string_buffer(b"x", 1)
emit("c_sendto_success", c_call(libc.sendto, udp.fileno(), payload, 1, 0, ctypes.byref(dest), ctypes.sizeof(dest), errno_before=SENTINEL))

lsn = socket.socket()
lsn.bind((HOST, 0))
emit("c_listen_success", c_call(libc.listen, lsn.fileno(), 8, errno_before=SENTINEL))
client = socket.create_connection(lsn.getsockname(), timeout=5)
ctypes.set_errno(SENTINEL)
accepted = libc.accept(lsn.fileno(), None, None)
emit("c_accept_success", f"ok={int(accepted >= 0)} errno={ctypes.get_errno()}")
if accepted >= 0:
    os.close(accepted)
client.close()

prot = make_sockaddr_in(HOST, protected)
fd = socket.socket()
emit("c_connect_protected", c_call(libc.connect, fd.fileno(), ctypes.byref(prot), ctypes.sizeof(prot), errno_before=SENTINEL))
fd.close()

r, w = os.pipe()
emit("c_connect_not_a_socket", c_call(libc.connect, r, ctypes.byref(sa), ctypes.sizeof(sa), errno_before=SENTINEL))
os.close(r)
os.close(w)

fd = socket.socket()
six = make_sockaddr_in6("::1", srv_addr[1])
emit("c_connect_wrong_family", c_call(libc.connect, fd.fileno(), ctypes.byref(six), ctypes.sizeof(six), errno_before=SENTINEL))
fd.close()

# Datagrams: the kernel's EMSGSIZE for an allowed destination.
big = b"x" * 70000
emit("sendto_too_big", outcome(udp.sendto, big, udp.getsockname()))
emit("sendmsg_too_big", outcome(udp.sendmsg, [big], [], 0, udp.getsockname()))

# bind, listen and accept failures of the kernel's own.
again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("udp_bind_in_use", outcome(again.bind, udp.getsockname()))
emit("listen_on_udp", outcome(udp.listen, 1))
nb = socket.socket()
nb.bind((HOST, 0))
nb.listen(4)
nb.setblocking(False)
emit("accept_nothing_pending", outcome(nb.accept))
idle = socket.socket()
emit("accept_not_listening", outcome(idle.accept))
emit("done", "yes")
