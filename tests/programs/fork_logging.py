"""Forks repeatedly while another thread logs: a thread makes protected connects (a rule with a
message, so each one writes a log line) in a tight loop, and the main thread forks CHILDREN times.
Each child makes one protected connect and exits at once; a child that has not exited within
PER_CHILD seconds is counted as hung and killed. argv: HOST PORT CHILDREN PER_CHILD."""

import os
import socket
import threading
import time

from armrtest import args, emit, watchdog

host, port, children, per_child = args()
port, children, per_child = int(port), int(children), float(per_child)
watchdog(100)

stop = threading.Event()
counts = {"refused": 0, "other": 0}


def logger():
    while not stop.is_set():
        s = socket.socket()
        try:
            s.connect((host, port))
            counts["other"] += 1
        except ConnectionRefusedError:
            counts["refused"] += 1
        except OSError:
            counts["other"] += 1
        finally:
            s.close()


thread = threading.Thread(target=logger)
thread.start()
while counts["refused"] < 50:  # the thread is logging before the first fork
    time.sleep(0.001)

ok = hung = failed = 0
for _ in range(children):
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            s = socket.socket()
            try:
                s.connect((host, port))
                code = 1
            except ConnectionRefusedError as e:
                code = 0 if e.errno == 111 else 2
            os.write(1, f"child: pid={os.getpid()} code={code}\n".encode())
        finally:
            os._exit(code)
    deadline = time.monotonic() + per_child
    status = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.001)
    if status is None:
        hung += 1
        emit("hung_child", pid)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    elif status == 0:
        ok += 1
    else:
        failed += 1
        emit("failed_child", f"pid={pid} status={status}")

stop.set()
thread.join(20)
emit("thread_alive", thread.is_alive())
emit("children_ok", ok)
emit("children_hung", hung)
emit("children_failed", failed)
emit("thread_refused", counts["refused"])
emit("thread_other", counts["other"])
emit("done", "yes")
