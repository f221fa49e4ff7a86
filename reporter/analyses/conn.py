"""One connection while a capture is read, and what it becomes in the report (connections[]).

Why apart from tcp.py: tcp.py is the per-packet hot path; this module holds the record it fills
and the end-of-capture judgements that need the whole connection: Zeek's conn_state from the two
endpoint states, the history string, and queued_behind across connections to one server.
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable, Iterator

from reporter.analyses.echo import EchoCheck
from reporter.analyses.reassembly import Half
from reporter.model import (
    Anomalies,
    Close,
    Connection,
    Echo,
    Endpoint,
    Exchange,
    Fin,
    Handshake,
    PerDirection,
    TcpOptions,
)
from reporter.reading.packet import ip_text

# Zeek endpoint states
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)


class Conn:
    """Everything known about one connection while the capture is read."""

    __slots__ = (
        "ack_frame",
        "ack_ts",
        "by",
        "c",
        "client",
        "client_no",
        "close_ts",
        "echo",
        "fins",
        "first_fin_by",
        "hist",
        "id",
        "lab",
        "last_ts",
        "msgs",
        "noted",
        "options",
        "reset",
        "rtt_from",
        "s",
        "seen",
        "server",
        "service",
        "sniffer",
        "syn_frame",
        "syn_rexmits",
        "syn_ts",
        "synack_frame",
        "synack_rexmits",
        "synack_ts",
        "wait",
        "waiting",
    )

    def __init__(self, cid: int, c: Half, s: Half, ts: int) -> None:
        self.id = cid
        self.c, self.s = c, s
        self.client: tuple[bytes, int] = (b"", 0)
        self.server: tuple[bytes, int] = (b"", 0)
        self.service: str | None = None
        self.by: str | None = None  # how the service was found: "port" | "content" (recognise.py)
        self.msgs = None  # the MessageStream of a message service (messages/core.py), else None
        self.sniffer = None  # the content Sniffer of a connection on an unclaimed port (recognise.py)
        self.client_no = 1
        self.lab = False
        self.noted = False  # frame notes wanted for this connection (--frames and a lab port)
        self.syn_frame = self.syn_ts = self.synack_frame = self.synack_ts = None
        self.syn_rexmits = self.synack_rexmits = 0  # SYNs / SYN-ACKs sent again with the same ISN
        self.rtt_from: int | None = None  # time of the latest SYN before the handshake's ACK
        self.ack_frame = self.ack_ts = None
        self.options = TcpOptions()
        self.wait = 0  # the ACKs still awaited: WAIT_HANDSHAKE | WAIT_REQUEST bits
        self.waiting = False  # wait != 0, kept as a bool for speed: feed() tests it on every ACK, and
        # Python 3.11 jumps on a bool without the PyObject_IsTrue call an int costs
        self.first_fin_by: str | None = None
        self.fins: list[tuple[bool, int, int]] | None = None  # (by client, frame, ts): each side's first FIN
        self.close_ts: int | None = None  # first FIN or RST, either side
        self.reset = False
        self.last_ts = ts
        self.hist: list[str] = []
        self.seen = 0  # Zeek history bits already recorded
        self.echo = EchoCheck()

    def mark(self, bit: int, letter: str) -> bool:
        """Record a history letter once; True when it had been recorded before."""
        if self.seen & bit:
            return True
        self.seen |= bit
        self.hist.append(letter)
        return False


# history bits (client; the server's are << 16)
H_SYN, H_FIN, H_RST, H_ACK, H_DATA = 1, 2, 4, 8, 16
# Conn.wait bits, equal to the awaited half's Half.bA (its history A bit) so that feed() tests
# `conn.wait & h.bA` in one step: the client's ACK of the SYN-ACK (set at the SYN-ACK), and the
# server's first ACK covering client data (set at the client's SYN; cleared unanswered when the
# client's first FIN comes without a byte sent, whose ACK acknowledges no request)
WAIT_HANDSHAKE, WAIT_REQUEST = H_ACK, H_ACK << 16


def iter_tcp_options(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(kind, body) of each option in raw TCP option bytes; stops at End of Option List or at a
    length that cannot be right. One walk for every reader of options (the handshake's, the batch
    fingerprint's TSval), so they agree on what a damaged option list holds."""
    i, n = 0, len(raw)
    while i < n:
        kind = raw[i]
        if kind == 0:
            return
        if kind == 1:
            i += 1
            continue
        if i + 1 >= n or raw[i + 1] < 2:
            return
        ln = raw[i + 1]
        yield kind, raw[i + 2:i + ln]
        i += ln


