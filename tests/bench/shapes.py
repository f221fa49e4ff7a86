"""Captures of every shape a user meets, each with a manifest of what it holds, for `make bench`.

Why several shapes: a reporter tuned on one capture can be slow or greedy on another. The lab
gives long echo sessions (`long`, tests/bench/gen.py, kept byte for byte so figures stay
comparable), stress tests of many short echo connections (`short`), DNS-heavy hand-ins (`dns`)
and the file server's 100 MB transfers of the ETS (`bulk`, tests/bench/bulk.py). `long-ng` and
`short-ng` are `long` and `short` saved as Wireshark saves a capture, pcapng (tests/bench/ngwrite.py).

Each generator streams frames to disk in batches (nothing of the capture's size is held) from a
fixed seed, so a run is repeatable, and fills a Manifest with the counts it wrote: the test
tests/test_bench_gen.py checks those against the reporter and against tshark on small sizes.
"""
from __future__ import annotations

import heapq
import random
import socket
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tests.bench.gen import ACK, CLIENTS, FIN, MESSAGE, PSH, SERVER, SYN, SYN_OPTS, _REC, _Wire, _connection

DNS_SERVER = "172.16.16.53"
ECHO_PORT = 10000
START_US = 1_763_900_000 * 1_000_000
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)  # Ethernet, microseconds


@dataclass
class Manifest:
    """What a generated capture holds, counted while writing it."""

    shape: str
    packets: int = 0
    connections: int = 0  # TCP connections: a SYN on a new 4-tuple, or port reuse with another ISN
    reused_ports: int = 0  # connections that reuse an earlier connection's 4-tuple
    dns_queries: int = 0  # query frames, retransmissions included (each is a row of the report's dns[])
    dns_responses: int = 0
    dns_retransmissions: int = 0  # query frames that repeat an earlier query (same id, port, question)
    dns_unanswered: int = 0  # queries whose every copy went unanswered
    transfers: list[dict] = field(default_factory=list)  # bulk: one entry per file-server connection
    file_bytes: int = 0
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


class PcapOut:
    """Writes pcap records in large batches; frames must come in time order."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.f = open(path, "wb")
        self.f.write(PCAP_HEADER)
        self.buf: list[bytes] = []
        self.buffered = 0
        self.packets = 0

    def add(self, ts_us: int, frame: bytes) -> None:
        n = len(frame)
        self.buf.append(_REC.pack(ts_us // 1_000_000, ts_us % 1_000_000, n, n))
        self.buf.append(frame)
        self.packets += 1
        self.buffered += n
        if self.buffered >= 8 << 20:
            self.flush()

    def flush(self) -> None:
        self.f.write(b"".join(self.buf))
        self.buf.clear()
        self.buffered = 0

    def close(self) -> int:
        """Write what is left; the file's size in bytes."""
        self.flush()
        self.f.close()
        return self.path.stat().st_size


class TcpFlow:
    """One TCP connection's two sequence spaces, so every frame carries correct seq/ack numbers."""

    def __init__(self, w: _Wire, rng: random.Random, client: str, cport: int, server: str, sport: int) -> None:
        self.w, self.client, self.cport, self.server, self.sport = w, client, cport, server, sport
        self.c = rng.getrandbits(32) + 1  # next sequence number, client side (ISN + 1)
        self.s = rng.getrandbits(32) + 1
        self.ipc, self.ips = rng.getrandbits(16), rng.getrandbits(16)

    def frame(self, from_client: bool, flags: int, payload: bytes = b"", ts_us: int = 0) -> bytes:
        opts = SYN_OPTS if flags & SYN else None
        tsv = ts_us // 1000
        if from_client:
            seq = self.c - 1 if flags & SYN else self.c
            fr = self.w.tcp(self.client, self.server, self.cport, self.sport, seq, self.s if flags & ACK else 0,
                            flags, payload, self.ipc, tsv, opts)
            self.ipc = (self.ipc + 1) & 0xFFFF
            self.c += len(payload) + (1 if flags & FIN else 0)
        else:
            seq = self.s - 1 if flags & SYN else self.s
            fr = self.w.tcp(self.server, self.client, self.sport, self.cport, seq, self.c, flags, payload,
                            self.ips, tsv + 7, opts)
            self.ips = (self.ips + 1) & 0xFFFF
            self.s += len(payload) + (1 if flags & FIN else 0)
        return fr


class Interleaver:
    """Merges many small events (a connection, a lookup: lists of timed frames) into time order.

    Events are pushed as they start; frames older than the newest start are written, so only the
    frames of the events still running are held."""

    def __init__(self, out: PcapOut) -> None:
        self.out, self.heap, self.order = out, [], 0

    def push(self, frames: Iterable[tuple[int, bytes]]) -> None:
        for ts, fr in frames:
            heapq.heappush(self.heap, (ts, self.order, fr))
            self.order += 1

    def write_until(self, t_us: int) -> None:
        heap, add, pop = self.heap, self.out.add, heapq.heappop
        while heap and heap[0][0] < t_us:
            ts, _, fr = pop(heap)
            add(ts, fr)

    def drain(self) -> None:
        self.write_until(1 << 62)


