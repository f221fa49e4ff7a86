"""Frame decoding: every link type, IPv4/IPv6 variants, and frames that must be counted, not used.

Each test writes frames with tests/craft.py and checks the Packet fields an analysis relies on
(addresses, ports, seq/ack, flags, options, payload without padding, missing bytes) and the
summarised warnings (one per kind, with count and first frame).
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from reporter.reading.capture import iter_packets, open_capture
from reporter.reading.decode import decode_frame, fast_layout
from tests import craft
from tests.craft import ACK, PSH, SYN

C4, S4 = "172.16.16.102", "172.16.16.101"
C6, S6 = "fd00::102", "fd00::101"
OPTS = craft.tcp_options(timestamps=(1, 2))


def _tcp(src: str, dst: str, payload: bytes = b"hello", flags: int = PSH | ACK, options: bytes = b"") -> bytes:
    return craft.tcp_segment(src, dst, 40000, 10000, 1001, 5001, flags, payload, window=502, options=options)


def _ip(src: str, dst: str, payload: bytes = b"hello", **kw) -> bytes:
    return craft.ip_packet(src, dst, 6, _tcp(src, dst, payload, **kw), ip_id=77)


def _read(tmp_path: Path, frames: list[bytes], linktype: int = craft.EN10MB, orig: dict | None = None):
    recs = [craft.Rec(f, 1.0 + i, 0, (orig or {}).get(i)) for i, f in enumerate(frames)]
    path = craft.write_pcap(tmp_path / "d.pcap", recs, linktype=linktype)
    cap = open_capture(path)
    return cap, list(iter_packets(cap))


def _check(p, src: str, dst: str, payload: bytes = b"hello", version: int = 4) -> None:
    fam = socket.AF_INET if version == 4 else socket.AF_INET6
    assert (p.version, p.src, p.dst) == (version, socket.inet_pton(fam, src), socket.inet_pton(fam, dst))
    assert (p.proto, p.sport, p.dport, p.seq, p.ack, p.flags, p.window) == (6, 40000, 10000, 1001, 5001, PSH | ACK, 502)
    assert p.payload == payload and p.missing == 0
    assert p.ip_id == (77 if version == 4 else None)


FRAMINGS = [
    ("ethernet", craft.EN10MB, lambda ip: craft.ethernet(ip)),
    ("vlan", craft.EN10MB, lambda ip: craft.ethernet(ip, vlan=42)),
    ("qinq", craft.EN10MB, lambda ip: craft.ethernet(ip, vlan=42)[:12] + b"\x88\xa8\x00\x07" + craft.ethernet(ip, vlan=42)[12:]),
    ("sll", craft.LINUX_SLL, craft.sll),
    ("sll2", craft.LINUX_SLL2, craft.sll2),
    ("null-le", craft.NULL, lambda ip: craft.null(ip)),
    ("null-be", craft.NULL, lambda ip: craft.null(ip, big_endian=True)),
    ("loop", craft.LOOP, lambda ip: craft.null(ip, linktype=craft.LOOP)),
    ("raw101", craft.RAW, lambda ip: ip),
    ("raw12", 12, lambda ip: ip),
    ("raw14", 14, lambda ip: ip),
]


@pytest.mark.parametrize("name,linktype,frame", FRAMINGS, ids=[f[0] for f in FRAMINGS])
@pytest.mark.parametrize("version", [4, 6])
def test_every_link_type_and_ip_version(tmp_path: Path, name: str, linktype: int, frame, version: int) -> None:
    src, dst = (C4, S4) if version == 4 else (C6, S6)
    cap, pkts = _read(tmp_path, [frame(_ip(src, dst)), frame(_ip(dst, src, b"x" * 40))], linktype)
    assert cap.problems == [] and cap.packets == 2
    _check(pkts[0], src, dst, version=version)
    assert pkts[1].src == pkts[0].dst and pkts[1].payload == b"x" * 40


@pytest.mark.parametrize("linktype,version", [(228, 4), (229, 6)])
def test_ipv4_and_ipv6_only_link_types(tmp_path: Path, linktype: int, version: int) -> None:
    src, dst = (C4, S4) if version == 4 else (C6, S6)
    _cap, pkts = _read(tmp_path, [_ip(src, dst)], linktype)
    _check(pkts[0], src, dst, version=version)


def test_ethernet_padding_is_not_payload(tmp_path: Path) -> None:
    """A 1-byte segment is padded to 60 bytes on Ethernet; the payload stays 1 byte (fast path)."""
    frames = [craft.ethernet(_ip(C4, S4, b"Z")), craft.ethernet(_ip(C4, S4, b"")),
              craft.ethernet(_ip(C4, S4, b"Q"), vlan=5), craft.ethernet(_ip(C6, S6, b"Z"), pad_to=200)]
    assert len(frames[0]) == 60
    _cap, pkts = _read(tmp_path, frames)
    assert [p.payload for p in pkts] == [b"Z", b"", b"Q", b"Z"]


def test_tcp_options_kept_raw(tmp_path: Path) -> None:
    _cap, pkts = _read(tmp_path, [craft.ethernet(_ip(C4, S4, b"", flags=SYN, options=OPTS))])
    assert pkts[0].options == OPTS and pkts[0].flags == SYN and pkts[0].payload == b""
    _cap, pkts = _read(tmp_path, [craft.sll2(_ip(C6, S6, b"abc", flags=SYN, options=OPTS))], craft.LINUX_SLL2)
    assert pkts[0].options == OPTS and pkts[0].payload == b"abc"


def test_ipv4_header_options(tmp_path: Path) -> None:
    ip = craft.ipv4_custom(C4, S4, 6, _tcp(C4, S4), ip_id=77, options=b"\x94\x04\0\0")  # router alert
    _cap, pkts = _read(tmp_path, [craft.ethernet(ip)])
    _check(pkts[0], C4, S4)


def test_ipv6_extension_headers_are_stepped_over(tmp_path: Path) -> None:
    frames = [craft.ethernet(craft.ipv6_ext(C6, S6, 6, _tcp(C6, S6), exts=(0, 43, 60))),
              craft.ethernet(craft.ipv6_ext(C6, S6, 17, craft.udp_datagram(C6, S6, 5353, 53, b"q"), exts=(60,)))]
    cap, pkts = _read(tmp_path, frames)
    assert cap.problems == []
    assert pkts[0].payload == b"hello" and pkts[0].dport == 10000
    assert (pkts[1].proto, pkts[1].sport, pkts[1].dport, pkts[1].payload) == (17, 5353, 53, b"q")


def test_fragments_and_non_ip_are_counted_once_per_kind(tmp_path: Path) -> None:
    udp = craft.udp_datagram(C4, S4, 5000, 53, b"x" * 20)
    frames = [
        craft.arp_frame(),                                                       # 1 non-ip
        craft.ethernet(_ip(C4, S4)),                                             # 2 ok
        craft.ethernet(craft.ipv4_custom(C4, S4, 17, udp, frag=0x2000)),         # 3 first fragment (MF)
        craft.ethernet(craft.ipv4_custom(C4, S4, 17, b"y" * 16, frag=0x0003)),   # 4 later fragment
        craft.ethernet(craft.ipv6_ext(C6, S6, 6, _tcp(C6, S6), exts=(0, 44))),   # 5 IPv6 fragment
        craft.arp_frame(),                                                       # 6 non-ip
        craft.ethernet(craft.ip_packet(C4, S4, 1, b"\x08\0\0\0\0\0\0\0")),       # 7 ICMP
        craft.ethernet(_ip(C4, S4, b"end")),                                     # 8 ok
    ]
    cap, pkts = _read(tmp_path, frames)
    assert cap.packets == 8 and [p.no for p in pkts] == [2, 8]
    got = {w.code: w for w in cap.problems}
    assert set(got) == {"non-ip", "fragment", "other-ip"}
    assert (got["non-ip"].frame, got["fragment"].frame, got["other-ip"].frame) == (1, 3, 7)
    assert got["non-ip"].message.startswith("2 ") and got["fragment"].message.startswith("3 ")


def test_snaplen_cut_frames(tmp_path: Path) -> None:
    """Payload cut: packet kept with `missing`; headers cut: frame counted, not decoded."""
    full = craft.ethernet(_ip(C4, S4, bytes(range(100))))
    cut_payload = full[:14 + 40 + 30]
    cut_header = full[:14 + 30]
    cap, pkts = _read(tmp_path, [full, cut_payload, cut_header, full],
                      orig={1: len(full), 2: len(full)})
    assert cap.packets == 4 and [p.no for p in pkts] == [1, 2, 4]
    assert pkts[1].payload == bytes(range(30)) and pkts[1].missing == 70
    assert [(w.code, w.frame) for w in cap.problems] == [("snaplen", 2)]
    assert cap.problems[0].message.startswith("2 ")


def test_lying_ip_total_length_and_tso_zero_length(tmp_path: Path) -> None:
    seg = _tcp(C4, S4, b"abcdef")
    bad = craft.ipv4_custom(C4, S4, 6, seg, ip_id=77, total_length=200)  # claims more than the frame holds
    tso = craft.ipv4_custom(C4, S4, 6, seg, ip_id=77, total_length=0)  # offload: length left 0
    cap, pkts = _read(tmp_path, [craft.ethernet(bad, pad_to=0), craft.ethernet(tso, pad_to=0)])
    assert pkts[0].payload == b"abcdef" and pkts[0].missing == 200 - 20 - 20 - 6
    _check(pkts[1], C4, S4, b"abcdef")
    assert [(w.code, w.frame) for w in cap.problems] == [("malformed", 1)]


@pytest.mark.parametrize("breakage", ["ihl", "tcp-offset", "short-ip", "short-eth", "version"])
def test_broken_headers_are_malformed_not_exceptions(tmp_path: Path, breakage: str) -> None:
    ip = bytearray(_ip(C4, S4))
    frame = craft.ethernet(bytes(ip))
    if breakage == "ihl":
        ip[0] = 0x43
        frame = craft.ethernet(bytes(ip))
    elif breakage == "tcp-offset":
        ip[20 + 12] = 0x30
        frame = craft.ethernet(bytes(ip))
    elif breakage == "short-ip":
        frame = frame[:14 + 12]
    elif breakage == "short-eth":
        frame = frame[:10]
    elif breakage == "version":  # EtherType says IPv4, the header says 6
        frame = frame[:14] + b"\x65" + frame[15:]
    cap, pkts = _read(tmp_path, [frame, craft.ethernet(_ip(C4, S4))])
    assert [p.no for p in pkts] == [2]
    assert [(w.code, w.frame) for w in cap.problems] == [("malformed", 1)]


def test_udp_dns_datagram(tmp_path: Path) -> None:
    q = b"\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0\x03www\x03its\x02ac\x02id\0\0\x01\0\x01"
    udp = craft.udp_datagram(C4, "172.16.16.53", 33333, 53, q)
    _cap, pkts = _read(tmp_path, [craft.sll(craft.ip_packet(C4, "172.16.16.53", 17, udp, ip_id=9))], craft.LINUX_SLL)
    p = pkts[0]
    assert (p.proto, p.sport, p.dport, p.payload, p.ip_id, p.seq, p.flags) == (17, 33333, 53, q, 9, 0, 0)


@pytest.mark.parametrize("linktype", [craft.EN10MB, craft.LINUX_SLL, craft.LINUX_SLL2])
def test_fast_path_agrees_with_general_decoder(tmp_path: Path, linktype: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The inline fast path and decode_frame must produce identical packets."""
    import reporter.reading.capture as capture_mod

    flow = craft.TcpFlow(client=C4, server=S4).handshake().echo_exchange(craft.LAB_MESSAGE * 3).close()
    recs = flow.recs(linktype)
    path = craft.write_pcap(tmp_path / "f.pcap", recs, linktype=linktype)
    cap = open_capture(path)

    def not_here(*args):  # every frame must take the inline path, or this compares decode_frame with itself
        raise AssertionError(f"frame {args[5]} left the fast path")

    monkeypatch.setattr(capture_mod, "decode_frame", not_here)
    fast = list(iter_packets(cap))
    monkeypatch.undo()
    assert fast_layout(linktype) is not None and len(fast) == len(recs)
    slow = []
    for i, r in enumerate(recs, 1):
        ts = round(r.t * 1e6) * 1000
        pkt, prob = decode_frame(linktype, r.data, 0, len(r.data), 0, i, ts, 0)
        assert prob is None
        slow.append(pkt)
    fields = [f for f in type(fast[0]).__slots__]
    assert [[getattr(p, f) for f in fields] for p in fast] == [[getattr(p, f) for f in fields] for p in slow]
