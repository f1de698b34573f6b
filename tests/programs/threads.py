"""16 threads x 500 connects under a mixed policy.

argv: HOST PROTECTED_PORTS ALLOWED_PORTS THREADS ITERATIONS [udp] (ports comma-separated).
With `udp`, the sockets are UDP: a connect needs no server, so many more attempts fit.
Every attempt's verdict is checked here: a protected port must fail with ConnectionRefusedError
errno 111, an allowed port must connect. Prints the counts and the first mismatches.
"""

import socket
import threading

from armrtest import args, emit, watchdog

argv = args()
host, protected, allowed, threads, iterations = argv[:5]
kind = socket.SOCK_DGRAM if argv[5:] == ["udp"] else socket.SOCK_STREAM
protected = [int(p) for p in protected.split(",")]
allowed = [int(p) for p in allowed.split(",")]
threads, iterations = int(threads), int(iterations)
ports = [(p, True) for p in protected] + [(p, False) for p in allowed]

watchdog(100)
lock = threading.Lock()
counts = {"refused": 0, "connected": 0, "wrong": 0}
mismatches = []
start = threading.Barrier(threads)


def worker(t):
    local = {"refused": 0, "connected": 0, "wrong": 0}
    bad = []
    start.wait()
    for i in range(iterations):
        port, is_protected = ports[(i + t) % len(ports)]
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.connect((host, port))
            verdict = "connected"
        except ConnectionRefusedError as e:
            verdict = "refused" if e.errno == 111 else f"ConnectionRefusedError errno={e.errno}"
        except OSError as e:
            verdict = f"{type(e).__name__} errno={e.errno}"
        finally:
            s.close()
        expected = "refused" if is_protected else "connected"
        if verdict == expected:
            local[verdict] += 1
        else:
            local["wrong"] += 1
            if len(bad) < 5:
                bad.append(f"thread {t} attempt {i} port {port}: expected {expected}, got {verdict}")
    with lock:
        for k, v in local.items():
            counts[k] += v
        mismatches.extend(bad)


workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()

for k in ("refused", "connected", "wrong"):
    emit(k, counts[k])
for m in mismatches[:20]:
    emit("mismatch", m)
emit("done", "yes")
