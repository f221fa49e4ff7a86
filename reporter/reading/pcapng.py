"""The pcapng reader: sections, interfaces with their own link type and clock, packet blocks.

Why separate from capture.py: pcapng needs its own block loop (dpkt's keeps only the first
interface and drops interface_id). Each interface has a link type, a time resolution
(if_tsresol: 10^-n or 2^-n seconds) and an offset (if_tsoffset); interface ids are local to a
section, so they are mapped to one global numbering that ``Packet.iface`` reports. Enhanced,
obsolete and Simple Packet Blocks carry frames; every other block is skipped. The common frame
takes the same inline fast path as the pcap reader (written out in both loops on purpose: see
``capture._iter_pcap``).
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

from reporter.reading.decode import NO_FAST, decode_counted, decode_frame, fast_layout, undecoded
from reporter.reading.packet import Packet

MAX_CAPLEN = 262144 * 4  # a frame claiming more is garbage (Wireshark's own limit is 262144)
MAX_BLOCK = 16 << 20  # a block we would buffer whole (packet blocks are far smaller)
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
BT_IDB, BT_PB, BT_SPB, BT_EPB = 1, 2, 3, 6
OPT_TSRESOL, OPT_TSOFFSET = 9, 14


def leading_linktypes(head: bytes, order: str) -> list[int]:
    """Link types of the interfaces described before the first packet of the first section."""
    linktypes: list[int] = []
    pos, first = 0, True
    while pos + 12 <= len(head):
        btype = struct.unpack_from("<I", head, pos)[0]
        if btype == PCAPNG_SHB:
            if not first:
                break  # a later section: the iteration will see it
            order = "<" if struct.unpack_from("<I", head, pos + 8)[0] == PCAPNG_BOM else ">"
        first = False
        btype, blen = struct.unpack_from(order + "II", head, pos)
        if blen < 12 or blen % 4 or pos + blen > len(head):
            break
        if btype in (BT_EPB, BT_SPB, BT_PB):
            break
        if btype == BT_IDB and blen >= 20:
            linktypes.append(struct.unpack_from(order + "H", head, pos + 8)[0])
        pos += blen
    return linktypes


def iter_options(order: str, buf: bytes, o: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(code, value offset, value length) of each option in buf[o:end], up to opt_endofopt.

    An option whose length runs past the block's end (or a cut option header) stops the walk and
    comes out as code -1, so the caller can say the block is damaged instead of reading on."""
    while o + 4 <= end:
        code, length = struct.unpack_from(order + "HH", buf, o)
        o += 4
        if code == 0:
            return
        if o + length > end:
            yield -1, o, length
            return
        yield code, o, length
        o += length + (-length % 4)
    if o != end:
        yield -1, o, end - o


def _iface_info(order: str, body: bytes, off: int, end: int) -> tuple[int, int, int, int, int, int, bool]:
    """(linktype, mult, div, shift, offset_ns, snaplen, options overrun) of an Interface Description
    Block body."""
    linktype, snaplen = struct.unpack_from(order + "H2xI", body, off)
    mult, div, shift, offset_ns = 1000, 1, 0, 0  # default resolution: microseconds
    overrun = False
    for code, o, length in iter_options(order, body, off + 8, end):
        if code == -1:
            overrun = True
        elif code == OPT_TSRESOL and length >= 1:
            r = body[o]
            if r & 0x80:  # power of two: units of 2^-k s
                k = r & 0x7F
                mult, div, shift = 1_000_000_000, 1, k
            elif r <= 9:
                mult, div, shift = 10 ** (9 - r), 1, 0
            else:
                mult, div, shift = 1, 10 ** min(r - 9, 30), 0
        elif code == OPT_TSOFFSET and length >= 8:
            offset_ns = struct.unpack_from(order + "q", body, o)[0] * 1_000_000_000
    return linktype, mult, div, shift, offset_ns, snaplen, overrun


def _iface_entry(g: int, info: tuple[int, int, int, int, int, int, bool], raw: bool) -> tuple:
    """Everything the packet loop needs about one interface, flat, for one tuple unpack per frame."""
    return (g, *info[:6], *((None if raw else fast_layout(info[0])) or NO_FAST))


