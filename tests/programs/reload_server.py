"""A long-running program whose socket calls the test drives, line by line, on standard input:
`connect PORT` (prints `connect PORT: RESULT`), `fork PORT` (a forked child connects and prints
`fork PORT: RESULT`), `exec PORT` (a program started now, connect_once.py, connects: its line is
`exec: pid=.. ppid=.. RESULT`), `udp-open 0` (a UDP socket bound to 127.0.0.1: `udp-open 0:
PORT`), `udp-read 0` (what `read` gets from it until it stays empty for half a second:
`udp-read 0: A,B`, sorted, or `none`), `quit`. Prints `ready` first."""

import os
import select
import socket
import subprocess
import sys

from armrtest import emit, try_connect, watchdog

watchdog(120)
here = os.path.dirname(os.path.abspath(__file__))
emit("ready", os.getpid())
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "quit":
        break
    port = int(words[1])
    if words[0] == "udp-open":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        emit("udp-open 0", udp.getsockname()[1])
    elif words[0] == "udp-read":
        got = set()
        while select.select([udp], [], [], 0.5)[0]:
            got.add(os.read(udp.fileno(), 100).decode())
        emit("udp-read 0", ",".join(sorted(got)) or "none")
    elif words[0] == "connect":
        emit(f"connect {port}", try_connect(("127.0.0.1", port)))
    elif words[0] == "fork":
        pid = os.fork()
        if pid == 0:
            emit(f"fork {port}", try_connect(("127.0.0.1", port)))
            os._exit(0)
        os.waitpid(pid, 0)
    elif words[0] == "exec":
        subprocess.run(
            [sys.executable, os.path.join(here, "connect_once.py"), "127.0.0.1", str(port), "exec", "0"],
            timeout=25,
        )
