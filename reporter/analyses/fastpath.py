"""The compiled fast path for plain TCP connections, and what the Python analyses still do around it.

Why: the Python TCP analysis (tcp.py with reassembly.py, echo.py and the message layer) costs ~4 us
a packet, so a capture of a million packets took longer than `tshark -z conv,tcp`. Most connections
of such a capture are plain (a handshake, bytes in order both ways, an echo or messages, a close),
and for them the analysis always takes the same few branches. ``_fasttcp.c`` takes exactly those
branches, in C, for every connection until one of its packets would take another branch; that
connection is then *tainted* and the Python analysis, which stays the reference, analyses it whole.

1. pass 1 (``_fasttcp.analyse``, an iterator) reads a pcap or pcapng file once (the readers of
   capture.py and pcapng.py, block for block): every connection is opened
   as tcp.py opens it (ids, client numbers, port reuse, sweeps) and the plain ones are analysed.
   A message service's delivered bytes go to the reference's own message layer as they come
   (``Streams``). A plain connection closed and quiet for QUIET_NS is written out: its
   connections[] line into an anonymous spool file, its record as report objects
   (plain.PlainConnection), its C state freed; a packet that still comes for it taints it.
2. pass 2 (``_fasttcp.replay``) reads the file again, only when needed, and hands the Python
   analyses, in frame order, exactly what they would have taken from the whole packet stream:
   the tainted connections' packets (TcpAnalysis, and the DNS analysis for port 53), UDP DNS
   messages (parsed in C when dns.parse_plain would take them), and every frame outside the
   reader's fast layout (decoded by ``decode_frame``, problems counted as the reader counts them).
3. TcpAnalysis.finish merges the plain records with its own by id (``merge_plain``) and judges
   queued_behind over all of them; the JSON writer copies each plain line from the spool.

The module declines a capture (returns False before touching the analyses) when it cannot vouch
for it: no compiled module (a machine without a C compiler: everything stays correct, only
slower), a link type without a fast layout, a damaged file, a file header the reference would
warn about, a pcapng file of several sections, a frame that might be TCP outside the fast layout
(IPv6, VLAN, IP options, a frame cut by the snap length), or a model whose fields the C side does
not know. A pcapng file's interfaces may be several, each of a fast link type with its own clock. Frame notes (--frames), content recognition on unclaimed
ports and the tests' kept streams stay with the reference.

tests/test_fastpath.py proves the two paths write the same report, byte for byte, on samples,
crafted edge cases, class captures, file damage, packet-level mutants and the bench's shapes.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from reporter.analyses import echo as _echo
from reporter.analyses import plain
from reporter.analyses import reassembly as _reassembly
from reporter.analyses import tcp as _tcp
from reporter.analyses.conn import queued_behind
from reporter.analyses.messages import is_message_framing, open_stream
from reporter.model import Warning, jsonenc
from reporter.reading import capture as _capture
from reporter.reading import pcapng as _pcapng
from reporter.reading.decode import PROBLEMS, decode_counted, decode_frame
from reporter.reading.packet import Packet

try:
    from reporter.analyses import _fasttcp
except ImportError:  # not compiled (no C compiler where it was installed): the reference does all
    _fasttcp = None  # type: ignore[assignment]

API_VERSION = 15
ENABLED = os.environ.get("PROGJAR_FASTPATH", "1") != "0"  # PROGJAR_FASTPATH=0: the reference alone
QUIET_NS = 1_000_000_000  # a closed plain connection this long without a packet is written out
K_OTHER, K_DNS, K_TCP, K_SWEEP = 0, 1, 2, 3  # what pass 2 hands over (K_* in _fasttcp.c)
FAST_LINKTYPES = (1, 113, 276)  # Ethernet, Linux cooked v1 and v2: decode.fast_layout's
FAST_FORMATS = ("pcap", "pcapng")
DNS_PORT = 53


class Mismatch(Exception):
    """Pass 2 met something pass 1 promised it would not (a bug): the caller starts over with the
    reference alone."""


def _built_from_current_source() -> bool:
    """False when the C source next to the compiled module is newer than it (an editable install
    whose source changed since `make` built it): a stale module must not speak for the source."""
    if _fasttcp is None:
        return False
    src = os.path.join(os.path.dirname(__file__), "_fasttcp.c")
    try:
        return os.path.getmtime(src) <= os.path.getmtime(_fasttcp.__file__)
    except (OSError, TypeError):  # no source shipped (a wheel): the module is what was installed
        return True


def _model_supported() -> bool:
    """The model's connection record has no field the C side cannot write (plain.templates)."""
    try:
        plain.templates({})
    except plain.Unsupported:
        return False
    return True


