"""DNS lookups: which names a capture asked for, what came back and how fast (the report's dns[]).

Why this exists: task T1 is about `getaddrinfo()` sending an A *and* an AAAA query and getting
answers, with no TCP connection following. The analysis pairs each query with its response the way
a resolver does: same client address and port, same server, same id and the same question.

Parsing: dpkt.dns parses ordinary messages, but it gives up on a whole message when one record
type is unknown to it (HTTPS/SVCB, type 64/65, which browsers and newer resolvers ask for) or
when the message is cut. Such messages still count: a small parser of our own reads the header,
the question (with compression pointers, in a bounded loop) and whatever A/AAAA/CNAME answers it
can, skipping other records by their length.

DNS over TCP (port 53, used when a UDP answer is truncated) is read too, in-order bytes only.

Retransmitted queries (same id and question again before any response) stay rows of their own,
because each is a frame a grader may look up; a response answers the oldest unanswered copy, so
the first query gets the latency the program experienced, and every retransmission is also named
in a warning. Responses without a query are warnings, not rows.
"""
from __future__ import annotations

import struct
from typing import Any, Optional

from reporter.model import DnsLookup, Warning
from reporter.reading.packet import Packet, ip_text

QTYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
    33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 52: "TLSA",
    64: "SVCB", 65: "HTTPS", 99: "SPF", 252: "AXFR", 255: "ANY", 257: "CAA",
}
RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
    6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
}
_TYPE_A, _TYPE_CNAME, _TYPE_AAAA = 1, 5, 28
_ADDRESS_LEN = {_TYPE_A: 4, _TYPE_AAAA: 16}
_MAX_WARNINGS = 20  # per kind: a capture full of junk on port 53 must not drown the report


def qtype_text(t: int) -> str:
    """Type number as Wireshark and dig print it; unknown ones as RFC 3597's TYPEnnn."""
    return QTYPES.get(t) or f"TYPE{t}"


def rcode_text(r: int) -> str:
    return RCODES.get(r) or f"RCODE{r}"


class _Message:
    """What the analysis needs from one DNS message, however it was parsed."""

    __slots__ = ("id", "response", "rcode", "name", "qtype", "answers", "complete")

    def __init__(self, id: int, response: bool, rcode: int, name: Optional[str], qtype: Optional[int],
                 answers: list[str], complete: bool) -> None:
        self.id = id
        self.response = response
        self.rcode = rcode
        self.name = name
        self.qtype = qtype
        self.answers = answers
        self.complete = complete


