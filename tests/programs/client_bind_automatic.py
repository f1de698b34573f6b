"""Only a bind the program makes itself is a client bind: the kernel's automatic one is not, even
when a non-blocking connect is called again while in progress (the policy protects
bind(client: "0.0.0.0:0")). argv: ALLOWED (a TCP listener on 127.0.0.1)."""

import select
import socket

import armrtest
from armrtest import emit, outcome, watchdog

allowed = int(armrtest.args()[0])
watchdog(60)
TARGET = ("127.0.0.1", allowed)

s = socket.socket()
emit("blocking_unbound", outcome(s.connect, TARGET))
s.close()

s = socket.socket()
s.setblocking(False)
emit("nonblocking_first", s.connect_ex(TARGET))
select.select([], [s], [], 5)
emit("nonblocking_again", s.connect_ex(TARGET))
s.close()

s = socket.socket()
s.bind(("127.0.0.1", 0))
emit("explicit", outcome(s.connect, TARGET))
s.close()
emit("done", "yes")
