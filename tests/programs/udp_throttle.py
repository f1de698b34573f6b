"""Datagrams from a refused sender (127.0.0.3) in bursts: their events are logged at most once a
second per rule, each line counting the datagrams it stands for."""

import socket
import time

from armrtest import emit, watchdog

watchdog(60)
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
R = receiver.getsockname()
bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
bad.bind(("127.0.0.3", 0))
good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
good.bind(("127.0.0.2", 0))
emit("bad_port", bad.getsockname()[1])


def burst(case, count):
    for _ in range(count):
        bad.sendto(b"bad", R)
    good.sendto(case.encode(), R)
    return receiver.recv(100).decode()


emit("burst_1", burst("one", 1))  # logged at once: cnt=1
emit("burst_2", burst("twenty", 20))  # within the second: counted, not logged
time.sleep(1.2)
emit("burst_3", burst("late", 1))  # logged: cnt=21, the twenty and this one
emit("done", "yes")
