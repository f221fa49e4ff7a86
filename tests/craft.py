"""Crafted captures for edge-case tests, built by code rather than committed as blobs.

A test describes frames (IP packets, then a link-layer framing) and writes them as pcap
(micro/nanosecond, any link type) or pcapng (several interfaces, each with its own link type
and time resolution). `TcpFlow` writes a conversation from sequence numbers, so tests can say
"retransmit bytes 10..20 with different content" in the words of the behaviour they pin down.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from servers.echo_client import LAB_MESSAGE as _LAB_TEXT

# link types
EN10MB, NULL, RAW, LOOP, LINUX_SLL, LINUX_SLL2 = 1, 0, 101, 108, 113, 276
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _pack_ip(addr: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)


def tcp_options(mss: Optional[int] = 1460, wscale: Optional[int] = 7, sack_ok: bool = True,
                timestamps: Optional[tuple[int, int]] = None) -> bytes:
    """TCP options as a SYN carries them (padded to 4 bytes)."""
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sack_ok:
        o += b"\x04\x02"
    if timestamps is not None:
        o += struct.pack("!BBII", 8, 10, *timestamps)
    if wscale is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    while len(o) % 4:
        o += b"\x01"
    return o


def _l4_csum(src: str, dst: str, proto: int, seg: bytes) -> int:
    """Checksum of a TCP/UDP segment over the IPv4 or IPv6 pseudo-header."""
    s, d = _pack_ip(src), _pack_ip(dst)
    pseudo = s + d + (struct.pack("!BBH", 0, proto, len(seg)) if len(s) == 4 else struct.pack("!IxxxB", len(seg), proto))
    return _csum(pseudo + seg)


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                payload: bytes = b"", window: int = 64240, options: bytes = b"") -> bytes:
    hlen = 20 + len(options)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (hlen // 4) << 4, flags,
                      window, 0, 0) + options
    seg = hdr + payload
    c = _l4_csum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = _l4_csum(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def ip_packet(src: str, dst: str, proto: int, l4: bytes, ip_id: int = 0, ttl: int = 64) -> bytes:
    """An IPv4 or IPv6 packet (chosen by the address family of src), DF set, no options."""
    if ":" in src:
        return ipv6_ext(src, dst, proto, l4, exts=(), hop_limit=ttl)
    return ipv4_custom(src, dst, proto, l4, ip_id=ip_id, ttl=ttl)


# ---------------------------------------------------------------------------------------------
# link-layer framings: IP packet -> frame bytes for a link type


def ethernet(ip: bytes, vlan: Optional[int] = None, src_mac: bytes = b"\x02\0\0\0\0\x02",
             dst_mac: bytes = b"\x02\0\0\0\0\x01", pad_to: int = 60) -> bytes:
    etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    hdr = dst_mac + src_mac
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    frame = hdr + struct.pack("!H", etype) + ip
    if len(frame) < pad_to:  # Ethernet minimum frame: padding that is never payload
        frame += b"\0" * (pad_to - len(frame))
    return frame


def ethernet_encap(ip: bytes, encap: str, src_mac: bytes = b"\x02\0\0\0\0\x02",
                   dst_mac: bytes = b"\x02\0\0\0\0\x01", pad_to: int = 60) -> bytes:
    """An IP packet inside an Ethernet frame by way of another header: "mpls" (two labels, the
    second with the bottom-of-stack bit), "pppoe" (PPPoE session, PPP protocol IPv4/IPv6),
    "llc-snap" (an 802.3 length field, 802.2 LLC AA-AA-03 and SNAP OUI 00-00-00 with the IP
    EtherType: RFC 1042), or "pppoe-lcp" / "mpls-pw" (encapsulations with no IP packet to read:
    an LCP echo, a pseudowire control word)."""
    v4 = ip[0] >> 4 == 4
    etype_ip = 0x0800 if v4 else 0x86DD
    if encap == "mpls":
        body, etype = struct.pack("!II", 100 << 12 | 64, 200 << 12 | 1 << 8 | 64) + ip, 0x8847
    elif encap == "mpls-pw":
        body, etype = struct.pack("!II", 100 << 12 | 1 << 8 | 64, 0) + ip, 0x8847
    elif encap == "pppoe":
        ppp = struct.pack("!H", 0x0021 if v4 else 0x0057) + ip
        body, etype = struct.pack("!BBHH", 0x11, 0, 0x1234, len(ppp)) + ppp, 0x8864
    elif encap == "pppoe-lcp":
        ppp = struct.pack("!HBBHI", 0xC021, 9, 1, 8, 0x11223344)
        body, etype = struct.pack("!BBHH", 0x11, 0, 0x1234, len(ppp)) + ppp, 0x8864
    elif encap == "llc-snap":
        body = b"\xaa\xaa\x03\0\0\0" + struct.pack("!H", etype_ip) + ip
        etype = len(body)
    else:
        raise ValueError(encap)
    frame = dst_mac + src_mac + struct.pack("!H", etype) + body
    return frame + b"\0" * max(0, pad_to - len(frame))


def sll(ip: bytes, pkttype: int = 0) -> bytes:
    etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHH8sH", pkttype, 1, 6, b"\x02\0\0\0\0\x02\0\0", etype) + ip


def sll2(ip: bytes, ifindex: int = 2, pkttype: int = 0) -> bytes:
    etype = 0x0800 if ip[0] >> 4 == 4 else 0x86DD
    return struct.pack("!HHIHBB8s", etype, 0, ifindex, 1, pkttype, 6, b"\x02\0\0\0\0\x02\0\0") + ip


def null(ip: bytes, big_endian: bool = False, linktype: int = NULL) -> bytes:
    """BSD loopback: 4-byte address family in host order (NULL) or network order (LOOP)."""
    af = 2 if ip[0] >> 4 == 4 else 30  # AF_INET6 is 24/28/30 on the BSDs; 30 = macOS
    if linktype == LOOP:
        big_endian = True
    return struct.pack(">I" if big_endian else "<I", af) + ip


def frame_for(linktype: int, ip: bytes, **kw) -> bytes:
    if linktype == EN10MB:
        return ethernet(ip, **kw)
    if linktype == LINUX_SLL:
        return sll(ip, **kw)
    if linktype == LINUX_SLL2:
        return sll2(ip, **kw)
    if linktype in (NULL, LOOP):
        return null(ip, linktype=linktype, **kw)
    if linktype == RAW:
        return ip
    raise ValueError(f"no framing for link type {linktype}")


# ---------------------------------------------------------------------------------------------
# capture files


@dataclass
class Rec:
    """One record: frame bytes at a time (seconds, float or int nanoseconds) on an interface."""

    data: bytes
    t: float = 0.0
    iface: int = 0
    orig_len: Optional[int] = None  # > len(data) means cut by the snap length


def _ns(t) -> int:
    return t if isinstance(t, int) else int(round(t * 1e9))


def write_pcap(path: Path | str, recs: Iterable[Rec], linktype: int = EN10MB, nano: bool = False,
               snaplen: int = 262144, big_endian: bool = False) -> Path:
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for r in recs:
        ns = _ns(r.t)
        sec, frac = divmod(ns, 1_000_000_000)
        if not nano:
            frac //= 1000
        out.append(struct.pack(e + "IIII", sec, frac, len(r.data), r.orig_len or len(r.data)) + r.data)
    p = Path(path)
    p.write_bytes(b"".join(out))
    return p


@dataclass
class Iface:
    linktype: int = EN10MB
    tsresol: int = 6  # decimal exponent: 6 = microseconds, 9 = nanoseconds
    name: str = ""
    snaplen: int = 262144


def write_pcapng(path: Path | str, recs: Iterable[Rec], ifaces: Sequence[Iface] = (Iface(),)) -> Path:
    out = [ng_shb()]
    for i in ifaces:
        opts = b""
        if i.name:
            nm = i.name.encode()
            opts += struct.pack("<HH", 2, len(nm)) + nm + b"\0" * (-len(nm) % 4)
        if i.tsresol != 6:
            opts += struct.pack("<HHB3x", 9, 1, i.tsresol)
        if opts:
            opts += struct.pack("<HH", 0, 0)
        out.append(ng_block(1, struct.pack("<HHI", i.linktype, 0, i.snaplen) + opts))
    for r in recs:
        res = ifaces[r.iface].tsresol
        ts = _ns(r.t) // (10 ** (9 - res))
        body = struct.pack("<IIIII", r.iface, ts >> 32, ts & 0xFFFFFFFF, len(r.data), r.orig_len or len(r.data)) + r.data
        out.append(ng_block(6, body))
    p = Path(path)
    p.write_bytes(b"".join(out))
    return p


# ---------------------------------------------------------------------------------------------
# TCP conversations in the words of the tests


@dataclass
class TcpFlow:
    """A client/server TCP conversation: offsets are stream offsets, like the report's.

    ``flow.data("c", 0, b"hello")`` puts the client's bytes [0,5) on the wire; `seq` is derived
    from the ISN, so wraparound tests only change ``isn_c``/``isn_s``.
    """

    client: str = "127.0.0.1"
    server: str = "127.0.0.1"
    cport: int = 40000
    sport: int = 10000
    isn_c: int = 1000
    isn_s: int = 5000
    t: float = 1.0
    step: float = 0.001
    ip_id: int = 1
    packets: list[tuple[float, bytes]] = field(default_factory=list)
    sent: dict = field(default_factory=lambda: {"c": 0, "s": 0})

    def _emit(self, who: str, seq: int, flags: int, payload: bytes = b"", options: bytes = b"",
              dt: Optional[float] = None, ack: Optional[int] = None) -> bytes:
        if who == "c":
            src, dst, sp, dp = self.client, self.server, self.cport, self.sport
            a = self.isn_s + 1 + self.sent["s"] if ack is None else ack
        else:
            src, dst, sp, dp = self.server, self.client, self.sport, self.cport
            a = self.isn_c + 1 + self.sent["c"] if ack is None else ack
        if flags & ACK == 0:
            a = 0
        seg = tcp_segment(src, dst, sp, dp, seq, a, flags, payload, options=options)
        pkt = ip_packet(src, dst, 6, seg, ip_id=self.ip_id)
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        self.t += self.step if dt is None else dt
        self.packets.append((self.t, pkt))
        return pkt

    def handshake(self, options: Optional[bytes] = None) -> "TcpFlow":
        opts = tcp_options() if options is None else options
        self._emit("c", self.isn_c, SYN, options=opts)
        self._emit("s", self.isn_s, SYN | ACK, options=opts, ack=self.isn_c + 1)
        self._emit("c", self.isn_c + 1, ACK)
        return self

    def data(self, who: str, offset: int, payload: bytes, dt: Optional[float] = None, flags: int = PSH | ACK) -> "TcpFlow":
        isn = self.isn_c if who == "c" else self.isn_s
        self._emit(who, isn + 1 + offset, flags, payload, dt=dt)
        self.sent[who] = max(self.sent[who], offset + len(payload))
        return self

    def ack(self, who: str, dt: Optional[float] = None) -> "TcpFlow":
        isn = self.isn_c if who == "c" else self.isn_s
        self._emit(who, isn + 1 + self.sent[who], ACK, dt=dt)
        return self

    def fin(self, who: str, dt: Optional[float] = None) -> "TcpFlow":
        isn = self.isn_c if who == "c" else self.isn_s
        self._emit(who, isn + 1 + self.sent[who], FIN | ACK, dt=dt)
        self.sent[who] += 1  # FIN consumes one sequence number
        return self

    def rst(self, who: str, dt: Optional[float] = None) -> "TcpFlow":
        isn = self.isn_c if who == "c" else self.isn_s
        self._emit(who, isn + 1 + self.sent[who], RST | ACK, dt=dt)
        return self

    def close(self) -> "TcpFlow":
        """Client closes first, as the lab's client does."""
        self.fin("c").fin("s").ack("c")
        return self

    def echo_exchange(self, message: bytes, chunk: int = 32) -> "TcpFlow":
        """Client sends message; server echoes it in `chunk`-sized segments (the lab's recv(32))."""
        base = self.sent["c"]
        self.data("c", base, message)
        for i in range(0, len(message), chunk):
            self.data("s", base + i, message[i:i + chunk])
        self.ack("c")
        return self

    def recs(self, linktype: int = EN10MB, iface: int = 0, **framing) -> list[Rec]:
        return [Rec(frame_for(linktype, p, **framing), t, iface) for t, p in self.packets]


