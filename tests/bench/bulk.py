"""`bulk`: the file server's large transfers, as the ETS stress test makes them (port 6666).

Why: a 100 MB download is one message of ~69,000 segments. A reporter that keeps a message,
a stream or per-segment records grows with it, which short captures never show. The protocol is
the lecturer's file server (COURSE.md): `GET name\\r\\n\\r\\n` answered by
`{"status": "OK", "data_namafile": name, "data_file": base64}\\r\\n\\r\\n`, and
`UPLOAD name base64\\r\\n\\r\\n` answered by `{"status": "OK", "data": ...}\\r\\n\\r\\n`.

Each transfer is a lazy generator of timed frames and the transfers are merged by time, so the
generator holds one base64 chunk per transfer, never a file. The file is seeded random bytes; its
size and sha256 go to the manifest, so a test can check a reassembled stream end to end.
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import itertools
import json
import random
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator

from tests.bench.gen import ACK, CLIENTS, FIN, PSH, SERVER, SYN, _Wire
from tests.bench.shapes import START_US, Manifest, PcapOut, TcpFlow

FILE_PORT = 6666
MSS = 1448  # 1460 less the timestamp option, as Linux sends on Ethernet
CHUNK = 3 * (1 << 18)  # raw bytes per base64 chunk: a multiple of 3, so chunks' base64 concatenate


def _file_base64(seed: int, size: int, sha: "hashlib._Hash") -> Iterator[bytes]:
    """The base64 of a ``size``-byte seeded random file, in ~1 MB pieces; hashes the raw bytes."""
    rng = random.Random(seed)
    left = size
    while left:
        n = min(left, CHUNK)
        data = rng.randbytes(n)
        sha.update(data)
        yield base64.b64encode(data)
        left -= n


def _segments(parts: Iterable[bytes], mss: int = MSS) -> Iterator[bytes]:
    """The concatenation of ``parts`` cut into full-sized segments and a last, shorter one."""
    carry = b""
    for p in parts:
        if carry:
            p = carry + p
        n = len(p) - len(p) % mss
        for i in range(0, n, mss):
            yield p[i:i + mss]
        carry = p[n:]
    if carry:
        yield carry


class _Transfer:
    """Frames of one file-server connection; counts the payload bytes each way as it goes."""

    def __init__(self, w: _Wire, rng: random.Random, client: str, cport: int, rec: dict) -> None:
        self.f = TcpFlow(w, rng, client, cport, SERVER, FILE_PORT)
        self.rng, self.rec = rng, rec
        self.t = 0

    def send(self, from_client: bool, flags: int, payload: bytes = b"", dt: int = 0) -> tuple[int, bytes]:
        self.t += dt
        self.rec["client_to_server" if from_client else "server_to_client"] += len(payload)
        return self.t, self.f.frame(from_client, flags, payload, self.t)

    def open(self, t: int) -> Iterator[tuple[int, bytes]]:
        self.t = t
        rtt = self.rng.randint(60, 400)
        yield self.send(True, SYN)
        yield self.send(False, SYN | ACK, dt=rtt // 2)
        yield self.send(True, ACK, dt=rtt // 2)

    def stream(self, from_client: bool, parts: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
        """A message in MSS segments at about 1 Gbit/s; the receiver ACKs every second segment."""
        rng = self.rng
        unacked = 0
        pending = None
        for seg in _segments(parts):
            if pending is not None:
                yield self.send(from_client, ACK, pending, dt=rng.randint(8, 16))
                unacked += 1
                if unacked == 2:
                    yield self.send(not from_client, ACK, dt=rng.randint(2, 6))
                    unacked = 0
            pending = seg
        if pending is not None:  # the last segment of the message carries PSH
            yield self.send(from_client, PSH | ACK, pending, dt=rng.randint(8, 16))
            unacked += 1
        if unacked:
            yield self.send(not from_client, ACK, dt=rng.randint(20, 200))

    def close(self) -> Iterator[tuple[int, bytes]]:
        """The client closes once it has the reply's \\r\\n\\r\\n; the server's recv() then sees EOF."""
        rng = self.rng
        yield self.send(True, FIN | ACK, dt=rng.randint(100, 1000))
        yield self.send(False, FIN | ACK, dt=rng.randint(20, 200))
        yield self.send(True, ACK, dt=rng.randint(30, 200))


def download(tr: _Transfer, t: int, name: str, size: int, seed: int) -> Iterator[tuple[int, bytes]]:
    """GET name: the server's JSON reply carries the whole file in base64."""
    sha = hashlib.sha256()
    yield from tr.open(t)
    yield from tr.stream(True, [f"GET {name}\r\n\r\n".encode()])
    head = json.dumps({"status": "OK", "data_namafile": name, "data_file": ""})[:-2].encode()  # up to the quote
    yield from tr.stream(False, itertools.chain([head], _file_base64(seed, size, sha), [b'"}\r\n\r\n']))
    tr.rec["file_sha256"] = sha.hexdigest()
    yield from tr.close()


def upload(tr: _Transfer, t: int, name: str, size: int, seed: int) -> Iterator[tuple[int, bytes]]:
    """UPLOAD name base64: the request carries the file; the server answers with a short JSON."""
    sha = hashlib.sha256()
    yield from tr.open(t)
    yield from tr.stream(True, itertools.chain([f"UPLOAD {name} ".encode()], _file_base64(seed, size, sha),
                                               [b"\r\n\r\n"]))
    tr.rec["file_sha256"] = sha.hexdigest()
    reply = json.dumps({"status": "OK", "data": f"{name} berhasil diupload"}) + "\r\n\r\n"
    yield from tr.stream(False, [reply.encode()])
    yield from tr.close()


def bulk(path: Path, transfer_bytes: int = 100_000_000, downloads: int = 2, uploads: int = 1,
         seed: int = 1) -> Manifest:
    """``downloads`` GETs then ``uploads`` UPLOADs, each moving a file whose base64 is
    ``transfer_bytes`` long (a 75 MB file for 100 MB), from the lab's clients in turn, each
    starting 0.2 s after the one before so that they overlap on the wire."""
    w = _Wire()
    m = Manifest("bulk", params={"transfer_bytes": transfer_bytes, "downloads": downloads, "uploads": uploads,
                                 "seed": seed})
    size = transfer_bytes * 3 // 4
    flows = []
    for i in range(downloads + uploads):
        op = "GET" if i < downloads else "UPLOAD"
        client, cport = CLIENTS[i % len(CLIENTS)], 41000 + i
        name = f"berkas{i + 1}-{size}.bin"  # the file's own size in the name, as ETS files are named by size
        rec = {"operation": op, "client": client, "client_port": cport, "server_port": FILE_PORT,
               "file_name": name, "file_bytes": size, "file_sha256": None,
               "client_to_server": 0, "server_to_client": 0}
        m.transfers.append(rec)
        tr = _Transfer(w, random.Random(seed * 1000 + i), client, cport, rec)  # its own: flows interleave
        make = download if op == "GET" else upload
        flows.append(make(tr, START_US + 200_000 * i, name, size, seed * 1000 + 500 + i))
    out = PcapOut(path)
    add = out.add
    for ts, frame in heapq.merge(*flows, key=itemgetter(0)):
        add(ts, frame)
    m.connections = len(flows)
    m.packets = out.packets
    m.file_bytes = out.close()
    return m