_CURRENT = _built_from_current_source() and _model_supported()
if _CURRENT and ENABLED and getattr(_fasttcp, "API_VERSION", None) == API_VERSION:
    from reporter.analyses.messages import fileserver as _fileserver
    from reporter.analyses.messages import jsonstream as _jsonstream

    _fileserver.B64_FEED = _fasttcp.b64_feed  # base64 of file transfers, reference and fast path alike
    if _fasttcp.threaded_sha256():  # ... and their files' SHA-256 on the worker thread (OpenSSL's, as hashlib's)
        _fileserver.SHA256 = _fasttcp.Sha256
        _capture.FILE_SHA256 = _fasttcp.file_sha256  # the capture's own hash, the GIL released throughout
    _jsonstream.HAS_CONTROL = _fasttcp.has_control


def available() -> bool:
    """The compiled module is there, built from this source, for this file's API and model."""
    return ENABLED and _CURRENT and getattr(_fasttcp, "API_VERSION", None) == API_VERSION


def _constants(capture: _capture.Capture) -> dict[str, int]:
    """Every limit the C code needs, from the Python modules that define it (one source of truth)."""
    return {
        "chunk": _capture.CHUNK, "max_caplen": _capture.MAX_CAPLEN, "preview": _reassembly.PREVIEW,
        "exchange_gap_ns": _echo.EXCHANGE_GAP_NS, "max_exchanges": _echo.MAX_EXCHANGES,
        "max_frames": _echo.MAX_FRAMES, "lead_cap": _echo.LEAD_CAP, "other_cap": _echo.OTHER_CAP,
        "idle_ns": _tcp.IDLE_NS, "sweep_every": _tcp.SWEEP_EVERY, "dup_ns": _reassembly.DUP_NS,
        "quiet_ns": QUIET_NS, "hsize": capture._rec_size, "max_block": _pcapng.MAX_BLOCK,
        # pcapng: the link types come with the interface blocks, read by the C side
        "pcapng": int(capture.format == "pcapng"),
        "linktype": capture.linktypes[0] if capture.format == "pcap" else 0,
    }


def _fast_capture(capture: _capture.Capture) -> bool:
    """The capture's format and the link types its header names have a reader and a fast layout in C
    (a pcapng file's later interfaces are checked by the C side as it meets them)."""
    if capture.format == "pcap":
        return len(capture.linktypes) == 1 and capture.linktypes[0] in FAST_LINKTYPES
    return capture.format in FAST_FORMATS and all(lt in FAST_LINKTYPES for lt in capture.linktypes)


def _params(capture: _capture.Capture, services: dict[int, str], message_ports: tuple, recognise: bool) -> tuple:
    return (capture.path, capture._data_start, capture._size, capture._order == ">", capture._nano, services,
            _constants(capture), message_ports, recognise)


