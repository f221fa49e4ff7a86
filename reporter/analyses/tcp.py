"""TCP connections: handshake, reassembled streams, echo, close, Zeek state (the report's connections[]).

Why one pass with a lean ``feed``: the reporter must read a million-packet capture several times
faster than ``tshark -z conv,tcp``, so each packet costs one dict lookup keyed by the raw
(src, sport, dst, dport) and a few attribute updates; in-order payload goes straight to the
incremental hash and the echo comparison (reassembly.py, echo.py). Rare events (SYN/FIN/RST,
out-of-order, retransmissions) take the slow paths.

Definitions the report relies on:
- ``id`` is Wireshark's tcp.stream: order of the first packet of each 4-tuple; a SYN (without ACK)
  whose sequence number differs from the first one seen in that direction starts a new connection
  on the same 4-tuple (port reuse), as Wireshark 4.0 does.
- client: the SYN sender; without a SYN, the side not on a lab port, else the higher port.
- ``handshake``: complete when the client's first ACK (not a SYN) after SYN and SYN-ACK
  acknowledges the SYN-ACK (and the data it may carry), in whatever order the three were
  written to the file (two capture buffers can put the SYN-ACK first). ``rtt_ms``: the latest SYN
  before that ACK -> the ACK, at the capture point (Wireshark's tcp.analysis.initial_rtt, which
  counts from its ts_mru_syn; Wireshark takes the first non-SYN ACK of either side, we the
  client's). It is also the out-of-order threshold, as in Wireshark. ``syn_retransmissions`` /
  ``synack_retransmissions``: SYNs / SYN-ACKs sent again with the same ISN (a copy captured
  twice is a capture duplicate, not a retransmission).
- ``state``/``history``: Zeek's conn_state and history letters (S H A D F R T G W; upper case =
  client). The ``^`` (direction flipped), ``C`` (bad checksum), ``I``/``Q`` (odd flag mixes) letters
  are not produced.
- ``frames`` (``--frames``): every payload segment on a lab port but keep-alives (whose filler
  byte Wireshark hands to no dissector, so the plugin never labels it), with ``tcp_analysis`` as
  Wireshark's tcp.analysis flags it ("retransmission" includes spurious and fast retransmissions;
  a fast one is what two or more duplicate ACKs asked for, checked before out-of-order), except
  that the second copy of a frame captured twice is "duplicate" (Wireshark calls it a
  retransmission). ``len`` is the captured payload length and ``echo_ok`` compares an echo
  segment's bytes with the client bytes delivered so far at the same offsets (False when they are
  not all known), both exactly as dissector/progjar.lua labels the frame.
- ``echo.wait_s``: client SYN -> the first server payload that continues the server's stream;
  ``queued_behind``: see conn.queued_behind; exchanges: see echo.py.
- Times are seconds relative to the capture's first frame, rounded to 1 us; rtt_ms to 1 us.

Memory: per connection a few hundred bytes of state, the out-of-order queue, the last 32 KiB of
each stream (to compare retransmitted copies) and the bytes not yet echoed; idle connections give
back their duplicate-detection frames, closed ones their windows (``_sweep``).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from reporter.analyses.conn import (
    CLOSED,
    ESTABLISHED,
    H_ACK,
    H_DATA,
    H_FIN,
    H_RST,
    H_SYN,
    INACTIVE,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
    WAIT_HANDSHAKE,
    WAIT_REQUEST,
    Conn,
    EvidenceFrames,
    connection,
    log_scale,
    parse_options,
    queued_behind,
)
from reporter.analyses.echo import LEAD_CAP, OTHER_CAP, EchoCheck
from reporter.analyses.messages import DEFAULT_FRAMING, is_message_framing, open_stream
from reporter.analyses.messages.recognise import RECOGNISED, Sniffer
from reporter.analyses.messages.results import finish_messages, messages_warnings, timezone_hint
from reporter.analyses.reassembly import (
    DUPLICATE,
    KEEPALIVE,
    PREVIEW,
    RETRANSMISSION,
    RING_MASK,
    WINDOW2,
    WRAP,
    Half,
    same_frame,
)
from reporter.model import Connection, FrameNote, MessageFrameNote, Warning
from reporter.reading.packet import ACK, FIN, RST, SYN

SWEEP_EVERY = 256  # new connections between sweeps of idle ones
IDLE_NS = 200_000_000  # a connection silent this long gives back its duplicate-detection frames (dups follow within 50 ms)

EVENT_TEXT = {
    "tcp-capture-duplicate": "{n} frame(s) were captured twice (tcpdump -i any, or two interfaces); "
                             "each is counted once and not as a retransmission",
    "tcp-gap": "{n} gap(s): TCP bytes the capture does not hold (the receiver got them); streams leave them out",
    "tcp-overlap-conflict": "{n} segment(s) carried different bytes for stream offsets already received; "
                            "the bytes received first were kept",
}


@dataclass
class TcpResult:
    connections: list[Connection]
    frames: dict[str, FrameNote] | None
    warnings: list[Warning] = field(default_factory=list)
    streams: dict[int, tuple[bytes, bytes]] | None = None  # keep_streams=True only (tests)
    marks: EvidenceFrames | None = None  # for judge_tasks; not in the report model
    timezone_hint: str | None = None  # the UTC offset every time-server reply's clock agrees on


class TcpAnalysis:
    """Consumes every TCP packet once (``feed``) and builds connections[] and frames{} (``finish``)."""

    def __init__(self, services: Mapping[int, str] | None = None, frames: bool = False,
                 keep_streams: bool = False, framings: Mapping[str, str] | None = None,
                 recognise: Collection[str] | None = ()) -> None:
        # lab port -> service name (the catalogue's, via the pipeline); other ports are not the lab's
        self.ports: Mapping[int, str] = dict(services or {})
        # service -> framing kind (the catalogue's Service.framing); "line"/"json" services get messages
        self.framings: Mapping[str, str] = dict(DEFAULT_FRAMING) | dict(framings or {})
        # services recognised by content on unclaimed ports (recognise.py); None: every one it knows
        self.recognise = frozenset(RECOGNISED if recognise is None else recognise) & frozenset(RECOGNISED)
        self.table: dict[tuple, Half] = {}
        self.conns: list[Conn] = []
        self.live: list[Conn] = []  # connections whose idle memory has not been given back yet
        self.per_server: dict[tuple[bytes, int], int] = {}
        self.frames: dict[str, FrameNote] | None = {} if frames else None
        # tests only: each connection's delivered bytes, kept by a wrapper around the delivery callback
        self.kept: dict[int, tuple[bytearray, bytearray]] | None = {} if keep_streams else None
        self.warnings: list[Warning] = []
        self.events: dict[str, list[int]] = {}  # warning code -> [count, first frame]
        self.marks = EvidenceFrames()  # task evidence frames the model has no field for
        # Set by fastpath.run when its compiled pass analysed the plain connections: their records
        # (fastpath tuples), and for the connections this analysis gets, the id and client number
        # the whole capture gives them (opening frame -> (id, client_no)) and the frames whose
        # opening sweeps idle connections (every SWEEP_EVERY-th connection of the capture).
        self.plain: list = []
        self.fast_message_conns: list = []  # its connections whose messages_warnings it owes (fastpath._Truncated)
        self.assigned: dict[int, tuple[int, int]] | None = None
        self.sweep_frames: set[int] | None = None

    # -- per packet ------------------------------------------------------------------------------

    def feed(self, pkt) -> None:
        """One TCP packet, in frame order."""
        h = self.table.get((pkt.src, pkt.sport, pkt.dst, pkt.dport))
        flags = pkt.flags
        if h is None or (flags & 0x12 == SYN and h.base is not None and (h.base - 1) & 0xFFFFFFFF != pkt.seq):
            h = self._open(pkt)  # new 4-tuple, or port reuse: a new SYN with another ISN
        payload = pkt.payload
        if not payload:
            # a control or pure-ACK frame captured twice (-i any, two interfaces)? h.last is the
            # last payload-less frame, so its copy may follow data frames (those: Half.data's ring);
            # only the latest is kept (a ring here would cost every pure ACK a scan)
            last = h.last
            if last is not None and last.ack == pkt.ack and last.seq == pkt.seq and same_frame(last, pkt):
                h.dups += 1
                self._event("tcp-capture-duplicate", pkt.no)
                return
        conn = h.conn
        conn.last_ts = pkt.ts
        if conn.msgs is not None:  # a message completes on the packet whose arrival completes it
            conn.msgs.now = pkt
        if h.base is None:
            h.start(pkt.seq, bool(flags & SYN))
            if not flags & SYN and h.state == INACTIVE:
                h.state = PARTIAL
        if flags & 0x07:
            self._control(conn, h, pkt, flags)
        if flags & ACK:
            rev = h.peer
            rev.ack_raw = pkt.ack
            if rev.queue:
                gaps = rev.gaps
                rev.resolve_gap(pkt.ack)
                if rev.gaps != gaps:
                    self._gap(conn, rev, pkt.no)
            if conn.waiting and conn.wait & h.bA and not flags & SYN:  # rare: see conn.WAIT_HANDSHAKE
                self._awaited(conn, h, pkt)
        if not pkt.window and not flags & (RST | SYN):  # Zeek's W/w: any packet, data or not
            self._zero_window(conn, h)
        if not payload and not pkt.missing:
            if not conn.seen & h.bA and not flags & 0x07 and flags & ACK:  # rarely true: tested first
                conn.mark(h.bA, h.cA)
            last = h.last
            if last is not None and pkt.ack == last.ack and not flags & 0x07:  # rare: the ACK number stood still
                h.peer.dup_ack(h, pkt)
            h.last = pkt
            return
        if not flags & 0x07 and not h.queue and not pkt.missing:
            nxt = h.next
            if pkt.seq == h.nseq and nxt == h.top:
                # fast path: the next bytes in order, nothing outstanding -> hash, window, echo.
                # Deliberately Half.data() + Half._deliver() written out (keep them in step): on
                # bench-1m feed() takes 1.05 s with it, 1.24-1.30 s calling them instead.
                end = nxt + len(payload)
                h.top = h.next = end
                h.nseq = (pkt.seq + len(payload)) & 0xFFFFFFFF
                h.top_ts = pkt.ts
                ring = h.recent
                ring[h.ri] = pkt
                h.ri = (h.ri + 1) & RING_MASK
                h.segments += 1
                h.hasher.update(payload)
                if h.bytes < PREVIEW:
                    h.preview += payload[:PREVIEW - h.bytes]
                h.bytes += len(payload)
                win = h.win
                win += payload
                if len(win) > WINDOW2:
                    h.trim()
                if conn.noted:
                    self._note(conn, h, pkt, nxt, None, _echo_ok(conn, h, nxt, payload))
                h.sink(nxt, payload, pkt)
                if not conn.seen & h.bD:
                    conn.mark(h.bD, h.cD)
                return
        ok = None
        if conn.noted and not h.is_client:  # before delivery uses the bytes up
            ok = _echo_ok(conn, h, h.offset(pkt.seq + 1 if flags & SYN else pkt.seq), payload)
        gaps, conflicts = h.gaps, h.conflicts
        off, label = h.data(pkt)
        if h.gaps != gaps:
            self._gap(conn, h, pkt.no)
        if h.conflicts != conflicts:
            self._event("tcp-overlap-conflict", pkt.no)
        if label is not None:
            if label == KEEPALIVE:
                return
            if label == DUPLICATE:
                self._event("tcp-capture-duplicate", pkt.no)
                if conn.noted:
                    self._note(conn, h, pkt, off, label, ok)
                return
            if label == RETRANSMISSION and log_scale(h.retrans):  # h.retrans: counted by h.data()
                conn.hist.append("T" if h.is_client else "t")
        if not flags & 0x07 and not conn.seen & h.bD:
            conn.mark(h.bD, h.cD)
        if conn.noted:
            self._note(conn, h, pkt, off, label, ok)

    def _open(self, pkt) -> Half:
        """A new connection (first packet of a 4-tuple, or port reuse): decide who is the client."""
        flags = pkt.flags
        a, b = (pkt.src, pkt.sport), (pkt.dst, pkt.dport)
        if flags & SYN:
            src_is_client = not flags & ACK
        elif pkt.dport in self.ports and pkt.sport not in self.ports:
            src_is_client = True
        elif pkt.sport in self.ports and pkt.dport not in self.ports:
            src_is_client = False
        else:
            src_is_client = pkt.sport >= pkt.dport
        client, server = (a, b) if src_is_client else (b, a)
        c, s = Half(), Half()
        if self.assigned is None:
            cid = len(self.conns)
            n = self.per_server.get(server, 0) + 1
            self.per_server[server] = n
        else:
            cid, n = self.assigned[pkt.no]
        conn = Conn(cid, c, s, pkt.ts)
        conn.client, conn.server = client, server
        service = self.ports.get(server[1])
        if service is not None:
            conn.lab = True
            conn.service = service
            conn.by = "port"
        else:
            conn.echo.cap = OTHER_CAP
        conn.client_no = n
        for half, is_client in ((c, True), (s, False)):
            half.conn = conn
            half.is_client = is_client
            shift = 0 if is_client else 16
            half.bD, half.bA = H_DATA << shift, H_ACK << shift
            half.cD, half.cA = ("D", "A") if is_client else ("d", "a")
        c.peer, s.peer = s, c
        c.sink, s.sink = conn.echo.request, conn.echo.answer
        if service is not None:
            framing = self.framings.get(service)
            if is_message_framing(framing):
                conn.msgs = open_stream(service, framing, conn.echo)  # type: ignore[arg-type]
                c.sink, s.sink = conn.msgs.request, conn.msgs.response
        elif self.recognise:
            sn = conn.sniffer = Sniffer(self.recognise, (c.sink, s.sink), lambda name: self._recognised(conn, name))
            c.sink, s.sink = sn.request, sn.response
        if self.kept is not None:  # tests: the whole stream too, through the same delivery callback
            self.kept[conn.id] = kc, ks = bytearray(), bytearray()
            c.sink, s.sink = _keeping(kc, c.sink), _keeping(ks, s.sink)
        conn.noted = conn.lab and self.frames is not None
        self.table[(client[0], client[1], server[0], server[1])] = c
        self.table[(server[0], server[1], client[0], client[1])] = s
        self.conns.append(conn)
        self.live.append(conn)
        if (len(self.conns) % SWEEP_EVERY == 0) if self.sweep_frames is None else pkt.no in self.sweep_frames:
            self._sweep(pkt.ts)
        return c if src_is_client else s

    def _sweep(self, now: int) -> None:
        """Give back per-connection memory that idle connections no longer need (see Half.release).

        Runs when new connections appear, so memory stays bounded by the connections active
        at a time plus a small record per finished one, without a per-packet cost."""
        keep = []
        for conn in self.live:
            if now - conn.last_ts < IDLE_NS:
                keep.append(conn)
                continue
            closed = conn.reset or (conn.c.state == CLOSED and conn.s.state == CLOSED)
            conn.c.release(closed)
            conn.s.release(closed)
            if not closed:
                keep.append(conn)
        self.live = keep

    def _control(self, conn: Conn, h: Half, pkt, flags: int) -> None:
        """SYN, FIN and RST: handshake, close, Zeek states and history."""
        up = h.is_client
        shift = 0 if up else 16
        bits = (flags & SYN and 1) + (flags & FIN and 1) + (flags & RST and 1)
        if flags & SYN:
            if h.syn_seq is None:
                h.syn_seq = pkt.seq
            letter = "H" if flags & ACK else "S"
            if conn.mark(H_SYN << shift, letter if up else letter.lower()) and h.hist_syn != pkt.seq and bits == 1:
                conn.hist.append(letter if up else letter.lower())
            h.hist_syn = pkt.seq
            if not flags & ACK:
                if conn.syn_frame is None:
                    conn.syn_frame, conn.syn_ts = pkt.no, pkt.ts
                    conn.options = parse_options(pkt.options)
                    if up:
                        conn.wait |= WAIT_REQUEST
                        conn.waiting = True
                elif pkt.seq == h.syn_seq:
                    conn.syn_rexmits += 1  # the client asked again: it waited (a full backlog, a lost SYN)
                if conn.ack_frame is None:
                    # the iRTT counts from the latest SYN before the handshake's ACK (Wireshark's
                    # ts_mru_syn), also when the SYN-ACK was written to the file first (two capture buffers)
                    conn.rtt_from = pkt.ts
                    if conn.synack_frame is not None:
                        conn.wait |= WAIT_HANDSHAKE
                        conn.waiting = True
                if h.state in (INACTIVE, PARTIAL):
                    h.state = SYN_SENT
            else:
                if conn.synack_frame is None:
                    conn.synack_frame, conn.synack_ts = pkt.no, pkt.ts
                    if conn.syn_frame is not None:
                        conn.wait |= WAIT_HANDSHAKE
                        conn.waiting = True
                elif pkt.seq == h.syn_seq:
                    conn.synack_rexmits += 1
                if h.state in (INACTIVE, PARTIAL):
                    h.state = SYN_ACK_SENT
        if flags & (FIN | RST) and conn.close_ts is None:
            conn.close_ts = pkt.ts
        if flags & FIN:
            end = h.offset(pkt.seq) + len(pkt.payload) + pkt.missing
            if conn.mark(H_FIN << shift, "F" if up else "f") and h.hist_fin != end:
                conn.hist.append("F" if up else "f")
            h.hist_fin = end
            if conn.fins is None:
                conn.fins = [(up, pkt.no, pkt.ts)]
            elif len(conn.fins) == 1 and conn.fins[0][0] != up:
                conn.fins.append((up, pkt.no, pkt.ts))
            if conn.first_fin_by is None:
                conn.first_fin_by = "client" if up else "server"
                self.marks.fins[conn.id] = pkt.no
            if up and conn.wait & WAIT_REQUEST and not pkt.payload and pkt.seq == (h.syn_seq + 1) & 0xFFFFFFFF:
                conn.wait &= ~WAIT_REQUEST  # closed without a request: the server's ACK is the FIN's
                conn.waiting = conn.wait != 0
            if h.state != RESET:
                h.state = CLOSED
        if flags & RST:
            if conn.mark(H_RST << shift, "R" if up else "r") and h.hist_rst != pkt.seq:
                conn.hist.append("R" if up else "r")
            h.hist_rst = pkt.seq
            conn.reset = True
            h.state = RESET

    def _awaited(self, conn: Conn, h: Half, pkt) -> None:
        """An ACK (not a SYN) from a half whose ACK conn.wait awaits. The server's first one that
        covers client data is the request's ACK (task evidence); the client's completes the
        handshake (iRTT measured here)."""
        if not h.is_client:
            if 0 < (pkt.ack - conn.c.syn_seq - 1) & 0xFFFFFFFF < 0x80000000:
                self.marks.request_acks[conn.id] = pkt.no
                conn.wait &= ~WAIT_REQUEST
                conn.waiting = conn.wait != 0
            return
        conn.wait &= ~WAIT_HANDSHAKE
        conn.waiting = conn.wait != 0
        s = conn.s
        if s.syn_seq is not None and (pkt.ack - s.syn_seq - 1) & 0xFFFFFFFF > s.top:
            # it does not acknowledge the SYN-ACK: the SYN-ACK may carry data (the ACK then covers
            # those bytes too), but an ACK of bytes the server never sent is damage, not an answer
            return
        conn.ack_frame, conn.ack_ts = pkt.no, pkt.ts
        irtt = pkt.ts - conn.rtt_from
        if irtt > 0:
            conn.c.ooo_ns = conn.s.ooo_ns = irtt
        for half in (conn.c, conn.s):
            if half.state in (SYN_SENT, SYN_ACK_SENT, INACTIVE, PARTIAL):
                half.state = ESTABLISHED

    def _event(self, code: str, frame: int) -> None:
        """Count an anomaly for the capture-level warnings (one line per kind, first frame named)."""
        ev = self.events.get(code)
        if ev is None:
            self.events[code] = [1, frame]
        else:
            ev[0] += 1

    def _gap(self, conn: Conn, h: Half, frame: int) -> None:
        """A content gap in h's stream: Zeek's G/g letter (log scale) and the capture warning."""
        h.g_count += 1
        if log_scale(h.g_count):
            conn.hist.append("G" if h.is_client else "g")
        self._event("tcp-gap", frame)

    def _zero_window(self, conn: Conn, h: Half) -> None:
        h.w_count += 1
        if log_scale(h.w_count):
            conn.hist.append("W" if h.is_client else "w")

    def _note(self, conn: Conn, h: Half, pkt, off: int, label: str | None, echo_ok: bool | None) -> None:
        """The frame annotation the Wireshark plugin must agree with.

        A copy that starts before the stream's first byte has a negative stream offset (reassembly
        needs the sign to treat it as old bytes, as Follow TCP Stream does); the note gives it
        Wireshark's number for it, the relative tcp.seq - 1 modulo 2^32, as the plugin does."""
        if off < 0:
            off += WRAP
        n = len(pkt.payload)  # captured payload bytes, as the plugin shows (a snap length may cut tcp.len)
        if conn.msgs is not None:  # a message service: its messages are added at finish()
            self.frames[str(pkt.no)] = MessageFrameNote(conn.id, "request" if h.is_client else "response",  # type: ignore[index]
                                                        off, n, conn.client_no, None, label)
            return
        self.frames[str(pkt.no)] = FrameNote(conn.id, "request" if h.is_client else "echo", off, n,  # type: ignore[index]
                                             conn.client_no, echo_ok, label)

    def _recognised(self, conn: Conn, service: str) -> tuple:
        """A Sniffer decided what an unclaimed connection carries: the callbacks its bytes go to now."""
        if not service:
            return conn.sniffer.targets  # type: ignore[union-attr]  # the echo check's, as before
        conn.service, conn.by = service, "content"
        framing = self.framings.get(service)
        if not is_message_framing(framing):  # echo: the echo check it already feeds, as for a lab port
            if not conn.echo.stopped:
                conn.echo.cap = LEAD_CAP
            return conn.sniffer.targets  # type: ignore[union-attr]
        conn.echo = EchoCheck()  # a message service compares nothing; the stream keeps its first-byte times
        conn.msgs = open_stream(service, framing, conn.echo)  # type: ignore[arg-type]
        return conn.msgs.request, conn.msgs.response

    # -- end of capture --------------------------------------------------------------------------

    def finish(self, t0_ns: int) -> TcpResult:
        """Build connections[] (times relative to t0_ns, the capture's first frame)."""
        out = []
        resort = False
        for conn in self.conns:
            for half in (conn.c, conn.s):
                half.finish()
            resort |= finish_messages(conn, self.frames)
            out.append(connection(conn, t0_ns))
        if resort and self.frames is not None:  # a note added at the end goes back to its frame's place
            self.frames = dict(sorted(self.frames.items(), key=lambda kv: int(kv[0])))
        if self.plain:  # the fast path's plain connections join the reference's, in id order
            from reporter.analyses.fastpath import merge_plain

            merge_plain(self, out, t0_ns)
        else:
            queued_behind(self.conns, out)
        streams = None if self.kept is None else {cid: (bytes(a), bytes(b)) for cid, (a, b) in self.kept.items()}
        for code, (n, first) in self.events.items():
            self.warnings.append(Warning(code, EVENT_TEXT[code].format(n=n), first))
        for conn in self.conns:
            if conn.echo.overflow and conn.lab:
                self.warnings.append(Warning("echo-unchecked", f"connection {conn.id}: more than "
                                             f"{conn.echo.cap >> 20} MiB not echoed; echo checking stopped there",
                                             conn.syn_frame))
            if conn.echo.truncated:
                self.warnings.append(Warning("exchanges-truncated", f"connection {conn.id}: only the first "
                                             "exchanges are listed", conn.syn_frame))
        conns = sorted([*self.conns, *self.fast_message_conns], key=lambda c: c.id) if self.fast_message_conns \
            else self.conns
        self.warnings += messages_warnings(conns, out)
        hint = timezone_hint(out)
        return TcpResult(out, self.frames, self.warnings, streams, self.marks, hint)


def _keeping(kept: bytearray, sink):
    """A delivery callback that also keeps the delivered bytes (keep_streams=True, tests only)."""
    def deliver(off: int, data: bytes | None, pkt: object) -> None:
        if data is not None:
            kept.extend(data)
        sink(off, data, pkt)
    return deliver


def _echo_ok(conn: Conn, h: Half, off: int, payload: bytes) -> bool | None:
    """An echo segment's bytes against the client's bytes at the same offsets, as delivered so
    far (None for requests; False when those client bytes are not all known, as the plugin says).

    Client bytes are looked up in the client's window of recent bytes, else among the bytes
    not yet echoed that the echo check keeps (a file sent far ahead of its echo)."""
    if h.is_client or conn.msgs is not None:
        return None
    n = len(payload)
    client = conn.c
    if off >= client.win_base and off + n <= client.next:
        return client.win[off - client.win_base:off + n - client.win_base] == payload
    e = conn.echo
    base = e.end[1]
    if e.lead != 0 or e.stopped or e.unknown or off < base or off + n > e.end[0]:
        return False  # the request bytes are not (all) known: not shown to be an echo
    return e.buf[off - base:off + n - base] == payload


