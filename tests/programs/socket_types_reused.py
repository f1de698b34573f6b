"""What armr keeps of a socket's type (to judge sends without asking the kernel, and to skip the
client-bind question of a datagram socket's connect) follows the number through dup, close and
reuse. argv: MODE PORT LISTENER. MODE `send`: the policy protects connect("127.0.0.1:PORT") (a
UDP port); LISTENER is a TCP listener on 127.0.0.1 nothing refuses. MODE `client-bind`: the
policy protects bind(client: "127.0.0.2:0"); PORT is unused."""

import os
import socket

import armrtest
from armrtest import emit, outcome, watchdog

mode, port, listener = armrtest.args()[0], int(armrtest.args()[1]), int(armrtest.args()[2])
watchdog(60)
REFUSED = ("127.0.0.1", port)
ALLOWED = ("127.0.0.1", listener)


def udp():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def tcp_connected():
    s = socket.socket()
    s.connect(ALLOWED)
    return s


def on(fd, kind):
    """A socket object for the number `fd`, of type `kind` (the socket module would ask)."""
    return socket.socket(socket.AF_INET, kind, fileno=fd)


if mode == "send":
    u = udp()
    emit("udp_sendto", outcome(u.sendto, b"x", REFUSED))
    # A UDP socket dup'ed, then the original closed: the copy is still a UDP socket.
    c = socket.socket(fileno=os.dup(u.fileno()))
    first = u.fileno()
    u.close()
    emit("udp_dup_original_closed", outcome(c.sendto, b"x", REFUSED))
    # Both numbers were UDP sockets armr knew; the lower one is reused.
    n = min(first, c.fileno())
    c.close()
    # The number reused by a connected TCP socket: a send ignores the address.
    t = tcp_connected()
    emit("tcp_on_reused_number", f"{t.fileno() == n} {outcome(t.sendto, b'x', REFUSED)}")
    # And the other way: a TCP socket seen sending, closed, its number reused by UDP.
    n = t.fileno()
    t.close()
    u = udp()
    emit("udp_on_reused_number", f"{u.fileno() == n} {outcome(u.sendto, b'x', REFUSED)}")
    # dup2 of a TCP socket over a known UDP socket's number.
    t = tcp_connected()
    os.dup2(t.fileno(), u.fileno())
    s = on(u.detach(), socket.SOCK_STREAM)
    emit("dup2_tcp_over_udp", outcome(s.sendto, b"x", REFUSED))
    t.close()
    s.close()
elif mode == "client-bind":

    def bound():
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        return s

    # A UDP socket connects without a client-bind question, and is never refused for one.
    u = udp()
    emit("udp_connect", outcome(u.connect, ALLOWED))
    # dup2 of a bound TCP socket over a UDP socket's number: the number is now the TCP socket.
    b = bound()
    os.dup2(b.fileno(), u.fileno())
    s = on(u.detach(), socket.SOCK_STREAM)
    emit("dup2_bound_tcp_over_udp", outcome(s.connect, ALLOWED))
    s.close()
    b.close()
    # A UDP socket closed, its number reused by a copy of a bound TCP socket.
    b = bound()
    u = udp()
    n = u.fileno()
    u.close()
    copy = os.dup(b.fileno())
    emit("dup_of_bound_tcp_on_udp_number", f"{copy == n} {outcome(on(copy, socket.SOCK_STREAM).connect, ALLOWED)}")
    b.close()
    # The same after closerange (a large range ends armr's marks at once).
    b = bound()
    u = udp()
    n = u.fileno()
    u.detach()
    os.closerange(n, n + 1000)
    copy = os.dup(b.fileno())
    emit("closerange_then_bound_tcp", f"{copy == n} {outcome(on(copy, socket.SOCK_STREAM).connect, ALLOWED)}")
    b.close()
emit("done", "yes")
