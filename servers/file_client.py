#!/usr/bin/env python3
"""File client of Tugas 3 and the ETS (mesin-2 / mesin-3): talks to file_server.py (the progjar4a protocol).

    python3 file_client.py --server 172.16.16.101 list
    python3 file_client.py --server 172.16.16.101 get donalbebek.jpg [-o copy.jpg]
    python3 file_client.py --server 172.16.16.101 upload berkas.pdf
    python3 file_client.py --server 172.16.16.101 delete berkas.pdf
    python3 file_client.py --server 172.16.16.101 stress --operation upload,download --size 10MB,50MB \\
                           --clients 1,5,50 --pool thread [--csv hasil.csv] [--json hasil.json]

Each command opens one connection, sends one request followed by "\\r\\n\\r\\n" and reads the JSON reply up
to its "\\r\\n\\r\\n". The lecturer's file_client_cli.py sends no terminator; --no-terminator does the same.
Files are streamed both ways: an upload is read and base64-encoded piece by piece while it is sent, a
download is decoded and hashed while it arrives, so memory stays small for a 100 MB file. Every file is
checked: a download's decoded size against the server's data_size, an upload's size and sha256 against what
the server says it stored. `stress` runs N transfers at once (a thread or process pool, like the ETS) and
prints the ETS table: operation, file size, clients, time, throughput, successes, failures.

An ERROR reply, a mismatch or a timeout exits 1 with one line saying why. Standard library only; the
default server is loopback.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import json
import os
import random
import re
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Callable, Optional

TERMINATOR = b"\r\n\r\n"
FILE_KEY = re.compile(rb'"data_file"\s*:\s*"')
CHUNK = 3 * 16384          # file bytes per base64 piece (a multiple of 3: no padding in between)
REPLY_LIMIT = 1 << 20      # a reply without a file must end within this many bytes


class ClientError(Exception):
    """The transfer failed (ERROR reply, mismatch, closed early); the message is the one-line reason."""


def log(text: str) -> None:
    """Same log format as the servers (copied: each lab program is one file a student copies alone)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


class Throttle:
    """--rate: at most `rate` bytes per second, sent and received together (so lab transfers overlap)."""

    def __init__(self, rate: float = 0) -> None:
        self.rate, self.start, self.count = rate, time.monotonic(), 0

    def piece(self, size: int) -> int:
        return max(1, min(size, int(self.rate / 10))) if self.rate else size

    def spent(self, n: int) -> None:
        self.count += n
        if self.rate:
            time.sleep(max(0.0, self.start + self.count / self.rate - time.monotonic()))


class Base64Sink:
    """Decode base64 arriving in pieces of any length (4-character groups at a time); hash, maybe write."""

    def __init__(self, out=None) -> None:
        self.out, self.pending, self.size, self.sha = out, b"", 0, hashlib.sha256()

    def feed(self, data: bytes) -> None:
        data = self.pending + data.translate(None, b" \t\r\n")
        cut = len(data) - len(data) % 4
        try:
            raw = base64.b64decode(data[:cut], validate=True)
        except (binascii.Error, ValueError) as e:
            raise ClientError(f"data_file is not valid base64: {e}") from None
        self.pending = data[cut:]
        self.sha.update(raw)
        self.size += len(raw)
        if self.out is not None:
            self.out.write(raw)

    def finish(self) -> None:
        if self.pending:
            raise ClientError(f"data_file is not valid base64: {len(self.pending)} characters left over")


