"""The receive side of UDP under an accept rule that protects 127.0.0.3: every datagram from
127.0.0.3 is discarded, whatever call receives it, and the call returns the next one, from
127.0.0.2, or fails as the kernel would when none comes."""

import ctypes
import os
import socket
import struct
import time

import armrtest
from armrtest import emit, iovec, libc, mmsghdr, outcome, sockaddr_in, watchdog

watchdog(60)

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
R = receiver.getsockname()


def sender(host):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return s


bad, good = sender("127.0.0.3"), sender("127.0.0.2")
GOOD_PORT = good.getsockname()[1]
emit("bad_port", bad.getsockname()[1])


def send(case, bad_count=1, good_count=1, to=R):
    for i in range(bad_count):
        bad.sendto(f"bad-{case}".encode(), to)
    for i in range(good_count):
        good.sendto(f"good-{case}".encode(), to)
    time.sleep(0.05)


def who(address):
    return "127.0.0.2" if address == ("127.0.0.2", GOOD_PORT) else f"{address}"


send("recvfrom")
data, address = receiver.recvfrom(100)
emit("recvfrom", f"{data.decode()} from {who(address)}")

send("recv")
emit("recv", receiver.recv(100).decode())

send("read")
emit("read", os.read(receiver.fileno(), 100).decode())

send("readv")
buf = bytearray(100)
n = os.readv(receiver.fileno(), [buf])
emit("readv", buf[:n].decode())

send("__read")
buf = ctypes.create_string_buffer(100)
n = libc.__read(receiver.fileno(), buf, 100)
emit("__read", buf.raw[:n].decode())

send("recvmsg")
data, ancillary, flags, address = receiver.recvmsg(100)
emit("recvmsg", f"{data.decode()} from {who(address)}")

send("recv_into")
buf = bytearray(100)
n = receiver.recv_into(buf)
emit("recv_into", buf[:n].decode())

send("recvfrom_into")
n, address = receiver.recvfrom_into(buf)
emit("recvfrom_into", f"{buf[:n].decode()} from {who(address)}")

# MSG_PEEK: the refused datagram is dropped, the allowed one peeked, then received.
send("peek")
emit("peek", receiver.recv(100, socket.MSG_PEEK).decode())
emit("after_peek", receiver.recv(100).decode())

# Only refused datagrams: the call fails as the kernel makes it fail when nothing comes.
send("nonblocking", good_count=0)
receiver.setblocking(False)
emit("nonblocking", outcome(receiver.recv, 100))
receiver.setblocking(True)
send("dontwait", good_count=0)
emit("dontwait", outcome(receiver.recv, 100, socket.MSG_DONTWAIT))
send("rcvtimeo", good_count=0)
receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300_000))
started = time.monotonic()
emit("rcvtimeo", outcome(receiver.recv, 100))
emit("rcvtimeo_waited", time.monotonic() - started >= 0.25)
receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 0))
send("python_timeout", good_count=0)
receiver.settimeout(0.3)
emit("python_timeout", outcome(receiver.recv, 100))
receiver.settimeout(None)

# recvmmsg: the refused messages are taken out, the allowed ones moved into their places.
libc.recvmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(mmsghdr), ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
bad.sendto(b"bad-mm-1", R)
good.sendto(b"good-mm-1", R)
bad.sendto(b"bad-mm-2", R)
good.sendto(b"good-mm-2", R)
time.sleep(0.05)
vec = (mmsghdr * 4)()
keep = []
for i in range(4):
    b = ctypes.create_string_buffer(100)
    iov = iovec(ctypes.cast(b, ctypes.c_void_p), 100)
    name = sockaddr_in()
    keep += [b, iov, name]
    vec[i].msg_hdr.msg_iov = ctypes.pointer(iov)
    vec[i].msg_hdr.msg_iovlen = 1
    if i != 1:  # the second slot asks no address
        vec[i].msg_hdr.msg_name = ctypes.cast(ctypes.pointer(name), ctypes.c_void_p)
        vec[i].msg_hdr.msg_namelen = ctypes.sizeof(name)
r = libc.recvmmsg(receiver.fileno(), vec, 4, socket.MSG_DONTWAIT, None)
got = []
for i in range(max(r, 0)):
    data = keep[3 * i].raw[: vec[i].msg_len].decode()
    name = keep[3 * i + 2]
    frm = socket.inet_ntoa(bytes(name.sin_addr)) if i != 1 else "-"
    got.append(f"{data} from {frm} namelen={vec[i].msg_hdr.msg_namelen}")
emit("recvmmsg", f"ret={r} " + ", ".join(got))

# A socket armr did not see created (a copy made with dup): asked once, then judged the same.
copy = socket.socket(fileno=os.dup(receiver.fileno()))
send("copy_recvfrom")
data, address = copy.recvfrom(100)
emit("copy_recvfrom", f"{data.decode()} from {who(address)}")
send("copy_read")
emit("copy_read", os.read(copy.fileno(), 100).decode())

# A connected UDP socket is judged at connect, by accept rules too; then its receives are not.
emit("connect_refused_sender", armrtest.try_connect(bad.getsockname(), kind=socket.SOCK_DGRAM))
# Bound to a port of its own (not 0: a disconnect would unbind an automatic port).
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.bind(("127.0.0.1", 0))
PORT = probe.getsockname()[1]
probe.close()
connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connected.bind(("127.0.0.1", PORT))
emit("connect_allowed_sender", outcome(connected.connect, good.getsockname()))
good.sendto(b"good-connected", connected.getsockname())
emit("connected_recv", connected.recv(100).decode())
# Disconnected (connect to AF_UNSPEC): judged again.
unspec = sockaddr_in()
unspec.sin_family = socket.AF_UNSPEC
emit("disconnect", armrtest.c_call(libc.connect, connected.fileno(), ctypes.byref(unspec), ctypes.sizeof(unspec)))
send("disconnected", to=("127.0.0.1", PORT))
emit("disconnected_recv", connected.recv(100).decode())
emit("done", "yes")
