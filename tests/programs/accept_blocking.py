"""A blocking server under a rule protecting accept from 127.0.0.2.

A client bound to 127.0.0.2 connects: armr resets it and the server keeps waiting; a client from
127.0.0.1 is then served. argv: none."""

import socket
import threading
import time

from armrtest import describe, emit, watchdog

watchdog(60)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
addr = srv.getsockname()
accepted = []


def serve():
    conn, peer = srv.accept()  # blocking, no timeout
    accepted.append(peer[0])
    conn.sendall(b"hello")
    conn.close()


server = threading.Thread(target=serve, daemon=True)
server.start()

refused = socket.socket()
refused.bind(("127.0.0.2", 0))
try:
    refused.connect(addr)
    emit("refused_client_connect", "ok")
except OSError as e:
    emit("refused_client_connect", describe(e))
refused.settimeout(10)
try:
    data = refused.recv(100)
    emit("refused_client_recv", "eof" if data == b"" else f"data {data!r}")
except OSError as e:
    emit("refused_client_recv", describe(e))
refused.close()

time.sleep(0.3)
emit("server_waiting_after_refusal", server.is_alive() and not accepted)

ok = socket.socket()
ok.bind(("127.0.0.1", 0))
ok.settimeout(10)
ok.connect(addr)
try:
    emit("allowed_client_recv", ok.recv(100).decode())
except OSError as e:
    emit("allowed_client_recv", describe(e))
server.join(10)
emit("server_accepted", ",".join(accepted))
emit("done", "yes")