class Connection:
    """One connection to the file server: send a request, read its reply."""

    def __init__(self, server: str, port: int, timeout: float, terminator: bool = True, rate: float = 0) -> None:
        self.sock = socket.create_connection((server, port), timeout=timeout)
        self.terminator, self.throttle, self.timeout = terminator, Throttle(rate), timeout
        self.buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def send(self, request: bytes) -> None:
        """Send a short request and its terminator (unless --no-terminator) in one go, like sendall()."""
        self.send_raw(request + (TERMINATOR if self.terminator else b""))

    def send_file(self, command: bytes, path: str) -> tuple[int, str]:
        """Send `command` and the file as base64, reading it piece by piece; returns its size and sha256."""
        sha, size = hashlib.sha256(), 0
        with open(path, "rb") as f:
            piece = f.read(CHUNK)
            data = command  # the command goes out with the first piece: one segment for a small file
            while piece:
                sha.update(piece)
                size += len(piece)
                data += base64.b64encode(piece)
                piece = f.read(CHUNK)
                if not piece and self.terminator:
                    data += TERMINATOR
                self.send_raw(data)
                data = b""
        self.send_raw(data + (TERMINATOR if self.terminator and size == 0 else b""))
        return size, sha.hexdigest()

    def send_raw(self, data: bytes) -> None:
        step = self.throttle.piece(len(data) or 1)
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            self.throttle.spent(len(data[i:i + step]))

    def receive(self) -> None:
        data = self.sock.recv(self.throttle.piece(65536))
        if not data:
            raise ClientError("the server closed the connection before the end of its reply")
        self.throttle.spent(len(data))
        self.buffer += data

    def reply(self, on_file: Optional[Callable[[bytes], None]] = None) -> dict:
        """Read one reply up to its terminator. data_file, however long, is passed to on_file piece by piece."""
        while True:
            key = FILE_KEY.search(self.buffer)
            end = self.buffer.find(TERMINATOR)
            if key and (end < 0 or key.start() < end):
                return self._reply_with_file(key.end(), on_file)
            if end >= 0:
                text = bytes(self.buffer[:end])
                del self.buffer[:end + len(TERMINATOR)]
                return _json(text)
            if len(self.buffer) > REPLY_LIMIT:
                raise ClientError(f"reply longer than {REPLY_LIMIT} bytes without an end")
            self.receive()

    def _reply_with_file(self, start: int, on_file) -> dict:
        head = bytes(self.buffer[:start])  # ... "data_file": "
        del self.buffer[:start]
        while True:
            quote = self.buffer.find(b'"')
            part = self.buffer if quote < 0 else self.buffer[:quote]
            keep = 1 if part.endswith(b"\\") else 0  # a JSON escape cut in two: wait for its second half
            text = bytes(part[:len(part) - keep]).replace(b"\\/", b"/").replace(b"\\n", b"").replace(b"\\r", b"")
            if on_file is not None:
                on_file(text)
            del self.buffer[:len(part) - keep]
            if quote >= 0:
                break
            self.receive()
        while TERMINATOR not in self.buffer:  # the rest of the JSON after the file: '"}' and the terminator
            if len(self.buffer) > REPLY_LIMIT:
                raise ClientError("reply does not end after data_file")
            self.receive()
        end = self.buffer.find(TERMINATOR)
        tail = bytes(self.buffer[:end])
        del self.buffer[:end + len(TERMINATOR)]
        return _json(head + tail)

    def extra_replies(self, drain: float) -> int:
        """Replies that follow the one already read: none from a correct server (--drain waits for them)."""
        deadline = time.monotonic() + drain
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    self.receive()
                except (socket.timeout, ClientError):  # quiet until the deadline, or the server closed
                    break
        finally:
            self.sock.settimeout(self.timeout)
        return self.buffer.count(TERMINATOR) + (1 if self.buffer and not self.buffer.endswith(TERMINATOR) else 0)


def _json(text: bytes) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        raise ClientError(f"reply is not JSON: {text[:80]!r}") from None
    if not isinstance(value, dict) or value.get("status") not in ("OK", "ERROR"):
        raise ClientError(f"reply has no status OK or ERROR: {text[:80]!r}")
    return value


def expect_ok(answer: dict, what: str) -> dict:
    if answer["status"] != "OK":
        raise ClientError(f"{what}: server says ERROR: {answer.get('data')}")
    return answer


# --- the commands ----------------------------------------------------------------------------------

def remote_list(conn: Connection) -> list:
    conn.send(b"LIST")
    names = expect_ok(conn.reply(), "LIST").get("data")
    if not isinstance(names, list):
        raise ClientError(f"LIST: data is not a list: {names!r}")
    return names


def remote_get(conn: Connection, name: str, out_path: Optional[str]) -> tuple[int, str]:
    """GET name; the file is decoded while it arrives (to out_path, or only hashed); returns size, sha256."""
    conn.send(b"GET " + name.encode())
    part = out_path + ".part" if out_path else None
    out = open(part, "wb") if part else None
    try:
        sink = Base64Sink(out)
        answer = expect_ok(conn.reply(on_file=sink.feed), f"GET {name}")
        sink.finish()
    except BaseException:
        if out:
            out.close()
            os.unlink(part)
        raise
    if out:
        out.close()
    if "data_file" not in answer:
        _discard(part)
        raise ClientError(f"GET {name}: OK reply without data_file")
    if answer.get("data_namafile", name) != name:
        _discard(part)
        raise ClientError(f"GET {name}: the server sent {answer.get('data_namafile')!r} instead")
    announced = answer.get("data_size")
    if announced is not None and announced != sink.size:
        _discard(part)
        raise ClientError(f"GET {name}: decoded {sink.size} bytes, the server announced {announced}")
    if part:
        os.replace(part, out_path)
    return sink.size, sink.sha.hexdigest()


def _discard(path: Optional[str]) -> None:
    if path:
        os.unlink(path)


