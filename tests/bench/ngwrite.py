"""The bench's captures as Wireshark saves them: pcapng, the format students hand in.

Why: Wireshark and dumpcap write pcapng by default, so most captures a teaching assistant grades
are pcapng, not the pcap the generators write. A reporter fast on pcap alone would hide the cost
users meet; `make bench` measures `short-ng` and `long-ng` (tests/bench/shapes.py) next to their
pcap twins, against tshark on the same file.

``pcap_to_pcapng`` streams a generator's pcap into what dumpcap 4.0 writes (checked against a
`dumpcap -i lo` capture): a Section Header Block with the hardware, OS and application options,
one Interface Description Block (name, description, nanosecond if_tsresol, OS), an Enhanced
Packet Block a frame, and an Interface Statistics Block at the end.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

SHB, IDB, EPB, ISB = 0x0A0D0D0A, 1, 6, 5
BOM = 0x1A2B3C4D
_REC = struct.Struct("<IIII")
_EPB = struct.Struct("<IIIIIII")  # type, length, interface, time high, time low, caplen, origlen
_U32 = struct.Struct("<I")
TSRESOL_NS = 9  # if_tsresol 10^-9: dumpcap's on Linux


def option(code: int, value: bytes) -> bytes:
    """One pcapng option, padded to 4 bytes."""
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def block(btype: int, body: bytes) -> bytes:
    """One little-endian pcapng block (body padded to 4 bytes)."""
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + _U32.pack(n)


END = option(0, b"")


def header_blocks(linktype: int = 1, app: str = "Dumpcap (Wireshark) 4.0.17") -> bytes:
    """The section header and the one interface, with the options dumpcap writes."""
    shb = struct.pack("<IHHq", BOM, 1, 0, -1) + option(2, b"Intel(R) Xeon(R) (with SSE4.2)") + \
        option(3, b"Linux 6.1.0-18-amd64") + option(4, app.encode()) + END
    idb = struct.pack("<HHI", linktype, 0, 262144) + option(2, b"eth0") + option(3, b"Ethernet") + \
        option(9, bytes([TSRESOL_NS])) + option(12, b"Linux 6.1.0-18-amd64") + END
    return block(SHB, shb) + block(IDB, idb)


def statistics_block(first_ns: int, last_ns: int, packets: int) -> bytes:
    """dumpcap's closing Interface Statistics Block: start and end time, frames received and dropped."""
    def ts(ns: int) -> bytes:
        return struct.pack("<II", ns >> 32, ns & 0xFFFFFFFF)

    body = struct.pack("<I", 0) + ts(last_ns) + option(1, b"Counters provided by dumpcap") + \
        option(2, ts(first_ns)) + option(3, ts(last_ns)) + option(4, struct.pack("<Q", packets)) + \
        option(5, struct.pack("<Q", 0)) + END
    return block(ISB, body)


def pcap_to_pcapng(src: Path, dst: Path) -> int:
    """Re-write ``src`` (a pcap as the generators write it: little-endian, microseconds) as dumpcap
    would have saved it; frames and times are the same. Returns the new file's size in bytes."""
    src, dst = Path(src), Path(dst)
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = f.read(24)
        magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", head)
        if magic != 0xA1B2C3D4:
            raise ValueError(f"{src}: not a little-endian microsecond pcap")
        out.write(header_blocks(linktype & 0xFFFF))
        buf, pos, packets = b"", 0, 0
        first = last = 0
        pieces: list[bytes] = []
        pack, unpack, u32 = _EPB.pack, _REC.unpack_from, _U32.pack
        while True:
            data = f.read(8 << 20)
            buf = buf[pos:] + data
            pos, n = 0, len(buf)
            while pos + 16 <= n:
                sec, usec, caplen, origlen = unpack(buf, pos)
                if pos + 16 + caplen > n:
                    break
                ns = sec * 1_000_000_000 + usec * 1000
                pad = -caplen % 4
                blen = 32 + caplen + pad
                pieces.append(pack(EPB, blen, 0, ns >> 32, ns & 0xFFFFFFFF, caplen, origlen))
                pieces.append(buf[pos + 16:pos + 16 + caplen] + b"\0" * pad + u32(blen))
                if not packets:
                    first = ns
                last = ns
                packets += 1
                pos += 16 + caplen
            out.write(b"".join(pieces))
            pieces.clear()
            if not data:
                break
        if pos != len(buf):
            raise ValueError(f"{src}: the last record is cut short")
        out.write(statistics_block(first, last, packets))
    return dst.stat().st_size


