#!/usr/bin/env python3
"""Time client of Tugas 2 (mesin-2 / mesin-3): sends requests to time_server.py and checks every reply.

By default it sends `TIME`, `TIME`, `QUIT` on one connection (`--requests` changes the list, `--interval`
the pause between requests). Each `TIME` must be answered with `JAM hh:mm:ss`, any other request (not
QUIT) with a line starting `ERROR`, and `QUIT` must make the server close the connection. `--bytewise`
sends like telnet in character mode: every byte in its own TCP segment (TCP_NODELAY and a short pause
between bytes), which the server must put back together into one line.

A bad, missing or late reply (--timeout), or a QUIT that does not close the connection, exits 1 with one
line naming the reason. Standard library only; the default server is loopback.
"""
from __future__ import annotations

import argparse
import re
import socket
import sys
import time
from typing import Optional

TIME_REPLY = {  # --format: what a correct TIME reply looks like
    "assignment": re.compile(r"JAM ([01]\d|2[0-3]):[0-5]\d:[0-5]\d"),
    "lecturer": re.compile(r"JAM (0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-\d{4} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d"),
}


class ReplyError(Exception):
    """The server's answer is wrong, missing or late; the message is the one-line reason."""


def log(text: str) -> None:
    """Same log format as the servers (copied: each lab program is one file a student copies alone)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


def send_request(sock: socket.socket, line: bytes, bytewise: bool, pause: float) -> None:
    """Send one request line, whole or (telnet-like) one byte per segment."""
    if not bytewise:
        sock.sendall(line)
        return
    for i in range(len(line)):
        sock.sendall(line[i:i + 1])  # TCP_NODELAY is on: this byte leaves now, in its own segment
        time.sleep(pause)


def read_line(sock: socket.socket, buffer: bytearray, limit: int = 4096) -> Optional[bytes]:
    """One reply line (without its line end); None when the server closed first. Leftovers stay in buffer."""
    while b"\n" not in buffer:
        if len(buffer) > limit:
            raise ReplyError(f"reply longer than {limit} bytes without a line end")
        data = sock.recv(1024)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\n")
    line = bytes(buffer[:end]).rstrip(b"\r")
    del buffer[:end + 1]
    return line


def check_reply(request: str, reply: Optional[bytes], pattern: re.Pattern) -> str:
    text = None if reply is None else reply.decode("utf-8", errors="replace")
    if text is None:
        raise ReplyError(f"no reply to {request!r}: the server closed the connection")
    if request == "TIME" and not pattern.fullmatch(text):
        raise ReplyError(f"bad reply to 'TIME': {text!r} (expected {pattern.pattern})")
    if request != "TIME" and not text.startswith("ERROR"):
        raise ReplyError(f"bad reply to unknown request {request!r}: {text!r} (expected ERROR ...)")
    return text


def run(server: str, port: int, requests: list[str], interval: float, bytewise: bool, pause: float,
        timeout: float, pattern: re.Pattern) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)  # every connect/recv waits at most this long
    if bytewise:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle: one byte, one segment
    buffer = bytearray()
    try:
        log(f"connecting to {server} port {port}")
        sock.connect((server, port))
        for n, request in enumerate(requests):
            if n:
                time.sleep(interval)
            log(f"sending {request!r}" + (" byte by byte" if bytewise else ""))
            send_request(sock, request.encode() + b"\r\n", bytewise, pause)
            if request == "QUIT":
                rest = read_line(sock, buffer)
                if rest is not None:
                    raise ReplyError(f"QUIT did not close the connection: got {rest!r}")
                log("server closed the connection after QUIT")
                return
            reply = check_reply(request, read_line(sock, buffer), pattern)
            log(f"received {reply!r}")
    finally:
        log("closing")
        sock.close()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Time client of the socket-programming lab (Tugas 2).")
    p.add_argument("--server", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=45000, help="server port (default 45000)")
    p.add_argument("--requests", default="TIME,TIME,QUIT", metavar="R1,R2,...",
                   help="requests to send in order, one connection (default TIME,TIME,QUIT)")
    p.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between requests (default 1)")
    p.add_argument("--bytewise", action="store_true",
                   help="send one byte per TCP segment, like telnet in character mode")
    p.add_argument("--byte-pause", type=float, default=0.02, metavar="S",
                   help="with --bytewise: pause after each byte (default 0.02 s)")
    p.add_argument("--format", choices=tuple(TIME_REPLY), default="assignment",
                   help="expected TIME reply: assignment (JAM hh:mm:ss, default) or lecturer (JAM dd-mm-YYYY ...)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="give up when connect or a reply takes longer (default 5 s)")
    args = p.parse_args(argv)

    requests = [r.strip() for r in args.requests.split(",")]
    if not all(requests) or any(r == "QUIT" for r in requests[:-1]):
        print("time_client: --requests needs non-empty requests, QUIT only as the last one", file=sys.stderr)
        return 2
    where = f"{args.server}:{args.port}"
    try:
        run(args.server, args.port, requests, args.interval, args.bytewise, args.byte_pause, args.timeout,
            TIME_REPLY[args.format])
    except ReplyError as e:
        print(f"time_client: {e}", file=sys.stderr)
        return 1
    except ConnectionRefusedError:
        print(f"time_client: connection refused by {where} (is the server running?)", file=sys.stderr)
        return 1
    except socket.timeout:
        print(f"time_client: no reply from {where} within {args.timeout} s", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"time_client: {where}: {e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("time_client: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
