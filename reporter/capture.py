"""Reading capture files: pcap and pcapng, record by record, into decoded ``Packet``s.

Why our own readers instead of dpkt's: dpkt's pcapng reader keeps only the first interface and
drops ``interface_id``, gives nanosecond times as Decimal and raises from inside its iterator on
a cut record; and a dpkt object per frame is as slow as tshark. Here a file is read in big
chunks, record headers and the common Ethernet/SLL/SLL2 + IPv4 + TCP headers are unpacked with
one ``struct.unpack_from`` each, and only unusual frames go to ``decode.decode_frame``.

Damage never escapes as an exception: a cut or garbage record ends the iteration, everything
read before stays valid, ``Capture.truncated`` is set and a warning says where. Problems with
single frames (non-IP, fragments, snap length, broken headers) are summarised as one warning per
kind with its count and first frame number.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from reporter.decode import PROBLEMS, decode_frame, fast_layout
from reporter.model import Warning
from reporter.packet import Packet

CHUNK = 4 << 20  # bytes read at a time: big enough to amortise, small enough for bounded memory
MAX_CAPLEN = 262144 * 4  # a record claiming more is garbage (Wireshark's own limit is 262144)
MAX_BLOCK = 16 << 20  # a pcapng block we would buffer whole (packet blocks are far smaller)

PCAP_MAGIC = {  # magic as read little-endian -> (byte order, nanosecond, record header size)
    0xA1B2C3D4: ("<", False, 16),
    0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16),
    0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24),  # Kuznetsov's "modified" pcap: 8 more bytes per record
    0x34CDB2A1: (">", False, 24),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BOM = 0x1A2B3C4D
BT_IDB, BT_PB, BT_SPB, BT_EPB = 1, 2, 3, 6
OPT_TSRESOL, OPT_TSOFFSET = 9, 14


class NotACapture(Exception):
    """The file is not a pcap or pcapng capture at all (empty, text, unknown magic)."""


class Capture:
    """An opened capture; the counters fill while ``iter_packets`` runs (final once it ends)."""

    def __init__(self, path: str, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.linktypes: list[int] = []
        self.interfaces = 0
        self.packets = 0  # every frame read, decoded or not (Wireshark's frame count)
        self.first_ts: int | None = None  # ns, first frame (time_relative's zero)
        self.last_ts: int | None = None  # ns, latest time seen
        self.truncated = False
        self.problems: list[Warning] = []
        # reader settings found in the file header
        self._order = "<"
        self._nano = False
        self._rec_size = 16
        self._data_start = 0
        self._size = 0

    def __repr__(self) -> str:
        return (f"Capture({self.path!r}, {self.format}, linktypes={self.linktypes}, packets={self.packets}, "
                f"truncated={self.truncated})")


def open_capture(path: str | os.PathLike[str]) -> Capture:
    """Open a capture and read its header; raise NotACapture when it is not pcap/pcapng."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(4096)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise NotACapture(f"{p}: cannot read: {e.strerror or e}") from None
    if not head:
        raise NotACapture(f"{p}: empty file, not a capture")
    if head[:2] == b"\x1f\x8b":
        raise NotACapture(f"{p}: gzip-compressed; decompress it first (gunzip)")
    if len(head) >= 4 and struct.unpack_from("<I", head)[0] == PCAPNG_SHB:
        return _open_pcapng(p, size)
    if len(head) < 4 or struct.unpack_from("<I", head)[0] not in PCAP_MAGIC:
        raise NotACapture(f"{p}: not a pcap or pcapng capture (unknown file magic {head[:4].hex()})")
    if len(head) < 24:
        raise NotACapture(f"{p}: pcap file header cut short ({len(head)} of 24 bytes)")
    order, nano, rec = PCAP_MAGIC[struct.unpack_from("<I", head)[0]]
    cap = Capture(p, "pcap")
    cap._order, cap._nano, cap._rec_size, cap._data_start, cap._size = order, nano, rec, 24, size
    linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF  # high bits: FCS info
    cap.linktypes = [linktype]
    cap.interfaces = 1
    return cap


def _open_pcapng(p: str, size: int) -> Capture:
    """Check the first section header and learn the interfaces described before the first packet."""
    with open(p, "rb") as f:
        head = f.read(min(size, 1 << 20))
    if len(head) < 28:
        raise NotACapture(f"{p}: pcapng section header cut short")
    bom = struct.unpack_from("<I", head, 8)[0]
    if bom == PCAPNG_BOM:
        order = "<"
    elif bom == 0x4D3C2B1A:
        order = ">"
    else:
        raise NotACapture(f"{p}: pcapng section header has a bad byte-order magic")
    cap = Capture(p, "pcapng")
    cap._order, cap._size = order, size
    # Pre-scan leading blocks (interfaces come first in practice) so linktypes is known up front.
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
            cap.linktypes.append(struct.unpack_from(order + "H", head, pos + 8)[0])
        pos += blen
    cap.interfaces = len(cap.linktypes)
    return cap


