#!/usr/bin/env python3
"""Writes the seeds of the `sockaddr` fuzz target into fuzz/seeds-sockaddr/ (Linux, x86-64).

Each file is one fuzz input: the declared length (u16, little-endian), then the buffer. Families
and scope ids are in native (little-endian) order, ports, addresses and flow info in network order,
as the kernel lays out sockaddr_in and sockaddr_in6.
"""
import os
import socket
import struct

AF_INET, AF_INET6, AF_UNIX = 2, 10, 1  # Linux values
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds-sockaddr")


def sin(ip, port):
    return (struct.pack("<H", AF_INET) + struct.pack(">H", port)
            + socket.inet_pton(socket.AF_INET, ip) + b"\0" * 8)  # 16 bytes


def sin6(ip, port, flow=0, scope=0):
    return (struct.pack("<H", AF_INET6) + struct.pack(">H", port) + struct.pack(">I", flow)
            + socket.inet_pton(socket.AF_INET6, ip) + struct.pack("<I", scope))  # 28 bytes


def write(name, body, declared=None):
    declared = len(body) if declared is None else declared
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<H", declared) + body)


os.makedirs(OUT, exist_ok=True)
write("in-10.1.2.3-443.bin", sin("10.1.2.3", 443))
write("in-any-0.bin", sin("0.0.0.0", 0))
write("in-short-15.bin", sin("127.0.0.1", 80), 15)
write("in6-loopback-8080.bin", sin6("::1", 8080))
write("in6-mapped-80.bin", sin6("::ffff:127.0.0.1", 80))
write("in6-linklocal-scope.bin", sin6("fe80::1", 22, flow=0x12345, scope=2))
write("in6-short-27.bin", sin6("::1", 1), 27)  # the kernel takes it: scope id not read
write("in6-rfc2133-24.bin", sin6("::1", 2, scope=3), 24)  # SIN6_LEN_RFC2133: the shortest
write("in6-short-23.bin", sin6("::1", 3), 23)  # too short
write("storage-128-in6.bin", sin6("2001:db8::1", 65535) + b"\0" * 100, 128)
write("unix.bin", struct.pack("<H", AF_UNIX) + b"/tmp/sock\0")
