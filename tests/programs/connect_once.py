"""Connects once and prints `LABEL: pid=PID ppid=PPID RESULT`; with DEPTH > 0, first runs itself
again (a grandchild, labelled LABEL with `child` replaced by `grandchild`).
argv: HOST PORT LABEL DEPTH."""

import os
import subprocess
import sys

from armrtest import args, emit, try_connect, watchdog

host, port, label, depth = args()
port, depth = int(port), int(depth)
watchdog(30)
emit(label, f"pid={os.getpid()} ppid={os.getppid()} {try_connect((host, port))}")
if depth > 0:
    try:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), host, str(port), label.replace("child", "grandchild"), str(depth - 1)],
            timeout=25,
        )
        emit(label + "_grandchild_exit", done.returncode)
    except subprocess.TimeoutExpired:
        emit(label + "_grandchild_exit", "timeout")
