#!/usr/bin/env python3
"""Time server of Tugas 2 (mesin-1): `TIME` gets `JAM hh:mm:ss`, `QUIT` ends the session.

The protocol, one request per line (ended by `\\r\\n`; a bare `\\n` is accepted too, as telnet or nc send):

    TIME    ->  JAM 14:03:07\\r\\n            (the server's local time)
    QUIT    ->  (no reply: the server closes the connection)
    other   ->  ERROR unknown request\\r\\n   (an empty line too)

A line longer than --max-line bytes (default 1024) gets `ERROR line too long\\r\\n` and the connection is
closed, so a client that never sends a newline cannot make the server hold more than that in memory.
Bytes are collected until a line is complete, whatever the segmentation: telnet in character mode sends
one byte per segment, and the reply still comes once, for the whole line.

`--mode thread` (default, what the assignment asks) gives each client its own thread; `--mode serial` serves
one client at a time (listen(1) like the lab's echo server), so a second client waits for the first to QUIT.
`--format lecturer` answers like the lecturer's progjar3 server_thread_time.py: `JAM dd-mm-YYYY HH:MM:SS`
and a bare `ERROR` (it does not copy that server's recv(32)-per-request handling).

Standard library only.
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from typing import Optional

FORMATS = {  # --format: how a TIME reply and an error look
    "assignment": {"time": "%H:%M:%S", "unknown": "ERROR unknown request", "too_long": "ERROR line too long"},
    "lecturer": {"time": "%d-%m-%Y %H:%M:%S", "unknown": "ERROR", "too_long": "ERROR"},
}


class Shutdown(Exception):
    """SIGTERM arrived: leave the accept loop and exit 0."""


_print_lock = threading.Lock()


def log(text: str) -> None:
    """Satu baris log dengan waktu (UTC), langsung di-flush (same format as echo_server.py)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    with _print_lock:
        print(f"{stamp} {text}", file=sys.stderr, flush=True)


def answer(line: str, fmt: dict) -> Optional[str]:
    """The reply to one request line (without its line end); None means QUIT: close the connection."""
    request = line.strip()
    if request == "QUIT":
        return None
    if request == "TIME":
        return "JAM " + time.strftime(fmt["time"], time.localtime())  # waktu lokal server
    return fmt["unknown"]


def refuse(connection: socket.socket, fmt: dict) -> None:
    """Say the line is too long and close gently: FIN after the reply, then read (and drop) what the client
    is still sending for a moment, so that our close() does not reset the connection before it reads why."""
    connection.sendall((fmt["too_long"] + "\r\n").encode())
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(1.0)
    dropped = 0
    while dropped < (1 << 20):  # bounded: at most 1 MB or 1 s of silence
        try:
            data = connection.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        dropped += len(data)


def handle_client(connection: socket.socket, client_address: tuple, fmt: dict, max_line: int) -> None:
    """Read lines and answer each one until QUIT, the client closes, or a line is too long."""
    log(f"connection from {client_address}")
    buffer = b""
    try:
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:  # no complete line yet: read more (however small the pieces are)
                if len(buffer) > max_line:
                    log(f"{client_address} sent {len(buffer)} bytes without a newline: closing")
                    refuse(connection, fmt)
                    break
                data = connection.recv(1024)
                if not data:
                    log(f"{client_address} closed the connection")
                    break
                buffer += data
                continue
            raw, buffer = buffer[:newline + 1], buffer[newline + 1:]
            if len(raw) > max_line + 1:
                log(f"{client_address} sent a {len(raw)}-byte line: closing")
                refuse(connection, fmt)
                break
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            reply = answer(line, fmt)
            if reply is None:
                log(f"{client_address} QUIT: closing")
                break
            log(f"{client_address} {line!r} -> {reply!r}")
            connection.sendall((reply + "\r\n").encode())
    except OSError as e:  # ConnectionResetError, BrokenPipeError: only this client is gone
        log(f"client {client_address} gone: {e.__class__.__name__}: {e}")
    finally:
        connection.close()
    log(f"closed {client_address}")


def serve(sock: socket.socket, mode: str, max_clients: Optional[int], fmt: dict, max_line: int) -> None:
    """Loop accept(): serial (one client at a time) or one thread per client."""
    served = 0
    threads: list[threading.Thread] = []
    while max_clients is None or served < max_clients:
        log("waiting for a connection")
        connection, client_address = sock.accept()
        served += 1
        if mode == "serial":
            handle_client(connection, client_address, fmt, max_line)
        else:
            t = threading.Thread(target=handle_client, args=(connection, client_address, fmt, max_line),
                                 daemon=True)
            t.start()
            threads = [x for x in threads if x.is_alive()] + [t]
    for t in threads:  # --max-clients in thread mode: finish the clients already accepted
        t.join()


def _on_sigterm(signum, frame) -> None:
    raise Shutdown()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Time server of the socket-programming lab (Tugas 2).")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0, as in the lab)")
    p.add_argument("--port", type=int, default=45000, help="TCP port (default 45000; 0 = any free port)")
    p.add_argument("--mode", choices=("thread", "serial"), default="thread",
                   help="thread: one thread per client (default); serial: one client at a time")
    p.add_argument("--backlog", type=int, default=None,
                   help="listen() backlog (default 1 in serial mode, as in the lab; 16 in thread mode)")
    p.add_argument("--format", choices=tuple(FORMATS), default="assignment",
                   help="assignment: JAM hh:mm:ss (default); lecturer: JAM dd-mm-YYYY HH:MM:SS like progjar3")
    p.add_argument("--max-line", type=int, default=1024, metavar="BYTES",
                   help="longest request line accepted (default 1024); longer: error reply and close")
    p.add_argument("--max-clients", type=int, default=None, metavar="N",
                   help="exit 0 after serving N clients (for the lab runner and tests)")
    args = p.parse_args(argv)
    backlog = args.backlog if args.backlog is not None else (1 if args.mode == "serial" else 16)

    signal.signal(signal.SIGTERM, _on_sigterm)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.bind, args.port))
        except OSError as e:
            print(f"time_server: cannot listen on {args.bind} port {args.port}: {e.strerror}", file=sys.stderr)
            return 1
        host, port = sock.getsockname()[:2]
        log(f"starting up on {host} port {port} (mode {args.mode}, backlog {backlog}, format {args.format})")
        sock.listen(backlog)
        serve(sock, args.mode, args.max_clients, FORMATS[args.format], args.max_line)
        log("served all clients, stopping")
    except (Shutdown, KeyboardInterrupt):
        log("shutting down")
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