def run(capture: _capture.Capture, tcp: Any, dns: Any, collector: Any = None) -> bool:
    """Analyse the capture's packets into ``tcp`` (a TcpAnalysis) and ``dns`` (a DnsAnalysis), and
    fill the capture's counters, as ``pipeline``'s packet loop would; False (nothing touched)
    when the fast path declines the capture. Raises Mismatch when pass 2 contradicts pass 1.

    ``collector``: batch's copy signals (grading.fingerprint.Collector), gathered in the same read;
    returns with ``collector.fed`` set when they are complete (else the caller reads them apart)."""
    if not available() or not _fast_capture(capture) or tcp.frames is not None or tcp.kept is not None:
        return False
    services = dict(tcp.ports)
    message_ports = tuple(port for port, svc in services.items() if is_message_framing(tcp.framings.get(svc)))
    params = _params(capture, services, message_ports, bool(tcp.recognise))
    spool = plain.Spool()
    rows: list[plain.PlainConnection] = []
    streams = Streams(services, tcp.framings)
    p1 = _fasttcp.analyse(params, plain.templates(services, spool, streams.deliver, streams.finish), collector)
    for batch in p1:
        rows += batch
    res = p1.result()
    del p1  # the C side's connection table: pass 2 builds its own
    if res["verdict"] != "ok":
        return False
    linktypes = res["linktypes"]
    if capture.format == "pcapng":  # the reader appends each interface it meets after open_capture's
        if linktypes[:len(capture.linktypes)] != capture.linktypes:
            return False
        capture.linktypes = linktypes
        capture.interfaces = len(linktypes)
    capture.packets = res["packets"]
    capture.first_ts = res["first_ts"] if res["has_frames"] else None
    capture.last_ts = res["last_ts"] if res["has_frames"] else None
    capture.truncated = False
    capture.problems = list(capture.header_problems)
    if collector is not None:
        collector.add_counts(res["fp_ttls"], res["fp_tcp_sums"], res["fp_tcp_zero"])
        # the raw records' problems: what the file header gets wrong (a damaged file is declined)
        collector.fed = (capture.packets, capture.first_ts, list(capture.header_problems))
    tainted = res["tainted"]
    late = {cid for _, cid, _, emitted in tainted if emitted}  # written, then a packet came: the reference's
    tcp.plain = [r for r in rows if r.id not in late] if late else rows
    fins, acks = tcp.marks.fins, tcp.marks.request_acks
    for r in tcp.plain:
        fin, ack = r.raw("fin_mark"), r.raw("request_ack")
        if fin is not None:
            fins[r.id] = fin
        if ack is not None:
            acks[r.id] = ack
    gone = {cid for _, cid, _, _ in tainted}
    by_id = {r.id: r for r in tcp.plain} if streams.truncated else {}
    tcp.fast_message_conns = [_Truncated(by_id[cid]) for cid in streams.truncated if cid not in gone]
    tcp.assigned = {frame: (cid, client_no) for frame, cid, client_no, _ in tainted}
    tcp.sweep_frames = {frame for frame, _ in res["sweeps"]}
    if tainted or res["python_frames"]:
        _replay(capture, params, [cid for _, cid, _, _ in tainted], tcp, dns)
    return True


class _EchoTimes:
    """What a MessageStream keeps on its connection's EchoCheck: the first request and reply times."""

    __slots__ = ("first_echo_ts", "first_req_ts")

    def __init__(self) -> None:
        self.first_req_ts: Optional[int] = None
        self.first_echo_ts: Optional[int] = None


class _At:
    """The packet a delivery came with, as far as the message layer reads it."""

    __slots__ = ("no", "ts")

    def __init__(self, no: int, ts: int) -> None:
        self.no, self.ts = no, ts


class Streams:
    """The message layer of the connections of message services that the C side follows: it hands
    over their delivered bytes (deliver) and, when it writes a connection, asks for its messages
    (finish). The streams are the reference's own (messages.open_stream); see msg_deliver in
    _fasttcp.c for why the merged deliveries give the same messages."""

    def __init__(self, services: dict[int, str], framings: Any) -> None:
        self.services, self.framings = services, framings
        self.open: dict[int, Any] = {}
        self.truncated: list[int] = []  # connections whose messages were too many to list

    def deliver(self, cid: int, port: int, side: int, data: bytes, no: int, ts: int) -> None:
        st = self.open.get(cid)
        if st is None:
            svc = self.services[port]
            st = self.open[cid] = open_stream(svc, self.framings[svc], _EchoTimes())
        at = st.now = _At(no, ts)  # TcpAnalysis.feed sets it for each packet of the connection
        if side == 0:
            st.request(0, data, at)
        else:
            st.response(0, data, at)

    def finish(self, cid: int, port: int, t0: int) -> tuple[bytes, int, int, list]:
        """(the messages as JSON, first request and reply time or -1, the Message list)."""
        st = self.open.pop(cid, None)
        if st is None:  # no byte delivered: an empty stream
            return b"[]", -1, -1, []
        st.finish()
        msgs = st.messages(t0)
        if st.truncated:
            self.truncated.append(cid)
        e = st.echo
        text = "[" + ",".join(map(jsonenc.dumps, msgs)) + "]"
        return (text.encode("utf-8"), -1 if e.first_req_ts is None else e.first_req_ts,
                -1 if e.first_echo_ts is None else e.first_echo_ts, msgs)


