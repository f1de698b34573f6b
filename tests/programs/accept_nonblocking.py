"""A non-blocking server (selectors: epoll) under a rule protecting accept from 127.0.0.2.

A refused client alone: accept raises BlockingIOError (EAGAIN); an allowed client next is
served; a refused and an allowed client pending together: accept returns the allowed one, then
EAGAIN. argv: none."""

import selectors
import socket

from armrtest import describe, emit, watchdog

watchdog(60)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
srv.setblocking(False)
addr = srv.getsockname()
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
emit("selector", type(sel).__name__)


def client(source):
    c = socket.socket()
    c.bind((source, 0))
    c.settimeout(10)
    c.connect(addr)  # completes in the kernel's backlog
    return c


def ready():
    return "readable" if sel.select(timeout=10) else "timeout"


def accept():
    try:
        conn, peer = srv.accept()
    except OSError as e:
        return describe(e), None
    return f"accepted {peer[0]}", conn


def recv(c):
    try:
        data = c.recv(100)
        return "eof" if data == b"" else f"data {data.decode()}"
    except OSError as e:
        return describe(e)


# 1. a refused client alone.
a = client("127.0.0.2")
emit("select_1", ready())
emit("accept_1", accept()[0])
emit("refused_client_recv_1", recv(a))
a.close()

# 2. the server keeps serving: an allowed client.
b = client("127.0.0.1")
emit("select_2", ready())
result, conn = accept()
emit("accept_2", result)
if conn:
    conn.sendall(b"hi")
    conn.close()
emit("allowed_client_recv_2", recv(b))
b.close()

# 3. a refused client and an allowed one pending together.
c = client("127.0.0.2")
d = client("127.0.0.1")
emit("select_3", ready())
result, conn = accept()
emit("accept_3", result)
if conn:
    conn.sendall(b"yo")
    conn.close()
emit("accept_3_again", accept()[0])
emit("refused_client_recv_3", recv(c))
emit("allowed_client_recv_3", recv(d))
emit("done", "yes")
