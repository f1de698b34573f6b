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

    benches/gen_rules.py N --shape cidr|ranges|ports|hosts --connect-port CP --bind-port BP
                           --listen-port LP

The policy shapes of the flat-lookup budget (issue 14), made to be hard for the matcher: N rules
of EACH kind the shape can be written for (connect and accept; bind(server:) too for ranges and
ports), all around the benchmark's own addresses (127.0.0.1 and ::1, half each), none matching
its calls (benches/shape_calls.c): connect/sendto/sendmsg go to port CP, bind+listen binds BP,
accept takes a connection from an ephemeral port (32768-60999) to a listener on LP (which the
connect and bind rules leave out too):
  cidr    nested CIDR blocks of every prefix length around the loopback address (IPv4 /0../32,
          IPv6 /0../128), ports 1-9999;
  ranges  overlapping port ranges on the loopback address, each ending just below or starting
          just above the call's port (for accept: below 32768 or from 61000);
  ports   many exact ports on the loopback address (1-32767 and 61000-65535, without CP and BP);
  hosts   hostnames mixed with addresses: `localhost`, names under `.localhost` (loopback by
          RFC 6761: armr never resolves them, so the benchmark makes no DNS query) and the
          loopback addresses, ports 1-9999.
"""
import argparse
import functools
import ipaddress
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


SHAPE_KINDS = {
    "cidr": ["connect", "accept"],
    "ranges": ["connect", "accept", "bind-server"],
    "ports": ["connect", "accept", "bind-server"],
    "hosts": ["connect", "accept"],
}


@functools.lru_cache(maxsize=None)
def free_ports(cp, bp, lp):
    """Ports no benchmark call uses: below the ephemeral range or above it, without CP, BP, LP."""
    return [p for p in list(range(1, 32768)) + list(range(61000, 65536)) if p not in (cp, bp, lp)]


def shape_address(shape, kind, i, cp, bp, lp):
    """The address of the i-th rule of `kind` in a shape policy (see the module's text)."""
    v6 = i % 2 == 1
    j = i // 2
    host = "[::1]" if v6 else "127.0.0.1"
    low_port = 1 + (i * 7919) % 9999
    if shape == "cidr":
        bits = 128 if v6 else 32
        p = j % (bits + 1)
        net = ipaddress.ip_network(("::1" if v6 else "127.0.0.1") + f"/{p}", strict=False)
        text = f"[{net.network_address}/{p}]" if v6 else f"{net.network_address}/{p}"
        return f"{text}:{1 + (i * 7919 + p) % 9999}"
    if shape == "ranges":
        width = j // 2 % 20000
        if kind == "accept":
            lo, hi = (32767 - width, 32767) if j % 2 == 0 else (61000, min(65535, 61000 + width))
        else:
            target = cp if kind == "connect" else bp
            lo, hi = (max(1, target - 1 - width), target - 1) if j % 2 == 0 else (target + 1, min(65535, target + 1 + width))
            # Never over another port of the benchmark's (the listener's, the other target).
            for other in {cp, bp, lp} - {target}:
                if lo <= other <= hi:
                    lo, hi = (other + 1, hi) if other < target else (lo, other - 1)
            if lo > hi:
                lo, hi = (1, 1) if cp != 1 and bp != 1 and lp != 1 else (2, 2)
        return f"{host}:{lo}-{hi}"
    if shape == "ports":
        ports = free_ports(cp, bp, lp)
        return f"{host}:{ports[j % len(ports)]}"
    if shape == "hosts":
        form = j % 3
        if form == 0:
            return f"localhost:{low_port}"
        if form == 1:
            return f"h{j % 1000}.localhost:{low_port}"
        return f"{host}:{low_port}"
    raise ValueError(shape)


def shape_rules(a):
    out = []
    kinds = SHAPE_KINDS[a.shape]
    rules = [(kind, i) for i in range(a.n) for kind in kinds]
    per_app = 100
    for app in range((len(rules) + per_app - 1) // per_app):
        out.append(f'app("{a.shape} app {app}"):\n    requires(version: ARMR/2.11)\n')
        for kind, i in rules[app * per_app:(app + 1) * per_app]:
            addr = shape_address(a.shape, kind, i, a.connect_port, a.bind_port, a.listen_port)
            cond = f'bind(server: "{addr}")' if kind == "bind-server" else f'{kind}("{addr}")'
            out.append(f'    socket("{kind} {i}"):\n        {cond}\n        {action(i)}\n    endsocket\n')
        out.append("endapp\n")
    return "".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--exact-only", action="store_true",
                   help="only exact addresses (IPv4, IPv6, with a port or a port range): no CIDR block, no any-address")
    p.add_argument("--allow-connect")
    p.add_argument("--allow-bind")
    p.add_argument("--allow-accept")
    p.add_argument("--shape", choices=sorted(SHAPE_KINDS))
    p.add_argument("--connect-port", type=int)
    p.add_argument("--bind-port", type=int)
    p.add_argument("--listen-port", type=int)
    a = p.parse_args()
    if a.shape:
        if not (a.connect_port and a.bind_port and a.listen_port):
            sys.exit("--shape needs --connect-port, --bind-port and --listen-port")
        sys.stdout.write(shape_rules(a))
        return
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
