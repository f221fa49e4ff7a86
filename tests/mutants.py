"""Damaged captures on demand: seeded truncations and corruptions of real and crafted captures.

Why a module of its own: the Python robustness test (tests/test_robustness.py) and the Lua
plugin's tshark test both need the same broken files, made the same way from a seed, so a
failure can be reproduced from its file name alone (``<index>-<kind>-<source>``).

``make_mutants(out_dir, n, seed)`` writes them; the kinds are
  trunc     cut at a random offset (the result must read as a prefix of the original)
  flip      a few random bytes changed anywhere after the file header
  reclen    one record/block length field overwritten (small, huge, or off by a little)
  garbage   a run of random bytes pasted over the middle
  header    a few bytes of the file header changed (may stop being a capture at all)
  splice    a slice of the file repeated or removed (records misaligned)
"""
from __future__ import annotations

import random
import struct
import tempfile
from pathlib import Path

from tests import craft
from tests.conftest import ALL_SAMPLES

KINDS = ("trunc", "flip", "reclen", "garbage", "header", "splice")


def crafted_sources() -> dict[str, bytes]:
    """Captures the lab may not have produced yet: every format and link type we read."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        f4 = craft.TcpFlow(client="172.16.16.102", server="172.16.16.101").handshake()
        f4.echo_exchange(craft.LAB_MESSAGE).close()
        f6 = craft.TcpFlow(client="fd00::102", server="fd00::101", cport=40002, t=1.0005).handshake()
        f6.echo_exchange(craft.LAB_MESSAGE * 2).close()
        q = b"\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0\x03www\x03its\x02ac\x02id\0\0\x01\0\x01"
        dns = craft.Rec(craft.ethernet(craft.ip_packet("172.16.16.102", "172.16.16.53", 17,
                        craft.udp_datagram("172.16.16.102", "172.16.16.53", 33333, 53, q))), 0.5)
        arp = craft.Rec(craft.arp_frame(), 0.4)
        out["eth-us.pcap"] = craft.write_pcap(
            tmp / "a", [arp, dns, *craft.merge(f4.recs(), f6.recs())]).read_bytes()
        out["sll2-ns-be.pcap"] = craft.write_pcap(
            tmp / "b", craft.merge(f4.recs(craft.LINUX_SLL2), f6.recs(craft.LINUX_SLL2)),
            linktype=craft.LINUX_SLL2, nano=True, big_endian=True).read_bytes()
        out["null.pcap"] = craft.write_pcap(tmp / "c", f4.recs(craft.NULL), linktype=craft.NULL).read_bytes()
        ifaces = [craft.Iface(craft.EN10MB, 6), craft.Iface(craft.LINUX_SLL, 9), craft.Iface(craft.RAW, 9)]
        # Tugas 2: a telnet-like client byte by byte and a whole-line one at 45000, the lecturer's
        # time server (dated JAM) at 51000, recognised by content
        from tests import timecraft

        moved = timecraft.TimeSession(timecraft.MESIN3, port=51000, cport=40010, t=timecraft.T0 + 0.3)
        moved.send(b"TIME\r\n").jam(fmt="%d-%m-%Y %H:%M:%S").send(b"QUIT\r\n").server_close()
        out["time-eth.pcap"] = craft.write_pcap(tmp / "e", craft.merge(
            timecraft.lab_session(bytewise=True).recs(),
            timecraft.lab_session(timecraft.MESIN3, cport=40009, t=timecraft.T0 + 0.1).recs(),
            moved.recs())).read_bytes()
        # Tugas 3 / ETS: a GET whose base64 crosses many segments, the recv(32) bug (one UPLOAD without
        # terminator, an ERROR per 32-byte chunk), and a file server moved to 46666 (recognised by content)
        import base64 as _b64
        import json as _json

        body = bytes(range(256)) * 12
        get = _json.dumps({"status": "OK", "data_namafile": "a.bin", "data_size": len(body),
                           "data_file": _b64.b64encode(body).decode()}).encode() + b"\r\n\r\n"
        up = b"UPLOAD p.txt " + _b64.b64encode(body[:300])
        err = b'{"status": "ERROR", "data": "request tidak dikenali"}\r\n\r\n'
        lst = b'{"status": "OK", "data": ["a.bin"]}\r\n\r\n'
        out["file-eth.pcap"] = craft.write_pcap(tmp / "f", craft.merge(
            craft.file_conversation(b"GET a.bin\r\n\r\n", [get[i:i + 700] for i in range(0, len(get), 700)]).recs(),
            craft.file_conversation(up, [err] * (-(-len(up) // 32)), cport=40003, t=1.2).recs(),
            craft.file_conversation(b"LIST\r\n\r\n", lst, cport=40004, sport=46666, client="172.16.16.103",
                                    t=1.4).recs())).read_bytes()
        out["multi.pcapng"] = craft.write_pcapng(
            tmp / "d", craft.merge(f4.recs(craft.EN10MB, 0), f6.recs(craft.LINUX_SLL, 1),
                                   f4.recs(craft.RAW, 2), [arp, dns]), ifaces).read_bytes()
    return out


def sources() -> dict[str, bytes]:
    """The lab's sample captures (when present) plus the crafted ones, by name."""
    out = {}
    for p in ALL_SAMPLES:
        out[p.name] = p.read_bytes()
    out.update(crafted_sources())
    return out


