"""The compiled fast path (reporter/analyses/fastpath.py, _fasttcp.c) writes the reference's report.

Differential: every capture is analysed twice in this process, by the Python analysis alone (the
reference) and with the fast path, and the two report JSON texts must be identical byte for byte.
The captures: the bundled samples, the plugin tests' crafted edge cases, the crafted sources of
every format and link type, seeded class captures, the bench's shapes at a small size, file
damage (tests/mutants.py) and packet-level mutants made here, which keep the file valid so the fast
path really runs on them: a frame dropped, captured twice, moved, its flags/sequence/ack/window/
payload/IP length changed, its time moved back, the capture cut between frames, a connection's SYN
repeated later. Every pcap among them is also re-written as pcapng (tests/bench/ngwrite.py: both
byte orders, several if_tsresol and if_tsoffset values, two interfaces of different link types,
options, simple and obsolete packet blocks, blocks no reader knows), and pcapng files are damaged
block by block (lengths, section and interface headers and options, packet blocks, a second
section). The test also checks that the fast path ran on most of them, pcapng included, and that
both plain and tainted connections occurred, so it cannot pass by declining everything.
"""
from __future__ import annotations

import random
import re
import struct
from collections import Counter
from pathlib import Path

import pytest

from reporter.analyses import fastpath
from reporter.reading.capture import NotACapture, iter_records, open_capture
from reporter.options import ReportOptions
from reporter.pipeline import analyse
from reporter.render import iter_report_json
from tests import classgen, craft, mutants
from tests.bench import ngwrite
from tests.bench.shapes import make
from tests.conftest import ALL_SAMPLES, IN_CI
from tests.test_dissector import build_crafted


@pytest.fixture(autouse=True)
def _compiled() -> None:
    if not fastpath.available():
        msg = "the fast path is not compiled (pip install -e . with a C compiler and Python's headers)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


class Tally:
    """What the fast path did over a corpus."""

    def __init__(self) -> None:
        self.c: Counter[str] = Counter()

    def __enter__(self) -> "Tally":
        self._orig = fastpath.run

        def run(capture, tcp, dns, *more):  # type: ignore[no-untyped-def]
            done = self._orig(capture, tcp, dns, *more)
            if not fastpath.ENABLED:  # the reference's own run: nothing to count
                return done
            self.c["fast" if done else "declined"] += 1
            self.c[f"{'fast' if done else 'declined'}-{capture.format}"] += 1
            if done:
                self.c["plain"] += len(tcp.plain)
                self.c["tainted"] += len(tcp.assigned or {})
            return done

        fastpath.run = run
        return self

    def __exit__(self, *exc: object) -> None:
        fastpath.run = self._orig


def _report_text(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch, frames: bool = False) -> str:
    monkeypatch.setattr(fastpath, "ENABLED", fast)
    report, _ = analyse(str(path), ReportOptions(frames=frames))
    return "".join(iter_report_json(report))


