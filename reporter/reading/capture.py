"""Reading capture files: pcap and pcapng, record by record, into decoded ``Packet``s.

Why our own readers instead of dpkt's: dpkt's pcapng reader keeps only the first interface and
drops ``interface_id``, gives nanosecond times as Decimal and raises from inside its iterator on
a cut record; and a dpkt object per frame is as slow as tshark. Here a file is read in big
chunks, record headers and the common Ethernet/SLL/SLL2 + IPv4 + TCP headers are unpacked with
one ``struct.unpack_from`` each, and only unusual frames go to ``decode.decode_frame``.

Damage never escapes as an exception: a cut or garbage record ends the iteration, everything
read before stays valid, ``Capture.truncated`` is set and a warning says where. Problems with
single frames (non-IP, fragments, snap length, broken headers, a sub-second time field of a
second or more) are summarised as one warning per kind with its count and first frame number.
A file header that breaks its format's rules (a pcap version other than 2.4, reserved bits in
pcap's link-type field, a pcapng version other than 1.0, an option running past its block) is
said in one warning per kind too, and reading goes on as the warning says.

``iter_records`` gives the same frames undecoded (link type, interface, time, bytes) from the
same loops, for the few readers that need what a ``Packet`` leaves out (reporter.grading.fingerprint).
"""
from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections.abc import Iterator
from typing import Any

from reporter.reading import filekind
from reporter.reading.decode import NO_FAST, PROBLEMS, decode_counted, decode_frame, fast_layout, undecoded
from reporter.model import Warning
from reporter.reading.packet import Packet
from reporter.reading.pcapng import (
    MAX_CAPLEN,
    PCAPNG_BOM,
    PCAPNG_SHB,
    iter_pcapng,
    leading_linktypes,
)

CHUNK = 4 << 20  # bytes read at a time: big enough to amortise, small enough for bounded memory
PCAP_VERSION = (2, 4)  # the only pcap format version written since 1998 (libpcap 0.4)
# The pcap header's 32-bit link-type field (draft-ietf-opsawg-pcap): FCS len (4 bits), R, P,
# Reserved3 (10 bits), link type (16 bits). FCS len and P say how long a frame check sequence
# ends each frame (meaningful only when P is set: no warning); R and Reserved3 must be zero.
LINKTYPE_RESERVED = 0x0BFF0000
# codes of the file-header problems (one warning each, whatever the count; reading goes on)
HEADER_PROBLEMS = ("unsupported-version", "option-overrun", "linktype-reserved-bits")

PCAP_MAGIC = {  # magic as read little-endian -> (byte order, nanosecond, record header size)
    0xA1B2C3D4: ("<", False, 16),
    0xD4C3B2A1: (">", False, 16),
    0xA1B23C4D: ("<", True, 16),
    0x4D3CB2A1: (">", True, 16),
    0xA1B2CD34: ("<", False, 24),  # Kuznetsov's "modified" pcap: 8 more bytes per record
    0x34CDB2A1: (">", False, 24),
}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """A capture's SHA-256, hashed in 1 MiB chunks: a capture can be larger than we want in memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Set by reporter.analyses.fastpath when its compiled module can: file_sha256's work in C with the
# GIL released throughout (this module's loop needs the GIL after every chunk, which the analysis
# on the main thread holds, so on a thread it would crawl)
FILE_SHA256: Any = None


class BackgroundSha256:
    """``file_sha256`` on a second thread, so a report's hash costs no wall time on a multi-core machine.

    hashlib and file reads release the GIL on large chunks, so the hash runs beside the analysis
    (a 325 MB capture: ~0.17 s that was serial). ``result()`` waits and returns the hex digest, or
    raises what reading the file raised (an OSError), as ``file_sha256`` would have."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._hex: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="progjar-sha256", daemon=True)
        self._thread.start()

    def _run(self, path: str | os.PathLike[str]) -> None:
        try:
            self._hex = (FILE_SHA256 or file_sha256)(path)
        except BaseException as e:  # handed to the caller's thread by result()
            self._error = e

    def wait(self) -> None:
        """Wait for the thread, whatever it found (the caller is giving up on the result)."""
        self._thread.join()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._hex is not None
        return self._hex


