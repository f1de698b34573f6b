"""accept(fd, NULL, NULL) of a peer that reset before the accept, under an accept rule that
protects 127.0.0.1: the connection must not be returned (getpeername cannot name a peer that
reset, the accept itself can). Allowed clients come from 127.0.0.2."""

import ctypes
import socket
import struct
import time

from armrtest import emit, libc, watchdog

watchdog(60)

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
server.setblocking(False)
ADDRESS = server.getsockname()


def reset_before_accept(source):
    """Connects from `source`, then resets (SO_LINGER 0) while the connection waits to be
    accepted."""
    c = socket.socket()
    c.bind((source, 0))
    c.connect(ADDRESS)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    time.sleep(0.2)


def c_accept(call):
    ctypes.set_errno(0)
    fd = call()
    err = ctypes.get_errno()
    if fd < 0:
        return f"ret=-1 errno={err}"
    return "accepted"


for name, call in [
    ("accept_null_reset", lambda: libc.accept(server.fileno(), None, None)),
    ("accept4_null_reset", lambda: libc.accept4(server.fileno(), None, None, socket.SOCK_CLOEXEC)),
]:
    reset_before_accept("127.0.0.1")
    emit(name, c_accept(call))

# An allowed client is still served by accept(fd, NULL, NULL).
client = socket.socket()
client.bind(("127.0.0.2", 0))
client.connect(ADDRESS)
time.sleep(0.1)
emit("accept_null_allowed", c_accept(lambda: libc.accept(server.fileno(), None, None)))

# A buffer too small for the address: cut to its size, and the full length reported, as the
# kernel does.
client2 = socket.socket()
client2.bind(("127.0.0.2", 0))
client2.connect(ADDRESS)
time.sleep(0.1)
buf = ctypes.create_string_buffer(b"\xee" * 16, 16)
length = ctypes.c_uint32(6)
fd = libc.accept(server.fileno(), buf, ctypes.byref(length))
family, port = struct.unpack("=HH", buf.raw[:4])
emit(
    "accept_short_buffer",
    f"ok={fd >= 0} len={length.value} family={family} port={socket.ntohs(port) == client2.getsockname()[1]} "
    f"ip={list(buf.raw[4:6])} untouched={buf.raw[6:].hex()}",
)
emit("done", "yes")