class _Truncated:
    """A fast-path connection whose messages were too many to list, as messages_warnings reads a Conn."""

    __slots__ = ("by", "id", "msgs", "server", "service", "syn_frame", "truncated")

    def __init__(self, c: Any) -> None:
        self.id, self.by, self.service, self.server = c.id, "port", c.service, (None, c.server.port)
        self.syn_frame = c.handshake.syn_frame
        self.msgs = self  # messages_warnings asks conn.msgs.truncated
        self.truncated = True


def read_only(capture: _capture.Capture) -> Optional[int]:
    """The compiled reader alone (records read, frames classified, connections tracked, nothing
    analysed), as fast as the fast path could ever go on this capture: the bench's read ceiling.
    The number of frames read, or None when the fast path would not take the capture."""
    if not available() or not _fast_capture(capture):
        return None
    it = _fasttcp.replay(_params(capture, {}, (), False), [])
    for _ in it:
        pass
    capture.packets = it.frames()
    return capture.packets


def _replay(capture: _capture.Capture, params: tuple, ids: list[int], tcp: Any, dns: Any) -> None:
    """Pass 2: the frames the Python analyses need, fed as pipeline's loop feeds them."""
    probs: dict[str, list[int]] = {}
    tcp_feed, dns_feed, dns_tcp, dns_parsed, sweep = tcp.feed, dns.feed, dns.feed_tcp, dns.feed_parsed, tcp._sweep
    opening, table = tcp.assigned, tcp.table
    P = Packet
    for item in _fasttcp.replay(params, ids):
        kind = item[0]
        if kind == K_TCP:
            _, no, ts, src, dst, ipid, sport, dport, seq, ack, flags, win, opts, payload, iface = item
            pkt = P(no, ts, iface, 4, src, dst, 6, ipid, sport, dport, seq, ack, flags, win, opts, payload, 0)
            if no in opening:
                # the packet opens a connection (pass 1 opened it as tcp._open does); the table may
                # still hold an earlier connection of the 4-tuple whose successors it never saw
                # (plain ones), which would take the packet: the reference had replaced it
                table.pop((src, sport, dst, dport), None)
                table.pop((dst, dport, src, sport), None)
            tcp_feed(pkt)
            if sport == DNS_PORT or dport == DNS_PORT:
                dns_tcp(pkt)
        elif kind == K_DNS:
            _, no, ts, src, dst, ipid, sport, dport, payload, msg, iface = item
            if msg is not None:  # parsed in C (dns.parse_plain's message)
                dns_parsed(no, ts, src, sport, dst, dport, msg)
            else:
                dns_feed(P(no, ts, iface, 4, src, dst, 17, ipid, sport, dport, payload=payload))
        elif kind == K_OTHER:
            _, no, ts, frame, cut, linktype, iface = item
            pkt = decode_counted(decode_frame, probs, linktype, frame, 0, len(frame), cut, no, ts, iface)
            if pkt is None:
                continue
            if pkt.proto == 6:
                raise Mismatch(f"frame {no}: TCP outside the fast layout")
            if pkt.proto == 17 and (pkt.sport == DNS_PORT or pkt.dport == DNS_PORT):
                dns_feed(pkt)
        else:  # K_SWEEP: a connection the fast path analyses opened, and tcp.py would sweep here
            sweep(item[2])
    capture.problems = [*capture.header_problems,
                        *(Warning(code, PROBLEMS[code].format(n=n, f=f), f) for code, (n, f) in probs.items())]


def merge_plain(tcp: Any, out: list, t0: int) -> None:
    """TcpAnalysis.finish with plain connections: ``out`` (the reference's records, in its order)
    becomes every connection in id order, and queued_behind is judged over all of them."""
    records: dict[int, Any] = {c.id: c for c in out}
    records.update((p.id, p) for p in tcp.plain)
    out[:] = [records[i] for i in range(len(records))]
    queued_behind(tcp.conns, out, [p.queue_row() for p in tcp.plain])
