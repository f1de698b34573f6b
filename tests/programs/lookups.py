"""Name lookups, as programs make them, for tests/resolver.rs.

Usage: lookups.py CALL:NAME ...  Each argument is one lookup; its outcome is printed as a
`CALL:NAME: OUTCOME` line:

- `getaddrinfo` (socket.getaddrinfo), `gethostbyname_r` (socket.gethostbyname_ex),
  `gethostbyaddr_r` (socket.gethostbyaddr), `getnameinfo` (socket.getnameinfo, a reverse lookup):
  `ok ADDRESS-OR-NAME`, or `EAI_AGAIN` / `EAI_NONAME` / ... / `herror N`;
- `gethostbyname`, `gethostbyname2`, `gethostbyaddr`: libc's non-reentrant calls through the
  program's global scope (ctypes.CDLL(None), as a C program links them): `ok ADDRESS-OR-NAME`, or
  `null h_errno=N`;
- `getnetbyname`, `getnetbyaddr` (NAME a dotted network number): `ok` or `null h_errno=N`;
- `res_query`, `res_search`, `res_querydomain`, `res_send`, `res_nquery`, `res_nsearch`,
  `res_nquerydomain`, `res_nsend` and the `__res_` names (`__res_query`, ...): `ok LENGTH` or
  `-1 h_errno=N` (`-1 errno=N` for res_send and res_nsend). The res_n* calls use a state of their own, set up with res_ninit;
- `rcmd`, `rexec`: a call to the host's rsh or rexec port (NAME the host): `ok` or `-1`.
"""

import ctypes
import socket
import sys

from armrtest import emit, watchdog

libc = ctypes.CDLL(None, use_errno=True)
libc.__h_errno_location.restype = ctypes.POINTER(ctypes.c_int)


def h_errno():
    return libc.__h_errno_location()[0]


class HostEnt(ctypes.Structure):
    _fields_ = [
        ("h_name", ctypes.c_char_p),
        ("h_aliases", ctypes.POINTER(ctypes.c_char_p)),
        ("h_addrtype", ctypes.c_int),
        ("h_length", ctypes.c_int),
        ("h_addr_list", ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))),
    ]


def hostent(pointer, name=False):
    if not pointer:
        return f"null h_errno={h_errno()}"
    entry = pointer.contents
    if name or not entry.h_addr_list[0]:
        return f"ok {entry.h_name.decode()}"
    raw = bytes(entry.h_addr_list[0][: entry.h_length])
    return f"ok {socket.inet_ntop(entry.h_addrtype, raw)}"


for name in ("gethostbyname", "gethostbyname2", "gethostbyaddr"):
    getattr(libc, name).restype = ctypes.POINTER(HostEnt)
for name in ("getnetbyname", "getnetbyaddr"):
    getattr(libc, name).restype = ctypes.c_void_p

C_IN, T_A = 1, 1
# struct __res_state is 568 bytes on 64-bit glibc; a larger buffer is harmless.
STATE = ctypes.create_string_buffer(1024)


def query(call, name):
    answer = ctypes.create_string_buffer(4096)
    encoded = name.encode()
    function = libc[call]
    plain = call.removeprefix("__")
    if plain in ("res_nquery", "res_nsearch", "res_nquerydomain", "res_nsend"):
        if libc.__res_ninit(STATE) != 0:
            return "res_ninit failed"
    if plain in ("res_send", "res_nsend"):
        message = ctypes.create_string_buffer(512)
        length = libc.res_mkquery(0, encoded, C_IN, T_A, None, 0, None, message, 512)
        if length < 0:
            return "res_mkquery failed"
        args = (message, length, answer, 4096)
    elif plain in ("res_querydomain", "res_nquerydomain"):
        host, _, domain = encoded.partition(b".")
        args = (host, domain, C_IN, T_A, answer, 4096)
    else:
        args = (encoded, C_IN, T_A, answer, 4096)
    if plain.startswith("res_n"):
        args = (STATE,) + args
    ctypes.set_errno(0)
    n = function(*args)
    if n >= 0:
        return f"ok {n}"
    # res_send sets errno, not h_errno.
    if plain.endswith("send"):
        return f"{n} errno={ctypes.get_errno()}"
    return f"{n} h_errno={h_errno()}"


