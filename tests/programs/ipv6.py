"""IPv4-mapped IPv6 addresses and dual-stack servers. The policy protects connect to
127.0.0.1:PROTECTED and bind(server:) of 127.0.0.1:SERVER.
argv: PROTECTED ALLOWED SERVER (ALLOWED: a TCP listener on 127.0.0.1)."""

import socket

import armrtest
from armrtest import emit, outcome, watchdog

protected, allowed, server_port = (int(a) for a in armrtest.args())
watchdog(60)

AF6 = socket.AF_INET6
emit("mapped_connect_protected", armrtest.try_connect(("::ffff:127.0.0.1", protected), family=AF6))
emit("mapped_connect_allowed", armrtest.try_connect(("::ffff:127.0.0.1", allowed), family=AF6))
emit("v4_connect_protected", armrtest.try_connect(("127.0.0.1", protected)))
# A connect to the unspecified address reaches loopback: judged as 127.0.0.1.
emit("unspecified6_connect_protected", armrtest.try_connect(("::", protected), family=AF6))
emit("unspecified4_connect_protected", armrtest.try_connect(("0.0.0.0", protected)))

u = socket.socket(AF6, socket.SOCK_DGRAM)
emit("mapped_sendto_protected", outcome(u.sendto, b"x", ("::ffff:127.0.0.1", protected)))
u.close()

# A dual-stack server on :: with a rule naming 127.0.0.1:SERVER.
s = socket.socket(AF6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
emit("dual_stack_bind", outcome(s.bind, ("::", server_port)))
emit("dual_stack_listen", outcome(s.listen, 4))
s.close()

# The same port through an IPv4-mapped local address, and through 0.0.0.0.
s = socket.socket(AF6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
emit("mapped_bind", outcome(s.bind, ("::ffff:127.0.0.1", server_port)))
emit("mapped_listen", outcome(s.listen, 4))
s.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
emit("any4_bind", outcome(s.bind, ("0.0.0.0", server_port)))
emit("any4_listen", outcome(s.listen, 4))
s.close()
emit("done", "yes")