def remote_upload(conn: Connection, path: str, name: str) -> tuple[int, str]:
    size, sha = conn.send_file(b"UPLOAD " + name.encode() + b" ", path)
    answer = expect_ok(conn.reply(), f"UPLOAD {name}")
    if answer.get("data_size", size) != size or answer.get("data_sha256", sha) != sha:
        raise ClientError(f"UPLOAD {name}: sent {size} bytes sha256 {sha[:12]}..., the server stored "
                          f"{answer.get('data_size')} bytes sha256 {str(answer.get('data_sha256'))[:12]}...")
    return size, sha


def remote_delete(conn: Connection, name: str) -> None:
    conn.send(b"DELETE " + name.encode())
    expect_ok(conn.reply(), f"DELETE {name}")


# --- stress (ETS) ----------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(B|KB|KIB|MB|MIB|GB|GIB)?\s*", text.upper())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10MB, 512KB, 2000)")
    unit = (m.group(2) or "B")[0]
    return int(m.group(1)) * {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


def size_label(n: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


def test_file(files_dir: str, size: int) -> tuple[str, str]:
    """The stress file of this size (made once, the same bytes every time); returns its path and sha256."""
    path = os.path.join(files_dir, f"stress-{size_label(size)}.bin")
    rng, sha = random.Random(size), hashlib.sha256()
    fresh = not (os.path.isfile(path) and os.path.getsize(path) == size)
    with open(path + ".part" if fresh else path, "wb" if fresh else "rb") as f:
        left = size
        while left:
            piece = rng.randbytes(min(left, 1 << 20)) if fresh else f.read(min(left, 1 << 20))
            if fresh:
                f.write(piece)
            sha.update(piece)
            left -= len(piece)
    if fresh:
        os.replace(path + ".part", path)
    return path, sha.hexdigest()


def one_transfer(job: dict) -> dict:
    """One client worker of the stress test: one connection, one upload or download, verified."""
    t0 = time.perf_counter()
    try:
        conn = Connection(job["server"], job["port"], job["timeout"], job["terminator"])
        try:
            if job["operation"] == "upload":
                size, sha = remote_upload(conn, job["path"], job["name"])
            else:
                size, sha = remote_get(conn, job["name"], None)
        finally:
            conn.close()
        ok = size == job["size"] and sha == job["sha256"]
        reason = "" if ok else f"got {size} bytes sha256 {sha[:12]}..., expected {job['size']} bytes"
    except ClientError as e:
        ok, reason = False, str(e)
    except socket.timeout:
        ok, reason = False, f"timed out after {job['timeout']} s"
    except OSError as e:
        ok, reason = False, f"{e.__class__.__name__}: {e.strerror or e}"
    return {"ok": ok, "seconds": time.perf_counter() - t0, "reason": reason}


def stress(args: argparse.Namespace) -> int:
    files_dir = args.files_dir
    os.makedirs(files_dir, exist_ok=True)
    rows, failures = [], []
    for operation in args.operation:
        for size in args.size:
            path, sha = test_file(files_dir, size)
            name = os.path.basename(path)
            if operation == "download":  # the server must have the file: upload it once, not timed
                conn = Connection(args.server, args.port, args.timeout, not args.no_terminator)
                try:
                    if name not in remote_list(conn):
                        conn.close()
                        conn = Connection(args.server, args.port, args.timeout, not args.no_terminator)
                        remote_upload(conn, path, name)
                        log(f"setup: uploaded {name} for the downloads")
                finally:
                    conn.close()
            for clients in args.clients:
                job = dict(operation=operation, server=args.server, port=args.port, timeout=args.timeout,
                           terminator=not args.no_terminator, path=path, name=name, size=size, sha256=sha)
                pool = ProcessPoolExecutor if args.pool == "process" else ThreadPoolExecutor
                log(f"{operation} {size_label(size)} x {clients} clients ({args.pool} pool)")
                t0 = time.perf_counter()
                with pool(clients) as executor:
                    results = list(executor.map(one_transfer, [job] * clients))
                wall = time.perf_counter() - t0
                good = [r for r in results if r["ok"]]
                failures += [f"{operation} {size_label(size)}: {r['reason']}" for r in results if not r["ok"]]
                mean = sum(r["seconds"] for r in results) / clients
                rows.append({"operation": operation, "file_size": size, "file_size_label": size_label(size),
                             "clients": clients, "client_pool": args.pool, "total_time_s": round(wall, 4),
                             "mean_time_per_client_s": round(mean, 4),
                             "throughput_per_client_Bps": round(size / mean) if mean else 0,
                             "total_throughput_Bps": round(size * len(good) / wall) if wall else 0,
                             "successes": len(good), "failures": clients - len(good)})
    print_table(rows)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"server": f"{args.server}:{args.port}", "rows": rows, "failures": failures}, f, indent=1)
            f.write("\n")
    if failures:
        raise ClientError(f"{len(failures)} transfers failed; first: {failures[0]}")
    return 0