def iter_packets(capture: Capture) -> Iterator[Packet]:
    """Yield every IPv4/IPv6 frame carrying TCP or UDP; count and summarise the rest.

    Frame numbers count every frame (like Wireshark's frame.number). Never raises for damaged
    content: the iteration ends early and ``capture.truncated`` says so. Other IP protocols
    (ICMP, ...) are not yielded but counted ("other-ip"); a frame cut by the snap length is
    yielded with ``missing`` set when its TCP/UDP header survived. A pcapng Simple Packet Block
    carries no time and gets the previous frame's. ``capture.packets``, ``first_ts``,
    ``last_ts`` (the latest time seen) and ``problems`` are final once the iteration ends.
    """
    probs: dict[str, list[int]] = {}
    capture.problems = []
    capture.truncated = False
    capture.packets = 0
    try:
        if capture.format == "pcap":
            yield from _iter_pcap(capture, probs)
        else:
            yield from _iter_pcapng(capture, probs)
    except OSError as e:  # the file vanished or became unreadable mid-way: keep what was read
        capture.truncated = True
        capture.problems.append(Warning("truncated", f"reading stopped after frame {capture.packets}: {e}", None))
    finally:
        capture.problems[:0] = [Warning(code, PROBLEMS[code].format(n=n, f=f), f) for code, (n, f) in probs.items()]


def _note(probs: dict[str, list[int]], code: str, no: int) -> None:
    p = probs.get(code)
    if p is None:
        probs[code] = [1, no]
    else:
        p[0] += 1


def _damage(capture: Capture, no: int, why: str) -> None:
    capture.truncated = True
    capture.problems.append(Warning("truncated", f"the capture is cut or damaged after frame {no} ({why}); "
                                                 f"frames before it were analysed", None))


def _iter_pcap(capture: Capture, probs: dict[str, list[int]]) -> Iterator[Packet]:
    rec_unpack = struct.Struct(capture._order + "IIII").unpack_from
    hsize = capture._rec_size
    mult = 1 if capture._nano else 1000
    linktype = capture.linktypes[0]
    fast = fast_layout(linktype)
    if fast is not None:
        funpack, foff, ipoff, fmin = fast[0].unpack_from, fast[1], fast[2], fast[1] + fast[0].size
    else:
        funpack, foff, ipoff, fmin = None, 0, 0, 1 << 62
    P = Packet
    new = object.__new__
    decode = decode_frame
    no = 0
    first_ts: int | None = None
    last_ts = -1 << 80
    f = open(capture.path, "rb")  # noqa: SIM115 - closed in finally, also when the consumer stops early
    try:
        f.seek(capture._data_start)
        buf, pos, n, eof = b"", 0, 0, False
        remaining = capture._size - capture._data_start  # file bytes not yet in buf
        while True:
            if pos + hsize > n:
                if eof or remaining <= 0:
                    if pos < n:
                        _damage(capture, no, "a record header is cut short")
                    break
                data = f.read(CHUNK)
                if not data:
                    eof = True
                    continue
                remaining -= len(data)
                buf, pos = buf[pos:] + data, 0
                n = len(buf)
                continue
            sec, frac, caplen, origlen = rec_unpack(buf, pos)
            fs = pos + hsize
            fe = fs + caplen
            if fe > n:
                if caplen > MAX_CAPLEN or fe - n > remaining:
                    why = (f"a record claims {caplen} bytes" if caplen > MAX_CAPLEN
                           else "the last record is cut short")
                    _damage(capture, no, why)
                    break
                data = f.read(max(CHUNK, fe - n))
                if not data:
                    eof = True
                    _damage(capture, no, "the last record is cut short")
                    break
                remaining -= len(data)
                buf, pos = buf[pos:] + data, 0
                n = len(buf)
                continue
            pos = fe
            no += 1
            ts = sec * 1_000_000_000 + frac * mult
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
                        # Packet's fields set directly: skipping __init__'s call frame is ~10% of the hot path
                        pk = new(P)
                        pk.no = no
                        pk.ts = ts
                        pk.iface = 0
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
            pkt, prob = decode(linktype, buf, fs, fe, origlen - caplen if origlen > caplen else 0, no, ts, 0)
            if prob is not None:
                p = probs.get(prob)
                if p is None:
                    probs[prob] = [1, no]
                else:
                    p[0] += 1
            if pkt is not None:
                yield pkt
    finally:
        f.close()
        capture.packets = no
        capture.first_ts = first_ts
        capture.last_ts = last_ts if first_ts is not None else None


def _iface_info(order: str, body: bytes, off: int, end: int) -> tuple[int, int, int, int, int, int]:
    """(linktype, mult, div, shift, offset_ns, snaplen) of an Interface Description Block body."""
    linktype, snaplen = struct.unpack_from(order + "H2xI", body, off)
    mult, div, shift, offset_ns = 1000, 1, 0, 0  # default resolution: microseconds
    o = off + 8
    while o + 4 <= end:
        code, length = struct.unpack_from(order + "HH", body, o)
        o += 4
        if code == 0 or o + length > end:
            break
        if code == OPT_TSRESOL and length >= 1:
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
        o += length + (-length % 4)
    return linktype, mult, div, shift, offset_ns, snaplen


