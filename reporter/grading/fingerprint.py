"""Copy signals for a class: what two students' captures share, as evidence to review, never a verdict.

Why a pass of its own over the raw frames: the values that betray a copied capture (TCP initial
sequence numbers, the TCP timestamp option, IP ids, checksums) are below what the report model
keeps, and a copy may be re-saved (`editcap -F pcapng`), time-shifted (`editcap -t 3600`) or trimmed.
So a capture is reduced to:

- ``sha256`` of the file (identical copies),
- ``content``: a digest of the frames' bytes in order, leaving out timestamps and the file format,
  which survives pcap <-> pcapng conversion and time shifts,
- ``tokens``: values a real kernel draws at random for every run, and only those: the ISNs and SYN
  timestamps of each connection (strong: 32 bits each), the client's ephemeral ports and the DNS
  query ids (weak: 16 bits, they collide by chance now and then). Values the lab environment gives
  every student alike (COURSE.md: the containers have the same MAC and IP addresses for everyone)
  are never tokens, so sharing them can never flag a pair;
- ``crafted``: hints that packets were made by a tool rather than a kernel (IP id 0 everywhere,
  TCP checksums all zero, unusual TTLs, round ISNs, perfectly regular timing), as codes with facts
  that the class page words in the grader's language.

`compare` turns fingerprints of several students into pairs with what they share; `Similarity.describe`
says it in plain words ("the same TCP initial sequence numbers in 4 connections: a copied capture,
or a re-saved one").
"""
from __future__ import annotations

import hashlib
import itertools
import struct
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reporter.analyses.conn import iter_tcp_options
from reporter.grading.wording import Words
from reporter.analyses.dns import parse_lenient
from reporter.reading.capture import Capture, NotACapture, iter_records, open_capture
from reporter.reading.decode import link_ip
from reporter.reading.packet import ip_text
from reporter.reading.capture import file_sha256

STRONG = ("isn", "tsval")  # 32 bits drawn per connection: one shared value is already remarkable
WEAK = ("ports", "dns")  # 16-bit ephemeral ports and DNS ids collide by chance now and then
_SYN, _ACK = 0x02, 0x10
HINT_FRAMES = 20_000  # crafted-packet hints look at this many frames (bounded memory on big captures)


@dataclass
class Fingerprint:
    """What one capture shows about its own origin; JSON-friendly for the batch cache."""

    sha256: str
    content: str = ""
    frames: int = 0
    first_ts: int | None = None  # ns since the epoch
    tokens: dict[str, list[str]] = field(default_factory=dict)
    crafted: list[dict] = field(default_factory=list)  # {"code": "h_...", facts...}
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> Fingerprint:
        return Fingerprint(**d)


def _ip_of(linktype: int, data: bytes) -> bytes:
    """Frame -> its IP bytes (b"" when the frame carries no IP), where the report decoder's
    ``link_ip`` says they start (VLAN tags, loopback families, SLL/SLL2, raw IP)."""
    where = link_ip(linktype, data, 0, len(data))
    return b"" if isinstance(where, str) else data[where[0]:]


def _tcp_tsval(options: bytes) -> int | None:
    """TSval of the timestamps option, walked as the handshake analysis walks options."""
    for kind, body in iter_tcp_options(options):
        if kind == 8 and len(body) == 8:
            return struct.unpack_from("!I", body)[0]
    return None


def _odd_ttl(ttl: int) -> bool:
    """Kernels start at 64, 128 or 255; a lab path is a hop or two. Far below any of them is odd."""
    return not any(0 <= start - ttl <= 32 for start in (64, 128, 255))


def fingerprint(path: Path | str, sha256: str | None = None) -> Fingerprint:
    """Read one capture's frames and reduce them to the signals above (never raises on bad input).

    ``sha256``: the file's hash when the caller has it already (batch hashes every capture for
    its cache), so the file is not hashed again. Frames come from the report's own reader
    (``capture.iter_records``): the same pcap/pcapng flavours, times and damage handling.
    """
    try:
        sha = sha256 or file_sha256(str(path))
        capture = open_capture(path)
    except NotACapture:
        return Fingerprint(sha256=sha, error="not a pcap or pcapng file")
    except OSError as e:
        return Fingerprint(sha256="", error=f"cannot read: {e.strerror or e}")
    return _fingerprint(capture, sha)


