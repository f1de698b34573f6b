"""A UDP socket that connects after datagrams came in, under an accept rule that protects
127.0.0.3: `connect` does not empty the receive queue, so the datagrams from before it are still
delivered after it. The refused sender's one is discarded; the allowed ones (one from before the
connect, one from the peer after) are received, and the refused sender reaches it no more."""

import os
import socket
import time

from armrtest import emit, outcome, watchdog

watchdog(60)


def sender(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


bad, good, peer = sender("127.0.0.3"), sender("127.0.0.2"), sender("127.0.0.4")
emit("bad_port", bad.getsockname()[1])

for call in ("recv", "read"):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.3)
    R = receiver.getsockname()
    bad.sendto(b"bad-before", R)
    good.sendto(b"good-before", R)
    time.sleep(0.05)
    receiver.connect(peer.getsockname())
    peer.sendto(b"peer-after", R)
    bad.sendto(b"bad-after", R)
    time.sleep(0.05)
    if call == "read":
        receive = lambda: os.read(receiver.fileno(), 100).decode()  # noqa: E731
    else:
        receive = lambda: receiver.recv(100).decode()  # noqa: E731
    got = [outcome(receive) for _ in range(3)]
    emit(f"connect_then_{call}", ", ".join(got))
emit("done", "yes")