def _iface_entry(g: int, info: tuple[int, int, int, int, int, int]) -> tuple:
    """Everything the packet loop needs about one interface, flat, for one tuple unpack per frame."""
    linktype, mult, div, shift, offset_ns, snaplen = info
    fast = fast_layout(linktype)
    if fast is None:
        return g, linktype, mult, div, shift, offset_ns, snaplen, None, 0, 0, 1 << 62
    st, foff, ipoff = fast
    return g, linktype, mult, div, shift, offset_ns, snaplen, st.unpack_from, foff, ipoff, foff + st.size


def _iter_pcapng(capture: Capture, probs: dict[str, list[int]]) -> Iterator[Packet]:
    P = Packet
    new = object.__new__
    decode = decode_frame
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
                    data = f.read(CHUNK)
                    if not data:
                        eof = True
                        continue
                    remaining -= len(data)
                    buf, pos = buf[pos:] + data, 0
                    n = len(buf)
                    continue
                if pos + 12 > n:
                    if pos < n:
                        _damage(capture, no, "a block header is cut short")
                    break
                btype, blen = hdr_unpack(buf, pos)  # a short block at the very end
                iid = hi = lo = caplen = origlen = 0
            else:
                btype, blen, iid, hi, lo, caplen, origlen = blk7(buf, pos)
            if btype == PCAPNG_SHB:  # a new section may switch byte order and resets interfaces
                bom = struct.unpack_from("<I", buf, pos + 8)[0]
                if bom not in (PCAPNG_BOM, 0x4D3C2B1A):
                    _damage(capture, no, "a section header has a bad byte-order magic")
                    break
                order = "<" if bom == PCAPNG_BOM else ">"
                hdr_unpack = struct.Struct(order + "II").unpack_from
                blk7 = struct.Struct(order + "IIIIIII").unpack_from
                section = []
                blen = hdr_unpack(buf, pos)[1]
            if blen < 12 or blen % 4:
                _damage(capture, no, f"a block has an impossible length {blen}")
                break
            if pos + blen > n:
                if blen - (n - pos) > remaining:
                    _damage(capture, no, "the last block is cut short")
                    break
                if blen > MAX_BLOCK:
                    if btype in (BT_EPB, BT_SPB, BT_PB, BT_IDB, PCAPNG_SHB):
                        _damage(capture, no, f"a block claims {blen} bytes")
                        break
                    f.seek(blen - (n - pos), os.SEEK_CUR)  # an unknown huge block: skip unread
                    remaining -= blen - (n - pos)
                    buf, pos, n = b"", 0, 0
                    continue
                data = f.read(max(CHUNK, blen - (n - pos)))
                if not data:
                    _damage(capture, no, "the last block is cut short")
                    break
                remaining -= len(data)
                buf, pos = buf[pos:] + data, 0
                n = len(buf)
                continue
            bs = pos
            pos += blen
            if btype == BT_EPB or btype == BT_PB:
                if blen < 32:
                    _damage(capture, no, "a packet block is too short")
                    break
                if btype == BT_PB:  # obsolete Packet Block: 16-bit interface id, drop count
                    iid, hi, lo, caplen, origlen = struct.unpack_from(order + "H2xIIII", buf, bs + 8)
                fs = bs + 28
                try:
                    g, linktype, mult, div, shift, offset_ns, _snap, funpack, foff, ipoff, fmin = section[iid]
                except IndexError:
                    _damage(capture, no, f"a packet block names unknown interface {iid}")
                    break
                if fs + caplen > pos - 4:
                    _damage(capture, no, "a packet block overruns itself")
                    break
                ts = ((hi << 32 | lo) * mult // div >> shift) + offset_ns
            elif btype == BT_SPB:
                if not section or blen < 16:
                    _damage(capture, no, "a simple packet block comes before any interface")
                    break
                origlen = struct.unpack_from(order + "I", buf, bs + 8)[0]
                g, linktype, mult, div, shift, offset_ns, snap, funpack, foff, ipoff, fmin = section[0]
                caplen = min(origlen, blen - 16, snap or MAX_CAPLEN)
                fs = bs + 12
                ts = last_seen
            else:
                if btype == BT_IDB:
                    if blen < 20:
                        _damage(capture, no, "an interface block is too short")
                        break
                    info = _iface_info(order, buf, bs + 8, bs + blen - 4)
                    section.append(_iface_entry(n_global, info))
                    n_global += 1
                    if seen_ifaces >= len(capture.linktypes):
                        capture.linktypes.append(info[0])
                    seen_ifaces += 1
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
            pkt, prob = decode(linktype, buf, fs, fe, origlen - caplen if origlen > caplen else 0, no, ts, g)
            if prob is not None:
                _note(probs, prob, no)
            if pkt is not None:
                yield pkt
    finally:
        f.close()
        capture.interfaces = len(capture.linktypes)
        capture.packets = no
        capture.first_ts = first_ts
        capture.last_ts = last_ts if first_ts is not None else None
