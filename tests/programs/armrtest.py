"""Helpers shared by the programs that tests/robustness.rs runs under libarmr.so.

Every program prints its results as `name: value` lines. Lines are written with one os.write
each, so that they are never duplicated or interleaved by a fork or by threads.
"""

import ctypes
import fcntl
import os
import signal
import socket
import sys


def emit(name, value):
    os.write(1, f"{name}: {value}\n".encode())


def watchdog(seconds):
    """Ends the program (SIGALRM) if it runs longer than `seconds`: a hang is a failure, never a
    stuck test. The test has its own deadline too."""
    signal.alarm(seconds)


def describe(exc):
    if isinstance(exc, OSError):
        return f"{type(exc).__name__} errno={exc.errno}"
    return f"{type(exc).__name__} {exc}"


def outcome(fn, *args, **kwargs):
    """`ok` (or `ok VALUE`) when fn returns, else the exception's class and errno."""
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every outcome is reported
        return describe(exc)
    return "ok" if value is None else f"ok {value}"


def try_connect(address, family=socket.AF_INET, kind=socket.SOCK_STREAM, close=True):
    """Connects a fresh blocking socket; returns its outcome."""
    s = socket.socket(family, kind)
    try:
        return outcome(s.connect, address)
    finally:
        if close:
            s.close()


def fd_flags(fd):
    nonblock = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)
    cloexec = bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    return f"nonblock={int(nonblock)} cloexec={int(cloexec)}"


# --- libc through ctypes, for calls the socket module does not offer or hides errno of.

# The process's global scope (dlopen(NULL)), not libc.so.6's own handle: a symbol looked up in
# libc's handle is libc's, and would bypass the preloaded library's hooks.
libc = ctypes.CDLL(None, use_errno=True)


class sockaddr_in(ctypes.Structure):
    _fields_ = [
        ("sin_family", ctypes.c_ushort),
        ("sin_port", ctypes.c_uint16),
        ("sin_addr", ctypes.c_uint8 * 4),
        ("sin_zero", ctypes.c_uint8 * 8),
    ]


class sockaddr_in6(ctypes.Structure):
    _fields_ = [
        ("sin6_family", ctypes.c_ushort),
        ("sin6_port", ctypes.c_uint16),
        ("sin6_flowinfo", ctypes.c_uint32),
        ("sin6_addr", ctypes.c_uint8 * 16),
        ("sin6_scope_id", ctypes.c_uint32),
    ]


def make_sockaddr_in(host, port):
    sa = sockaddr_in()
    sa.sin_family = socket.AF_INET
    sa.sin_port = socket.htons(port)
    sa.sin_addr[:] = list(socket.inet_pton(socket.AF_INET, host))
    return sa


def make_sockaddr_in6(host, port):
    sa = sockaddr_in6()
    sa.sin6_family = socket.AF_INET6
    sa.sin6_port = socket.htons(port)
    sa.sin6_addr[:] = list(socket.inet_pton(socket.AF_INET6, host))
    return sa


class iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(iovec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", msghdr), ("msg_len", ctypes.c_uint)]


libc.connect.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.bind.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.listen.argtypes = [ctypes.c_int, ctypes.c_int]
libc.accept.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.accept4.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
libc.sendto.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.sendto.restype = ctypes.c_ssize_t
libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.POINTER(mmsghdr), ctypes.c_uint, ctypes.c_int]


def sendmmsg(fd, messages):
    """libc sendmmsg of [(payload bytes, (host, port))...]: (return value, errno, msg_len list)."""
    n = len(messages)
    vec = (mmsghdr * n)()
    keep = []
    for i, (payload, (host, port)) in enumerate(messages):
        buf = ctypes.create_string_buffer(payload, len(payload))
        iov = iovec(ctypes.cast(buf, ctypes.c_void_p), len(payload))
        sa = make_sockaddr_in(host, port)
        keep += [buf, iov, sa]
        vec[i].msg_hdr.msg_name = ctypes.cast(ctypes.pointer(sa), ctypes.c_void_p)
        vec[i].msg_hdr.msg_namelen = ctypes.sizeof(sa)
        vec[i].msg_hdr.msg_iov = ctypes.pointer(iov)
        vec[i].msg_hdr.msg_iovlen = 1
    ctypes.set_errno(0)
    r = libc.sendmmsg(fd, vec, n, 0)
    err = ctypes.get_errno()
    return r, err, [vec[i].msg_len for i in range(n)]


def c_call(fn, *args, errno_before=0):
    """Calls a libc function with errno set to `errno_before`: `ret=R errno=E`."""
    ctypes.set_errno(errno_before)
    r = fn(*args)
    return f"ret={r} errno={ctypes.get_errno()}"


def drain(sock):
    """Datagrams waiting on a non-blocking socket."""
    got = []
    while True:
        try:
            got.append(sock.recv(65536))
        except BlockingIOError:
            return got


def args():
    return sys.argv[1:]
