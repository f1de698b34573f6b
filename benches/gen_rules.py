#!/usr/bin/env python3
"""Writes an ARMR rules file of N socket rules for scripts/bench.

    benches/gen_rules.py N [--kinds connect,accept,bind-server,bind-client]
                           [--allow-connect 127.0.0.1:PORT] [--allow-bind 127.0.0.1:PORT]
                           [--allow-accept 127.0.0.1:0] [--exact-only]

The N rules are spread over apps of 100 rules and cycle through the given condition kinds (all
four by default) and through address shapes a large real policy has: exact IPv4 and IPv6
addresses with one port or a port range, CIDR blocks of several prefix lengths (/8 /16 /24 /28
for IPv4, /32 /48 /64 for IPv6; accept/connect only) and the any-address with one port. Actions
cycle through protect (a third of them silent), allow and detect, with messages.

None of the N rules matches the benchmark's traffic: every address is in 10/8, 172.16/12,
192.168/16 or fd00::/8, and every any-address rule names a port from 1 to 9999 while the
benchmarks use ports chosen by the kernel (32768 and up). No hostname is used: a hostname rule
makes the first decision of its kind resolve every name (see docs/performance.md).

--exact-only keeps only the exact-address shapes (one hash probe per lookup).

--allow-* add one more rule, first in the file: a silent allow() (no message, so nothing is
logged) that matches the benchmark's call of that kind.
"""
import argparse
import sys

KINDS = ["connect", "accept", "bind-server", "bind-client"]


def condition(kind, i, exact_only=False):
    b1, b2, b3 = (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF
    port = 1 + (i * 7919) % 9999
    shape = (i // len(KINDS)) % 8
    if exact_only:
        shape = (0, 1, 4)[shape % 3] if kind.startswith("bind") else shape % 2
    if kind in ("connect", "accept"):
        if shape == 0:
            addr = f"10.{b1}.{b2}.{b3}:{port}"
        elif shape == 1:
            addr = f"[fd00::{b1:x}:{b2:x}:{b3:x}]:{port}-{port + 50}"
        elif shape == 2:
            addr = f"10.{b2}.{b3}.0/24:{port}"
        elif shape == 3:
            addr = f"172.{16 + b3 % 16}.0.0/16:0"
        elif shape == 4:
            addr = f"192.168.{b3}.{(b2 % 16) * 16}/28:{port}-{port + 100}"
        elif shape == 5:
            addr = f"[fd00:{b2:x}{b3:02x}::/32]:{port}"
        elif shape == 6:
            addr = f"[fd{b3:02x}:{b2:x}:{b1:x}::/48]:0" if i % 2 else f"[fd00:{b2:x}:{b3:x}:1::/64]:{port}"
        else:
            addr = f"0.0.0.0:{port}" if i % 2 else f"{1 + b3 % 9}.0.0.0/8:{port}"
        return f'{kind}("{addr}")'
    # bind: IP or any-address only
    if shape in (0, 1, 2, 3):
        addr = f"10.{b1}.{b2}.{b3}:{port}"
    elif shape in (4, 5):
        addr = f"[fd00::{b1:x}:{b2:x}:{b3:x}]:{port}"
    elif shape == 6:
        addr = f"192.168.{b2}.{b3}:{port}-{port + 20}"
    else:
        addr = f"0.0.0.0:{port}"
    key = "server" if kind == "bind-server" else "client"
    return f'bind({key}: "{addr}")'


def action(i):
    kind = ("protect", "allow", "detect")[i % 3]
    if kind == "protect" and i % 9 == 0:
        return "protect()"
    sev = ("Low", "High", "5")[i % 3]
    return f'{kind}(message: "bench rule {i}", severity: {sev})'


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--exact-only", action="store_true",
                   help="only exact addresses (IPv4, IPv6, with a port or a port range): no CIDR block, no any-address")
    p.add_argument("--allow-connect")
    p.add_argument("--allow-bind")
    p.add_argument("--allow-accept")
    a = p.parse_args()
    kinds = a.kinds.split(",")
    for k in kinds:
        if k not in KINDS:
            sys.exit(f"unknown kind {k}")
    out = []
    extra = []
    if a.allow_connect:
        extra.append(f'connect("{a.allow_connect}")')
    if a.allow_bind:
        extra.append(f'bind(server: "{a.allow_bind}")')
    if a.allow_accept:
        extra.append(f'accept("{a.allow_accept}")')
    if extra:
        out.append('app("bench allow"):\n    requires(version: ARMR/2.11)\n')
        for j, cond in enumerate(extra):
            out.append(f'    socket("silent allow {j}"):\n        {cond}\n        allow()\n    endsocket\n')
        out.append("endapp\n")
    per_app = 100
    for app in range((a.n + per_app - 1) // per_app):
        out.append(f'app("bench app {app}"):\n    requires(version: ARMR/2.11)\n')
        for i in range(app * per_app, min(a.n, (app + 1) * per_app)):
            kind = kinds[i % len(kinds)]
            out.append(f'    socket("r{i}"):\n        {condition(kind, i, a.exact_only)}\n        {action(i)}\n    endsocket\n')
        out.append("endapp\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