# ---- any pcap in any pcapng style, for tests/test_fastpath.py ------------------------------------

PCAP_MAGIC = {  # as read little-endian -> (byte order, nanosecond, record header size): capture.PCAP_MAGIC
    0xA1B2C3D4: ("<", False, 16), 0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16), 0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24), 0x34CDB2A1: (">", False, 24),
}
SLL, SLL2 = 113, 276


@dataclass(frozen=True)
class Style:
    """How a capture is saved as pcapng. Per interface (a capture gets as many as ``tsresol`` names):
    the raw if_tsresol byte (None: no option, microseconds; 0x80 | k: 2^-k s), if_tsoffset in
    seconds, and the link type its frames are re-framed into (None: the source's; only Ethernet
    frames carrying an EtherType move, to Linux cooked v1 or v2). Interface 0 keeps the source's
    link type; other frames go to a seeded random interface."""

    big_endian: bool = False
    tsresol: tuple = (None,)
    tsoffset: tuple = (0,)
    relink: tuple = (None,)
    options: bool = False  # SHB/IDB/EPB options, name resolution, decryption secrets, custom, statistics blocks
    simple: bool = False  # some interface-0 frames as Simple Packet Blocks, some as obsolete Packet Blocks
    seed: int = 0

    def name(self) -> str:
        bits = ["be" if self.big_endian else "le", "-".join("us" if r is None else f"r{r:x}" for r in self.tsresol)]
        bits += ["off"] * any(self.tsoffset) + ["relink"] * any(self.relink) + ["opts"] * self.options
        return "_".join(bits + ["simple"] * self.simple)


def pcap_records(data: bytes) -> tuple[int, list[tuple[int, bytes, int]]] | None:
    """A pcap's (link type, [(time in ns, frame, original length), ...]); None when not a pcap. A cut
    last record is left out."""
    if len(data) < 24:
        return None
    fmt = PCAP_MAGIC.get(struct.unpack_from("<I", data)[0])
    if fmt is None:
        return None
    order, nano, hsize = fmt
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0xFFFF
    rec = struct.Struct(order + "IIII")
    out, pos = [], 24
    while pos + hsize <= len(data):
        sec, frac, caplen, origlen = rec.unpack_from(data, pos)
        if pos + hsize + caplen > len(data):
            break
        out.append((sec * 1_000_000_000 + frac * (1 if nano else 1000), data[pos + hsize:pos + hsize + caplen],
                    origlen))
        pos += hsize + caplen
    return linktype, out


def _units(ns: int, res: int | None, offset_s: int) -> int:
    """A time in the interface's units (what the reader multiplies back), clamped to 64 bits."""
    ns -= offset_s * 1_000_000_000
    r = 6 if res is None else res
    if r & 0x80:
        u = (ns << (r & 0x7F)) // 1_000_000_000
    elif r <= 9:
        u = ns // 10 ** (9 - r)
    else:
        u = ns * 10 ** (r - 9)
    return min(max(u, 0), (1 << 64) - 1)


def _reframe(frame: bytes, linktype: int) -> bytes | None:
    """An Ethernet frame as Linux cooked capture v1/v2 (its EtherType kept), or None when it has none."""
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] < 0x0600:
        return None
    etype, src, rest = frame[12:14], frame[6:12], frame[14:]
    if linktype == SLL:
        return struct.pack("!HHH", 0, 1, 6) + src + b"\0\0" + etype + rest
    return etype + struct.pack("!HIHBB", 0, 2, 1, 0, 6) + src + b"\0\0" + rest


