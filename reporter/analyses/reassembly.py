"""One direction of a TCP connection, reassembled into what the receiving application got.

Why it works this way: the report must agree with Wireshark's Follow TCP Stream, which students
and graders use to check it, so delivery follows the same rules as Wireshark 4.0's follow tap
(epan/dissectors/packet-tcp.c, ``follow_tcp_tap_listener`` / ``check_follow_fragments``):

- offsets are ``(seq - isn - 1) mod 2^32`` unwrapped to 64 bits around the next expected offset,
  so an ISN near 2^32 and streams longer than 4 GiB both work; SYN and FIN consume one number;
  without a SYN the ISN is taken as the first sequence number seen minus one;
- bytes delivered in order are final: a later copy only contributes bytes beyond what was
  delivered, and a copy with different bytes for delivered offsets is an *overlap conflict*;
- a segment that starts beyond the next expected offset is queued (arrival order); after each
  delivery the queue is scanned in arrival order for the first fragment that starts at or before
  the next offset, which delivers its new part. So among out-of-order copies the first queued one
  wins, and an in-order segment supersedes the queued bytes it overlaps (the Linux receiver);
- a gap (bytes the capture never saw) is skipped when the receiver's ACK shows it got past it,
  exactly when Wireshark inserts "[N bytes missing in capture file]". Gaps are counted, never
  zero-filled; queued bytes behind a gap nobody ACKed are never delivered (like Wireshark).

Memory is bounded by what is outstanding, not by the stream: the stream is hashed as it is
delivered, only a short preview and a sliding window of recent bytes (to compare retransmitted
copies and echo segments against) are kept. Tests that need the whole stream collect it from the
delivery callback (``sink``; tcp.py's ``keep_streams``).

Each segment is also labelled the way Wireshark's tcp.analysis flags it (retransmission /
out-of-order, spurious retransmissions counted as retransmissions), and copies of the same frame
captured twice (``-i any``, two interfaces) are recognised as capture duplicates: they are neither
delivered nor counted as retransmissions.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

M32 = 0xFFFFFFFF
HALF = 0x80000000
WRAP = 0x100000000
WINDOW = 1 << 15  # recent delivered bytes kept to compare retransmitted copies with
WINDOW2 = 2 * WINDOW  # the window is trimmed back to WINDOW when it grows past this
PREVIEW = 512  # first bytes kept for the report's preview
RING_MASK = 7  # the last 8 payload frames are kept to recognise capture duplicates
_EMPTY_RING = (None,) * (RING_MASK + 1)
DUP_NS = 50_000_000  # a capture duplicate follows its original within 50 ms
DUP_SAME_IFACE_NS = 1_000_000  # ... and within 1 ms when nothing but time tells them apart
QUEUE_SEGMENTS = 4096  # out-of-order segments queued per direction before the hole is skipped
QUEUE_BYTES = 4 << 20  # ... or out-of-order bytes
OOO_DEFAULT_NS = 3_000_000  # Wireshark's out-of-order threshold before the first RTT is known
FAST_RETRANSMISSION_NS = 20_000_000  # ... and its longest time from the last duplicate ACK to a fast retransmission

RETRANSMISSION, OUT_OF_ORDER, DUPLICATE = "retransmission", "out_of_order", "duplicate"
KEEPALIVE = "keep_alive"  # internal: Wireshark flags it and hands it to no dissector, so no frame note


def same_frame(a: object, b: object) -> bool:
    """True when packet b is a second capture of packet a (same bytes, moments apart).

    A real retransmission differs from its original in the IPv4 id or in the TCP timestamp
    option, and it comes at least an RTO (200 ms on Linux) or a tail-loss probe later; a capture
    duplicate is the very same frame seen on a second interface or a second time by ``-i any``.
    """
    dt = b.ts - a.ts  # type: ignore[attr-defined]
    if dt > DUP_NS or dt < 0:
        return False
    if (a.seq != b.seq or a.ack != b.ack or a.flags != b.flags or a.ip_id != b.ip_id  # type: ignore[attr-defined]
            or a.window != b.window or a.payload != b.payload or a.options != b.options):  # type: ignore[attr-defined]
        return False
    # without an IP id (IPv6) on one interface, only a very short interval tells a copy apart
    return not (a.ip_id is None and a.iface == b.iface and dt > DUP_SAME_IFACE_NS)  # type: ignore[attr-defined]


class Half:
    """One direction: sender's sequence space, receiver's in-order stream, anomaly counters."""

    __slots__ = (  # noqa: RUF023 - grouped by meaning
        "conn", "peer", "is_client",  # owner links (set by tcp.py)
        "base", "next", "nseq", "queue", "qbytes", "hasher", "preview", "bytes", "segments", "win", "win_base",
        "top", "top_ts", "ack_raw", "ooo_ns", "gaps", "conflicts", "retrans", "ooo", "dups", "dupacks", "dupack_of",
        "sink", "recent", "ri", "last", "syn_seq", "state",
        "bD", "cD", "bA", "cA",  # Zeek history bits/letters for data and pure ACK
        "hist_syn", "hist_fin", "hist_rst", "g_count", "w_count",
    )

    def __init__(self) -> None:
        self.base: int | None = None  # isn + 1 (raw 32-bit), None until the first packet
        self.next = 0  # next stream offset the receiver expects
        self.nseq = -1  # ... as a raw 32-bit sequence number (the in-order fast path compares it)
        self.queue: list[tuple[int, bytes, object]] = []  # out-of-order (offset, bytes, packet), arrival order
        self.qbytes = 0  # payload bytes in the queue
        self.hasher = hashlib.sha256()
        self.preview = bytearray()
        self.bytes = 0  # delivered payload bytes
        self.segments = 0  # payload-carrying segments (capture duplicates excluded)
        self.win = bytearray()  # recent delivered bytes [win_base, next)
        self.win_base = 0
        self.top = 0  # highest sequence end seen (Wireshark's nextseq), as an offset
        self.top_ts = 0
        self.ack_raw: int | None = None  # last ACK number the receiver sent for this direction
        self.dupacks = 0  # duplicate ACKs the receiver sent in a row for ACK number dupack_of
        self.dupack_of: int | None = None
        self.ooo_ns = OOO_DEFAULT_NS
        self.gaps = self.conflicts = self.retrans = self.ooo = self.dups = 0
        # called with (offset, bytes, packet) for delivered bytes and (offset, None, length) for a gap
        self.sink: Callable[[int, bytes | None, object], None] | None = None
        self.recent: list = [None] * (RING_MASK + 1)  # ring of recent payload packets
        self.ri = 0
        self.last = None  # last payload-less packet of this direction (its capture duplicates)
        self.syn_seq: int | None = None
        self.state = 0
        self.hist_syn = self.hist_fin = self.hist_rst = None
        self.g_count = self.w_count = 0  # gap events and zero windows (Zeek's G/W log scale)

    # -- sequence space -------------------------------------------------------------------

    def start(self, seq: int, syn: bool) -> None:
        """Fix the sequence base from the first packet of this direction."""
        self.base = (seq + 1) & M32 if syn else seq & M32
        self.nseq = self.base

    def offset(self, seq: int) -> int:
        """Stream offset of a sequence number, unwrapped to 64 bits around the next offset."""
        nxt = self.next
        d = (seq - self.base - nxt) & M32
        return nxt + d if d < HALF else nxt + d - WRAP

    # -- segments --------------------------------------------------------------------------

    def data(self, pkt) -> tuple[int, str | None]:
        """Take one payload-carrying segment; return (offset, Wireshark-like analysis label)."""
        payload = pkt.payload
        off = self.offset(pkt.seq + 1 if pkt.flags & 0x02 else pkt.seq)  # data on a SYN starts after it
        n = len(payload) + pkt.missing
        end = off + n
        top = self.top
        label = None
        if off < top:
            for old in self.recent:
                if old is not None and same_frame(old, pkt):
                    self.dups += 1
                    return off, DUPLICATE
            if n <= 1 and off == top - 1 and not pkt.flags & 0x07:
                self.segments += 1  # a keep-alive: its byte is a filler, neither data nor a conflict
                return off, KEEPALIVE
            label = self._label(off, n, end, pkt)
        if end > top:
            self.top = end
            self.top_ts = pkt.ts
        self.recent[self.ri] = pkt
        self.ri = (self.ri + 1) & RING_MASK
        self.segments += 1
        if off == self.next and not self.queue:  # the common case: next in order
            self._deliver(off, payload, pkt)
            if pkt.missing:
                self._skip(pkt.missing)
            return off, label
        self._segment(off, payload, pkt)
        return off, label

    def _label(self, off: int, n: int, end: int, pkt) -> str | None:
        """Wireshark 4.0's classification of a segment that does not advance the sequence
        (tcp_analyze_sequence_number): a spurious retransmission (the receiver had ACKed it), a fast
        retransmission (checked before out-of-order), out-of-order, else a retransmission."""
        top = self.top
        if off == top - 1 and n > 1:
            return None  # new data right after a zero-window probe's byte (keep-alives left earlier)
        if self.ack_raw is not None:
            acked = self.offset(self.ack_raw)
            if acked > 0 and end <= acked:
                self.retrans += 1
                return RETRANSMISSION  # spurious: the receiver had ACKed it already
            if self.dupacks >= 2 and pkt.seq == self.ack_raw == self.dupack_of and self._acked_lately(pkt.ts):
                self.retrans += 1  # fast retransmission: what two or more duplicate ACKs asked for
                return RETRANSMISSION
        fin = 1 if pkt.flags & 0x01 else 0
        if pkt.ts - self.top_ts < self.ooo_ns and top != end + fin:
            self.ooo += 1
            return OUT_OF_ORDER
        self.retrans += 1
        return RETRANSMISSION

    def dup_ack(self, rx: "Half", pkt) -> None:
        """The receiver's half ``rx`` sent pure ACK ``pkt`` with the ACK number of its previous
        payload-less packet (tcp.py's cheap test): count it when Wireshark calls it a duplicate ACK,
        i.e. it repeats the ACK number and the nonzero window of rx's previous packet (of any kind)
        and sends no new sequence number. A new ACK number starts the count again."""
        prev = rx.last
        latest = rx.recent[(rx.ri - 1) & RING_MASK]
        if latest is not None and (prev is None or latest.no > prev.no):
            prev = latest  # a data segment came after the last pure ACK
        if (prev is None or not pkt.window or pkt.window != prev.window or pkt.ack != prev.ack
                or rx.base is None):
            return
        at = rx.offset(pkt.seq)
        if at != rx.top and (rx.hist_fin is None or at != rx.hist_fin + 1):  # not rx's next sequence number
            return
        if self.dupack_of != pkt.ack:
            self.dupack_of = pkt.ack
            self.dupacks = 0
        self.dupacks += 1

    def _acked_lately(self, ts: int) -> bool:
        """The receiver sent its latest packet less than 20 ms before ``ts`` (Wireshark's bound
        between the last duplicate ACK and a fast retransmission)."""
        rx = self.peer
        times = [p.ts for p in (rx.last, rx.recent[(rx.ri - 1) & RING_MASK]) if p is not None]
        return bool(times) and ts - max(times) < FAST_RETRANSMISSION_NS

    def _segment(self, off: int, payload: bytes, pkt) -> None:
        """Slow path: overlap with delivered bytes, or ahead of a hole (queued)."""
        nxt = self.next
        n = len(payload)
        if off < nxt:
            if off + n + pkt.missing <= nxt:
                self._check_copy(off, payload)
                return
            cut = nxt - off
            self._check_copy(off, payload[:cut])
            payload = payload[cut:] if cut < n else b""
            missing = pkt.missing - max(0, cut - n)
            off = nxt
            if n > cut:
                self._deliver(nxt, payload, pkt)
                if missing:
                    self._skip(missing)
            else:
                self._skip(missing)
            self._drain()
            return
        if off == nxt:
            self._deliver(off, payload, pkt)
            if pkt.missing:
                self._skip(pkt.missing)
            self._drain()
            return
        self.queue.append((off, payload, pkt))
        self.qbytes += len(payload)
        if len(self.queue) > QUEUE_SEGMENTS or self.qbytes > QUEUE_BYTES:
            # a capture that lost a segment nobody ever ACKs past (or damaged sequence numbers):
            # skip the hole now rather than queue without bound
            self.resolve_gap(None)

    def _drain(self) -> None:
        """Deliver queued fragments that now fit, scanning in arrival order like Wireshark."""
        q = self.queue
        while q:
            nxt = self.next
            for i, (off, payload, pkt) in enumerate(q):
                missing = pkt.missing
                if off < nxt:
                    del q[i]
                    self.qbytes -= len(payload)
                    end = off + len(payload) + missing
                    if end > nxt:
                        cut = nxt - off
                        self._check_copy(off, payload[:cut])
                        if cut < len(payload):
                            self._deliver(nxt, payload[cut:], pkt)
                            if missing:
                                self._skip(missing)
                        else:
                            self._skip(end - nxt)
                    else:
                        self._check_copy(off, payload)
                    break
                if off == nxt:
                    del q[i]
                    self.qbytes -= len(payload)
                    self._deliver(off, payload, pkt)
                    if missing:
                        self._skip(missing)
                    break
            else:
                return

    def resolve_gap(self, ack: int | None) -> None:
        """The receiver ACKed past a hole the capture never filled: skip to the queued bytes.

        Called with the raw ACK number of a packet from the receiver while fragments are queued
        (None at a forced resolution). Mirrors Wireshark's use_ack branch of check_follow_fragments.
        """
        q = self.queue
        while q:
            lowest = min(off for off, _, _ in q)
            if ack is not None and self.offset(ack) <= lowest:
                return
            self._skip(lowest - self.next)
            self._drain()

    def _skip(self, n: int) -> None:
        """Bytes the capture did not hold: a gap in the stream, never filled."""
        if n <= 0:
            return
        self.gaps += 1
        nxt = self.next + n
        self.next = nxt
        self.nseq = (self.base + nxt) & M32
        self.win.clear()
        self.win_base = nxt
        if self.sink is not None:
            self.sink(nxt - n, None, n)  # type: ignore[arg-type]

    def _deliver(self, off: int, data: bytes, pkt) -> None:
        n = len(data)
        if not n:
            return
        self.hasher.update(data)
        if self.bytes < PREVIEW:
            self.preview += data[:PREVIEW - self.bytes]
        self.bytes += n
        self.next = off + n
        self.nseq = (self.base + off + n) & M32
        win = self.win
        win += data
        if len(win) > WINDOW2:
            self.trim()
        if self.sink is not None:
            self.sink(off, data, pkt)  # the echo check (and, in tests, the kept stream)

    def trim(self) -> None:
        """Drop the oldest delivered bytes beyond the comparison window."""
        cut = len(self.win) - WINDOW
        del self.win[:cut]
        self.win_base += cut

    def _check_copy(self, off: int, data: bytes) -> None:
        """Compare a copy of delivered bytes with what was delivered: differing = conflict."""
        if not data:
            return
        lo = max(off, self.win_base)
        hi = min(off + len(data), self.next)
        if hi <= lo:
            return
        if self.win[lo - self.win_base:hi - self.win_base] != data[lo - off:hi - off]:
            self.conflicts += 1

    def release(self, closed: bool) -> None:
        """An idle connection gives back what only matters for a few moments: the frames kept to
        recognise capture duplicates (which follow within 50 ms) and, once it is closed, the
        window of delivered bytes (retransmissions after the close are no longer compared)."""
        self.recent[:] = _EMPTY_RING  # in place: the same list, emptied, without a Python loop
        self.last = None
        if closed and self.win:
            self.win = bytearray()
            self.win_base = self.next

    def finish(self) -> None:
        """End of capture: queued bytes behind an un-ACKed hole stay undelivered (a gap)."""
        if self.queue:
            self.gaps += 1
            self.queue.clear()
            self.qbytes = 0
