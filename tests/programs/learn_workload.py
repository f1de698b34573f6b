"""A small service's network life, for tests/learn.rs: listens on SERVER_PORT and serves one
client (itself), connects to DEST_PORT, sends a datagram to UDP_PORT, then connects to each EXTRA
port (destinations the learning run never saw). Prints `NAME: OUTCOME` per step.
argv: SERVER_PORT DEST_PORT UDP_PORT [EXTRA...]."""

import socket
import sys

from armrtest import emit, outcome, try_connect, watchdog

watchdog(20)
server_port, dest_port, udp_port = (int(a) for a in sys.argv[1:4])
extra = [int(a) for a in sys.argv[4:]]

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
emit("bind", outcome(server.bind, ("127.0.0.1", server_port)))
emit("listen", outcome(server.listen))
client = socket.socket()
emit("self_connect", outcome(client.connect, ("127.0.0.1", server_port)))
emit("accept", outcome(lambda: server.accept()[0].close()))
client.close()
emit("connect", try_connect(("127.0.0.1", dest_port)))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("sendto", outcome(lambda: udp.sendto(b"x", ("127.0.0.1", udp_port)) and None))
for port in extra:
    emit(f"extra_{port}", try_connect(("127.0.0.1", port)))
