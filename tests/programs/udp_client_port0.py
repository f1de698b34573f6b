"""A UDP client that binds port 0 (an ephemeral port, as Java's `new DatagramSocket()` does) and
sends to the database the rules allow (127.0.0.1:5432), under rules/web.armr, whose "no other
listeners" rule protects every server port but 8080. A UDP server on another port is still
refused."""

import socket

from armrtest import emit, outcome, watchdog

watchdog(60)
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("bind_port_0", outcome(client.bind, ("", 0)))
emit("sendto_database", outcome(client.sendto, b"query", ("127.0.0.1", 5432)))
v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
emit("bind_v6_port_0", outcome(v6.bind, ("::", 0)))
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("bind_server_port", outcome(server.bind, ("127.0.0.1", 47123)))
emit("done", "yes")