def print_table(rows: list[dict]) -> None:
    head = ("operation", "file size", "clients", "time (s)", "time/client (s)", "throughput/client (B/s)",
            "successes", "failures")
    lines = [head] + [(r["operation"], r["file_size_label"], str(r["clients"]), f"{r['total_time_s']:.3f}",
                       f"{r['mean_time_per_client_s']:.3f}", f"{r['throughput_per_client_Bps']:,}",
                       str(r["successes"]), str(r["failures"])) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))))


# --- command line ------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    if args.command == "stress":
        return stress(args)
    conn = Connection(args.server, args.port, args.timeout, not args.no_terminator, args.rate)
    log(f"connected to {args.server} port {args.port}")
    try:
        try:
            command(conn, args)
        except ClientError as e:  # with --drain, say how many replies this one request got in all
            extra = conn.extra_replies(args.drain) if args.drain else 0
            raise ClientError(f"{e} (and {extra} more replies to the same request)" if extra else str(e)) from None
        extra = conn.extra_replies(args.drain) if args.drain else (1 if conn.buffer else 0)
        if extra:
            raise ClientError(f"the server sent {extra} more replies after the first to one request")
    finally:
        conn.close()
    return 0


def command(conn: Connection, args: argparse.Namespace) -> None:
    if args.command == "list":
        names = remote_list(conn)
        print("daftar file:" if names else "daftar file: (kosong)", flush=True)
        for name in names:
            print(f"- {name}", flush=True)
    elif args.command == "get":
        out = args.output or os.path.basename(args.name)
        size, sha = remote_get(conn, args.name, out)
        log(f"received {args.name}: {size} bytes, sha256 {sha}, written to {out}")
    elif args.command == "upload":
        name = args.name or os.path.basename(args.path)
        size, sha = remote_upload(conn, args.path, name)
        log(f"uploaded {name}: {size} bytes, sha256 {sha}, confirmed by the server")
    else:
        remote_delete(conn, args.name)
        log(f"deleted {args.name}")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="File client of the socket-programming lab (Tugas 3, ETS).")
    p.add_argument("--server", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6666, help="server port (default 6666)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="give up when connect or a single send/recv waits longer (default 30 s)")
    p.add_argument("--no-terminator", action="store_true",
                   help="send no \\r\\n\\r\\n after a request, like the lecturer's file_client_cli.py")
    p.add_argument("--rate", type=float, default=0, metavar="BYTES",
                   help="move at most BYTES per second, sent and received together (default: no limit)")
    p.add_argument("--drain", type=float, default=0, metavar="S",
                   help="after the reply, wait S s for further replies (a correct server sends none)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the files on the server")
    g = sub.add_parser("get", help="download a file")
    g.add_argument("name")
    g.add_argument("-o", "--output", metavar="PATH", help="where to write it (default: ./NAME)")
    u = sub.add_parser("upload", help="upload a file")
    u.add_argument("path")
    u.add_argument("--name", help="name on the server (default: the file's own name)")
    d = sub.add_parser("delete", help="delete a file on the server")
    d.add_argument("name")
    s = sub.add_parser("stress", help="N clients at once, the ETS table")
    s.add_argument("--operation", type=lambda t: t.split(","), default=["upload"], metavar="upload,download")
    s.add_argument("--size", type=lambda t: [parse_size(x) for x in t.split(",")], default=[10 << 20],
                   metavar="10MB,50MB", help="file sizes (KB/MB = 1024/1048576 bytes; default 10MB)")
    s.add_argument("--clients", type=lambda t: [int(x) for x in t.split(",")], default=[1], metavar="1,5,50")
    s.add_argument("--pool", choices=("thread", "process"), default="thread", help="client workers (default thread)")
    s.add_argument("--files-dir", default="stress-files", metavar="DIR",
                   help="where the test files are made and kept (default ./stress-files)")
    s.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    s.add_argument("--json", metavar="PATH", help="also write the table (and failure reasons) as JSON")
    args = p.parse_args(argv)
    if args.command == "stress":
        if any(o not in ("upload", "download") for o in args.operation) or min(args.clients) < 1:
            p.error("stress: --operation takes upload and/or download, --clients whole numbers >= 1")

    where = f"{args.server}:{args.port}"
    try:
        return run(args)
    except ClientError as e:
        print(f"file_client: {e}", file=sys.stderr)
        return 1
    except ConnectionRefusedError:
        print(f"file_client: connection refused by {where} (is the server running?)", file=sys.stderr)
        return 1
    except socket.timeout:
        print(f"file_client: timed out after {args.timeout} s talking to {where}", file=sys.stderr)
        return 1
    except OSError as e:
        name = f"{e.filename}: " if e.filename else f"{where}: "
        print(f"file_client: {name}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("file_client: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