def rewrite(data: bytes, style: Style) -> bytes | None:
    """``data`` (a pcap) as a pcapng file in ``style``; None when ``data`` is not a pcap."""
    import random

    got = pcap_records(data)
    if got is None:
        return None
    linktype, recs = got
    e = ">" if style.big_endian else "<"
    rng = random.Random(style.seed)

    def opt(code: int, value: bytes) -> bytes:
        return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)

    def blk(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack(e + "II", btype, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))

    end = opt(0, b"")
    shb = struct.pack(e + "IHHq", BOM, 1, 0, -1)
    if style.options:
        shb += opt(1, b"saved by the fast path's tests") + opt(2, b"x86_64") + opt(3, b"Linux") + \
            opt(4, b"Wireshark 4.0.17") + end
    out = [blk(SHB, shb)]
    n = len(style.tsresol)
    links = [linktype if (style.relink + (None,) * n)[i] is None or linktype != 1 else style.relink[i]
             for i in range(n)]
    offsets = (style.tsoffset + (0,) * n)[:n]
    for i in range(n):
        body = struct.pack(e + "HHI", links[i], 0, 262144)
        opts = b""
        if style.options:
            opts += opt(2, f"eth{i}".encode()) + opt(3, b"a lab interface") + opt(11, b"\0tcp or udp") + \
                opt(12, b"Linux") + opt(13, b"\0")
        if style.tsresol[i] is not None:
            opts += opt(9, bytes([style.tsresol[i]]))
        if offsets[i]:
            opts += opt(14, struct.pack(e + "q", offsets[i]))
        out.append(blk(IDB, body + (opts + end if opts else b"")))
    if style.options:
        nrb = struct.pack(e + "HH", 1, 11) + bytes([172, 16, 16, 101]) + b"server\0" + b"\0" + struct.pack(e + "HH", 0, 0)
        out.append(blk(4, nrb))  # name resolution
        out.append(blk(0x0A, struct.pack(e + "II", 0x544C534B, 8) + b"CLIENT_R"))  # decryption secrets
    last_ns = 0
    for k, (ns, frame, origlen) in enumerate(recs):
        iface = rng.randrange(n) if n > 1 else 0
        if links[iface] != linktype:
            moved = _reframe(frame, links[iface])
            if moved is None:
                iface = 0
            else:
                origlen += len(moved) - len(frame)
                frame = moved
        if style.options and k % 50 == 25:
            out.append(blk(0x00000BAD, struct.pack(e + "I", 32473) + b"custom data"))  # a custom block
            out.append(blk(0x7E57B10C, b"a block type no reader knows"))
        if style.simple and iface == 0 and k % 7 == 3 and origlen == len(frame):
            out.append(blk(3, struct.pack(e + "I", origlen) + frame))  # no time: the last frame's
            continue
        u = _units(ns, style.tsresol[iface], offsets[iface])
        if style.simple and iface == 0 and k % 7 == 5:
            out.append(blk(2, struct.pack(e + "HHIIII", 0, 0, u >> 32, u & 0xFFFFFFFF, len(frame), origlen)
                           + frame + b"\0" * (-len(frame) % 4) + end))
            continue
        body = struct.pack(e + "IIIII", iface, u >> 32, u & 0xFFFFFFFF, len(frame), origlen) + frame
        body += b"\0" * (-len(frame) % 4)
        if style.options and k % 3 == 0:
            body += opt(2, struct.pack(e + "I", 1 + k % 2)) + opt(1, b"a frame comment") + end
        out.append(blk(EPB, body))
        last_ns = ns
    if style.options:
        for i in range(n):
            u = _units(last_ns, style.tsresol[i], offsets[i])
            out.append(blk(ISB, struct.pack(e + "III", i, u >> 32, u & 0xFFFFFFFF)
                           + opt(4, struct.pack(e + "Q", len(recs))) + end))
    return b"".join(out)
