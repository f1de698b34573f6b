"""A forked child, a forked grandchild, an exec'd child and an exec'd grandchild each connect to a
protected address. argv: HOST PORT. Each prints `LABEL: pid=PID ppid=PPID RESULT`."""

import os
import subprocess
import sys
import time

from armrtest import args, emit, try_connect, watchdog

host, port = args()
port = int(port)
watchdog(60)
here = os.path.dirname(os.path.abspath(__file__))


def report(label):
    emit(label, f"pid={os.getpid()} ppid={os.getppid()} {try_connect((host, port))}")


def wait_for(pid, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "timeout"


emit("parent", f"pid={os.getpid()}")
report("parent_connect")

# fork: the child connects.
pid = os.fork()
if pid == 0:
    try:
        report("fork_child")
    finally:
        os._exit(0)
emit("fork_child_exit", wait_for(pid))

# fork, and the child forks a grandchild that connects.
pid = os.fork()
if pid == 0:
    code = 0
    try:
        grandchild = os.fork()
        if grandchild == 0:
            try:
                report("fork_grandchild")
            finally:
                os._exit(0)
        code = wait_for(grandchild)
    finally:
        os._exit(0 if code == 0 else 1)
emit("fork_grandchild_exit", wait_for(pid))

# fork + exec: another python connects, and runs a grandchild that connects too.
try:
    done = subprocess.run(
        [sys.executable, os.path.join(here, "connect_once.py"), host, str(port), "exec_child", "1"],
        timeout=40,
    )
    emit("exec_child_exit", done.returncode)
except subprocess.TimeoutExpired:
    emit("exec_child_exit", "timeout")
emit("done", "yes")