# ---- short: many short echo connections, as a stress client makes them --------------------------

def short_connection(w: _Wire, rng: random.Random, t: int, client: str, cport: int) -> tuple[list, int]:
    """Handshake, two 46-byte requests each echoed as 32 + 14 bytes (the server's recv(32)) and ACKed,
    FIN close: 14 frames. Returns (frames, end time)."""
    f = TcpFlow(w, rng, client, cport, SERVER, ECHO_PORT)
    rtt = rng.randint(60, 400)
    out = [(t, f.frame(True, SYN, ts_us=t))]
    t += rtt // 2
    out.append((t, f.frame(False, SYN | ACK, ts_us=t)))
    t += rtt // 2
    out.append((t, f.frame(True, ACK, ts_us=t)))
    for _ in range(2):
        t += rng.randint(100, 1500)
        out.append((t, f.frame(True, PSH | ACK, MESSAGE, ts_us=t)))
        t += rng.randint(20, 200)
        out.append((t, f.frame(False, PSH | ACK, MESSAGE[:32], ts_us=t)))
        t += rng.randint(5, 40)
        out.append((t, f.frame(False, PSH | ACK, MESSAGE[32:], ts_us=t)))
        t += rng.randint(10, 60)
        out.append((t, f.frame(True, ACK, ts_us=t)))
    t += rng.randint(50, 500)
    out.append((t, f.frame(True, FIN | ACK, ts_us=t)))
    t += rng.randint(20, 200)
    out.append((t, f.frame(False, FIN | ACK, ts_us=t)))
    t += rtt // 2
    out.append((t, f.frame(True, ACK, ts_us=t)))
    return out, t


def short(path: Path, connections: int = 71_429, seed: int = 1, reuse: float = 0.08) -> Manifest:
    """``connections`` short echo connections to 172.16.16.101:10000 (14 frames each) from the lab's
    clients, mostly .102 and .103. A share ``reuse`` of them reuse a finished connection's client
    port (a new SYN with another ISN on an old 4-tuple, as a client that binds its port does)."""
    rng = random.Random(seed)
    w = _Wire()
    m = Manifest("short", params={"connections": connections, "seed": seed, "reuse": reuse})
    out = PcapOut(path)
    mix = Interleaver(out)
    weights = [30, 30] + [40 / (len(CLIENTS) - 2)] * (len(CLIENTS) - 2)
    next_port = {c: 32768 + 97 * i for i, c in enumerate(CLIENTS)}
    closed: dict[str, list[tuple[int, int]]] = {c: [] for c in CLIENTS}  # (end time, port), oldest first
    t = START_US
    for _ in range(connections):
        client = rng.choices(CLIENTS, weights)[0]
        done = closed[client]
        if done and done[0][0] < t and rng.random() < reuse:
            port = done.pop(0)[1]
            m.reused_ports += 1
        else:
            port = next_port[client]
            next_port[client] = 32768 + (port - 32767) % 28232  # Linux's ephemeral range
        frames, end = short_connection(w, rng, t, client, port)
        done.append((end, port))
        if len(done) > 64:
            del done[0]
        mix.push(frames)
        m.connections += 1
        t += rng.randint(100, 1500)
        mix.write_until(t)
    mix.drain()
    m.packets = out.packets
    m.file_bytes = out.close()
    return m


# ---- dns: a third of the frames are DNS lookups -------------------------------------------------

# (name, A answer, AAAA answer or None, rcode): the lab's DNS server knows www.its.ac.id
NAMES = [
    (b"www.its.ac.id", "103.94.189.5", None, 0),
    (b"its.ac.id", "103.94.189.5", "2001:df0:2f0::5", 0),
    (b"my.its.ac.id", "103.94.190.11", None, 0),
    (b"classroom.its.ac.id", "103.94.190.30", "2001:df0:2f0::30", 0),
    (b"www.its.ac.idd", None, None, 3),  # a typo: NXDOMAIN
]


def _qname(name: bytes) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in name.split(b".")) + b"\0"


def _dns_message(qid: int, name: bytes, qtype: int, answer: str | None, rcode: int, response: bool) -> bytes:
    q = _qname(name) + struct.pack("!HH", qtype, 1)
    if not response:
        return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q
    rr = b""
    if answer is not None:
        rdata = socket.inet_pton(socket.AF_INET if qtype == 1 else socket.AF_INET6, answer)
        rr = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 1 if rr else 0, 0, 0) + q + rr


