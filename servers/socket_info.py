#!/usr/bin/env python3
"""Task 1 of Tugas 1: what a fresh socket looks like, and how a name becomes addresses.

It prints the default timeout of a new socket (None: blocking), sets 10 s and prints it again, then asks
getaddrinfo() for the host on port 80. glibc sends a DNS query for A and one for AAAA; no TCP handshake
happens, because nothing calls connect(). Run it where the name should be resolved (in the lab runner:
inside a namespace whose resolver is the lab's own DNS server); tests pass the numeric --host 127.0.0.1,
so nothing is asked of the machine's own resolver.

Standard library only.
"""
from __future__ import annotations

import argparse
import socket
import sys
from typing import Optional


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Show a socket's timeout and resolve a host name (lab task 1).")
    p.add_argument("--host", default="www.its.ac.id", help="name to resolve (default www.its.ac.id)")
    p.add_argument("--port", type=int, default=80, help="port given to getaddrinfo (default 80)")
    p.add_argument("--timeout", type=float, default=10.0, help="timeout to set on the socket (default 10)")
    args = p.parse_args(argv)

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print(f"timeout: {s.gettimeout()}", flush=True)  # socket baru: None (blocking)
    s.settimeout(args.timeout)
    print(f"timeout: {s.gettimeout()}", flush=True)
    s.close()
    try:
        infos = socket.getaddrinfo(args.host, args.port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        print(f"socket_info: cannot resolve {args.host}: {e.strerror}", file=sys.stderr)
        return 1
    print(infos, flush=True)  # seperti di lab: daftar (family, type, proto, canonname, sockaddr)
    for family, _type, _proto, _canon, sockaddr in infos:
        print(f"{family.name} {sockaddr[0]} port {sockaddr[1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
