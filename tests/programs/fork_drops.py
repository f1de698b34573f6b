"""For tests/logging.rs: PORT. Ten protected connects to 127.0.0.1:PORT (their events dropped: the
log destination is down), then a fork whose child exits normally, so that armr's exit report runs
in both processes."""

import os, socket, sys
port = int(sys.argv[1])
for _ in range(10):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    finally:
        s.close()
child = os.fork()
if child == 0:
    sys.exit(0)  # a normal exit: armr's exit report runs
os.waitpid(child, 0)
