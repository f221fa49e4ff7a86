#!/usr/bin/env python3
"""File server of Tugas 3 and the ETS (mesin-1): the lecturer's progjar4a protocol on a thread or process pool.

Requests (one word, then parameters separated by spaces; the command is case-insensitive):

    LIST                    -> {"status": "OK", "data": ["a.txt", "b.jpg"]}
    GET name                -> {"status": "OK", "data_namafile": "name", "data_size": 1234, "data_file": "<base64>"}
    UPLOAD name <base64>    -> {"status": "OK", "data": "name uploaded", "data_namafile": "name",
                                "data_size": 1234, "data_sha256": "<hex>"}
    DELETE name             -> {"status": "OK", "data": "name deleted", "data_namafile": "name"}
    anything else           -> {"status": "ERROR", "data": "request tidak dikenali"}   (the lecturer's text)

Every reply is JSON (written like Python's json.dumps) followed by "\\r\\n\\r\\n"; a failed request gets
{"status": "ERROR", "data": "<reason>"}. A request ends at "\\r\\n\\r\\n", or when the client closes its
sending side (shutdown/EOF), or when the client sends nothing for --idle-end seconds (1 s): the lecturer's
file_client_cli.py sends no terminator at all, so it is answered after that pause. Several requests may
follow each other on one connection; the server closes it when the client does.

Only plain names inside --root (default: the folder `files` in the current directory, created if missing,
as the lecturer's server uses files/) are served: a name with `/`, `\\`, `..`, NUL or a control character,
or starting with `.`, gets an ERROR. Files are streamed: an UPLOAD's base64 is decoded to disk while it
arrives and a GET is encoded from disk while it is sent, so memory stays small for a 100 MB file.

--pool thread|process --workers N: the ETS's ThreadPoolExecutor / ProcessPoolExecutor. In process mode the
accepted socket is passed to a worker process; this server process keeps its own copy open until the
worker is done, so the worker must shutdown() the socket: close() alone would send no FIN.
--legacy-recv32 reproduces the lecturer's bug: every recv(32) chunk is run as a command of its own
(lower-cased, shlex-split), so a request longer than 32 bytes gets several ERROR replies.

Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import shlex
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Optional

TERMINATOR = b"\r\n\r\n"
HEAD_LIMIT = 4096        # a LIST/GET/DELETE request is never longer than this
RECV_SIZE = 65536
GET_CHUNK = 3 * 16384    # a multiple of 3: every piece encodes to base64 without padding
UNKNOWN = "request tidak dikenali"


class Shutdown(Exception):
    """SIGTERM arrived: stop accepting, end the open connections, exit 0."""


_print_lock = threading.Lock()


def log(text: str) -> None:
    """Satu baris log dengan waktu (UTC), langsung di-flush (same format as echo_server.py)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    with _print_lock:
        print(f"{stamp} {text}", file=sys.stderr, flush=True)


def reply(connection: socket.socket, status: str, **fields) -> None:
    connection.sendall(json.dumps(dict(status=status, **fields)).encode() + TERMINATOR)


def bad_name(name: str) -> Optional[str]:
    """Why a file name may not be used (None: it is a plain name inside the root)."""
    if not name:
        return "file name missing"
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        return f"file name not allowed: {name!r} (no /, \\, .. or leading .)"
    if any(ord(c) < 32 or ord(c) == 127 or c == "\ufffd" for c in name) or len(name.encode()) > 255:
        return f"file name not allowed: {name!r}"
    return None


# --- the commands --------------------------------------------------------------------------------

def do_list(connection: socket.socket, root: str) -> None:
    names = sorted(e.name for e in os.scandir(root)
                   if not e.name.startswith(".") and e.is_file(follow_symlinks=False))
    reply(connection, "OK", data=names)