def _fingerprint(capture: Capture, sha256: str) -> Fingerprint:
    c = Collector(sha256)
    for linktype, _iface, ts, data in iter_records(capture):
        c.frame(linktype, ts, data)
    return c.result(capture.packets, capture.first_ts, capture.problems)


class Collector:
    """The signals of one capture, gathered frame by frame: from the Python reader's records
    (``fingerprint``), or, in batch, during the report's own read (``pipeline.analyse(...,
    fingerprint=collector)``: the compiled fast path feeds the same containers, so a capture is
    read once). ``frame`` takes a whole record; the fast path does the content digest, the times
    and the IP signals of the frames it decodes itself, and calls ``signals`` / ``dns`` for the rest."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        self.content = hashlib.sha256()
        self.tokens: dict[str, set[str]] = defaultdict(set)
        self.ip_ids: dict[bytes, list[int]] = defaultdict(list)
        self.flows_by_src: dict[bytes, set] = defaultdict(set)
        self.ttls: Counter = Counter()
        self.tcp_sums = self.tcp_zero = 0
        self.isns: list[tuple[bytes, int, int]] = []
        self.times: list[int] = []
        # set by the fast path when it gave every frame: (frames, first frame time, raw problems)
        self.fed: tuple | None = None

    def frame(self, linktype: int, ts: int, data: bytes) -> None:
        if len(self.times) < HINT_FRAMES:
            self.times.append(ts)
        self.content.update(struct.pack("!II", linktype, len(data)))
        self.content.update(data)
        self.signals(linktype, data)

    def signals(self, linktype: int, data: bytes) -> None:
        """What the frame's IP packet says (everything but the content digest and the times)."""
        ip = _ip_of(linktype, data)
        _ip_signals(ip, self.tokens, self.ip_ids, self.flows_by_src, self.ttls, self.isns)
        if ip and ip[0] >> 4 == 4 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 15) * 4
            if len(ip) >= ihl + 18:
                self.tcp_sums += 1
                self.tcp_zero += struct.unpack_from("!H", ip, ihl + 16)[0] == 0

    def add_counts(self, ttls: list[int], tcp_sums: int, tcp_zero: int) -> None:
        """The fast path's counts for the frames it decoded itself."""
        for ttl, n in enumerate(ttls):
            if n:
                self.ttls[ttl] += n
        self.tcp_sums += tcp_sums
        self.tcp_zero += tcp_zero

    def dns(self, payload: bytes, sport: int) -> None:
        """A UDP datagram to port 53 (its payload to the frame's end, as _ip_signals reads it)."""
        _dns_tokens(payload, sport, self.tokens)

    def result(self, frames: int, first_ts: int | None, problems: list) -> Fingerprint:
        """The fingerprint once every frame was given: ``problems`` are the reader's on the raw
        records (what the file header gets wrong, where the file is cut or damaged)."""
        fp = Fingerprint(sha256=self.sha256)
        if problems:
            fp.error = "; ".join(w.message for w in problems)
        fp.frames = frames
        fp.content = self.content.hexdigest() if fp.frames else ""
        fp.first_ts = first_ts
        fp.tokens = {k: sorted(v) for k, v in sorted(self.tokens.items())}
        fp.crafted = _crafted(self.ip_ids, self.flows_by_src, self.ttls, self.tcp_sums, self.tcp_zero, self.isns,
                              self.times)
        return fp


