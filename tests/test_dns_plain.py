"""parse_plain (the DNS analysis's own parser for common messages) against dpkt, its reference.

parse_plain must give exactly what dpkt gives (through parse_dpkt) whenever it answers, and
answer for the messages the lab and the bench make; whatever it declines goes to dpkt. Checked on
every DNS payload of the bundled samples and the bench's generator, on crafted messages of every
section and record type, and on thousands of mutations of them (cut, flipped, inserted bytes,
pointers anywhere).
"""
from __future__ import annotations

import random
import struct

from reporter.analyses import dns
from reporter.reading.capture import iter_packets, open_capture
from tests import craft
from tests.bench.shapes import NAMES, _dns_message
from tests.conftest import ALL_SAMPLES, IN_CI

A, CNAME, AAAA, HTTPS, SOA, OPT = 1, 5, 28, 65, 6, 41


def _fields(m: dns._Message | None) -> tuple | None:
    return None if m is None else (m.id, m.response, m.rcode, m.name, m.qtype, m.answers, m.complete)


def _rr(name: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def _messages() -> list[bytes]:
    out = []
    for p in ALL_SAMPLES:
        for pkt in iter_packets(open_capture(p)):
            if pkt.proto == 17 and 53 in (pkt.sport, pkt.dport):
                out.append(pkt.payload)
    for i, (name, a, aaaa, rcode) in enumerate(NAMES):
        for qtype, answer in ((1, a), (28, aaaa)):
            out.append(_dns_message(i, name, qtype, None, rcode, False))
            out.append(_dns_message(i, name, qtype, answer, rcode, True))
    host = "www.its.ac.id"
    out.append(craft.dns_message(1, host, A, response=True, answers=[(CNAME, "its.ac.id"), (A, "103.94.189.5"),
                                                                      (AAAA, "2001:db8::1")]))
    out.append(craft.dns_message(2, "ünï.example", AAAA))
    hdr = struct.pack("!HHHHHH", 9, 0x8180, 1, 2, 1, 1)
    qn = b"\x03www\x03its\x02ac\x02id\x00"
    body = qn + struct.pack("!HH", A, 1)
    out.append(hdr + body + _rr(b"\xc0\x0c", CNAME, b"\x03its\xc0\x10") + _rr(b"\xc0\x2b", A, bytes(4))
               + _rr(b"\xc0\x10", SOA, b"\x00" * 22) + _rr(b"\x00", OPT, b""))
    out.append(struct.pack("!HHHHHH", 10, 0x8180, 1, 1, 0, 1) + body + _rr(b"\xc0\x0c", A, bytes(4))
               + _rr(b"\x00", OPT, b"\x00\x0a\x00\x02ab"))
    out.append(struct.pack("!HHHHHH", 11, 0x8180, 1, 1, 0, 0) + body + _rr(qn, AAAA, bytes(16)))  # no pointer
    out.append(struct.pack("!HHHHHH", 12, 0x8180, 1, 1, 0, 0) + body + _rr(b"\xc0\x0c", HTTPS, b"\x00\x01\x00"))
    out.append(struct.pack("!HHHHHH", 13, 0x8180, 2, 0, 0, 0) + body + b"\x01a\xc0\x10" + struct.pack("!HH", A, 1))
    out.append(struct.pack("!HHHHHH", 14, 0x0100, 0, 0, 0, 0))
    out.append(struct.pack("!HHHHHH", 15, 0x8180, 1, 1, 0, 0) + body + _rr(b"\xc0\x0c", A, bytes(3)))  # short A
    out.append(struct.pack("!HHHHHH", 16, 0x8180, 1, 0, 0, 0) + b"\x3f" + b"x" * 63 + b"\x00" + struct.pack("!HH", 1, 1))
    out.append(struct.pack("!HHHHHH", 17, 0x8180, 1, 0, 0, 0) + (b"\x3f" + b"y" * 63) * 4 + b"\x00" + b"\x00\x01\x00\x01")
    return out


def _compiled() -> object:
    """The compiled module, or None where it is not built; in CI it must be (as tests/test_fastpath.py says)."""
    from reporter.analyses import fastpath

    if not fastpath.available():
        assert not IN_CI, "the fast path is not compiled: its DNS parser goes unchecked"
        return None
    return fastpath._fasttcp


def _c_fields(buf: bytes) -> tuple | None:
    """The compiled parse_plain's answer (reporter/analyses/_fasttcp.c), as _fields gives it."""
    t = _compiled().dns_parse(buf)  # type: ignore[union-attr]
    return None if t is None else _fields(dns._Message(*t))


def test_plain_parser_agrees_with_dpkt_on_real_and_crafted_messages() -> None:
    msgs = _messages()
    answered = 0
    for m in msgs:
        mine = dns.parse_plain(m)
        if mine is not None:
            answered += 1
            assert _fields(mine) == _fields(dns.parse_dpkt(m)), m.hex()
        if _compiled() is not None:
            assert _c_fields(m) == _fields(mine), m.hex()
        assert _fields(dns.parse_message(m)) == _fields(dns.parse_dpkt(m)), m.hex()
    assert answered >= len(msgs) * 0.8, "the common messages must not fall back to dpkt"
    for i, (name, a, aaaa, rcode) in enumerate(NAMES):  # the lab's and the bench's lookups, all of them
        for qtype, answer in ((1, a), (28, aaaa)):
            assert dns.parse_plain(_dns_message(i, name, qtype, answer, rcode, True)) is not None


def test_plain_parser_agrees_with_dpkt_on_mutated_messages() -> None:
    rng = random.Random(5353)
    seeds = _messages()
    answered = 0
    for i in range(6000):
        buf = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            if not buf:
                break
            op = rng.random()
            pos = rng.randrange(len(buf))
            if op < 0.4:
                buf[pos] = rng.randrange(256)
            elif op < 0.55:
                buf[pos] = 0xC0 | rng.randrange(4)  # a pointer, maybe forwards, maybe into itself
                if pos + 1 < len(buf):
                    buf[pos + 1] = rng.randrange(64)
            elif op < 0.7:
                del buf[pos:]
            elif op < 0.85:
                buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                buf[pos] = rng.choice((0, 1, 0x3F, 0x40, 0x80, 0xFF))
        mine = dns.parse_plain(bytes(buf))
        if mine is not None:
            answered += 1
            assert _fields(mine) == _fields(dns.parse_dpkt(bytes(buf))), (i, bytes(buf).hex())
        if _compiled() is not None:
            assert _c_fields(bytes(buf)) == _fields(mine), (i, bytes(buf).hex())
    assert answered > 500