def gai_error(exc):
    for code in ("EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA", "EAI_SYSTEM"):
        if exc.errno == getattr(socket, code, None):
            return code
    return f"gaierror {exc.errno}"


def remote(call, name):
    """rcmd (to the rsh port) or rexec (to the rexec port): they look the host up with libc's
    internal getaddrinfo. `ok` or `-1`."""
    host = ctypes.c_char_p(name.encode())
    if call == "rcmd":
        fd = libc.rcmd(ctypes.byref(host), ctypes.c_ushort(socket.htons(514)), b"root", b"root",
                       b"true", None)
    else:
        fd = libc.rexec(ctypes.byref(host), ctypes.c_int(socket.htons(512)), b"root", b"secret",
                        b"true", None)
    return "ok" if fd >= 0 else "-1"


def nss_dns(call, name):
    """glibc's private DNS module entry points (found by dlsym): `status=S h_errno=H`."""
    buffer = ctypes.create_string_buffer(4096)
    result = ctypes.create_string_buffer(64)
    err, herr = ctypes.c_int(0), ctypes.c_int(0)
    function = getattr(libc, call)
    if call == "_nss_dns_gethostbyname_r":
        status = function(name.encode(), result, buffer, 4096, ctypes.byref(err), ctypes.byref(herr))
    elif call == "_nss_dns_gethostbyname4_r":
        pat = ctypes.c_void_p()
        status = function(name.encode(), ctypes.byref(pat), buffer, 4096, ctypes.byref(err),
                          ctypes.byref(herr), None)
    elif call == "_nss_dns_gethostbyaddr_r":
        raw = socket.inet_aton(name)
        status = function(raw, 4, socket.AF_INET, result, buffer, 4096, ctypes.byref(err),
                          ctypes.byref(herr))
    else:  # _nss_dns_getcanonname_r
        canon = ctypes.c_char_p()
        status = function(name.encode(), buffer, 4096, ctypes.byref(canon), ctypes.byref(err),
                          ctypes.byref(herr))
    return f"status={status} h_errno={herr.value}"


def lookup(call, name):
    try:
        if call == "getaddrinfo":
            return "ok " + socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        if call == "gethostbyname_r":
            return "ok " + socket.gethostbyname_ex(name)[2][0]
        if call == "gethostbyaddr_r":
            return "ok " + socket.gethostbyaddr(name)[0]
        if call == "getnameinfo":
            return "ok " + socket.getnameinfo((name, 80), socket.NI_NAMEREQD)[0]
        if call == "gethostbyname":
            return hostent(libc.gethostbyname(name.encode()))
        if call == "gethostbyname2":
            return hostent(libc.gethostbyname2(name.encode(), socket.AF_INET))
        if call == "getnetbyname":
            pointer = libc.getnetbyname(name.encode())
            return "ok" if pointer else f"null h_errno={h_errno()}"
        if call == "getnetbyaddr":
            net = int.from_bytes(socket.inet_aton(name), "big")
            pointer = libc.getnetbyaddr(ctypes.c_uint32(net), socket.AF_INET)
            return "ok" if pointer else f"null h_errno={h_errno()}"
        if call == "gethostbyaddr":
            raw = socket.inet_aton(name)
            return hostent(libc.gethostbyaddr(raw, 4, socket.AF_INET), name=True)
        if call in ("rcmd", "rexec"):
            return remote(call, name)
        if call == "gethostid":
            # Looks the host's own name up (libc's internal gethostbyname_r) without /etc/hostid.
            libc.gethostid.restype = ctypes.c_long
            return f"{libc.gethostid()}"
        if call.startswith("_nss_dns_"):
            return nss_dns(call, name)
        if call == "ruserok":
            return f"{libc.ruserok(name.encode(), 0, b'root', b'root')}"
        if call == "ruserok_af":
            return f"{libc.ruserok_af(name.encode(), 0, b'root', b'root', socket.AF_INET6)}"
        return query(call, name)
    except socket.gaierror as exc:
        return gai_error(exc)
    except socket.herror as exc:
        return f"herror {exc.errno}"


watchdog(60)
for arg in sys.argv[1:]:
    call, _, name = arg.partition(":")
    emit(arg, lookup(call, name))
