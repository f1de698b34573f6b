"""Address lengths the kernel rejects, on judged receive calls, under an accept rule that
protects 127.0.0.3: the result is the kernel's. `recvfrom` with an address but no length fails
with EFAULT, and with a negative length with EINVAL, after taking the datagram (its data is in
the buffer: a refused sender's must not be); `recvmsg` with a negative `msg_namelen` fails with
EINVAL and takes nothing; `accept` with an address but no length fails with EFAULT."""

import ctypes
import os
import socket
import time

from armrtest import c_call, drain, emit, libc, msghdr, iovec, watchdog

watchdog(60)

libc.recvfrom.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_void_p, ctypes.c_void_p]
libc.recvfrom.restype = ctypes.c_ssize_t
libc.recvmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.recvmsg.restype = ctypes.c_ssize_t

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
receiver.setblocking(False)
R = receiver.getsockname()
FD = receiver.fileno()


def sender(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


bad, good = sender("127.0.0.3"), sender("127.0.0.2")
emit("bad_port", bad.getsockname()[1])
data = ctypes.create_string_buffer(100)
name = ctypes.create_string_buffer(128)


def send(case):
    bad.sendto(f"bad-{case}".encode(), R)
    good.sendto(f"good-{case}".encode(), R)
    time.sleep(0.05)


def received():
    text = data.value.decode()
    ctypes.memset(data, 0, 100)
    return text


send("no_length")
emit("recvfrom_no_length", c_call(libc.recvfrom, FD, data, 100, 0, name, None))
emit("recvfrom_no_length_data", f"{received()} left={len(drain(receiver))}")

send("negative")
length = ctypes.c_uint32(0xFFFFFFFF)
emit("recvfrom_negative", c_call(libc.recvfrom, FD, data, 100, 0, name, ctypes.byref(length)))
emit("recvfrom_negative_data", f"{received()} left={len(drain(receiver))}")

send("recvmsg")
iov = iovec(ctypes.cast(data, ctypes.c_void_p), 100)
msg = msghdr()
msg.msg_name = ctypes.cast(name, ctypes.c_void_p)
msg.msg_namelen = 0xFFFFFFFF
msg.msg_iov = ctypes.pointer(iov)
msg.msg_iovlen = 1
emit("recvmsg_negative", c_call(libc.recvmsg, FD, ctypes.byref(msg), 0))
emit("recvmsg_negative_left", len(drain(receiver)))

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
server.setblocking(False)
client = socket.socket()
client.bind(("127.0.0.2", 0))
client.connect(server.getsockname())
time.sleep(0.05)
emit("accept_no_length", c_call(libc.accept, server.fileno(), name, None))
emit("accept_after", c_call(libc.accept, server.fileno(), None, None))
emit("done", "yes")
