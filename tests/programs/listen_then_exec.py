"""Not under armr: listens on 127.0.0.1 (a port of the kernel's choice), then execs a program
under armr that inherits the listening socket, as systemd socket activation, inetd or a parent
that listened before armr was loaded would. argv: LIBRARY PROGRAM [ARGS...]; the program gets
the descriptor number as its first argument."""

import os
import socket
import sys

library, program, *rest = sys.argv[1:]
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
fd = listener.detach()
os.set_inheritable(fd, True)
os.environ["LD_PRELOAD"] = library
os.execv(sys.executable, [sys.executable, program, str(fd), *rest])