def parse_options(raw: bytes) -> TcpOptions:
    """MSS, window scale, SACK permitted and timestamps from a SYN's option bytes."""
    o = TcpOptions()
    for kind, body in iter_tcp_options(raw):
        if kind == 2 and len(body) == 2:
            o.mss = struct.unpack("!H", body)[0]
        elif kind == 3 and len(body) == 1:
            o.wscale = body[0]
        elif kind == 4:
            o.sack_ok = True
        elif kind == 8:
            o.timestamps = True
    return o


def connection(conn: Conn, t0: int) -> Connection:
    """The report's connections[] entry (times relative to t0, the capture's first frame)."""
    c, s, e = conn.c, conn.s, conn.echo

    def rel(ts: int | None) -> float | None:
        return None if ts is None else round((ts - t0) / 1e9, 6)

    hs = Handshake(conn.syn_frame, conn.synack_frame, conn.ack_frame, rel(conn.syn_ts),
                   None if conn.ack_ts is None else round((conn.ack_ts - conn.rtt_from) / 1e6, 3),
                   conn.ack_frame is not None, conn.options, syn_retransmissions=conn.syn_rexmits,
                   synack_retransmissions=conn.synack_rexmits, synack_time_s=rel(conn.synack_ts))
    wait = None
    if e.first_echo_ts is not None and conn.syn_ts is not None:
        wait = round((e.first_echo_ts - conn.syn_ts) / 1e9, 6)
    echo = Echo(e.verified(c.bytes), e.echoed, e.mismatch, rel(e.first_req_ts), rel(e.first_echo_ts), wait, None,
                e.mismatch_frame, unverified_bytes=e.unverified)
    # rel() written out: a connection can have thousands of exchanges and this is most of finish()
    exchanges = [Exchange(list(x.req_frames), list(x.echo_frames), round((x.req_ts - t0) / 1e9, 6),
                          None if x.echo_ts is None else round((x.echo_ts - t0) / 1e9, 6), x.end - x.start)
                 for x in e.exchanges]
    return Connection(
        id=conn.id,
        client=Endpoint(ip_text(conn.client[0]), conn.client[1]),
        server=Endpoint(ip_text(conn.server[0]), conn.server[1]),
        service=conn.service,
        client_no=conn.client_no,
        handshake=hs,
        close=Close(conn.first_fin_by, conn.reset, rel(conn.last_ts),
                    [Fin("client" if up else "server", no, rel(ts)) for up, no, ts in conn.fins or ()]),
        state=conn_state(conn),
        history="".join(conn.hist),
        bytes=PerDirection(c.bytes, s.bytes),
        segments=PerDirection(c.segments, s.segments),
        anomalies=Anomalies(c.retrans + s.retrans, c.ooo + s.ooo, c.conflicts + s.conflicts, c.gaps + s.gaps,
                            c.dups + s.dups),
        echo=echo,
        exchanges=exchanges,
        sha256=PerDirection(c.hasher.hexdigest(), s.hasher.hexdigest()),
        preview=PerDirection(_printable(c.preview), _printable(s.preview)),
        messages=conn.msgs.messages(t0) if conn.msgs is not None else [],
        service_by=conn.by,
    )


def log_scale(count: int) -> bool:
    """Zeek records repeated T/G/W letters at the 1st, 10th, 100th, ... occurrence."""
    while count % 10 == 0:
        count //= 10
    return count == 1


_PRINTABLE = bytes(b if 32 <= b < 127 or b in (9, 10, 13) else 46 for b in range(256))


