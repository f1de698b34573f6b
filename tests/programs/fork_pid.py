"""For tests/logging.rs: PORT. One protected connect to 127.0.0.1:PORT, then a fork; the child
makes two and exits, the parent one more after it. Prints the parent's pid, the child's and the
process name (/proc/self/comm), so that the test finds each one's events."""

import os, socket, sys
port = int(sys.argv[1])
def attempt():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    finally:
        s.close()
attempt()
child = os.fork()
if child == 0:
    attempt()
    attempt()
    os._exit(0)
os.waitpid(child, 0)
attempt()
print(os.getpid(), child, open("/proc/self/comm").read().strip())
