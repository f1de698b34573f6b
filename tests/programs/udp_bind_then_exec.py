"""Not under armr: binds a UDP socket on 127.0.0.1 (a port of the kernel's choice), then execs a
program under armr that inherits it, as systemd socket activation (`ListenDatagram=`) or a parent
that opened it before armr was loaded would. argv: LIBRARY PROGRAM [ARGS...]; the program gets
the descriptor number as its first argument."""

import os
import socket
import sys

library, program, *rest = sys.argv[1:]
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
fd = receiver.detach()
os.set_inheritable(fd, True)
os.environ["LD_PRELOAD"] = library
os.execv(sys.executable, [sys.executable, program, str(fd), *rest])
