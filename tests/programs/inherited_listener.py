"""Runs under armr with a listening socket on 127.0.0.1 it inherited (argv[1]: its descriptor),
under a bind(server:) rule that protects 127.0.0.1: armr never saw it listen, and judges it at its
first accept. Allowed listeners are on 127.0.0.2."""

import os
import socket
import time

from armrtest import emit, outcome, watchdog

watchdog(60)

fd = int(__import__("sys").argv[1])
inherited = socket.socket(fileno=fd)
ADDRESS = inherited.getsockname()
emit("port", ADDRESS[1])
emit("inherited", f"{ADDRESS[0]} listening={inherited.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)}")


def accept_outcome(listener):
    try:
        conn, peer = listener.accept()
    except OSError as exc:
        return f"{type(exc).__name__} errno={exc.errno}"
    conn.close()
    return "accepted"


client = socket.socket()
emit("client_connect", outcome(client.connect, ADDRESS))
time.sleep(0.1)
emit("accept_1", accept_outcome(inherited))
client.settimeout(5)
emit("client_recv", outcome(client.recv, 10))
client2 = socket.socket()
emit("client2_connect", outcome(client2.connect, ADDRESS))
time.sleep(0.1)
emit("accept_2", accept_outcome(inherited))
# Non-blocking, nothing pending: refused all the same.
inherited.setblocking(False)
emit("accept_3_nonblocking", accept_outcome(inherited))


def own_listener():
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.listen(4)
    return s


def served(listener):
    c = socket.socket()
    c.connect(listener.getsockname())
    return accept_outcome(listener)


# The refused listener's number reused: by dup2 of an allowed listener...
inherited.detach()
own = own_listener()
os.dup2(own.fileno(), fd)
copy = socket.socket(fileno=fd)
emit("dup2_reused_accept", served(copy))
# ... and by a new listener after close.
copy.close()
again = own_listener()
emit("reused_number", again.fileno() == fd)
emit("close_reused_accept", served(again))
emit("done", "yes")
