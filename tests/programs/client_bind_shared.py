"""An explicit client bind is judged at connect however the socket came to be bound behind the
descriptor that connects: by another process that shares it, through a number reused after a
close armr must see, or by libc itself. Each case binds a fresh socket (one armr knows unbound)
in a way the `bind` hook does not see on that descriptor, then connects it.

The policy protects bind(client: "127.0.0.2:0") and bind(client: "0.0.0.0:512-1023").
argv: ALLOWED (a TCP listener on 127.0.0.1)."""

import ctypes
import os
import socket
import sys

import armrtest
from armrtest import emit, libc, outcome, watchdog

allowed = int(armrtest.args()[0])
watchdog(60)
TARGET = ("127.0.0.1", allowed)
# Binds the inherited descriptor argv[1] to 127.0.0.2, as a child process does.
BIND_INHERITED = (
    "import socket, sys; "
    "s = socket.socket(fileno=int(sys.argv[1])); s.bind(('127.0.0.2', 0)); s.detach()"
)


def connect_fd(fd):
    s = socket.socket(fileno=fd)
    try:
        return outcome(s.connect, TARGET)
    finally:
        s.close()


def fresh():
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def bound():
    s = fresh()
    s.bind(("127.0.0.2", 0))
    return s


# A forked child binds the socket both share.
s = fresh()
pid = os.fork()
if pid == 0:
    s.bind(("127.0.0.2", 0))
    os._exit(0)
os.waitpid(pid, 0)
emit("fork", outcome(s.connect, TARGET))
s.close()


def inherited(run):
    """A child started by `run(fd)` binds the socket it inherits."""
    s = fresh()
    os.set_inheritable(s.fileno(), True)
    run(s.fileno())
    try:
        return outcome(s.connect, TARGET)
    finally:
        s.close()


def spawn(fd):
    pid = os.posix_spawn(sys.executable, [sys.executable, "-c", BIND_INHERITED, str(fd)], os.environ)
    os.waitpid(pid, 0)


def spawnp(fd):
    pid = os.posix_spawnp("python3", ["python3", "-c", BIND_INHERITED, str(fd)], os.environ)
    os.waitpid(pid, 0)


def system(fd):
    os.system(f"{sys.executable} -c \"{BIND_INHERITED}\" {fd}")


libc.popen.restype = ctypes.c_void_p
libc.popen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.pclose.argtypes = [ctypes.c_void_p]


def popen(fd):
    stream = libc.popen(f"{sys.executable} -c \"{BIND_INHERITED}\" {fd}".encode(), b"r")
    libc.pclose(stream)


emit("posix_spawn", inherited(spawn))
emit("posix_spawnp", inherited(spawnp))
emit("system", inherited(system))
emit("popen", inherited(popen))

# Passed over a unix socket (SCM_RIGHTS) to a process that binds it. The process is forked first,
# so that the fork itself does not matter.
ours, theirs = socket.socketpair()
pid = os.fork()
if pid == 0:
    ours.close()
    _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
    socket.socket(fileno=fds[0]).bind(("127.0.0.2", 0))
    theirs.send(b"k")
    os._exit(0)
theirs.close()
s = fresh()
socket.send_fds(ours, [b"x"], [s.fileno()])
ours.recv(1)
os.waitpid(pid, 0)
emit("scm_rights", outcome(s.connect, TARGET))
s.close()
ours.close()


def reused(free):
    """A fresh socket's number is freed by `free(fd)`, then given to a copy of a bound socket."""
    b = bound()
    s = fresh()
    number = s.detach()
    free(number)
    copy = os.dup(b.fileno())
    try:
        if copy != number:
            return f"the copy got {copy}, not {number}"
        return connect_fd(copy)
    finally:
        b.close()


libc.fdopen.restype = ctypes.c_void_p
libc.fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.close_range.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_int]

emit("close", reused(os.close))
emit("fclose", reused(lambda fd: libc.fclose(libc.fdopen(fd, b"r+"))))
emit("close_range", reused(lambda fd: libc.close_range(fd, fd, 0)))


def replaced(dup):
    """A fresh socket's number is replaced by a copy of a bound socket (`dup(bound, number)`)."""
    s = fresh()
    b = bound()
    dup(b.fileno(), s.fileno())
    try:
        return outcome(s.connect, TARGET)
    finally:
        s.close()
        b.close()


emit("dup2", replaced(lambda old, new: os.dup2(old, new)))
emit("dup3", replaced(lambda old, new: os.dup2(old, new, inheritable=False)))

# libc binds the socket itself: bindresvport picks a port from 512 to 1023 (root only).
libc.bindresvport.argtypes = [ctypes.c_int, ctypes.c_void_p]
s = fresh()
if libc.bindresvport(s.fileno(), None) == 0:
    emit("bindresvport", outcome(s.connect, TARGET))
else:
    emit("bindresvport", f"not run: bindresvport failed, errno={ctypes.get_errno()}")
s.close()

emit("done", "yes")
