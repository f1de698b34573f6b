"""Accepts on IPv4 and IPv6 listeners under accept rules that refuse one client address of each
family: a refused client is reset and never returned (the non-blocking accept then says EAGAIN),
an allowed one is returned. argv: none."""

import socket

from armrtest import describe, emit, watchdog

watchdog(60)


def case(label, family, server_ip, client_ip):
    srv = socket.socket(family)
    srv.bind((server_ip, 0))
    srv.listen(16)
    srv.setblocking(False)
    client = socket.socket(family)
    client.bind((client_ip, 0))
    client.connect(srv.getsockname()[:2])
    try:
        conn, peer = srv.accept()
        emit(label, "accepted " + peer[0])
        conn.close()
    except OSError as e:
        emit(label, describe(e))
    client.close()
    srv.close()


case("refused_v4", socket.AF_INET, "127.0.0.1", "127.0.0.3")
case("open_v4", socket.AF_INET, "127.0.0.1", "127.0.0.1")
case("refused_v6", socket.AF_INET6, "::1", "::1")
emit("done", "yes")