def dns_lookup(w: _Wire, rng: random.Random, t: int, client: str, m: Manifest) -> list[tuple[int, bytes]]:
    """One getaddrinfo(): an A and an AAAA query from one port. A query is answered at once (85%),
    retransmitted after a second's silence and then answered (8%), or never answered, either sent
    once (4%) or retransmitted once (3%)."""
    name, a, aaaa, rcode = rng.choice(NAMES)
    sport = rng.randint(32768, 60999)
    out = []
    for k, qtype in enumerate((1, 28)):
        qid = rng.getrandbits(16)
        query = _dns_message(qid, name, qtype, None, rcode, False)
        tq = t + 40 * k
        fate = rng.random()
        copies = 2 if 0.85 <= fate < 0.93 or fate >= 0.97 else 1
        for i in range(copies):
            out.append((tq + 1_000_000 * i, w.udp(client, DNS_SERVER, sport, 53, query, rng.getrandbits(16))))
        m.dns_queries += copies
        m.dns_retransmissions += copies - 1
        if fate < 0.93:
            answer = a if qtype == 1 else aaaa
            resp = _dns_message(qid, name, qtype, answer, rcode, True)
            out.append((tq + 1_000_000 * (copies - 1) + rng.randint(300, 3000),
                        w.udp(DNS_SERVER, client, 53, sport, resp, rng.getrandbits(16))))
            m.dns_responses += 1
        else:
            m.dns_unanswered += 1
    return out


def dns_heavy(path: Path, packets: int = 1_000_000, seed: int = 1) -> Manifest:
    """About ``packets`` frames, a third of them DNS lookups (dns_lookup), the rest the lab's echo
    connections (gen._connection, as in `long`). Events are added until the budget is met and
    written whole, so the count ends a little above ``packets``."""
    rng = random.Random(seed)
    w = _Wire()
    m = Manifest("dns", params={"packets": packets, "seed": seed})
    out = PcapOut(path)
    mix = Interleaver(out)
    ports = {c: 40000 for c in CLIENTS}
    t = START_US
    dns_frames = tcp_frames = 0
    while dns_frames + tcp_frames < packets:
        client = rng.choice(CLIENTS)
        if dns_frames * 2 < tcp_frames:
            frames = dns_lookup(w, rng, t, client, m)
            dns_frames += len(frames)
        else:
            ports[client] = 40000 + (ports[client] - 39999) % 20000
            frames = _connection(w, rng, t, client, ports[client])
            tcp_frames += len(frames)
            m.connections += 1
        mix.push(frames)
        t += rng.randint(2_000, 100_000)
        mix.write_until(t)
    mix.drain()
    m.packets = out.packets
    m.file_bytes = out.close()
    return m


# ---- long: today's shape (gen.generate), with its manifest ---------------------------------------

def long_echo(path: Path, packets: int = 1_000_000, seed: int = 1) -> Manifest:
    """gen.generate unchanged (same bytes as before this module existed), counted."""
    from tests.bench.gen import generate

    stats: dict = {}
    n = generate(path, packets=packets, seed=seed, stats=stats)
    return Manifest("long", packets=n, connections=stats["connections"], dns_queries=stats["dns_queries"],
                    dns_responses=stats["dns_responses"], file_bytes=path.stat().st_size,
                    params={"packets": packets, "seed": seed})


def one_echo(path: Path, packets: int = 200_000, seed: int = 2) -> Manifest:
    """gen.one_connection: a single echo connection of about ``packets`` frames (memory checks)."""
    from tests.bench.gen import one_connection

    n = one_connection(path, packets, seed)
    return Manifest("one_echo", packets=n, connections=1, file_bytes=path.stat().st_size,
                    params={"packets": packets, "seed": seed})


def _bulk(path: Path, **kw: object) -> Manifest:
    from tests.bench.bulk import bulk

    return bulk(path, **kw)


def as_pcapng(pcap: Path, path: Path, m: Manifest, shape: str) -> Manifest:
    """``pcap``'s frames saved as Wireshark saves them (tests/bench/ngwrite.py) at ``path``: the
    manifest of ``shape``, the same counts."""
    from tests.bench.ngwrite import pcap_to_pcapng

    size = pcap_to_pcapng(pcap, path)
    return Manifest(**{**m.to_json(), "shape": shape, "file_bytes": size})


def _pcapng_of(gen: Callable[..., Manifest], shape: str) -> Callable[..., Manifest]:
    """A shape generated as pcap next to ``path``, then re-written as pcapng (the pcap is removed)."""
    def make_ng(path: Path, **kw: object) -> Manifest:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.pcap")
        try:
            return as_pcapng(tmp, path, gen(tmp, **kw), shape)
        finally:
            tmp.unlink(missing_ok=True)

    return make_ng


# shape -> (generator, the full size's keyword arguments); a test passes small sizes instead
SHAPES: dict[str, tuple[Callable[..., Manifest], dict]] = {
    "long": (long_echo, {"packets": 1_000_000}),
    "short": (short, {"connections": 71_429}),
    "dns": (dns_heavy, {"packets": 1_000_000}),
    "bulk": (_bulk, {"transfer_bytes": 100_000_000, "downloads": 2, "uploads": 1}),
    "one_echo": (one_echo, {"packets": 200_000}),  # for the memory runs only
    # the same as Wireshark saves them (pcapng): what students hand in
    "long-ng": (_pcapng_of(long_echo, "long-ng"), {"packets": 1_000_000}),
    "short-ng": (_pcapng_of(short, "short-ng"), {"connections": 71_429}),
}


def make(shape: str, path: Path, **size: object) -> Manifest:
    """Generate ``shape`` at ``path``: at full size, or at the size given (e.g. connections=500)."""
    gen, full = SHAPES[shape]
    return gen(path, **(size or full))