def _section_header(order: str, buf: bytes, bs: int, blen: int, note: Callable[[str, str], None]) -> None:
    """Say what a Section Header Block gets wrong; the section is read on as pcapng 1.0 either way.

    Major version 1 is the only one there is (a reader must not read another, says the pcapng
    draft, but what follows is almost always still 1.0 blocks: we read on and say so); minor 0,
    or 2 as a few early writers put it, are the same format."""
    if blen < 28:
        note("unsupported-version", "a pcapng section header block is too short to hold its version")
        return
    major, minor = struct.unpack_from(order + "HH", buf, bs + 12)
    if major != 1 or minor not in (0, 2):
        note("unsupported-version", f"a pcapng section header says format version {major}.{minor}, not 1.0; "
                                    "its blocks were read as version 1.0")
    for code, _o, length in iter_options(order, buf, bs + 24, bs + blen - 4):
        if code == -1:
            note("option-overrun", f"a pcapng section header's option claims {length} bytes, more than its block "
                                   "holds; the options after it were ignored")


def iter_pcapng(capture, probs: dict[str, list[int]], damage: Callable[[object, int, str], None],
                note: Callable[[str, str], None], chunk: int, raw: bool) -> Iterator[Any]:
    """The pcapng record loop behind ``capture.iter_packets`` / ``iter_records`` (same contract,
    same fast path; ``raw``: records, no fast path, ``undecoded`` instead of ``decode_frame``)."""
    P = Packet
    new = object.__new__
    decode = undecoded if raw else decode_frame
    no = 0
    first_ts: int | None = None
    last_ts = -1 << 80
    last_seen = 0  # time given to Simple Packet Blocks, which carry none
    order = capture._order
    hdr_unpack = struct.Struct(order + "II").unpack_from
    blk7 = struct.Struct(order + "IIIIIII").unpack_from  # block header + EPB fields in one call
    section: list[tuple] = []  # section-local interface id -> _iface_entry
    n_global = 0
    seen_ifaces = 0  # interfaces met so far; open_capture may already have listed the first ones
    f = open(capture.path, "rb")  # noqa: SIM115 - closed in finally, also when the consumer stops early
    try:
        buf, pos, n, eof = b"", 0, 0, False
        remaining = capture._size
        while True:
            if pos + 28 > n:
                if not eof and remaining > 0:
                    data = f.read(chunk)
                    if not data:
                        eof = True
                        continue
                    remaining -= len(data)
                    buf, pos = buf[pos:] + data, 0
                    n = len(buf)
                    continue
                if pos + 12 > n:
                    if pos < n:
                        damage(capture, no, "a block header is cut short")
                    break
                btype, blen = hdr_unpack(buf, pos)  # a short block at the very end
                iid = hi = lo = caplen = origlen = 0
            else:
                btype, blen, iid, hi, lo, caplen, origlen = blk7(buf, pos)
            if btype == PCAPNG_SHB:  # a new section may switch byte order and resets interfaces
                bom = struct.unpack_from("<I", buf, pos + 8)[0]
                if bom not in (PCAPNG_BOM, 0x4D3C2B1A):
                    damage(capture, no, "a section header has a bad byte-order magic")
                    break
                order = "<" if bom == PCAPNG_BOM else ">"
                hdr_unpack = struct.Struct(order + "II").unpack_from
                blk7 = struct.Struct(order + "IIIIIII").unpack_from
                section = []
                blen = hdr_unpack(buf, pos)[1]
            if blen < 12 or blen % 4:
                damage(capture, no, f"a block has an impossible length {blen}")
                break
            if pos + blen > n:
                if blen - (n - pos) > remaining:
                    damage(capture, no, "the last block is cut short")
                    break
                if blen > MAX_BLOCK:
                    if btype in (BT_EPB, BT_SPB, BT_PB, BT_IDB, PCAPNG_SHB):
                        damage(capture, no, f"a block claims {blen} bytes")
                        break
                    f.seek(blen - (n - pos), os.SEEK_CUR)  # an unknown huge block: skip unread
                    remaining -= blen - (n - pos)
                    buf, pos, n = b"", 0, 0
                    continue
                data = f.read(max(chunk, blen - (n - pos)))
                if not data:
                    damage(capture, no, "the last block is cut short")
                    break
                remaining -= len(data)
                buf, pos = buf[pos:] + data, 0
                n = len(buf)
                continue
            bs = pos
            pos += blen
            if btype == BT_EPB or btype == BT_PB:
                if blen < 32:
                    damage(capture, no, "a packet block is too short")
                    break
                if btype == BT_PB:  # obsolete Packet Block: 16-bit interface id, drop count
                    iid, hi, lo, caplen, origlen = struct.unpack_from(order + "H2xIIII", buf, bs + 8)
                fs = bs + 28
                try:
                    g, linktype, mult, div, shift, offset_ns, _snap, funpack, foff, ipoff, fmin = section[iid]
                except IndexError:
                    damage(capture, no, f"a packet block names unknown interface {iid}")
                    break
                if fs + caplen > pos - 4:
                    damage(capture, no, "a packet block overruns itself")
                    break
                ts = ((hi << 32 | lo) * mult // div >> shift) + offset_ns
            elif btype == BT_SPB:
                if not section or blen < 16:
                    damage(capture, no, "a simple packet block comes before any interface")
                    break
                origlen = struct.unpack_from(order + "I", buf, bs + 8)[0]
                g, linktype, mult, div, shift, offset_ns, snap, funpack, foff, ipoff, fmin = section[0]
                caplen = min(origlen, blen - 16, snap or MAX_CAPLEN)
                fs = bs + 12
                ts = last_seen
            else:
                if btype == BT_IDB:
                    if blen < 20:
                        damage(capture, no, "an interface block is too short")
                        break
                    info = _iface_info(order, buf, bs + 8, bs + blen - 4)
                    if info[6]:
                        note("option-overrun", "a pcapng interface description's option claims more bytes than "
                                               "its block holds; the options after it were ignored")
                    section.append(_iface_entry(n_global, info, raw))
                    n_global += 1
                    if seen_ifaces >= len(capture.linktypes):
                        capture.linktypes.append(info[0])
                    seen_ifaces += 1
                elif btype == PCAPNG_SHB:
                    _section_header(order, buf, bs, blen, note)
                continue  # name resolution, statistics, custom, unknown blocks: skipped
            no += 1
            fe = fs + caplen
            last_seen = ts
            if ts > last_ts:  # not max(): a call per frame costs more
                last_ts = ts
                if first_ts is None:  # only the first frame is ever later than -2**80
                    first_ts = ts
            if caplen >= fmin:
                (etype, vhl, totlen, ipid, frag, proto, src, dst, sport, dport, seq, ack, offb, flags,
                 win) = funpack(buf, fs + foff)
                if etype == 0x0800 and vhl == 0x45 and proto == 6 and not frag & 0x3FFF:
                    ips = fs + ipoff
                    ipe = ips + totlen
                    ps = ips + 20 + (offb >> 4) * 4
                    if ipe <= fe and ps <= ipe and offb >= 0x50:
                        pk = new(P)  # as in _iter_pcap: no __init__ call on the hot path
                        pk.no = no
                        pk.ts = ts
                        pk.iface = g
                        pk.version = 4
                        pk.src = src
                        pk.dst = dst
                        pk.proto = 6
                        pk.ip_id = ipid
                        pk.sport = sport
                        pk.dport = dport
                        pk.seq = seq
                        pk.ack = ack
                        pk.flags = flags
                        pk.window = win
                        pk.options = buf[ips + 40:ps] if offb >= 0x60 else b""
                        pk.payload = buf[ps:ipe]
                        pk.missing = 0
                        yield pk
                        continue
            pkt = decode_counted(decode, probs, linktype, buf, fs, fe, origlen - caplen if origlen > caplen else 0,
                                 no, ts, g)
            if pkt is not None:
                yield pkt
    finally:
        f.close()
        capture.interfaces = len(capture.linktypes)
        capture.packets = no
        capture.first_ts = first_ts
        capture.last_ts = last_ts if first_ts is not None else None