class NotACapture(Exception):
    """The file is not a pcap or pcapng capture at all (empty, an image, a PDF, text, unknown magic).

    ``reason`` says why without the path, so each caller names the file its own way (the command
    line by the path given, batch by the class-relative name). ``kind`` and ``facts``: what the
    file is instead (reporter.reading.filekind), for saying it in the grader's language; None when
    the file could not be read or its pcap header is cut."""

    def __init__(self, path: object, reason: str, kind: str | None = None, facts: dict | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason
        self.kind = kind
        self.facts = facts or {}


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
        # what the file header itself gets wrong (found by open_capture; every read reports it)
        self.header_problems: list[Warning] = []
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
            magic = struct.unpack_from("<I", head)[0] if len(head) >= 4 else None
            if magic == PCAPNG_SHB:  # the interfaces before the first packet: read on, one open
                head += f.read((1 << 20) - len(head))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise NotACapture(p, f"cannot read: {e.strerror or e}") from None
    if magic == PCAPNG_SHB:
        return _open_pcapng(p, size, head)
    if magic not in PCAP_MAGIC:
        kind, facts, reason = filekind.describe(head)
        raise NotACapture(p, reason, kind, facts)
    if len(head) < 24:
        raise NotACapture(p, f"pcap file header cut short ({len(head)} of 24 bytes)")
    order, nano, rec = PCAP_MAGIC[magic]
    cap = Capture(p, "pcap")
    cap._order, cap._nano, cap._rec_size, cap._data_start, cap._size = order, nano, rec, 24, size
    major, minor = struct.unpack_from(order + "HH", head, 4)
    if (major, minor) != PCAP_VERSION:
        cap.header_problems.append(Warning(
            "unsupported-version", f"the pcap file header says format version {major}.{minor}, not "
            f"{PCAP_VERSION[0]}.{PCAP_VERSION[1]}; the records were read as version "
            f"{PCAP_VERSION[0]}.{PCAP_VERSION[1]}", None))
    field = struct.unpack_from(order + "I", head, 20)[0]
    linktype = field & 0xFFFF  # the link type is the low 16 bits (draft-ietf-opsawg-pcap)
    if field & LINKTYPE_RESERVED:
        cap.header_problems.append(Warning(
            "linktype-reserved-bits", f"the pcap file header's link-type field {field} ({field:#010x}) has "
            f"reserved bits set; its low 16 bits, link type {linktype}, were used", None))
    cap.linktypes = [linktype]
    cap.interfaces = 1
    return cap


def _open_pcapng(p: str, size: int, head: bytes) -> Capture:
    """Check the first section header and learn the interfaces described before the first packet."""
    if len(head) < 28:
        raise NotACapture(p, "pcapng section header cut short")
    bom = struct.unpack_from("<I", head, 8)[0]
    if bom == PCAPNG_BOM:
        order = "<"
    elif bom == 0x4D3C2B1A:
        order = ">"
    else:
        raise NotACapture(p, "pcapng section header has a bad byte-order magic")
    cap = Capture(p, "pcapng")
    cap._order, cap._size = order, size
    cap.linktypes = leading_linktypes(head, order)  # interfaces come first in practice
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
    return _read(capture, False)


def iter_records(capture: Capture) -> Iterator[tuple[int, int, int, bytes]]:
    """Yield every frame undecoded: (link type, interface, time in ns, frame bytes).

    For what lies below a ``Packet`` (link addresses, TTLs, checksums: the copy signals of
    ``reporter.grading.fingerprint``). The same record loops as ``iter_packets`` read it, so times,
    interfaces, frame numbering and damage handling (``truncated``, a "truncated" problem) are
    the same; frames are not decoded, so no other problem is counted.
    """
    return _read(capture, True)


def _read(capture: Capture, raw: bool) -> Iterator[Any]:
    probs: dict[str, list[int]] = {}
    notes: dict[str, list] = {}  # header problems met while reading: code -> [first message, count]
    capture.problems = []
    capture.truncated = False
    capture.packets = 0

    def note(code: str, message: str) -> None:
        n = notes.get(code)
        if n is None:
            notes[code] = [message, 1]
        else:
            n[1] += 1

    try:
        if capture.format == "pcap":
            yield from _iter_pcap(capture, probs, raw)
        else:
            yield from iter_pcapng(capture, probs, _damage, note, CHUNK, raw)
    except OSError as e:  # the file vanished or became unreadable mid-way: keep what was read
        capture.truncated = True  # strerror, not str(e): that names the file by its full path
        capture.problems.append(Warning("truncated", f"reading stopped after frame {capture.packets}: "
                                                     f"{e.strerror or type(e).__name__}", None))
    finally:
        capture.problems[:0] = [*capture.header_problems,
                                *(Warning(code, msg if n == 1 else f"{msg} ({n} such headers in this file)", None)
                                  for code, (msg, n) in notes.items()),
                                *(Warning(code, PROBLEMS[code].format(n=n, f=f), f) for code, (n, f) in probs.items())]


def _count(probs: dict[str, list[int]], code: str, no: int) -> None:
    """One more frame with problem ``code`` (count, first frame), as decode_counted counts them."""
    p = probs.get(code)
    if p is None:
        probs[code] = [1, no]
    else:
        p[0] += 1


def _damage(capture: Capture, no: int, why: str) -> None:
    capture.truncated = True
    capture.problems.append(Warning("truncated", f"the capture is cut or damaged after frame {no} ({why}); "
                                                 f"frames before it were analysed", None))


def _iter_pcap(capture: Capture, probs: dict[str, list[int]], raw: bool) -> Iterator[Any]:
    """The pcap record loop; ``raw``: records for ``iter_records`` (no fast path, ``undecoded``).

    The loop is written out again in ``pcapng.iter_pcapng`` on purpose, the inline fast path
    (Packet fields set directly) included: shared as a function it would cost a call per frame,
    the very cost that path exists to avoid. What is shared goes through ``fast_layout``,
    ``decode_frame`` / ``undecoded`` and ``_damage``.
    """
    rec_unpack = struct.Struct(capture._order + "IIII").unpack_from
    hsize = capture._rec_size
    mult = 1 if capture._nano else 1000
    second = 1_000_000_000 // mult  # the sub-second field counts up to this, exclusive
    linktype = capture.linktypes[0]
    funpack, foff, ipoff, fmin = (None if raw else fast_layout(linktype)) or NO_FAST
    P = Packet
    new = object.__new__
    decode = undecoded if raw else decode_frame
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
            ts = sec * 1_000_000_000 + frac * mult  # a fraction of a second or more carries into the seconds
            if frac >= second:
                _count(probs, "timestamp-overflow", no)
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
            pkt = decode_counted(decode, probs, linktype, buf, fs, fe, origlen - caplen if origlen > caplen else 0,
                                 no, ts, 0)
            if pkt is not None:
                yield pkt
    finally:
        f.close()
        capture.packets = no
        capture.first_ts = first_ts
        capture.last_ts = last_ts if first_ts is not None else None
