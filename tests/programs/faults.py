"""Programs for tests/faults.rs. Prints `name: value` lines.

argv:
  connect HOST PORT...        connects to each port in turn: `port_PORT: OUTCOME`
  flood HOST PORT N           N UDP connects to HOST:PORT: `done: N`
  flood_then_grow HOST PORT N CMD
                              N connects, then runs CMD (a shell command that makes room for the
                              log), then 20 more: `done: N+20`
  signal HOST PROTECTED OK    a SIGALRM handler connects to PROTECTED, then to OK, while the main
                              thread sleeps in a loop (and, second round, connects to OK in a loop)
"""

import signal
import socket
import threading
import time

from armrtest import args, emit, try_connect, watchdog

argv = args()
mode = argv[0]

if mode == "connect":
    watchdog(20)
    host = argv[1]
    for port in argv[2:]:
        emit(f"port_{port}", try_connect((host, int(port))))

elif mode == "flood":
    watchdog(30)
    host, port, n = argv[1], int(argv[2]), int(argv[3])
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((host, port))
        s.close()
    emit("done", n)

elif mode == "flood_then_grow":
    import subprocess

    watchdog(30)
    host, port, n, grow = argv[1], int(argv[2]), int(argv[3]), argv[4]

    def flood(count):
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((host, port))
            s.close()

    flood(n)
    subprocess.run(grow, shell=True, check=True)
    flood(20)
    emit("done", n + 20)

elif mode == "signal":
    host, protected, ok = argv[1], int(argv[2]), int(argv[3])
    results = []

    def handler(signum, frame):
        results.append((
            threading.current_thread() is threading.main_thread(),
            try_connect((host, protected)),
            try_connect((host, ok)),
        ))

    signal.signal(signal.SIGALRM, handler)
    for round_ in ("sleeping", "connecting"):
        results.clear()
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        deadline = time.monotonic() + 10
        while not results and time.monotonic() < deadline:
            if round_ == "sleeping":
                time.sleep(0.01)
            else:
                try_connect((host, ok))
        signal.setitimer(signal.ITIMER_REAL, 0)
        if not results:
            emit(f"{round_}_handler", "never ran")
            continue
        main, refused, allowed = results[0]
        emit(f"{round_}_handler_main_thread", int(main))
        emit(f"{round_}_handler_protected", refused)
        emit(f"{round_}_handler_allowed", allowed)
else:
    raise SystemExit(f"unknown mode {mode}")
