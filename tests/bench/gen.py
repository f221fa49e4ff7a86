"""A lab-like Ethernet pcap of any size, fast, for the speed benchmarks.

Why not real captures or dpkt: the benchmark needs a million packets that look like the lab
(echo connections to ports 10000 and 32444 from several clients, 32-byte echo chunks, DNS A/AAAA
lookups) and must be made in seconds, so frames are packed from struct templates with a
precomputed IP checksum base, and connections are interleaved in time through a heap.
"""
from __future__ import annotations

import heapq
import random
import socket
import struct
from pathlib import Path

SERVER = "172.16.16.101"
CLIENTS = [f"172.16.16.{i}" for i in range(102, 110)]
DNS_SERVER = "172.16.16.53"
MESSAGE = b"INI ADALAH DATA YANG DIKIRIM ABCDEFGHIJKLMNOPQ"
FILE_TEXT = (b"Pemrograman Jaringan - Tugas 1. Isi file yang dikirim ke server echo pada port 32444.\n" * 40)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
_REC = struct.Struct("<IIII")
_IP_TCP = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")
_IP_UDP = struct.Struct("!BBHHHBBH4s4sHHHH")
SYN_OPTS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\0" * 8 + b"\x01\x03\x03\x07"  # MSS SACK TS WS
TS_OPTS_LEN = 12  # NOP NOP TS on every later segment, as Linux sends


def _mac(ip: str) -> bytes:
    return b"\x02\x42" + socket.inet_aton(ip)