def do_get(connection: socket.socket, root: str, name: str) -> None:
    """Send the file as base64, read and encoded piece by piece (never the whole file in memory)."""
    try:
        fd = os.open(os.path.join(root, name), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        return reply(connection, "ERROR", data=f"{name}: {e.strerror}")
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return reply(connection, "ERROR", data=f"{name}: not a file")
        head = json.dumps(dict(status="OK", data_namafile=name, data_size=info.st_size))
        data = head[:-1].encode() + b', "data_file": "'  # the JSON stays open while the file follows
        piece = f.read(GET_CHUNK)
        while piece:
            data += base64.b64encode(piece)
            piece = f.read(GET_CHUNK)
            if piece:
                connection.sendall(data)
                data = b""
        connection.sendall(data + b'"}' + TERMINATOR)  # a small file: the whole reply in one sendall()


def do_delete(connection: socket.socket, root: str, name: str) -> None:
    try:
        os.unlink(os.path.join(root, name))
    except OSError as e:
        return reply(connection, "ERROR", data=f"{name}: {e.strerror}")
    reply(connection, "OK", data=f"{name} deleted", data_namafile=name)


class Base64ToFile:
    """Decode base64 that arrives in pieces of any length: whole 4-character groups at a time, to a file."""

    def __init__(self, f) -> None:
        self.f, self.pending, self.size, self.sha = f, b"", 0, hashlib.sha256()
        self.padded = False           # saw '=': the data must end here
        self.error: Optional[str] = None

    def feed(self, data: bytes) -> None:
        if self.error:
            return  # keep reading the request to its end, but write nothing more
        data = self.pending + data.translate(None, b" \t\r\n")
        cut = len(data) - len(data) % 4
        group, self.pending = data[:cut], data[cut:]
        if not group:
            return
        if self.padded:
            self.error = "data_file is not valid base64: data after the '=' padding"
            return
        try:
            raw = base64.b64decode(group, validate=True)
        except (binascii.Error, ValueError) as e:
            self.error = f"data_file is not valid base64: {e}"
            return
        self.padded = group.endswith(b"=")
        try:
            self.f.write(raw)
        except OSError as e:  # a full disk: the client gets an ERROR reply, not a cut connection
            self.error = f"cannot store the file: {e.strerror}"
            return
        self.sha.update(raw)
        self.size += len(raw)

    def finish(self) -> None:
        if self.pending and not self.error:
            self.error = f"data_file is not valid base64: {len(self.pending)} characters left over"


class Requests:
    """The bytes a client sends, cut into requests (see the module docstring for where one ends)."""

    def __init__(self, connection: socket.socket, idle_end: float, timeout: float) -> None:
        self.connection, self.idle_end, self.timeout = connection, idle_end, timeout
        self.buffer = bytearray()
        self.closed = False  # the client sent EOF

    def receive(self, mid_request: bool) -> bool:
        """Read once more; False when the request ends here (EOF or, mid-request, the idle pause)."""
        if self.closed:
            return False
        idle = mid_request and self.idle_end > 0
        self.connection.settimeout(self.idle_end if idle else self.timeout)
        try:
            data = self.connection.recv(RECV_SIZE)
        except socket.timeout:
            if idle:
                return False
            raise
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def head(self) -> Optional[bytes]:
        """The start of the next request (up to its end or HEAD_LIMIT bytes); None when the client is done."""
        while True:
            while TERMINATOR not in self.buffer and len(self.buffer) < HEAD_LIMIT:
                if not self.receive(mid_request=bool(self.buffer.strip())):
                    break
            end = self.buffer.find(TERMINATOR)
            head = bytes(self.buffer[:end if end >= 0 else HEAD_LIMIT])
            if head.strip():
                return head
            del self.buffer[:end + len(TERMINATOR) if end >= 0 else len(head)]  # blank: not a request
            if self.closed and not self.buffer:
                return None

    def take(self, n: int) -> None:
        """Drop a short request of n bytes and its terminator from the buffer."""
        del self.buffer[:n]
        if self.buffer.startswith(TERMINATOR):
            del self.buffer[:len(TERMINATOR)]

    def stream_body(self, start: int, sink) -> None:
        """Pass everything from buffer[start] to the end of the request to sink(), piece by piece."""
        del self.buffer[:start]
        while True:
            end = self.buffer.find(TERMINATOR)
            if end >= 0:
                sink(bytes(self.buffer[:end]))
                del self.buffer[:end + len(TERMINATOR)]
                return
            keep = 3  # the last bytes may be the start of a terminator cut by the segment boundary
            if len(self.buffer) > keep:
                sink(bytes(self.buffer[:-keep]))
                del self.buffer[:-keep]
            if not self.receive(mid_request=True):
                sink(bytes(self.buffer))
                self.buffer.clear()
                return


def do_upload(connection: socket.socket, root: str, name: str, requests: Requests, start: int,
              has_data: bool) -> None:
    """Decode the base64 into a temporary file while it arrives; rename it to `name` when all is well."""
    problem = bad_name(name) or (None if has_data else "data_file missing")
    if problem:
        requests.stream_body(start, lambda data: None)  # read the request to its end, keep nothing
        return reply(connection, "ERROR", data=problem)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")  # hidden from LIST and GET
    try:
        with os.fdopen(fd, "wb") as f:
            sink = Base64ToFile(f)
            requests.stream_body(start, sink.feed)
            sink.finish()
        if sink.error:
            return reply(connection, "ERROR", data=sink.error)
        os.replace(tmp, os.path.join(root, name))
        tmp = ""
        log(f"stored {name} ({sink.size} bytes)")
        reply(connection, "OK", data=f"{name} uploaded", data_namafile=name, data_size=sink.size,
              data_sha256=sink.sha.hexdigest())
    finally:
        if tmp:
            os.unlink(tmp)


# --- one connection ------------------------------------------------------------------------------

def handle_client(connection: socket.socket, address: tuple, root: str, idle_end: float, timeout: float,
                  legacy: bool) -> None:
    """Serve one client until it closes; runs in a pool thread or a pool process."""
    log(f"connection from {address}")
    try:
        if legacy:
            serve_legacy(connection, address, root)
        else:
            serve_requests(connection, address, root, idle_end, timeout)
    except socket.timeout:
        log(f"{address} sent nothing for {timeout} s: closing")
    except OSError as e:  # reset, broken pipe: only this client is affected
        log(f"client {address} gone: {e.__class__.__name__}: {e}")
    except Exception as e:  # a bug must not kill the pool worker; say it loudly
        log(f"internal error serving {address}: {e!r}")
    finally:
        try:
            connection.shutdown(socket.SHUT_WR)  # FIN now, even if another process still holds the socket
        except OSError:
            pass
        connection.close()
    log(f"closed {address}")


def serve_requests(connection: socket.socket, address: tuple, root: str, idle_end: float, timeout: float) -> None:
    requests = Requests(connection, idle_end, timeout)
    while True:
        head = requests.head()
        if head is None:
            return
        words = head.split(None, 2)
        if not words:
            continue
        command = words[0].decode("ascii", errors="replace").upper()
        name = words[1].decode("utf-8", errors="replace") if len(words) > 1 else ""
        log(f"{address} {command} {name}".rstrip())
        if command == "UPLOAD":  # the base64 starts after the name: stream it from there
            start = len(head) - len(words[2]) if len(words) > 2 else len(head)
            do_upload(connection, root, name, requests, start, has_data=len(words) > 2)
            continue
        end = requests.buffer.find(TERMINATOR)
        if end < 0 and len(head) >= HEAD_LIMIT:
            reply(connection, "ERROR", data=f"request longer than {HEAD_LIMIT} bytes")
            return  # cannot tell where it ends: close the connection
        requests.take(len(head))
        problem = bad_name(name) if command in ("GET", "DELETE") else None
        if problem:
            reply(connection, "ERROR", data=problem)
        elif command == "LIST":
            do_list(connection, root)
        elif command == "GET":
            do_get(connection, root, name)
        elif command == "DELETE":
            do_delete(connection, root, name)
        else:
            reply(connection, "ERROR", data=UNKNOWN)


def serve_legacy(connection: socket.socket, address: tuple, root: str) -> None:
    """The lecturer's loop (progjar4a file_server.py): each recv(32) chunk is a whole command."""
    while True:
        data = connection.recv(32)
        if not data:
            return
        text = data.decode("utf-8", errors="replace")
        log(f"{address} string diproses: {text!r}")
        try:
            words = shlex.split(text.lower())
        except ValueError:  # an unbalanced quote in the chunk
            words = []
        command, params = (words[0], words[1:]) if words else ("", [])
        name = params[0] if params else ""
        problem = bad_name(name) if command in ("get", "delete", "upload") else None
        if problem:
            reply(connection, "ERROR", data=problem)
        elif command == "list":
            do_list(connection, root)
        elif command == "get":
            do_get(connection, root, name)
        elif command == "delete":
            do_delete(connection, root, name)
        elif command == "upload" and len(params) > 1:
            requests = Requests(connection, 0, 0)
            requests.buffer += params[1].encode() + TERMINATOR
            do_upload(connection, root, name, requests, 0, has_data=True)
        else:
            reply(connection, "ERROR", data=UNKNOWN)


# --- the pool ------------------------------------------------------------------------------------

def _worker_init() -> None:
    """Pool processes leave Ctrl-C and SIGTERM to the main process, which ends them in order; if the main
    process is killed outright (kill -9), they notice within a second and exit instead of living on alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()  # the server (or, with the forkserver start method, the fork server, which dies with it)

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def serve(sock: socket.socket, pool: str, workers: int, max_clients: Optional[int], args: tuple) -> None:
    """Accept clients and hand each one to the pool; on exit, end open connections and wait for the pool."""
    if pool == "process":
        executor = ProcessPoolExecutor(workers, initializer=_worker_init)
    else:
        executor = ThreadPoolExecutor(workers)
    live: dict[Future, socket.socket] = {}
    lock = threading.Lock()

    def done(future: Future) -> None:
        with lock:
            connection = live.pop(future, None)
        if connection is not None and pool == "process":
            connection.close()  # our copy; the worker has sent the FIN with shutdown()

    served = 0
    try:
        while max_clients is None or served < max_clients:
            connection, address = sock.accept()
            served += 1
            future = executor.submit(handle_client, connection, address, *args)
            with lock:
                live[future] = connection
            future.add_done_callback(done)
        with lock:
            pending = list(live)
        for future in pending:  # --max-clients: finish the clients already accepted
            future.result()
    finally:
        with lock:
            still_open = list(live.values())
        for connection in still_open:  # wake workers blocked in recv()/send(): their client is cut off
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        executor.shutdown(wait=True, cancel_futures=True)


def _on_sigterm(signum, frame) -> None:
    raise Shutdown()


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="File server of the socket-programming lab (Tugas 3, ETS).")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0, as in the lab)")
    p.add_argument("--port", type=int, default=6666, help="TCP port (default 6666; 0 = any free port)")
    p.add_argument("--root", default="files", help="folder served (default: ./files, created if missing)")
    p.add_argument("--pool", choices=("thread", "process"), default="thread",
                   help="thread: ThreadPoolExecutor (default); process: ProcessPoolExecutor")
    p.add_argument("--workers", type=int, default=5, metavar="N", help="pool size (default 5)")
    p.add_argument("--backlog", type=int, default=64, help="listen() backlog (default 64)")
    p.add_argument("--idle-end", type=float, default=1.0, metavar="S",
                   help="a request without \\r\\n\\r\\n ends after S s of silence (default 1; 0 = wait for EOF)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="close a connection whose client sends nothing for S s (default 60)")
    p.add_argument("--legacy-recv32", action="store_true",
                   help="the lecturer's bug: run every recv(32) chunk as a separate command")
    p.add_argument("--max-clients", type=int, default=None, metavar="N",
                   help="exit 0 after serving N clients (for the lab runner and tests)")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be at least 1")
    root = os.path.abspath(args.root)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        print(f"file_server: cannot use {args.root} as the root folder: {e.strerror}", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _on_sigterm)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.bind, args.port))
        except OSError as e:
            print(f"file_server: cannot listen on {args.bind} port {args.port}: {e.strerror}", file=sys.stderr)
            return 1
        host, port = sock.getsockname()[:2]
        mode = "legacy recv(32)" if args.legacy_recv32 else f"idle end {args.idle_end} s"
        log(f"starting up on {host} port {port} (pool {args.pool}, {args.workers} workers, {mode}, root {root})")
        sock.listen(args.backlog)
        log("waiting for connections")
        serve(sock, args.pool, args.workers, args.max_clients,
              (root, args.idle_end, args.timeout, args.legacy_recv32))
        log("served all clients, stopping")
    except (Shutdown, KeyboardInterrupt):
        log("shutting down")
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
