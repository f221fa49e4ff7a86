#!/usr/bin/env python3
"""Echo client of Tugas 1 (mesin-2 / mesin-3): the student's client.py, with options for tasks 3 and 4.

It sends the lab message (or a file's contents, task 3), reads the echo with recv(16) until every byte is
back, and checks that the echo equals what was sent. `--repeat N --interval S` repeats that on ONE
connection (task 4), so a serial server keeps the second client waiting. Sending runs in its own thread
while the main thread receives: otherwise a big file deadlocks, both sides blocked in send() with full
buffers. Any failure (refused, timeout, short or wrong echo) exits 1 with a one-line reason.

Standard library only. The default server is loopback; lab addresses are given explicitly.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from typing import Optional

LAB_MESSAGE = "INI ADALAH DATA YANG DIKIRIM ABCDEFGHIJKLMNOPQ"


class EchoError(Exception):
    """The echo is not what the client sent; message is the one-line reason."""


def log(text: str) -> None:
    """Satu baris log dengan waktu (UTC), langsung di-flush.

    Same format as echo_server.log, copied on purpose: each lab program is one file a student copies
    to a lab machine alone, so the two share no module."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


def _send_all(sock: socket.socket, data: bytes, errors: list) -> None:
    try:
        sock.sendall(data)
    except OSError as e:
        errors.append(e)


def exchange(sock: socket.socket, data: bytes, chunk: int, log_limit: int = 20) -> None:
    """Kirim data lalu terima echo sampai semua byte kembali; raise EchoError kalau berbeda."""
    errors: list = []
    sender = threading.Thread(target=_send_all, args=(sock, data, errors), daemon=True)
    sender.start()
    received = bytearray()
    lines = 0
    while len(received) < len(data):
        part = sock.recv(min(chunk, len(data) - len(received)))
        if not part:
            sender.join(1)
            raise EchoError(f"short echo: server closed after {len(received)} of {len(data)} bytes")
        if lines < log_limit:
            log(f"received {part!r}")
        lines += 1
        if part != data[len(received):len(received) + len(part)]:
            off = len(received) + next(i for i, (a, b) in enumerate(zip(part, data[len(received):])) if a != b)
            sender.join(1)
            got = part[off - len(received):off - len(received) + 1]
            raise EchoError(f"echo mismatch at byte {off}: sent {data[off:off + 1]!r}, got {got!r}")
        received += part
    if lines > log_limit:
        log(f"... {lines - log_limit} more chunks received")
    sender.join()
    if errors:
        raise errors[0]


def run(server: str, port: int, payload: bytes, repeat: int, interval: float, chunk: int,
        timeout: Optional[float]) -> None:
    """One connection; the payload sent and verified `repeat` times, `interval` seconds apart."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        log(f"connecting to {server} port {port}")
        sock.connect((server, port))
        for n in range(repeat):
            if n:
                time.sleep(interval)
            shown = payload if len(payload) <= 80 else payload[:60] + b"..."
            log(f"sending {shown!r} ({len(payload)} bytes)")
            exchange(sock, payload, chunk)
            log(f"echo complete: {len(payload)} bytes ok")
    finally:
        log("closing")
        sock.close()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Echo client of the socket-programming lab (Tugas 1).")
    p.add_argument("--server", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=10000, help="server port (default 10000)")
    p.add_argument("--message", default=LAB_MESSAGE, help="text to send (default: the lab's 46-byte message)")
    p.add_argument("--file", metavar="PATH", help="send this file's contents instead (task 3)")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="send N times on one connection (task 4)")
    p.add_argument("--interval", type=float, default=3.0, metavar="S", help="seconds between repeats (default 3)")
    p.add_argument("--chunk", type=int, default=16, help="recv() size (default 16, as in the lab)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="give up when connect or a single recv/send waits longer (default 30 s)")
    args = p.parse_args(argv)

    try:
        if args.file:
            with open(args.file, "rb") as f:
                payload = f.read()
        else:
            payload = args.message.encode()
    except OSError as e:
        print(f"echo_client: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    if not payload or args.repeat < 1 or args.chunk < 1:
        print("echo_client: nothing to send (empty payload, --repeat < 1 or --chunk < 1)", file=sys.stderr)
        return 2
    where = f"{args.server}:{args.port}"
    try:
        run(args.server, args.port, payload, args.repeat, args.interval, args.chunk, args.timeout)
    except EchoError as e:
        print(f"echo_client: {e}", file=sys.stderr)
        return 1
    except ConnectionRefusedError:
        print(f"echo_client: connection refused by {where} (is the server running?)", file=sys.stderr)
        return 1
    except socket.timeout:
        print(f"echo_client: timed out after {args.timeout} s talking to {where}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"echo_client: {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("echo_client: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