def _same(paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reporter.render.PRETTY_LIMIT", -1)  # the one-record-a-line writer for all
    for p in paths:
        try:
            ref = _report_text(p, False, monkeypatch)
        except NotACapture as e:  # not a capture at all: both paths must say so
            with pytest.raises(NotACapture, match=re.escape(e.reason)):
                _report_text(p, True, monkeypatch)
            continue
        assert _report_text(p, True, monkeypatch) == ref, p.name


# ---- packet-level mutants: valid files the fast path reads -----------------------------------------

_REC = struct.Struct("<IIII")


def _records(data: bytes) -> tuple[bytes, list[list]]:
    """A little-endian microsecond pcap -> (file header, [[sec, usec, frame], ...])."""
    head, pos, recs = data[:24], 24, []
    while pos + 16 <= len(data):
        sec, usec, caplen, _ = _REC.unpack_from(data, pos)
        recs.append([sec, usec, bytearray(data[pos + 16:pos + 16 + caplen])])
        pos += 16 + caplen
    return head, recs


def _ip_offset(head: bytes) -> int:
    return {1: 14, 113: 16, 276: 20}[struct.unpack_from("<I", head, 20)[0]]


def _mutate(head: bytes, recs: list[list], rng: random.Random) -> str:
    """One edit that keeps the file valid; returns its name."""
    ip = _ip_offset(head)
    tcp = [i for i, (_, _, f) in enumerate(recs) if len(f) >= ip + 40 and f[ip + 9] == 6 and f[ip] == 0x45]
    kind = rng.choice(["drop", "duplicate", "swap", "move", "flags", "seq", "ack", "window", "payload", "iplen",
                       "time", "cut", "resyn", "rst", "csum0"])
    if not tcp or kind == "cut":
        del recs[rng.randrange(1, len(recs) + 1):]
        return "cut"
    i = rng.choice(tcp)
    f = recs[i][2]
    t = ip + 20  # TCP header
    if kind == "drop":
        del recs[i]
    elif kind == "duplicate":  # a capture duplicate: the same frame again, a few microseconds later
        sec, usec, frame = recs[i]
        recs.insert(i + 1, [sec, usec + rng.choice([0, 3, 40]), bytearray(frame)])
    elif kind == "swap" and i + 1 < len(recs):
        recs[i][2], recs[i + 1][2] = recs[i + 1][2], recs[i][2]
    elif kind == "move":  # a frame arrives later: out of order, or a retransmission-like copy
        rec = recs.pop(i)
        recs.insert(min(len(recs), i + rng.randint(1, 6)), [*recs[min(len(recs) - 1, i)][:2], rec[2]])
    elif kind == "flags":
        f[t + 13] ^= rng.choice([0x01, 0x02, 0x04, 0x08, 0x10, 0x12])
    elif kind == "seq":
        struct.pack_into("!I", f, t + 4, (struct.unpack_from("!I", f, t + 4)[0] + rng.choice([-1, 1, 32, -46])) & 0xFFFFFFFF)
    elif kind == "ack":
        struct.pack_into("!I", f, t + 8, (struct.unpack_from("!I", f, t + 8)[0] + rng.choice([-1, 1, 100])) & 0xFFFFFFFF)
    elif kind == "window":
        struct.pack_into("!H", f, t + 14, 0)
    elif kind == "payload":  # an echo that differs, or a request that does
        start = t + (f[t + 12] >> 4) * 4
        end = ip + struct.unpack_from("!H", f, ip + 2)[0]
        if end > start:
            f[rng.randrange(start, end)] ^= 0x20
    elif kind == "iplen":  # fewer payload bytes than the frame holds (the rest is padding)
        n = struct.unpack_from("!H", f, ip + 2)[0]
        struct.pack_into("!H", f, ip + 2, max(40, n - rng.randint(1, 20)))
    elif kind == "time":
        recs[i][0] -= rng.choice([0, 1])
        recs[i][1] = max(0, recs[i][1] - rng.randint(1, 300_000))
    elif kind == "resyn":  # the connection's first frame again, later: port reuse or a SYN retransmission
        recs.insert(min(len(recs), i + rng.randint(1, 30)), [*recs[i][:2], bytearray(recs[tcp[0]][2])])
    elif kind == "rst":
        f[t + 13] = 0x14
    elif kind == "csum0":  # a tool's packets: every TCP checksum zero (a copy-signal hint)
        for k in tcp:
            struct.pack_into("!H", recs[k][2], t + 16, 0)
    return kind


def _write(path: Path, head: bytes, recs: list[list]) -> Path:
    out = [head]
    for sec, usec, frame in recs:
        sec, usec = sec + usec // 1_000_000, usec % 1_000_000
        out.append(_REC.pack(sec & 0xFFFFFFFF, usec, len(frame), len(frame)) + bytes(frame))
    path.write_bytes(b"".join(out))
    return path


def packet_mutants(sources: list[Path], out: Path, n: int, seed: int = 15) -> list[Path]:
    rng = random.Random(seed)
    usable = []
    for p in sources:
        data = p.read_bytes()
        if data[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", data, 20)[0] in (1, 113, 276):
            usable.append((p, data))
    paths = []
    for k in range(n):
        p, data = usable[k % len(usable)]
        head, recs = _records(data)
        kinds = [_mutate(head, recs, rng) for _ in range(rng.randint(1, 3))]
        paths.append(_write(out / f"pm{k:03d}-{'-'.join(kinds)}-{p.name}", head, recs))
    return paths


# ---- edge cases of the plain branches, crafted ----------------------------------------------------

def _window0(pkt: bytes) -> bytes:
    """An IPv4+TCP packet (craft's) with its window set to zero."""
    return pkt[:20 + 14] + b"\0\0" + pkt[20 + 16:]


def _scenarios(tmp: Path) -> list[Path]:
    """Captures at the edges of what the fast path takes: limits, exact boundaries, time going back."""
    out: list[Path] = []

    def save(name: str, recs: list, **kw: object) -> None:
        out.append(craft.write_pcap(tmp / f"edge-{name}.pcap", recs, **kw))

    msg = craft.LAB_MESSAGE
    # requests exactly one second apart, a hair under and over (the exchange boundary), each echoed later
    for gap in (1.0, 0.999999, 1.000001):
        f = craft.TcpFlow(client="172.16.16.102", server="172.16.16.101").handshake()
        f.data("c", 0, msg).data("c", 46, msg, dt=gap).data("c", 92, msg, dt=gap)
        for off in range(0, 138, 32):  # echoes that end inside, exactly at and across request ends
            f.data("s", off, (msg * 3)[off:off + 32], dt=0.3)
        f.ack("c").close()
        save(f"gap-{gap}", f.recs())
    # echoes cut exactly at each request's end, several requests outstanding
    f = craft.TcpFlow(client="172.16.16.103", server="172.16.16.101").handshake()
    f.data("c", 0, msg).data("c", 46, msg, dt=1.5).data("c", 92, msg[:10], dt=1.5)
    f.data("s", 0, (msg * 2)[:46]).data("s", 46, msg).data("s", 92, msg[:10]).ack("c")
    f.data("c", 102, msg, dt=0.5).data("s", 102, msg).ack("c").close()  # a new exchange, not the last one
    save("outstanding", f.recs())
    # zero windows, more than ten from each side (Zeek's W/w letters at 1, 10, 100)
    f = craft.TcpFlow(client="172.16.16.104", server="172.16.16.101").handshake().echo_exchange(msg)
    for _ in range(12):
        f.ack("c").ack("s")
    f.close()
    recs = f.recs()
    for k in range(len(recs) - 27, len(recs) - 3):
        recs[k] = craft.Rec(craft.frame_for(craft.EN10MB, _window0(f.packets[k][1])), recs[k].t)
    save("zero-windows", recs)
    # a request longer than the frames one exchange lists (MAX_FRAMES echo frames of 32 bytes)
    f = craft.TcpFlow(client="172.16.16.105", server="172.16.16.101").handshake()
    big = bytes(range(256)) * 160
    for off in range(0, len(big), 1448):
        f.data("c", off, big[off:off + 1448])
    for off in range(0, len(big), 32):
        f.data("s", off, big[off:off + 32], dt=0.00001)
    save("many-echo-frames", f.ack("c").close().recs())
    f = craft.TcpFlow(client="172.16.16.105", server="172.16.16.101", cport=40001).handshake()
    for off in range(0, 44_000, 40):  # more request frames than an exchange lists
        f.data("c", off, big[off % 40000:off % 40000 + 40], dt=0.0001)
    f.data("s", 0, bytes(f.sent["c"])).ack("c").close()  # an echo that differs
    save("many-request-frames", f.recs())
    # stream lengths at SHA-256's block and padding edges, and around where hashing moves to hashlib
    recs = []
    for k, n in enumerate((1, 55, 56, 63, 64, 65, 119, 120, 128, 16383, 16384, 16385, 40000)):
        f = craft.TcpFlow(client="172.16.16.109", server="172.16.16.101", cport=41000 + k, t=1.0 + k)
        recs += f.handshake().echo_exchange(bytes((i * 7 + k) & 255 for i in range(n)), chunk=1448).close().recs()
    save("digest-lengths", recs)
    # more unanswered bytes than an other port's echo check keeps; a banner before the request
    f = craft.TcpFlow(client="172.16.16.106", server="172.16.16.101", sport=8080).handshake()
    for off in range(0, 70_000, 1400):
        f.data("c", off, bytes(1400))
    save("other-port-upload", f.close().recs())
    f = craft.TcpFlow(client="172.16.16.106", server="172.16.16.101", sport=21).handshake()
    f.data("s", 0, b"220 hello\r\n").data("c", 0, b"USER x\r\n").data("s", 11, b"331\r\n")
    save("banner", f.close().recs())
    # a SYN and a SYN-ACK sent twice, then a plain echo; port reuse with a new ISN on the same 4-tuple
    f = craft.TcpFlow(client="172.16.16.107", server="172.16.16.101")
    f._emit("c", f.isn_c, craft.SYN, options=craft.tcp_options())
    f.handshake()
    f._emit("s", f.isn_s, craft.SYN | craft.ACK, options=craft.tcp_options(), ack=f.isn_c + 1)
    f.echo_exchange(msg).close()
    g = craft.TcpFlow(client="172.16.16.107", server="172.16.16.101", isn_c=777_777, isn_s=888_888, t=5.0)
    g.handshake().echo_exchange(msg).close()
    save("syn-twice-and-reuse", f.recs() + g.recs())
    # one 4-tuple: a connection the reference takes (a gap), a plain one reusing the port, then the
    # first one's frames again: its SYN opens a third connection, not the first one's retransmission
    a = craft.TcpFlow(client="172.16.16.107", server="172.16.16.101", cport=40100).handshake()
    a.data("c", 0, msg).data("c", 100, msg).data("s", 0, msg).ack("c").close()
    b = craft.TcpFlow(client="172.16.16.107", server="172.16.16.101", cport=40100, isn_c=55_555, isn_s=66_666,
                      t=3.0).handshake().echo_exchange(msg).close()
    again = [craft.Rec(r.data, r.t + 5.0) for r in a.recs()]
    save("reuse-between-tainted", a.recs() + b.recs() + again)
    # time going back: a pure ACK captured twice with the copy's time before the original's, and
    # a copy after 300 connections opened (idle connections swept: the copy is no longer recognised)
    f = craft.TcpFlow(client="172.16.16.108", server="172.16.16.101").handshake().echo_exchange(msg)
    recs = f.recs()
    ack = recs[-1]
    recs.append(craft.Rec(ack.data, ack.t - 0.001))
    many = []
    for i in range(300):
        h = craft.TcpFlow(client="172.16.17.1", server="172.16.16.101", cport=20000 + i, t=1.3 + i * 0.0005,
                          step=0.00001).handshake()
        many += h.recs()
    tail = [craft.Rec(ack.data, ack.t + 0.01)]
    save("time-back", recs + many + tail)
    # connections written out once closed and quiet (at the sweep of the 256th opening), then: a
    # late packet for one (the reference takes it over), a new SYN on another's 4-tuple (port reuse)
    early = [craft.TcpFlow(client="172.16.16.110", server="172.16.16.101", cport=30000 + i, t=1.0 + i * 0.01)
             for i in range(3)]
    recs = []
    for f in early:
        recs += f.handshake().echo_exchange(msg).close().recs()
    late_ack = recs[-1]  # the third connection's last ACK, again after it was written
    many = []
    for i in range(300):
        h = craft.TcpFlow(client="172.16.17.2", server="172.16.16.101", cport=20000 + i, t=2.5 + i * 0.0002,
                          step=0.00001).handshake().echo_exchange(msg).close()
        many += h.recs()
    reuse = craft.TcpFlow(client="172.16.16.110", server="172.16.16.101", cport=30001, isn_c=424242, t=4.0)
    tail = [craft.Rec(late_ack.data, 3.5)] + reuse.handshake().echo_exchange(msg).close().recs()
    save("written-then-late", recs + many + tail)
    # a time client that sends a byte a segment (telnet): each request starts with segments of
    # letters only, which must not be merged with the first of them
    from reporter.assignments import service_ports

    f = craft.TcpFlow(client="172.16.16.111", server="172.16.16.101", sport=service_ports()["time"]).handshake()
    sent = recv = 0
    for _ in range(3):
        for ch in b"TIME\r\n":
            f.data("c", sent, bytes([ch]))
            sent += 1
        reply = b"JAM 12:34:56\r\n"
        f.data("s", recv, reply)
        recv += len(reply)
    save("telnet-time", f.ack("c").close().recs())
    # file-server transfers whose base64 breaks somewhere inside (merged deliveries must not move
    # where a decoding error is found): a byte outside the alphabet, padding, a control character,
    # a quote that ends the JSON string early, a blank
    bulk = tmp / "edge-bulk.pcap"
    make("bulk", bulk, transfer_bytes=150_000, downloads=1, uploads=1)
    head, recs = _records(bulk.read_bytes())
    big = [k for k, (_, _, f) in enumerate(recs) if len(f) > 1000]
    for j, bad in enumerate((b"!", b"=", b"\x01", b'"', b" ", b"\n")):
        mutated = [list(r) for r in recs]
        k = big[(j * 7 + 5) % len(big)]
        frame = bytearray(mutated[k][2])
        frame[len(frame) // 2] = bad[0]
        mutated[k][2] = frame
        out.append(_write(tmp / f"edge-bulk-{j}.pcap", head, mutated))
    out.append(bulk)
    return out


# ---- the corpus ------------------------------------------------------------------------------------

def _base_corpus(tmp: Path) -> list[Path]:
    paths = list(ALL_SAMPLES)
    crafted = tmp / "crafted"
    crafted.mkdir()
    paths += sorted(build_crafted(crafted).values())
    for name, data in sorted(mutants.crafted_sources().items()):
        p = tmp / f"source-{name}"
        p.write_bytes(data)
        paths.append(p)
    for i, kw in enumerate([{}, {"aaaa": False}, {"tasks": "12"}, {"other_port": 5000}, {"retransmits": 3}]):
        paths.append(classgen.kernel_like_capture(tmp / f"class-{i}.pcap", seed=100 + i, **kw))
    return paths + _scenarios(tmp)


def test_samples_crafted_and_class_captures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _base_corpus(tmp_path)
    with Tally() as t:
        _same(paths, monkeypatch)
    assert t.c["fast"] >= 20 and t.c["plain"] >= 20 and t.c["tainted"] >= 10, t.c


def test_frame_notes_stay_with_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for p in ALL_SAMPLES[:4]:
        assert _report_text(p, True, monkeypatch, frames=True) == _report_text(p, False, monkeypatch, frames=True)


def test_packet_level_mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _base_corpus(tmp_path)
    out = tmp_path / "pm"
    out.mkdir()
    paths = packet_mutants(base, out, 360)
    with Tally() as t:
        _same(paths, monkeypatch)
    assert t.c["fast"] >= 250 and t.c["plain"] >= 200 and t.c["tainted"] >= 150, t.c


def test_file_damage_mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = mutants.make_mutants(tmp_path / "m", n=180, seed=3)
    with Tally() as t:
        _same(paths, monkeypatch)
    assert t.c["fast"] >= 10, t.c


# ---- pcapng: the corpus as Wireshark saves it, and pcapng damage ----------------------------------

NG_STYLES = [
    ngwrite.Style(),  # as editcap writes it: little-endian, microseconds, no options
    ngwrite.Style(big_endian=True, tsresol=(9,), options=True),  # as dumpcap writes it, big-endian
    ngwrite.Style(tsresol=(9, 6), options=True, seed=1),  # two interfaces, each its own clock
    ngwrite.Style(big_endian=True, tsresol=(0x80 | 30, 3), tsoffset=(0, -3600), relink=(None, ngwrite.SLL2),
                  simple=True, seed=2),
    ngwrite.Style(tsresol=(10, 0x80 | 20), tsoffset=(-7, 0), relink=(None, ngwrite.SLL), options=True,
                  simple=True, seed=3),
]


def pcapng_versions(paths: list[Path], out: Path, per: int = 2, styles: list = NG_STYLES) -> list[Path]:
    """Every pcap among ``paths`` re-written as pcapng in ``per`` styles (the styles taken in turn)."""
    out.mkdir(exist_ok=True)
    made: list[Path] = []
    k = 0
    for p in paths:
        data = p.read_bytes()
        for _ in range(per):
            style = styles[k % len(styles)]
            ng = ngwrite.rewrite(data, style)
            if ng is None:
                break
            k += 1
            made.append(out / f"{p.stem}.{style.name()}.pcapng")
            made[-1].write_bytes(ng)
    return made


def _ng_blocks(data: bytes) -> tuple[str, list[tuple[int, int, int]]]:
    """A pcapng file's byte order and its blocks as (offset, type, length), up to any damage."""
    e = "<" if struct.unpack_from("<I", data, 8)[0] == 0x1A2B3C4D else ">"
    out, pos = [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(e + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            break
        out.append((pos, btype, blen))
        pos += blen
    return e, out


def _ng_options(data: bytes, e: str, o: int, end: int) -> list[tuple[int, int, int]]:
    """(offset, code, length) of each option in data[o:end], up to opt_endofopt."""
    out = []
    while o + 4 <= end:
        code, length = struct.unpack_from(e + "HH", data, o)
        if code == 0:
            break
        out.append((o, code, length))
        o += 4 + length + (-length % 4)
    return out


NG_DAMAGE = ("blen", "trail", "shb-version", "shb-option", "idb-option", "idb-tsresol", "idb-linktype",
             "idb-snaplen", "idb-late", "idb-short", "epb-iface", "epb-caplen", "epb-origlen", "epb-time", "section",
             "spb-first", "cut", "huge")


def _ng_mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One pcapng-specific edit of ``data``: many are damage the reference reports, some keep the
    file valid (a trailing length the readers never check, a cut between blocks, an interface
    described after the first frames, another snap length or clock)."""
    e, blocks = _ng_blocks(data)
    if not blocks:  # an earlier edit broke the first block
        return mutants.mutate(data, "flip", rng)
    big = e == ">"
    b = bytearray(data)

    def u32(off: int, v: int) -> None:
        struct.pack_into(e + "I", b, off, v & 0xFFFFFFFF)

    def of(*types: int) -> list[tuple[int, int, int]]:
        return [x for x in blocks if x[1] in types] or blocks

    def insert(at: int, block: bytes) -> bytes:
        return bytes(b[:at] + block + b[at:])

    packets, idbs = of(6, 2, 3), of(1)
    bpos, _, blen = shb = blocks[0]
    if kind == "blen":
        bpos, _, blen = rng.choice(blocks)
        u32(bpos + 4, rng.choice([0, 8, 12, 13, blen - 4, blen + 4, 0x7FFFFFF0, (16 << 20) + 4, 0xFFFFFFFC]))
    elif kind == "trail":
        bpos, _, blen = rng.choice(blocks)
        u32(bpos + blen - 4, rng.choice([0, 12, blen + 4, 0xFFFFFFFF]))
    elif kind == "shb-version":
        struct.pack_into(e + "HH", b, 12, *rng.choice([(1, 1), (1, 2), (2, 0), (0, 0), (1, 0)]))
    elif kind in ("shb-option", "idb-option"):
        bpos, _, blen = shb if kind == "shb-option" else rng.choice(idbs)
        opts = _ng_options(data, e, bpos + (24 if kind == "shb-option" else 16), bpos + blen - 4)
        if not opts:
            return _ng_mutate(data, "blen", rng)
        o, _, _ = rng.choice(opts)  # its length: past the block, or short (the next option misread)
        struct.pack_into(e + "H", b, o + 2, rng.choice([blen, 0xFFFF, max(0, blen - 27), 3]))
    elif kind == "idb-tsresol":
        bpos, _, blen = rng.choice(idbs)
        opts = [o for o in _ng_options(data, e, bpos + 16, bpos + blen - 4) if o[1] in (9, 14)]
        if opts:
            o, code, _ = rng.choice(opts)
            if code == 9:
                b[o + 4] = rng.choice([0, 1, 3, 9, 10, 12, 30, 45, 0x80, 0x81, 0x80 | 40, 0x80 | 63, 0xFF])
            else:
                struct.pack_into(e + "q", b, o + 4, rng.choice([1, -1, 10 ** 6, -(10 ** 10), 1 << 40, -(1 << 62)]))
        else:
            return _ng_mutate(data, "idb-linktype", rng)
    elif kind == "idb-linktype":
        struct.pack_into(e + "H", b, rng.choice(idbs)[0] + 8, rng.choice([0, 101, 113, 276, 1, 228, 0xFFFF]))
    elif kind == "idb-snaplen":
        u32(rng.choice(idbs)[0] + 12, rng.choice([0, 14, 60, 100]))
    elif kind == "idb-late":  # an interface described after frames (valid); its frames would name it
        at = rng.choice(packets)
        return insert(at[0] + at[2], craft.ng_idb(rng.choice([1, 276, 113, 101]), rng.choice([None, 9]),
                                                  big_endian=big))
    elif kind == "idb-short":
        bpos, _, blen = rng.choice(idbs)
        return bytes(b[:bpos]) + craft.ng_block(1, struct.pack(e + "HH", 1, 0), big) + bytes(b[bpos + blen:])
    elif kind.startswith("epb-"):
        bpos, btype, blen = rng.choice(packets)
        if btype not in (6, 2):
            return _ng_mutate(data, "cut", rng)
        if kind == "epb-iface":
            if btype == 6:
                u32(bpos + 8, rng.choice([1, 2, 7, 0xFFFFFFFF]))
            else:
                struct.pack_into(e + "H", b, bpos + 8, rng.choice([1, 2, 0xFFFF]))
        elif kind == "epb-caplen":
            cap = struct.unpack_from(e + "I", data, bpos + 20)[0]
            u32(bpos + 20, rng.choice([0, cap - 1, cap + 1, cap + 4, blen - 32, blen - 31, 0xFFFFFFFF]))
        elif kind == "epb-origlen":
            cap = struct.unpack_from(e + "I", data, bpos + 20)[0]
            u32(bpos + 24, rng.choice([0, cap - 1, cap + 100, 0xFFFFFFFF]))
        else:
            u32(bpos + rng.choice([12, 16]), rng.getrandbits(32))
    elif kind == "section":  # a second section: appended whole, or a section header in the middle
        if rng.random() < 0.5:
            return bytes(data) + bytes(data)
        at = rng.choice(packets)
        return insert(at[0], bytes(data[bpos:bpos + blen]))
    elif kind == "spb-first":  # a simple packet block before any interface
        return insert(blen, craft.ng_spb(bytes(60), big))
    elif kind == "cut":
        at = rng.choice(blocks[1:] or blocks)
        return bytes(b[:at[0] + (rng.choice([0, 0, 4, 13]) if at[0] else 0)])
    elif kind == "huge":  # a block of no known type claiming more than the file and than MAX_BLOCK
        at = rng.choice(packets)
        return insert(at[0], struct.pack(e + "II", 0x7E57, (16 << 20) + 16))
    return bytes(b)


def pcapng_damage(sources: list[Path], out: Path, n: int, seed: int = 27) -> list[Path]:
    """``n`` pcapng files, each a source with one to two edits of NG_DAMAGE or of tests/mutants.py."""
    rng = random.Random(seed)
    out.mkdir(exist_ok=True)
    datas = [(p, p.read_bytes()) for p in sources]
    paths = []
    for k in range(n):
        p, data = datas[k % len(datas)]
        kinds = []
        for _ in range(rng.choice([1, 1, 2])):
            if rng.random() < 0.8:
                kinds.append(NG_DAMAGE[(k + len(kinds)) % len(NG_DAMAGE)])
                data = _ng_mutate(data, kinds[-1], rng)
            else:
                kinds.append(rng.choice(mutants.KINDS))
                data = mutants.mutate(data, kinds[-1], rng)
            if len(data) < 28:
                break
        paths.append(out / f"ng{k:03d}-{'-'.join(kinds)}-{p.name}")
        paths[-1].write_bytes(data)
    return paths


def test_pcapng_versions_of_the_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pcap of the corpus saved as pcapng in two styles: the same report as the reference's."""
    paths = pcapng_versions(_base_corpus(tmp_path), tmp_path / "ng")
    assert len(paths) >= 80
    with Tally() as t:
        _same(paths, monkeypatch)
    assert t.c["fast-pcapng"] >= 60 and t.c["plain"] >= 60 and t.c["tainted"] >= 20, t.c


def test_pcapng_packet_level_mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "pm"
    out.mkdir()
    paths = pcapng_versions(packet_mutants(_base_corpus(tmp_path), out, 160, seed=17), tmp_path / "ng", per=1)
    with Tally() as t:
        _same(paths, monkeypatch)
    assert t.c["fast-pcapng"] >= 110 and t.c["plain"] >= 80 and t.c["tainted"] >= 60, t.c


def test_pcapng_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Block lengths, section and interface headers and their options, packet blocks, a second
    section: the fast path reads what stays valid and declines the rest, the report never differs."""
    base = [*ALL_SAMPLES, *(tmp_path / f"class-{i}.pcap" for i in range(2))]
    for i in range(2):
        classgen.kernel_like_capture(base[-2 + i], seed=200 + i, retransmits=i)
    short = tmp_path / "short.pcap"
    make("short", short, connections=40)
    sources = pcapng_versions([*base, short], tmp_path / "ng", per=len(NG_STYLES))
    odd = [ngwrite.Style(tsresol=(r,), tsoffset=(off,)) for r, off in
           ((0, 0), (3, 0), (12, 0), (0x80, 0), (0x80 | 40, 0), (6, 5), (9, -(1 << 33)), (6, 1 << 33))]
    sources += pcapng_versions([short] * len(odd), tmp_path / "odd", per=1, styles=odd)
    paths = pcapng_damage(sources, tmp_path / "dmg", 240)
    with Tally() as t:
        _same(paths + sources[-len(odd):], monkeypatch)
    assert t.c["fast-pcapng"] >= 50 and t.c["declined-pcapng"] >= 100, t.c


@pytest.mark.parametrize("shape, size", [
    ("long", {"packets": 6000}),
    ("short", {"connections": 400}),
    ("dns", {"packets": 5000}),
    ("bulk", {"transfer_bytes": 200_000, "downloads": 1, "uploads": 1}),
    ("one_echo", {"packets": 3000}),
    ("one_echo", {"packets": 21_000}),  # more exchanges than a connection lists: the reference's
    ("long-ng", {"packets": 6000}),  # as Wireshark saves them
    ("short-ng", {"connections": 400}),
])
def test_bench_shapes(shape: str, size: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / f"{shape}.pcap"
    m = make(shape, p, **size)
    with Tally() as t:
        _same([p], monkeypatch)
    assert t.c["fast"] == 1, t.c
    assert fastpath.read_only(open_capture(p)) == m.packets  # the bench's read ceiling reads it whole


def test_base64_in_c_decodes_as_base64stream_does() -> None:
    """fileserver.Base64Stream with the compiled b64_feed against the same stream without it, on
    random pieces: blanks, padding, bytes outside the alphabet, every cut."""
    import base64
    import hashlib

    from reporter.analyses.messages import fileserver

    rng = random.Random(64)

    def run(pieces: list[bytes], fast: bool) -> tuple:
        saved = fileserver.B64_FEED
        fileserver.B64_FEED = saved if fast else None
        try:
            st = fileserver.Base64Stream()
            for p in pieces:
                st.feed(p)
            st.finish()
            return st.size, st.sha256, st.error is None, st.pending
        finally:
            fileserver.B64_FEED = saved

    assert fileserver.B64_FEED is not None
    for i in range(1500):
        raw = rng.randbytes(rng.randint(0, 300))
        text = bytearray(base64.encodebytes(raw) if rng.random() < 0.3 else base64.b64encode(raw))
        for _ in range(rng.choice([0, 0, 1, 2])):
            if text:
                text[rng.randrange(len(text))] = rng.choice(b"=A \n\t\x00\xff-_.\"\\")
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(0, 6))))
        pieces = [bytes(text[a:b]) for a, b in zip([0, *cuts], [*cuts, len(text)])]
        assert run(pieces, True) == run(pieces, False), (i, bytes(text))
    st = fileserver.Base64Stream()
    st.feed(base64.b64encode(b"x" * 1000))
    st.finish()
    assert st.size == 1000 and st.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()


def test_control_bytes_found_as_jsonstream_finds_them() -> None:
    from reporter.analyses import _fasttcp  # type: ignore[attr-defined]

    rng = random.Random(32)
    for n in list(range(0, 40)) + [100, 1000]:
        for _ in range(20):
            data = bytes(rng.choice(b"ABCxyz09+/ \x7f\x80\xff" + bytes([rng.randrange(32)]) * (rng.random() < 0.2))
                         for _ in range(n))
            assert _fasttcp.has_control(data) == (len(data.translate(None, bytes(range(32)))) != len(data)), data


def test_terminator_search_finds_what_bytes_find_finds() -> None:
    from reporter.analyses.messages.framing import CRLF2, _find_crlf2

    rng = random.Random(2)
    for _ in range(3000):
        data = bytes(rng.choice(b"\r\nab") for _ in range(rng.randint(0, 30)))
        pos = rng.randint(0, len(data))
        assert _find_crlf2(data, pos) == data.find(CRLF2, pos), (data, pos)


def test_batch_copy_signals_from_the_reports_own_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """batch gathers a capture's fingerprint in the report's own read (fast path) and gets what the
    fingerprint's own read of the capture gives, on every capture the fast path takes."""
    from reporter.grading.fingerprint import HINT_FRAMES, Collector, fingerprint

    source = (Path(fastpath.__file__).parent / "_fasttcp.c").read_text()
    assert re.search(rf"#define HINT_FRAMES_FP {HINT_FRAMES}\b", source), "HINT_FRAMES_FP in _fasttcp.c differs"
    paths = _base_corpus(tmp_path)
    out = tmp_path / "pm"
    out.mkdir()
    paths += packet_mutants(paths, out, 60, seed=16)
    for shape, size in (("dns", {"packets": 4000}), ("short", {"connections": 200}), ("short-ng", {"connections": 200})):
        p = tmp_path / f"{shape}.pcap"
        make(shape, p, **size)
        paths.append(p)
    paths += pcapng_versions(paths[::3], tmp_path / "ng", per=1)  # both byte orders, two interfaces, ...
    fed: Counter[str] = Counter()
    for p in paths:
        c = Collector("")
        try:
            report, _ = analyse(str(p), ReportOptions(), fingerprint=c)
        except NotACapture:  # batch reads it apart
            continue
        if c.fed is None:
            continue
        fed[report.capture.format] += 1
        c.sha256 = report.capture.sha256
        assert c.result(*c.fed).to_dict() == fingerprint(p).to_dict(), p.name
        ref = Collector(c.sha256)  # and every signal gathered, not only what the hints make of them
        for linktype, _iface, ts, data in iter_records(open_capture(p)):
            ref.frame(linktype, ts, data)
        for name in ("tokens", "ip_ids", "flows_by_src", "ttls", "tcp_sums", "tcp_zero", "isns", "times"):
            assert getattr(c, name) == getattr(ref, name), (p.name, name)
        assert c.content.hexdigest() == ref.content.hexdigest(), p.name
    assert fed["pcap"] >= 60 and fed["pcapng"] >= 20, fed


# ---- SHA-256 on the worker thread (_fasttcp.Sha256, _fasttcp.file_sha256) ------------------------

def _threaded():
    from reporter.analyses import _fasttcp

    if not _fasttcp.threaded_sha256():  # no OpenSSL behind hashlib: hashlib hashes as before
        if IN_CI:
            pytest.fail("_fasttcp found no OpenSSL SHA-256 behind hashlib on a Debian machine")
        pytest.skip("no OpenSSL behind hashlib here")
    return _fasttcp


def test_threaded_sha256_is_hashlibs_whatever_the_pieces() -> None:
    """Several hashers fed at once in pieces of every size (empty, odd, a chunk and more, past the
    queue's 16 MiB): each digest is hashlib's, the chunks of each hashed in order."""
    import hashlib

    ft = _threaded()
    rng = random.Random(7)
    data = [rng.randbytes(n) for n in (0, 1, 55, 64, 4095, (1 << 18) - 1, 1 << 18, (1 << 18) + 1, 3_000_001)]
    data.append(rng.randbytes(1 << 20) * 20)  # 20 MiB: the producer waits for the queue to drain
    hashers = [ft.Sha256() for _ in data]
    offsets = [0] * len(data)
    while any(o < len(d) for o, d in zip(offsets, data)):
        for i, d in enumerate(data):
            if offsets[i] < len(d):
                k = rng.choice((1, 7, 1448, 65536, 300_000, 2_000_000))
                hashers[i].update(memoryview(d)[offsets[i]:offsets[i] + k])
                offsets[i] += k
    for h, d in zip(hashers, data):
        assert h.hexdigest() == hashlib.sha256(d).hexdigest()
        assert h.hexdigest() == hashlib.sha256(d).hexdigest()  # asked twice: the same
    assert ft.Sha256(b"abc").hexdigest() == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(ValueError):
        hashers[0].update(b"more")  # after hexdigest: refused, as nothing could change the digest
    for _ in range(50):  # dropped with chunks still queued: freed only once the worker is done with them
        h = ft.Sha256()
        h.update(data[-2])
        del h


def test_threaded_sha256_after_fork_has_its_own_worker() -> None:
    """batch forks its workers: a child hashes on a worker of its own, and refuses a parent's hasher
    (its chunks were queued to a thread the child does not have)."""
    import hashlib
    import os

    ft = _threaded()
    big = random.Random(3).randbytes(3 << 20)
    parent = ft.Sha256(big[:1 << 20])  # a chunk handed to the parent's worker
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            ok = ft.Sha256(big).hexdigest() == hashlib.sha256(big).hexdigest()
            try:
                parent.update(b"x")
                refused = False
            except RuntimeError:
                refused = True
            code = 0 if ok and refused else 3
        finally:
            os.write(w, bytes([code]))
            os._exit(0)
    os.close(w)
    got = os.read(r, 1)
    os.close(r)
    os.waitpid(pid, 0)
    assert got == b"\x00"
    assert parent.hexdigest() == hashlib.sha256(big[:1 << 20]).hexdigest()


def test_file_sha256_in_c_is_the_files_and_names_a_missing_one(tmp_path: Path) -> None:
    from reporter.reading import capture

    ft = _threaded()
    f = tmp_path / "cap.pcap"
    f.write_bytes(random.Random(5).randbytes(5_000_017))
    assert ft.file_sha256(str(f)) == ft.file_sha256(f) == capture.file_sha256(f)
    assert capture.FILE_SHA256 is ft.file_sha256  # what BackgroundSha256 uses when compiled
    with pytest.raises(FileNotFoundError, match="gone.pcap"):
        ft.file_sha256(tmp_path / "gone.pcap")