def _ip_signals(ip: bytes, tokens: dict, ip_ids: dict, flows_by_src: dict,
                ttls: Counter, isns: list[tuple[bytes, int, int]]) -> None:
    if len(ip) < 20:
        return
    v = ip[0] >> 4
    if v == 4:
        ihl = (ip[0] & 15) * 4
        if (struct.unpack_from("!H", ip, 6)[0] & 0x1FFF) != 0:  # later fragment: no L4 header
            return
        proto, ttl, src, dst, l4 = ip[9], ip[8], ip[12:16], ip[16:20], ip[ihl:]
        if len(ip_ids[src]) < HINT_FRAMES:
            ip_ids[src].append(struct.unpack_from("!H", ip, 4)[0])
    elif v == 6 and len(ip) >= 40:
        proto, ttl, src, dst, l4 = ip[6], ip[7], ip[8:24], ip[24:40], ip[40:]
    else:
        return
    ttls[ttl] += 1
    if len(l4) < 8 or proto not in (6, 17):
        return
    sport, dport = struct.unpack_from("!HH", l4, 0)
    flows_by_src[src].add((proto, dst, sport, dport))
    if proto == 6 and len(l4) >= 20:
        seq = struct.unpack_from("!I", l4, 4)[0]
        flags, hlen = l4[13], (l4[12] >> 4) * 4
        if flags & _SYN:
            side = "s" if flags & _ACK else "c"  # one value per connection and side: "in N connections"
            isns.append((src, sport, seq))
            if not _trivial_isn(seq):
                tokens["isn"].add(f"{side}:{seq}")
            tsval = _tcp_tsval(l4[20:hlen])
            if tsval:
                tokens["tsval"].add(f"{side}:{tsval}")
            if side == "c":  # the client's ephemeral port (its address is the lab's, the same for all)
                tokens["ports"].add(f"tcp:{sport}")
    elif proto == 17 and dport == 53:
        _dns_tokens(l4[8:], sport, tokens)


def _dns_tokens(payload: bytes, sport: int, tokens: dict) -> None:
    q = parse_lenient(payload)  # the DNS analysis's own parser: header and first question
    if q is not None and not q.response and q.name is not None:
        tokens["dns"].add(f"{q.id} {q.name.lower()} {q.qtype}")
        tokens["ports"].add(f"udp:{sport}")


def _trivial_isn(isn: int) -> bool:
    return isn < 100_000 or isn % 100_000 == 0


def _crafted(ip_ids: dict, flows_by_src: dict, ttls: Counter, tcp_sums: int, tcp_zero: int,
             isns: list[tuple[bytes, int, int]], times: list[int]) -> list[dict]:
    """Hints that a tool, not a kernel, made the packets. Each alone can have an innocent reason.

    Codes with their facts (grading/wording.py words them: "the IPv4 id is 0 in all 10 packets")."""
    out: list[dict] = []
    ids = [i for v in ip_ids.values() for i in v]
    if len(ids) >= 8 and all(i == 0 for i in ids):
        out.append({"code": "h_ipid_zero", "n": len(ids)})
    for src, seq in ip_ids.items():
        if len(seq) >= 8 and len(flows_by_src[src]) >= 2 and all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seq)):
            out.append({"code": "h_ipid_seq", "ip": ip_text(src), "n": len(flows_by_src[src])})
    if tcp_sums >= 4 and tcp_zero == tcp_sums:
        out.append({"code": "h_csum_zero", "n": tcp_sums})
    odd = sorted(t for t in ttls if _odd_ttl(t))
    if odd:
        out.append({"code": "h_odd_ttl", "ttl": odd[:5]})
    starts = set(isns)  # (address, port, ISN): a retransmitted SYN is one start, not two
    triv = sorted({i for _a, _p, i in starts if _trivial_isn(i)})
    if triv and len(triv) * 4 >= len(starts):  # one in 40,000 by chance: many of them is a tool
        out.append({"code": "h_round_isn", "isn": triv[:5]})
    dup = [i for i, n in Counter(i for _a, _p, i in starts).items() if n > 1]
    if dup:
        out.append({"code": "h_same_isn", "isn": dup[0]})
    deltas = [b - a for a, b in itertools.pairwise(times)]
    if len(deltas) >= 9:
        d, n = Counter(deltas).most_common(1)[0]
        if d >= 1_000_000 and n * 2 >= len(deltas):
            out.append({"code": "h_regular", "n": n, "m": len(deltas), "ms": d / 1e6})
    return out