def _label_text(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


def read_name(buf: bytes, off: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at `off` -> (text without trailing dot, offset after it).

    Bounded: at most 128 labels or pointers, and a pointer must point backwards, so a crafted
    loop ends with ValueError instead of spinning.
    """
    labels: list[str] = []
    end = None
    pos = off
    for _ in range(128):
        if pos >= len(buf):
            raise ValueError("name runs past the end of the message")
        n = buf[pos]
        if n == 0:
            if end is None:
                end = pos + 1
            return ".".join(labels), end
        if n & 0xC0 == 0xC0:
            if pos + 2 > len(buf):
                raise ValueError("cut compression pointer")
            ptr = ((n & 0x3F) << 8) | buf[pos + 1]
            if end is None:
                end = pos + 2
            if ptr >= pos:
                raise ValueError("compression pointer does not point backwards")
            pos = ptr
            continue
        if n & 0xC0:
            raise ValueError(f"bad label length {n:#x}")
        if pos + 1 + n > len(buf):
            raise ValueError("label runs past the end of the message")
        labels.append(_label_text(buf[pos + 1:pos + 1 + n]))
        pos += 1 + n
    raise ValueError("name has too many labels or pointers")


def _address(rtype: int, rdata: bytes) -> Optional[str]:
    """An A or AAAA record's address as text; None for other types or a wrong length."""
    return ip_text(rdata) if _ADDRESS_LEN.get(rtype) == len(rdata) else None


def _rdata_text(buf: bytes, rtype: int, off: int, rdlen: int) -> Optional[str]:
    if rtype == _TYPE_CNAME:
        return read_name(buf, off)[0]
    return _address(rtype, buf[off:off + rdlen])


def parse_lenient(buf: bytes) -> Optional[_Message]:
    """Our own parser: header + first question always, answers as far as they go. None if < 12 bytes."""
    if len(buf) < 12:
        return None
    mid, flags, qd, an = struct.unpack_from("!HHHH", buf)
    msg = _Message(mid, bool(flags & 0x8000), flags & 0xF, None, None, [], False)
    try:
        off = 12
        for i in range(qd):
            name, off = read_name(buf, off)
            if off + 4 > len(buf):
                raise ValueError("cut question")
            qtype = struct.unpack_from("!H", buf, off)[0]
            off += 4
            if i == 0:
                msg.name, msg.qtype = name, qtype
        for _ in range(an):
            _, off = read_name(buf, off)
            if off + 10 > len(buf):
                raise ValueError("cut record header")
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", buf, off)
            off += 10
            if off + rdlen > len(buf):
                raise ValueError("cut record data")
            text = _rdata_text(buf, rtype, off, rdlen)
            if text is not None:
                msg.answers.append(text)
            off += rdlen
        msg.complete = True
    except (ValueError, struct.error):
        pass
    return msg


_PLAIN_TYPES = frozenset((_TYPE_A, _TYPE_CNAME, _TYPE_AAAA, 41))  # 41: OPT, which dpkt skips
_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QT = struct.Struct("!H")


def _plain_name(buf: bytes, off: int, n: int) -> tuple[Optional[str], int]:
    """dpkt.dns.unpack_name for a name dpkt reads without complaint, else (None, 0).

    Same walk (a pointer must point before the label run it ends, at most 255 bytes of labels),
    same text (the labels joined with dots, decoded as UTF-8); whatever would make dpkt raise
    gives None here, and the caller leaves the message to dpkt."""
    labels = []
    start = off
    end = 0
    total = 0
    while off < n:
        k = buf[off]
        if k == 0:
            if not end:
                end = off + 1
            try:
                return b".".join(labels).decode("utf-8"), end
            except UnicodeDecodeError:
                return None, 0
        if k >= 0xC0:
            if off + 2 > n:
                return None, 0
            ptr = ((k & 0x3F) << 8) | buf[off + 1]
            if ptr >= start:
                return None, 0
            if not end:
                end = off + 2
            start = off = ptr
            continue
        if k & 0xC0:
            return None, 0
        total += k + 1
        if total > 255:
            return None, 0
        labels.append(buf[off + 1:off + 1 + k])
        off += 1 + k
    return None, 0


def parse_plain(buf: bytes) -> Optional[_Message]:
    """The common message (questions, and A/AAAA/CNAME/OPT records) without dpkt, ~4x faster.

    Gives exactly what ``parse_message`` gets from dpkt for such a message, and None for
    anything else (another record type, a cut field, a name dpkt would refuse), which then goes
    the usual way: dpkt, and our lenient parser when dpkt gives up. tests/test_dns.py compares
    the two on every message of the corpus and on mutated ones."""
    n = len(buf)
    if n < 12:
        return None
    mid, op, qd, an, ns, ar = _HDR.unpack_from(buf)
    off = 12
    name = qtype = None
    qname_at = -1
    for i in range(qd):
        qn, after = _plain_name(buf, off, n)
        if qn is None or after + 4 > n:
            return None
        if i == 0:
            name, qtype, qname_at = qn, _QT.unpack_from(buf, after)[0], off
        off = after + 4
    answers: list[str] = []
    complete = True
    for i in range(an + ns + ar):
        if off + 1 < n and buf[off] == 0xC0 and buf[off + 1] == qname_at == 12:
            off += 2  # a pointer to the first question's name, already read: the usual case
        else:
            rn, off = _plain_name(buf, off, n)
            if rn is None:
                return None
        if off + 10 > n:
            return None
        rtype, _cls, _ttl, rdlen = _RR.unpack_from(buf, off)
        off += 10
        if rtype not in _PLAIN_TYPES:
            return None
        if off + rdlen > n:
            complete = False
        if i < an:
            if rtype == _TYPE_CNAME:
                cname = _plain_name(buf, off, n)[0]
                if cname is None:
                    return None
                answers.append(cname)
            elif rtype != 41:
                address = _address(rtype, buf[off:off + rdlen])
                if address is not None:
                    answers.append(address)
        elif rtype == _TYPE_CNAME and _plain_name(buf, off, n)[0] is None:
            return None
        off += rdlen
    return _Message(mid, bool(op & 0x8000), op & 0xF, name, qtype, answers, complete)


def parse_message(buf: bytes) -> Optional[_Message]:
    """The common message by parse_plain; dpkt for others; our lenient parser when dpkt gives up."""
    msg = parse_plain(buf)
    if msg is not None:
        return msg
    return parse_dpkt(buf)


def parse_dpkt(buf: bytes) -> Optional[_Message]:
    """dpkt (the reference for parse_plain); our lenient parser when dpkt gives up on the message."""
    import dpkt.dns  # here, not at the top: most runs never need it, and it costs 25 ms to import

    try:
        d = dpkt.dns.DNS(buf)
    except Exception:  # dpkt raises UnpackError, NeedData, struct.error, UnicodeDecodeError...
        return parse_lenient(buf)
    answers: list[str] = []
    complete = True
    for rr in (*d.an, *d.ns, *d.ar):
        if len(rr.rdata) != rr.rlen:  # dpkt slices a cut record short without complaint
            complete = False
    for rr in d.an:
        text = rr.cname if rr.type == _TYPE_CNAME else _address(rr.type, rr.rdata)
        if text is not None:
            answers.append(text)
    q = d.qd[0] if len(d.qd) else None
    return _Message(d.id, bool(d.op & 0x8000), d.op & 0xF, q.name if q is not None else None,
                    q.type if q is not None else None,
                    answers, complete)


class DnsAnalysis:
    """Feed it every UDP packet with port 53 on either side (TCP ones to `feed_tcp`); `finish` gives dns[]."""

    def __init__(self, opts: object = None) -> None:  # opts: the analyses' common signature; DNS needs none
        # The rows, made when their query is seen (a response fills its fields in), in frame order;
        # until finish() a row's time_s holds its query's time in ns (relative times need the
        # capture's first frame, known at the end). Not the packets nor the parsed messages: a
        # DNS-heavy capture holds only its rows.
        self._rows: list[DnsLookup] = []
        self._pending: dict[tuple, list[int]] = {}  # match key -> rows of unanswered queries, oldest first
        self._warnings: list[Warning] = []
        self._counts: dict[str, int] = {}
        self._tcp: dict[tuple, list] = {}  # DNS over TCP, per direction: [next seq, bytes not yet a message]
        self._text: dict[object, str] = {}  # addresses, names, types: one string for each value seen

    def _warn(self, code: str, message: str, frame: Optional[int]) -> None:
        n = self._counts.get(code, 0) + 1
        self._counts[code] = n
        if n <= _MAX_WARNINGS:
            self._warnings.append(Warning(code, message, frame))

    def feed(self, pkt: Packet) -> None:
        """A UDP datagram from or to port 53: one DNS message."""
        self._message(pkt.no, pkt.ts, pkt.src, pkt.sport, pkt.dst, pkt.dport, pkt.payload, "UDP")

    def feed_parsed(self, no: int, ts: int, src: bytes, sport: int, dst: bytes, dport: int, fields: tuple) -> None:
        """A UDP datagram the fast path (reporter/analyses/fastpath.py) parsed already: parse_plain's
        message as a tuple of _Message's fields."""
        self._take(no, ts, src, sport, dst, dport, _Message(*fields))

    def feed_tcp(self, pkt: Packet) -> None:
        """A TCP segment from or to port 53 (RFC 7766: each message has a 2-byte length prefix).

        In-order bytes only: retransmitted bytes are skipped, and a gap drops that direction's
        partial message (with a warning) rather than guessing. The message is credited to the frame
        that completes it, as Wireshark's reassembly does.
        """
        key = (pkt.src, pkt.sport, pkt.dst, pkt.dport)
        st = self._tcp.get(key)
        if pkt.flags & 0x02:  # SYN: the stream starts after it
            self._tcp[key] = [(pkt.seq + 1) & 0xFFFFFFFF, bytearray()]
            return
        if st is None or not pkt.payload:
            return
        nxt, buf = st
        data = pkt.payload
        behind = (nxt - pkt.seq) & 0xFFFFFFFF
        if 0 < behind < 0x80000000:  # starts before what we already have: keep only the new tail
            if behind >= len(data):
                return
            data = data[behind:]
        elif pkt.seq != nxt:
            if buf:
                self._warn("dns-tcp-gap", "bytes missing in a DNS-over-TCP stream; its partial message is dropped",
                           pkt.no)
            buf.clear()
            nxt = pkt.seq
        buf += data
        st[0] = (nxt + len(data)) & 0xFFFFFFFF
        while len(buf) >= 2:
            n = (buf[0] << 8) | buf[1]
            if len(buf) < 2 + n:
                break
            self._message(pkt.no, pkt.ts, pkt.src, pkt.sport, pkt.dst, pkt.dport, bytes(buf[2:2 + n]), "TCP")
            del buf[:2 + n]
        if len(buf) > 70000:  # longer than any DNS message can be: not DNS
            buf.clear()

    def _message(self, no: int, ts: int, src: bytes, sport: int, dst: bytes, dport: int, payload: bytes,
                 transport: str) -> None:
        msg = parse_message(payload)
        if msg is None:
            self._warn("dns-malformed", f"{transport} port 53 payload of {len(payload)} bytes is not a DNS message", no)
            return
        self._take(no, ts, src, sport, dst, dport, msg)

    def _take(self, no: int, ts: int, src: bytes, sport: int, dst: bytes, dport: int, msg: _Message) -> None:
        if msg.name is None:
            self._warn("dns-no-question", "DNS message without a readable question", no)
            return
        if not msg.complete:
            self._warn("dns-partly-parsed", f"DNS message for {msg.name or '.'} parsed only in part "
                       "(cut or unusual records); header and question kept", no)
        qname = msg.name.lower().rstrip(".")
        if not msg.response:
            key = (src, sport, dst, msg.id, qname, msg.qtype)
            waiting = self._pending.setdefault(key, [])
            if waiting:
                self._warn("dns-retransmission", f"query {msg.id:#06x} for {msg.name} {qtype_text(msg.qtype)} "
                           f"sent again (first in frame {self._rows[waiting[0]].query_frame})", no)
            rows = self._rows
            waiting.append(len(rows))
            get = self._text.get  # the shared strings (see _shared), looked up inline: a row a query
            name, qtype = msg.name or ".", msg.qtype or 0
            rows.append(DnsLookup(no, None, ts, get(src) or self._shared(src, ip_text),
                                  get(dst) or self._shared(dst, ip_text), msg.id, get(name) or self._shared(name, str),
                                  get(qtype) or self._shared(qtype, qtype_text), None, [], None))
            return
        key = (dst, dport, src, msg.id, qname, msg.qtype)
        waiting = self._pending.get(key)
        if not waiting:
            self._warn("dns-unmatched-response", f"response {msg.id:#06x} for {msg.name} {qtype_text(msg.qtype)} "
                       "without a query in the capture", no)
            return
        i = waiting.pop(0)
        if not waiting:
            del self._pending[key]
        row = self._rows[i]
        row.response_frame = no
        get = self._text.get
        row.rcode = get(("rcode", msg.rcode)) or self._shared(("rcode", msg.rcode), lambda k: rcode_text(k[1]))
        row.answers = [get(a) or self._shared(a, str) for a in msg.answers]
        row.latency_ms = round((ts - row.time_s) / 1e6, 6)

    def _shared(self, key: object, make: Any) -> str:
        """One string per value: thousands of rows name the same few hosts, names and types."""
        v = self._text.get(key)
        if v is None:
            v = self._text[key] = make(key)
        return v

    def finish(self, t0_ns: Optional[int]) -> tuple[list[DnsLookup], list[Warning]]:
        """The lookups in query-frame order, times relative to `t0_ns` (the capture's first frame)."""
        t0 = t0_ns or 0
        rows = self._rows
        for row in rows:
            row.time_s = round((row.time_s - t0) / 1e9, 9)
        warnings = list(self._warnings)
        for code, n in self._counts.items():
            if n > _MAX_WARNINGS:
                warnings.append(Warning(code, f"{n - _MAX_WARNINGS} more '{code}' warnings left out", None))
        return rows, warnings