def merge(*flows_recs: Sequence[Rec]) -> list[Rec]:
    """Interleave records of several flows by time (stable)."""
    allr = [r for rs in flows_recs for r in rs]
    return sorted(allr, key=lambda r: _ns(r.t))


LAB_MESSAGE = _LAB_TEXT.encode()  # the lab client's default message, as bytes


# ---------------------------------------------------------------------------------------------
# capture-reading edge cases (helper "input"): headers the lab never sends but files contain


def arp_frame() -> bytes:
    """An Ethernet ARP request: a frame that carries no IP at all."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, b"\x02\0\0\0\0\x02", _pack_ip("172.16.16.102"),
                       b"\0" * 6, _pack_ip("172.16.16.101"))
    return b"\xff" * 6 + b"\x02\0\0\0\0\x02" + b"\x08\x06" + body + b"\0" * 18


def ipv4_custom(src: str, dst: str, proto: int, l4: bytes, ip_id: int = 0, options: bytes = b"",
                frag: int = 0x4000, total_length: int | None = None, ttl: int = 64) -> bytes:
    """IPv4 with header options (IHL > 5), any fragment field, or a lying total length."""
    options += b"\0" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    tl = ihl * 4 + len(l4) if total_length is None else total_length
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ip_id, frag, ttl, proto, 0, _pack_ip(src),
                      _pack_ip(dst)) + options
    return hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:] + l4


def ipv6_ext(src: str, dst: str, proto: int, l4: bytes, exts: Sequence[int] = (0, 60), hop_limit: int = 64,
             frag_offset: int = 0, more_fragments: bool = True) -> bytes:
    """IPv6 with a chain of 8-byte extension headers (0 hop-by-hop, 43 routing, 60 dest, 44 fragment).

    A fragment header (44) carries ``frag_offset`` (in 8-byte units) and the M flag; offset 0
    without M is an atomic fragment (RFC 6946): the whole packet behind a fragment header."""
    chain = b""
    types = list(exts)
    for i, t in enumerate(types):
        nxt = types[i + 1] if i + 1 < len(types) else proto
        if t == 44:
            chain += struct.pack("!BBHI", nxt, 0, frag_offset << 3 | int(more_fragments), 0x1234)
        else:
            chain += struct.pack("!BB6x", nxt, 0)
    first = types[0] if types else proto
    return struct.pack("!IHBB16s16s", 0x60000000, len(chain) + len(l4), first, hop_limit, _pack_ip(src),
                       _pack_ip(dst)) + chain + l4


def ng_block(btype: int, body: bytes, big_endian: bool = False) -> bytes:
    """One pcapng block of any type (body padded to 4 bytes)."""
    e = ">" if big_endian else "<"
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def ng_shb(big_endian: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    return ng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), big_endian)


def ng_idb(linktype: int, tsresol: int | None = None, tsoffset: int = 0, snaplen: int = 262144,
           big_endian: bool = False) -> bytes:
    """Interface block; tsresol is the raw option byte (0x80 | k means 2^-k seconds)."""
    e = ">" if big_endian else "<"
    opts = b""
    if tsresol is not None:
        opts += struct.pack(e + "HHB3x", 9, 1, tsresol)
    if tsoffset:
        opts += struct.pack(e + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(e + "HH", 0, 0)
    return ng_block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, big_endian)


def ng_epb(iface: int, units: int, data: bytes, orig_len: int | None = None, big_endian: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    body = struct.pack(e + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), orig_len or len(data)) + data
    return ng_block(6, body, big_endian)


def ng_spb(data: bytes, big_endian: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    return ng_block(3, struct.pack(e + "I", len(data)) + data, big_endian)


# ---------------------------------------------------------------------------------------------
# DNS messages over UDP (dpkt builds the message; HTTPS/SVCB records dpkt cannot pack go in raw)


def dns_message(qid: int, name: str, qtype: int = 1, response: bool = False, rcode: int = 0,
                answers: Sequence[tuple[int, object]] = (), raw_answers: bytes = b"", raw_count: int = 0) -> bytes:
    """A DNS query or response. answers: (type, value) with A/AAAA as text, CNAME as a name.

    ``raw_answers`` (already encoded records, e.g. an HTTPS record) are appended after them and
    counted by ``raw_count``, so tests can build messages dpkt itself cannot parse.
    """
    import dpkt

    d = dpkt.dns.DNS(id=qid, op=(0x8180 | rcode) if response else 0x0100,
                     qd=[dpkt.dns.DNS.Q(name=name, type=qtype, cls=1)])
    rrs = []
    for rtype, value in answers:
        rr = dpkt.dns.DNS.RR(name=name, type=rtype, cls=1, ttl=300)
        if rtype == 1:
            rr.ip = socket.inet_pton(socket.AF_INET, str(value))
        elif rtype == 28:
            rr.ip6 = socket.inet_pton(socket.AF_INET6, str(value))
        elif rtype == 5:
            rr.cname = str(value)
        rrs.append(rr)
    d.an = rrs
    buf = bytes(d)
    if raw_count:
        an = struct.unpack_from("!H", buf, 6)[0] + raw_count
        buf = buf[:6] + struct.pack("!H", an) + buf[8:] + raw_answers
    return buf


def dns_packet(client: str, server: str, cport: int, message: bytes, response: bool = False) -> bytes:
    """The IP packet carrying a DNS message between client:cport and server:53."""
    if response:
        return ip_packet(server, client, 17, udp_datagram(server, client, 53, cport, message))
    return ip_packet(client, server, 17, udp_datagram(client, server, cport, 53, message))


# ---------------------------------------------------------------------------------------------
# message services (time server, file server): a message cut into segments the way a test says


def send_parts(flow: TcpFlow, who: str, parts: Sequence[bytes], dt: Optional[float] = None) -> TcpFlow:
    """Send consecutive byte strings of one side as segments of their own, each ACKed by the peer."""
    off = flow.sent[who]
    for p in parts:
        flow.data(who, off, p, dt=dt)
        off += len(p)
    flow.ack("s" if who == "c" else "c")
    return flow


def cut(data: bytes, *at: int) -> list[bytes]:
    """data cut at the given offsets (in any order; empty pieces dropped)."""
    bounds = [0, *sorted(set(a for a in at if 0 < a < len(data))), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def file_conversation(request: bytes | Sequence[bytes], reply: bytes | Sequence[bytes], cport: int = 40000,
                      sport: int = 6666, client: str = "172.16.16.102", server: str = "172.16.16.101",
                      t: float = 1.0, close: bool = True) -> TcpFlow:
    """One file-server connection: handshake, the request (one segment or the parts given), the reply
    (likewise), and the client's close."""
    f = TcpFlow(client=client, server=server, cport=cport, sport=sport, t=t).handshake()
    send_parts(f, "c", [request] if isinstance(request, bytes) else request)
    send_parts(f, "s", [reply] if isinstance(reply, bytes) else reply)
    if close:
        f.close()
    return f
