"""A small raw-frame reader for the copy signals (reporter/fingerprint.py).

Why not reporter.capture: the report path decodes frames into `Packet`, which (rightly) drops the
link layer, TTLs and checksums; the copy signals need exactly those, for a few hundred frames per
capture. This reader yields (link type, time in ns, frame bytes) for pcap (micro/nano, either byte
order) and pcapng (every interface with its own link type and time resolution).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator


class NotReadable(Exception):
    """Not a pcap/pcapng file, or a file that ends in the middle of a record."""


_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}


def iter_frames(raw: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Frames of a whole capture file held in memory, in file order: (link type, ns, bytes)."""
    for _iface, lt, ts, data in iter_records(raw):
        yield lt, ts, data


def iter_records(raw: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """As `iter_frames`, with the interface id first (0 for pcap), for tools that rewrite captures."""
    head = raw[:4]
    if head in _PCAP_MAGIC:
        yield from _pcap(raw, *_PCAP_MAGIC[head])
    elif head == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(raw)
    else:
        raise NotReadable("not a pcap or pcapng file")


def _pcap(raw: bytes, e: str, scale: int) -> Iterator[tuple[int, int, int, bytes]]:
    if len(raw) < 24:
        raise NotReadable("pcap file header cut short")
    linktype = struct.unpack_from(e + "I", raw, 20)[0] & 0x0FFFFFFF
    off, rec = 24, struct.Struct(e + "IIII")
    while off < len(raw):
        if off + 16 > len(raw):
            raise NotReadable(f"record header cut short at byte {off}")
        sec, frac, incl, _orig = rec.unpack_from(raw, off)
        if off + 16 + incl > len(raw):
            raise NotReadable(f"record cut short at byte {off}")
        yield 0, linktype, sec * 1_000_000_000 + frac * scale, raw[off + 16:off + 16 + incl]
        off += 16 + incl


def _tsresol(opts: bytes, e: str) -> tuple[int, int]:
    """if_tsresol -> (units per second as numerator base, exponent); returns ns per unit as a fraction."""
    i = 0
    while i + 4 <= len(opts):
        code, ln = struct.unpack_from(e + "HH", opts, i)
        if code == 0:
            break
        if code == 9 and ln >= 1:
            v = opts[i + 4]
            return (2, v & 0x7F) if v & 0x80 else (10, v)
        i += 4 + ln + (-ln % 4)
    return 10, 6


def _pcapng(raw: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    e, off = "<", 0
    ifaces: list[tuple[int, int, int]] = []  # (linktype, base, exponent)
    while off < len(raw):
        if off + 12 > len(raw):
            raise NotReadable(f"block header cut short at byte {off}")
        btype = struct.unpack_from(e + "I", raw, off)[0]
        if btype == 0x0A0D0D0A:  # section header: byte order may change per section
            bom = raw[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
            if not e:
                raise NotReadable("pcapng section header with an unknown byte-order mark")
            ifaces = []
        blen = struct.unpack_from(e + "I", raw, off + 4)[0]
        if blen < 12 or blen % 4 or off + blen > len(raw):
            raise NotReadable(f"block cut short or malformed at byte {off}")
        body = raw[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 8:
            lt = struct.unpack_from(e + "H", body, 0)[0]
            ifaces.append((lt, *_tsresol(body[8:], e)))
        elif btype == 6 and len(body) >= 20:
            iid, hi, lo, incl = struct.unpack_from(e + "IIII", body, 0)
            if iid >= len(ifaces):
                raise NotReadable(f"packet on undeclared interface {iid} at byte {off}")
            lt, base, exp = ifaces[iid]
            units = (hi << 32) | lo
            ns = units * 10 ** (9 - exp) if base == 10 and exp <= 9 else units * 1_000_000_000 // (base ** exp)
            yield iid, lt, ns, body[20:20 + incl]
        elif btype == 3 and len(body) >= 4 and ifaces:  # simple packet block: no time
            orig = struct.unpack_from(e + "I", body, 0)[0]
            yield 0, ifaces[0][0], 0, body[4:4 + orig]
        off += blen
