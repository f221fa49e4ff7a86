#!/usr/bin/env python3
"""Echo server of Tugas 1 (mesin-1): what the student's server.py does, with options for the other tasks.

Like the lab script it sets SO_REUSEADDR, binds 0.0.0.0, listen(backlog), recv(32) and sendall()s every
chunk back. `--mode serial` (the lab's loop) serves one client at a time, so a second client waits in the
kernel backlog (task 4); `--mode thread` gives each client its own thread. `--max-clients` lets the lab
runner and the tests stop it deterministically; `--corrupt-offset` (tests/teaching only) flips one echoed
byte so mismatch detection in the report and the Wireshark plugin can be shown.

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


class Shutdown(Exception):
    """SIGTERM arrived: leave the accept loop and exit 0."""


_print_lock = threading.Lock()


def log(text: str) -> None:
    """Satu baris log dengan waktu (UTC), langsung di-flush agar urutan terlihat saat dijalankan lab runner."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    with _print_lock:
        print(f"{stamp} {text}", file=sys.stderr, flush=True)


def handle_client(connection: socket.socket, client_address: tuple, chunk: int,
                  corrupt_offset: Optional[int], log_limit: int) -> int:
    """Terima data dan kirim balik sampai klien menutup koneksi; returns the number of bytes echoed.

    A client that resets or vanishes mid-transfer ends only its own connection, never the server.
    """
    log(f"connection from {client_address}")
    echoed = 0
    lines = 0
    try:
        while True:
            data = connection.recv(chunk)
            if not data:
                log(f"no more data from {client_address}")
                break
            if corrupt_offset is not None and echoed <= corrupt_offset < echoed + len(data):
                i = corrupt_offset - echoed  # hanya untuk pengujian: ubah satu byte
                data = data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:]
            if lines < log_limit:
                log(f"received {data!r}")
                log("sending back data")
                lines += 1
            elif lines == log_limit:
                log("... (further chunks not logged)")
                lines += 1
            connection.sendall(data)
            echoed += len(data)
    except OSError as e:  # ConnectionResetError, BrokenPipeError, timeouts
        log(f"client {client_address} gone: {e.__class__.__name__}: {e}")
    finally:
        connection.close()
    log(f"closed {client_address} after echoing {echoed} bytes")
    return echoed


def serve(sock: socket.socket, mode: str, chunk: int, max_clients: Optional[int],
          corrupt_offset: Optional[int], log_limit: int) -> None:
    """Loop accept(): serial seperti server.py di lab, atau satu thread per klien."""
    served = 0
    threads: list[threading.Thread] = []
    while max_clients is None or served < max_clients:
        log("waiting for a connection")
        connection, client_address = sock.accept()
        served += 1
        if mode == "serial":
            handle_client(connection, client_address, chunk, corrupt_offset, log_limit)
        else:
            t = threading.Thread(target=handle_client, daemon=True,
                                 args=(connection, client_address, chunk, corrupt_offset, log_limit))
            t.start()
            threads.append(t)
            threads = [x for x in threads if x.is_alive()]
    for t in threads:  # --max-clients in thread mode: finish the clients already accepted
        t.join()


def _on_sigterm(signum, frame) -> None:
    raise Shutdown()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Echo server of the socket-programming lab (Tugas 1).")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0, as in the lab)")
    p.add_argument("--port", type=int, default=10000, help="TCP port (default 10000; 0 = any free port)")
    p.add_argument("--backlog", type=int, default=1, help="listen() backlog (default 1, as in the lab)")
    p.add_argument("--chunk", type=int, default=32, help="recv() size (default 32, as in the lab)")
    p.add_argument("--mode", choices=("serial", "thread"), default="serial",
                   help="serial: one client at a time (lab server.py); thread: one thread per client")
    p.add_argument("--max-clients", type=int, default=None, metavar="N",
                   help="exit 0 after serving N clients (for the lab runner and tests)")
    p.add_argument("--log-limit", type=int, default=50, metavar="N",
                   help="log at most N received chunks per connection (default 50)")
    p.add_argument("--corrupt-offset", type=int, default=None, metavar="N",
                   help="tests/teaching only: flip the echoed byte at stream offset N of each connection")
    args = p.parse_args(argv)

    signal.signal(signal.SIGTERM, _on_sigterm)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.bind, args.port))
        except OSError as e:
            print(f"echo_server: cannot listen on {args.bind} port {args.port}: {e.strerror}", file=sys.stderr)
            return 1
        host, port = sock.getsockname()[:2]
        log(f"starting up on {host} port {port} (mode {args.mode}, backlog {args.backlog}, recv {args.chunk})")
        sock.listen(args.backlog)
        serve(sock, args.mode, args.chunk, args.max_clients, args.corrupt_offset, args.log_limit)
        log("served all clients, stopping")
    except (Shutdown, KeyboardInterrupt):
        log("shutting down")
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
