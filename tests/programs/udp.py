"""Datagrams under connect rules that protect 127.0.0.3 (any port), and a bind(server:) rule that
protects 127.0.0.5 (any port). argv: PROTECTED_TCP_PORT (a TCP listener, for TCP Fast Open)."""

import socket
import time

import armrtest
from armrtest import drain, emit, outcome, sendmmsg, watchdog

tcp_protected = int(armrtest.args()[0])
watchdog(60)


def receiver(host):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind((host, 0))
    r.setblocking(False)
    return r


ok = receiver("127.0.0.1")
bad = receiver("127.0.0.3")
OK, BAD = ok.getsockname(), bad.getsockname()
emit("receivers_bound", "ok")


def settle():
    time.sleep(0.2)


tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("sendto_protected", outcome(tx.sendto, b"bad-sendto", BAD))
emit("sendto_allowed", outcome(tx.sendto, b"ok-sendto", OK))
emit("sendmsg_protected", outcome(tx.sendmsg, [b"bad-sendmsg"], [], 0, BAD))
emit("sendmsg_allowed", outcome(tx.sendmsg, [b"ok-", b"sendmsg"], [], 0, OK))
settle()
emit("received_allowed_1", ",".join(d.decode() for d in drain(ok)))

r, err, lens = sendmmsg(tx.fileno(), [(b"mm-1", OK), (b"mm-2", BAD), (b"mm-3", OK)])
emit("sendmmsg_second_protected", f"ret={r} errno={err if r < 0 else 0}")
r, err, lens = sendmmsg(tx.fileno(), [(b"mm-4", BAD), (b"mm-5", OK), (b"mm-6", OK)])
emit("sendmmsg_first_protected", f"ret={r} errno={err if r < 0 else 0}")
r, err, lens = sendmmsg(tx.fileno(), [(b"mm-7", OK), (b"mm-8", OK), (b"mm-9", OK)])
emit("sendmmsg_all_allowed", f"ret={r} errno={err if r < 0 else 0} lens={lens}")
settle()
emit("received_allowed_2", ",".join(d.decode() for d in drain(ok)))
emit("received_protected", ",".join(d.decode() for d in drain(bad)) or "nothing")

# A connected UDP socket: connect rules, ECONNREFUSED.
emit("udp_connect_protected", armrtest.try_connect(BAD, kind=socket.SOCK_DGRAM))
connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("udp_connect_allowed", outcome(connected.connect, OK))
emit("udp_send_connected", outcome(connected.send, b"ok-connected"))
settle()
emit("received_allowed_3", ",".join(d.decode() for d in drain(ok)))

# UDP bind to a port is a server bind (refused before the kernel sees it: the port need not be
# free). Port 0 would be a client's ephemeral port, judged by bind(client:) rules.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("udp_bind_protected", outcome(s.bind, ("127.0.0.5", 47125)))
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit("udp_bind_allowed", outcome(s.bind, ("127.0.0.4", 0)))
s.close()

# TCP sendto with MSG_FASTOPEN is a connect.
t = socket.socket()
emit("tcp_fastopen_protected", outcome(t.sendto, b"tfo", socket.MSG_FASTOPEN, ("127.0.0.1", tcp_protected)))
t.close()
emit("done", "yes")