class _Wire:
    """Packs frames between two hosts; the Ethernet header and IP checksum base are per host pair."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], tuple[bytes, bytes, bytes, int]] = {}

    def pair(self, src: str, dst: str) -> tuple[bytes, bytes, bytes, int]:
        key = (src, dst)
        p = self.pairs.get(key)
        if p is None:
            s, d = socket.inet_aton(src), socket.inet_aton(dst)
            eth = _mac(dst) + _mac(src) + b"\x08\x00"
            words = struct.unpack("!4H", s + d)
            base = 0x4500 + 0x4000 + (64 << 8) + sum(words)  # version/ihl, DF, ttl; proto added later
            p = (eth, s, d, base)
            self.pairs[key] = p
        return p

    def tcp(self, src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes, ipid: int, ts_val: int, options: bytes | None = None) -> bytes:
        eth, s, d, base = self.pair(src, dst)
        if options is None:
            options = b"\x01\x01\x08\x0a" + struct.pack("!II", ts_val & 0xFFFFFFFF, (ts_val - 3) & 0xFFFFFFFF)
        totlen = 40 + len(options) + len(payload)
        c = base + 6 + totlen + ipid
        c = (c & 0xFFFF) + (c >> 16)
        c = (c & 0xFFFF) + (c >> 16)
        hdr = _IP_TCP.pack(0x45, 0, totlen, ipid, 0x4000, 64, 6, ~c & 0xFFFF, s, d, sport, dport,
                           seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (5 + len(options) // 4) << 4, flags, 502,
                           (seq ^ ack ^ totlen) & 0xFFFF, 0)
        frame = eth + hdr + options + payload
        if len(frame) < 60:
            frame += b"\0" * (60 - len(frame))  # Ethernet minimum: padding that is not payload
        return frame

    def udp(self, src: str, dst: str, sport: int, dport: int, payload: bytes, ipid: int) -> bytes:
        eth, s, d, base = self.pair(src, dst)
        totlen = 28 + len(payload)
        c = base + 17 + totlen + ipid
        c = (c & 0xFFFF) + (c >> 16)
        c = (c & 0xFFFF) + (c >> 16)
        return eth + _IP_UDP.pack(0x45, 0, totlen, ipid, 0x4000, 64, 17, ~c & 0xFFFF, s, d, sport, dport,
                                  8 + len(payload), 0) + payload


def _dns_query(qid: int, qtype: int) -> bytes:
    name = b"".join(bytes([len(x)]) + x for x in b"www.its.ac.id".split(b".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def _dns_response(query: bytes, qtype: int) -> bytes:
    qid = struct.unpack_from("!H", query)[0]
    rdata = socket.inet_aton("103.94.189.5") if qtype == 1 else b""
    ancount = 1 if rdata else 0
    out = struct.pack("!HHHHHH", qid, 0x8180, 1, ancount, 0, 0) + query[12:]
    if rdata:
        out += struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata
    return out


def _connection(w: _Wire, rng: random.Random, t_us: int, client: str, cport: int) -> list[tuple[int, bytes]]:
    """One echo connection (handshake, requests echoed in 32-byte chunks, close), timed in us."""
    file_echo = rng.random() < 0.3
    port = 32444 if file_echo else 10000
    out: list[tuple[int, bytes]] = []
    isn_c, isn_s = rng.getrandbits(32), rng.getrandbits(32)
    c, s = isn_c + 1, isn_s + 1  # next sequence number per side
    ipc, ips = rng.getrandbits(16), rng.getrandbits(16)
    t = t_us
    rtt = rng.randint(60, 400)

    def emit(from_client: bool, flags: int, payload: bytes = b"", opts: bytes | None = None, dt: int = 0) -> None:
        nonlocal t, c, s, ipc, ips
        t += dt
        if from_client:
            seq = c - 1 if flags & SYN else c
            out.append((t, w.tcp(client, SERVER, cport, port, seq, s if flags & ACK else 0, flags, payload,
                                 ipc, t // 1000, opts)))
            ipc = (ipc + 1) & 0xFFFF
            c += len(payload) + (1 if flags & FIN else 0)
        else:
            seq = s - 1 if flags & SYN else s
            out.append((t, w.tcp(SERVER, client, port, cport, seq, c, flags, payload, ips, t // 1000 + 7, opts)))
            ips = (ips + 1) & 0xFFFF
            s += len(payload) + (1 if flags & FIN else 0)

    emit(True, SYN, opts=SYN_OPTS)
    emit(False, SYN | ACK, opts=SYN_OPTS, dt=rtt // 2)
    emit(True, ACK, dt=rtt // 2)
    for _ in range(rng.randint(1, 3)):
        if file_echo:
            n = rng.randint(200, len(FILE_TEXT))
            data = FILE_TEXT[:n]
        else:
            data = MESSAGE
        for i in range(0, len(data), 1448):
            emit(True, PSH | ACK, data[i:i + 1448], dt=rng.randint(200, 3000))
        acked = True
        for i in range(0, len(data), 32):  # the server's recv(32) + sendall; the client ACKs every 2nd
            emit(False, PSH | ACK, data[i:i + 32], dt=rng.randint(20, 200))
            acked = i % 64 == 32
            if acked:
                emit(True, ACK, dt=rng.randint(10, 60))
        if not acked:
            emit(True, ACK, dt=rng.randint(10, 60))
        t += rng.randint(100_000, 3_000_000)
    emit(True, FIN | ACK, dt=rng.randint(100, 1000))
    emit(False, FIN | ACK, dt=rng.randint(20, 200))
    emit(True, ACK, dt=rtt // 2)
    return out


def _lookup(w: _Wire, rng: random.Random, t_us: int, client: str) -> list[tuple[int, bytes]]:
    out = []
    sport = rng.randint(32768, 60999)
    for k, qtype in enumerate((1, 28)):
        q = _dns_query(rng.getrandbits(16), qtype)
        out.append((t_us + 50 * k, w.udp(client, DNS_SERVER, sport, 53, q, rng.getrandbits(16))))
        out.append((t_us + 50 * k + 800, w.udp(DNS_SERVER, client, 53, sport, _dns_response(q, qtype),
                                               rng.getrandbits(16))))
    return out


def generate(path: Path, packets: int = 1_000_000, seed: int = 1, stats: dict | None = None) -> int:
    """Write ``packets`` lab-like frames to an Ethernet pcap at ``path``; return the count written.

    ``stats``, when given, receives what was written: TCP ``connections`` (those whose SYN made it
    before the cut), DNS ``dns_queries`` and ``dns_responses`` frames. Counting does not change a byte
    of the file, so figures stay comparable with earlier runs of the bench.
    """
    rng = random.Random(seed)
    w = _Wire()
    t = 1_763_900_000 * 1_000_000  # microseconds
    heap: list[tuple[int, int, bytes]] = []
    order = 0
    written = 0
    ports = {cl: 40000 for cl in CLIENTS}
    pack = _REC.pack
    syns: set[int] = set()  # heap order numbers of the frames to count
    queries: set[int] = set()
    responses: set[int] = set()
    counts = [0, 0, 0]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        out: list[bytes] = []
        while written < packets:
            client = rng.choice(CLIENTS)
            new = _lookup(w, rng, t, client) if rng.random() < 0.05 else []
            for k in range(len(new)):  # query, response, query, response
                (queries if k % 2 == 0 else responses).add(order + k)
            ports[client] = 40000 + (ports[client] - 39999) % 20000
            syns.add(order + len(new))  # a connection's SYN is its first frame
            new += _connection(w, rng, t + 2000, client, ports[client])
            for ts, frame in new:
                heapq.heappush(heap, (ts, order, frame))
                order += 1
            t += rng.randint(5_000, 400_000)
            while heap and heap[0][0] < t and written < packets:
                ts, k, frame = heapq.heappop(heap)
                if k in syns:
                    counts[0] += 1
                elif k in queries:
                    counts[1] += 1
                elif k in responses:
                    counts[2] += 1
                n = len(frame)
                out.append(pack(ts // 1_000_000, ts % 1_000_000, n, n))
                out.append(frame)
                written += 1
            if len(out) > 200_000:
                f.write(b"".join(out))
                out.clear()
        f.write(b"".join(out))  # the loop ends only with `packets` written: frames left in the heap are dropped
    if stats is not None:
        stats.update(connections=counts[0], dns_queries=counts[1], dns_responses=counts[2])
    return written


def one_connection(path: Path, packets: int, seed: int = 2) -> int:
    """A capture of a single long echo connection of about ``packets`` frames (for memory checks)."""
    rng = random.Random(seed)
    w = _Wire()
    client, cport, port = CLIENTS[0], 45000, 10000
    c, s = 1001, 5001
    t = 1_763_900_000 * 1_000_000
    frames = [w.tcp(client, SERVER, cport, port, c - 1, 0, SYN, b"", 1, 0, SYN_OPTS),
              w.tcp(SERVER, client, port, cport, s - 1, c, SYN | ACK, b"", 1, 0, SYN_OPTS),
              w.tcp(client, SERVER, cport, port, c, s, ACK, b"", 2, 0)]
    i = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        out: list[bytes] = []
        while len(frames) + i < packets - 3:
            chunk = MESSAGE[:32]
            frames.append(w.tcp(client, SERVER, cport, port, c, s, PSH | ACK, chunk, i & 0xFFFF, i))
            c += 32
            frames.append(w.tcp(SERVER, client, port, cport, s, c, PSH | ACK, chunk, i & 0xFFFF, i))
            s += 32
            if len(frames) > 10_000:
                for fr in frames:
                    t += rng.randint(10, 500)
                    out.append(_REC.pack(t // 1_000_000, t % 1_000_000, len(fr), len(fr)) + fr)
                i += len(frames)
                frames = []
                f.write(b"".join(out))
                out.clear()
        frames += [w.tcp(client, SERVER, cport, port, c, s, FIN | ACK, b"", 3, 0),
                   w.tcp(SERVER, client, port, cport, s, c + 1, FIN | ACK, b"", 3, 0),
                   w.tcp(client, SERVER, cport, port, c + 1, s + 1, ACK, b"", 4, 0)]
        for fr in frames:
            t += rng.randint(10, 500)
            out.append(_REC.pack(t // 1_000_000, t % 1_000_000, len(fr), len(fr)) + fr)
        i += len(frames)
        f.write(b"".join(out))
    return i
