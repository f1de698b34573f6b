"""The other ways libc reads a datagram, under an accept rule that protects 127.0.0.3: `preadv2`
(and `preadv64v2`) at offset -1, which the kernel runs as `readv` on a socket, with no flag,
`RWF_NOWAIT` or another flag (`RWF_HIPRI`), and `splice` into a pipe. Each gets the allowed
datagram from 127.0.0.2, never the refused one from 127.0.0.3, or EAGAIN when only a refused
one waits. `readv` of nothing, or of more than IOV_MAX buffers, is the kernel's (0 without
taking a datagram; EINVAL). glibc's private names, which `ctypes.CDLL(None)` finds, are judged
like the public ones: `__recv`, `__read_nocancel`, a socket made with `__socket` read with
`read`, and `__sendmmsg` to 127.0.0.5, which a connect rule protects."""

import ctypes
import os
import socket
import time

from armrtest import c_call, drain, emit, iovec, libc, make_sockaddr_in, mmsghdr, watchdog

watchdog(60)

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
R = receiver.getsockname()
FD = receiver.fileno()


def sender(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


bad, good = sender("127.0.0.3"), sender("127.0.0.2")
emit("bad_port", bad.getsockname()[1])


def send(case, good_too=True):
    bad.sendto(f"bad-{case}".encode(), R)
    if good_too:
        good.sendto(f"good-{case}".encode(), R)
    time.sleep(0.05)


def leftover():
    receiver.setblocking(False)
    left = drain(receiver)
    receiver.setblocking(True)
    return left


buf = ctypes.create_string_buffer(100)
one = (iovec * 1)(iovec(ctypes.cast(buf, ctypes.c_void_p), 100))
RWF_HIPRI, RWF_NOWAIT = 0x1, 0x8

for name in ("preadv2", "preadv64v2"):
    call = getattr(libc, name)
    call.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int]
    call.restype = ctypes.c_ssize_t
    for label, flags in (("", 0), ("_nowait", RWF_NOWAIT), ("_hipri", RWF_HIPRI)):
        case = f"{name}{label}"
        send(case)
        n = call(FD, one, 1, -1, flags)
        emit(case, f"{buf.raw[:max(n, 0)].decode()} left={len(leftover())}")

# Python's os.preadv calls preadv2 when given flags.
send("os_preadv")
data = bytearray(100)
n = os.preadv(FD, [data], -1, os.RWF_NOWAIT)
emit("os_preadv", data[:n].decode())
leftover()

send("preadv2_only_refused", good_too=False)
ctypes.set_errno(0)
emit("preadv2_only_refused", c_call(libc.preadv2, FD, one, 1, -1, RWF_NOWAIT))

read_end, write_end = os.pipe()
send("splice")
n = os.splice(FD, write_end, 100)
emit("splice", f"{os.read(read_end, 100).decode()} left={len(leftover())}")

send("splice_only_refused", good_too=False)
try:
    os.splice(FD, write_end, 100, flags=os.SPLICE_F_NONBLOCK)
    emit("splice_only_refused", "delivered")
except OSError as exc:
    emit("splice_only_refused", f"errno={exc.errno}")

# readv of an empty buffer takes nothing; of 1,025 buffers fails EINVAL as the kernel says.
libc.readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.readv.restype = ctypes.c_ssize_t
good.sendto(b"kept", R)
time.sleep(0.05)
empty = (iovec * 1)(iovec(ctypes.cast(buf, ctypes.c_void_p), 0))
emit("readv_empty", c_call(libc.readv, FD, empty, 1))
many = (iovec * 1025)(*[iovec(ctypes.cast(buf, ctypes.c_void_p), 1)] * 1025)
emit("readv_1025", c_call(libc.readv, FD, many, 1025))
emit("kept", receiver.recv(100).decode())

send("__recv")
libc.__recv.restype = ctypes.c_ssize_t
n = libc.__recv(FD, buf, 100, 0)
emit("__recv", f"{buf.raw[:max(n, 0)].decode()} left={len(leftover())}")

send("__read_nocancel")
libc.__read_nocancel.restype = ctypes.c_ssize_t
n = libc.__read_nocancel(FD, buf, 100)
emit("__read_nocancel", f"{buf.raw[:max(n, 0)].decode()} left={len(leftover())}")

# A socket made with __socket, known to armr: read judges it.
made = libc.__socket(socket.AF_INET, socket.SOCK_DGRAM, 0)
other = socket.socket(fileno=made)
other.bind(("127.0.0.1", 0))
bad.sendto(b"bad-__socket", other.getsockname())
good.sendto(b"good-__socket", other.getsockname())
time.sleep(0.05)
emit("__socket_read", os.read(made, 100).decode())

sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.5", 0))
sink.setblocking(False)
vec = (mmsghdr * 1)()
payload = ctypes.create_string_buffer(b"x", 1)
piece = iovec(ctypes.cast(payload, ctypes.c_void_p), 1)
to = make_sockaddr_in(*sink.getsockname())
vec[0].msg_hdr.msg_name = ctypes.cast(ctypes.pointer(to), ctypes.c_void_p)
vec[0].msg_hdr.msg_namelen = ctypes.sizeof(to)
vec[0].msg_hdr.msg_iov = ctypes.pointer(piece)
vec[0].msg_hdr.msg_iovlen = 1
emit("__sendmmsg", c_call(libc.__sendmmsg, good.fileno(), vec, 1, 0))
time.sleep(0.05)
emit("__sendmmsg_delivered", len(drain(sink)))
emit("done", "yes")
