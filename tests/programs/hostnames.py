"""Connects once to HOST PORT (AF_INET6 for an address with a colon) and prints `start` just
before, then `connect: OUTCOME` and `seconds: S`, how long the connect took: the first connect of
a kind resolves the rules' hostnames. argv: HOST PORT."""

import socket
import time

from armrtest import args, emit, try_connect, watchdog

host, port = args()
watchdog(30)
family = socket.AF_INET6 if ":" in host else socket.AF_INET
emit("start", "connecting")
before = time.monotonic()
result = try_connect((host, int(port)), family=family)
emit("connect", result)
emit("seconds", f"{time.monotonic() - before:.3f}")