@dataclass
class Similarity:
    """Two captures of different students that share something, and what exactly."""

    a: str  # capture keys (student/capture)
    b: str
    student_a: str
    student_b: str
    kinds: list[str]  # "identical-file", "same-content", "shared-values"
    shared: dict[str, list[str]]
    start_offset_s: float | None = None  # b's first frame minus a's (a time-shifted copy shows it)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self, lang: str = "en") -> str:
        """What the two captures share, in plain words in the grader's language (no lists of numbers)."""
        w = Words(lang)
        bits = []
        if "identical-file" in self.kinds:
            bits.append(w.t("sim_identical"))
        elif "same-content" in self.kinds:
            text = w.t("sim_content")
            if self.start_offset_s and abs(self.start_offset_s) >= 0.5:
                text += f" ({w.t('sim_shift', s=w.num(self.start_offset_s, '+,.0f'))})"
            bits.append(text)
        else:  # the same frames say it all; shared values only matter for a capture that was changed
            for k in STRONG + WEAK:
                if k in self.shared:
                    bits.append(w.t({"isn": "sim_isn", "tsval": "sim_tsval", "dns": "sim_dns",
                                     "ports": "sim_ports"}[k], n=w.num(connections(k, self.shared[k]))))
        return "; ".join(bits)


def connections(kind: str, values: list[str]) -> int:
    """How many connections (or lookups) shared values stand for: ISNs and SYN timestamps come one
    per side of a connection ("c:..." and "s:..."), ports and DNS ids one per connection or query."""
    if kind in ("isn", "tsval"):
        sides = Counter(v.split(":", 1)[0] for v in values)
        return max(sides.values(), default=0)
    return len(values)


def compare(captures: Iterable[tuple[str, str, Fingerprint]], common_share: float = 0.25) -> list[Similarity]:
    """Pairs of captures from different students sharing a file, its content or random-per-run values.

    ``captures`` is (student, capture key, fingerprint). A value seen in more than a quarter of the
    class (at least 3 students) is the environment (a shared gateway, a lab image), not a copy, and
    is left out. Weak values alone (DNS ids, ephemeral ports) need three in common to count.
    """
    items = [(s, k, f) for s, k, f in captures if f.error is None or f.frames]
    students = {s for s, _, _ in items}
    limit = max(3, int(len(students) * common_share))
    index: dict[tuple[str, str], set[int]] = defaultdict(set)
    for n, (_s, _k, f) in enumerate(items):
        index[("sha256", f.sha256)].add(n)
        if f.content:
            index[("content", f.content)].add(n)
        for kind, vals in f.tokens.items():
            for v in vals:
                index[(kind, v)].add(n)
    pairs: dict[tuple[int, int], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (kind, val), members in index.items():
        if len(members) < 2 or len({items[m][0] for m in members}) > limit:
            continue
        ms = sorted(members)
        for i, x in enumerate(ms):
            for y in ms[i + 1:]:
                if items[x][0] != items[y][0]:
                    pairs[(x, y)][kind].append(val)
    out = []
    for (x, y), shared in sorted(pairs.items()):
        kinds = []
        if "sha256" in shared:
            kinds.append("identical-file")
        elif "content" in shared:
            kinds.append("same-content")
        values = {k: sorted(v) for k, v in shared.items() if k in STRONG + WEAK}
        if any(k in STRONG for k in values) or sum(len(v) for k, v in values.items()) >= 3:
            kinds.append("shared-values")
        if not kinds:
            continue
        fa, fb = items[x][2], items[y][2]
        off = (fb.first_ts - fa.first_ts) / 1e9 if fa.first_ts is not None and fb.first_ts is not None else None
        out.append(Similarity(items[x][1], items[y][1], items[x][0], items[y][0], kinds,
                              {k: values[k] for k in STRONG + WEAK if k in values}, off))
    return out