def _printable(data: bytes) -> str:
    """Preview text: printable ASCII kept, every other byte shown as '.'."""
    return bytes(data).translate(_PRINTABLE).decode("ascii")


def conn_state(conn: Conn) -> str:
    """Zeek's conn_state from the two endpoint states (base/protocols/conn/main.zeek)."""
    return zeek_state(conn.c.state, conn.s.state, conn.c.bytes, conn.s.bytes, conn.hist)


def zeek_state(os_: int, rs: int, client_bytes: int, server_bytes: int, history: list[str] | str) -> str:
    """conn_state from its inputs (the fast path has no Conn): endpoint states, bytes, history."""
    o_inactive = os_ in (INACTIVE, PARTIAL)
    r_inactive = rs in (INACTIVE, PARTIAL)
    if rs == RESET:
        if os_ in (SYN_SENT, SYN_ACK_SENT) or (os_ == RESET and client_bytes == 0 and server_bytes == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == RESET:
        if not r_inactive:
            return "RSTO"
        hist = "".join(history)
        if hist.startswith("S") and not any(x in hist.split("R")[0] for x in "HAFGIQ"):
            return "RSTOS0"
    if rs == CLOSED and os_ == CLOSED:
        return "SF"
    if os_ == CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == SYN_SENT and rs == INACTIVE:
        return "S0"
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return "S1"
    return "OTH"


QueueRow = tuple[int, tuple[str, int], "int | None", "int | None", "int | None"]


def queued_behind(conns: list[Conn], out: list[Connection], more: Iterable[QueueRow] = ()) -> None:
    """The single-threaded-server signature: served only after another client to the same
    server endpoint closed (the first FIN or RST of either side, as the plugin's expert info
    counts it), although the request had been sent before that close. The most recent such close
    names the connection it queued behind. ``out`` is indexed by connection id; ``more``: rows of
    connections analysed elsewhere (the fast path's plain ones, PlainConnection.queue_row)."""
    rows = [(c.id, (ip_text(c.server[0]), c.server[1]), c.close_ts, c.echo.first_req_ts, c.echo.first_echo_ts)
            for c in conns]
    rows += more
    for cid, behind in queued_behind_of(rows).items():
        out[cid].echo.queued_behind = behind


def queued_behind_of(rows: list[QueueRow]) -> dict[int, int]:
    """queued_behind from one row per connection: (id, server endpoint, first FIN/RST time, first
    request byte's time, first echo byte's time); connection id -> the id it queued behind."""
    by_server: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for cid, server, close_ts, _, _ in rows:
        if close_ts is not None:
            by_server.setdefault(server, []).append((close_ts, cid))
    for closes in by_server.values():
        closes.sort()
    out: dict[int, int] = {}
    top = len(rows)  # above every id: bisect past every close at the same time
    for cid, server, _, first_req, first_echo in rows:
        closes = by_server.get(server, ())
        if not closes or first_req is None or first_echo is None:
            continue
        i = bisect.bisect_right(closes, (first_echo, top)) - 1
        while i >= 0 and closes[i][0] > first_req:
            if closes[i][1] != cid:
                out[cid] = closes[i][1]
                break
            i -= 1
    return out


class EvidenceFrames:
    """Task evidence frames the report model has no field for, by connection id: each
    connection's first FIN (the frame that set first_fin_by) and the server's first ACK of client
    data (the kernel ACKs a request even while a single-threaded server is busy with another
    client). Noted by TcpAnalysis on its rare paths, handed out as TcpResult.marks and
    deliberately kept out of the JSON: judge_tasks on cached JSON (batch) has none and leaves
    those frames out. Kept here rather than on Conn, which feed() touches on every packet."""

    __slots__ = ("fins", "request_acks")

    def __init__(self) -> None:
        self.fins: dict[int, int] = {}
        self.request_acks: dict[int, int] = {}

    def fin_frame(self, conn_id: int) -> int | None:
        return self.fins.get(conn_id)

    def request_ack_frame(self, conn_id: int) -> int | None:
        return self.request_acks.get(conn_id)