def _record_length_offsets(data: bytes) -> list[int]:
    """Offsets of pcap caplen fields or pcapng block-length fields, to aim corruption at them."""
    offs: list[int] = []
    if len(data) < 24:
        return offs
    magic = struct.unpack_from("<I", data)[0]
    if magic == 0x0A0D0D0A:
        e = "<" if struct.unpack_from("<I", data, 8)[0] == 0x1A2B3C4D else ">"
        pos = 0
        while pos + 12 <= len(data) and len(offs) < 10_000:
            blen = struct.unpack_from(e + "I", data, pos + 4)[0]
            offs.append(pos + 4)
            if blen < 12 or blen % 4:
                break
            pos += blen
        return offs
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    pos = 24
    while pos + 16 <= len(data) and len(offs) < 10_000:
        offs.append(pos + 8)
        pos += 16 + struct.unpack_from(e + "I", data, pos + 8)[0]
    return offs


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One damaged copy of ``data``; deterministic for a given rng state."""
    n = len(data)
    b = bytearray(data)
    if kind == "trunc":
        return bytes(b[:rng.randrange(1, n)])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(min(24, n - 1), n)] = rng.randrange(256)
        return bytes(b)
    if kind == "reclen":
        offs = _record_length_offsets(data)
        if not offs:
            return mutate(data, "flip", rng)
        off = rng.choice(offs)
        value = rng.choice([0, 1, 3, 11, 13, 0xFFFFFFFF, 0x7FFFFFF0, 262145, 1 << 20,
                            struct.unpack_from("<I", data, off)[0] + rng.choice([-4, -1, 1, 4, 100])])
        struct.pack_into("<I", b, off, value & 0xFFFFFFFF)
        return bytes(b)
    if kind == "garbage":
        start = rng.randrange(n // 4, max(n // 4 + 1, n - 1))
        length = rng.randint(1, 200)
        b[start:start + length] = rng.randbytes(length)
        return bytes(b[:n])
    if kind == "header":
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(min(n, 64))] = rng.randrange(256)
        return bytes(b)
    if kind == "splice":
        a = rng.randrange(n)
        z = min(n, a + rng.randint(1, 300))
        return bytes(b[:a] + b[a:z] + b[a:]) if rng.random() < 0.5 else bytes(b[:a] + b[z:])
    raise ValueError(f"unknown mutation kind {kind}")


def make_mutants(out_dir: Path, n: int = 1000, seed: int = 3) -> list[Path]:
    """Write ``n`` damaged captures to ``out_dir`` (named index-kind-source) and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    src = sources()
    names = sorted(src)
    paths = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        name = names[(i // len(KINDS)) % len(names)]
        path = out_dir / f"{i:04d}-{kind}-{name}"
        path.write_bytes(mutate(src[name], kind, rng))
        paths.append(path)
    return paths


def source_of(mutant: Path) -> str:
    """The source capture's name of a mutant file."""
    return mutant.name.split("-", 2)[2]


def kind_of(mutant: Path) -> str:
    return mutant.name.split("-", 2)[1]
