"""Reassembly edge cases: each crafted capture pins down one rule of DESIGN.md's reassembly policy.

The same captures feed tests/test_follow_oracle.py, which checks the streams against
Wireshark's Follow TCP Stream byte for byte; here the expected streams are written out.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from reporter.analyses.tcp import TcpAnalysis, TcpResult
from reporter.reading.capture import iter_packets, open_capture
from tests.conftest import LAB_SERVICES
from tests.craft import (
    ACK,
    LINUX_SLL2,
    PSH,
    SYN,
    Iface,
    Rec,
    TcpFlow,
    tcp_options,
    write_pcap,
    write_pcapng,
)

A, B, C, D = b"A" * 10, b"B" * 10, b"C" * 10, b"D" * 10


def analyse(path: Path, frames: bool = True, keep: bool = True, ports: tuple[int, ...] = (10000, 32444)) -> TcpResult:
    """Run the TCP analysis over a capture the way the pipeline does (one pass, frame order)."""
    cap = open_capture(path)
    tcp = TcpAnalysis(dict(zip(ports, ("echo", "file-echo"))), frames, keep_streams=keep)
    t0 = None
    for pkt in iter_packets(cap):
        if t0 is None:
            t0 = pkt.ts
        if pkt.proto == 6:
            tcp.feed(pkt)
    return tcp.finish(t0 or 0)


# -- the crafted captures: name -> builder(tmp_path) -> capture path ------------------------------

def _flow(**kw) -> TcpFlow:
    f = TcpFlow(**kw)
    f.handshake()
    return f


def _write(tmp: Path, name: str, f: TcpFlow) -> Path:
    return write_pcap(tmp / f"{name}.pcap", f.recs())


def case_retransmission(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 10, B).data("c", 10, B, dt=0.3).ack("s")  # RTO: same bytes again
    f.close()
    return _write(tmp, "retransmission", f)


def case_conflicting_retransmission(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 10, B).data("c", 10, b"X" * 10, dt=0.3).ack("s")
    f.close()
    return _write(tmp, "conflict", f)


def case_out_of_order(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 20, C).data("c", 10, B).ack("s").close()
    return _write(tmp, "ooo", f)


def case_conflicting_ooo_copies(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 20, C).data("c", 20, b"Z" * 10).data("c", 10, B).ack("s").close()
    return _write(tmp, "ooo-conflict", f)


def case_in_order_supersedes(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 15, b"Q" * 10).data("c", 10, B).ack("s").close()
    return _write(tmp, "supersede", f)


def case_partial_overlap(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).data("c", 5, b"a" * 5 + B, dt=0.3).ack("s").close()
    return _write(tmp, "overlap", f)


def case_wraparound(tmp: Path) -> Path:
    f = _flow(isn_c=0xFFFFFFF0, isn_s=0xFFFFFFFE)
    f.data("c", 0, A).data("c", 20, C).data("c", 10, B).data("c", 30, D)  # crosses 2^32 out of order
    f.data("s", 0, A + B).data("s", 20, C + D).ack("c").close()
    return _write(tmp, "wrap", f)


def case_gap(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A)
    f.data("c", 20, C)  # [10,20) never captured ...
    f.ack("s")  # ... but the server ACKs 30: it got them, so Wireshark skips the gap here
    f.data("c", 30, D)
    f.close()
    return _write(tmp, "gap", f)


def case_capture_duplicate(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A)
    f.packets.append((f.t + 0.00001, f.packets[-1][1]))  # the very same frame, captured again
    f.t += 0.00001
    f.data("c", 10, B).ack("s")
    f.packets.append((f.t + 0.00001, f.packets[-1][1]))  # a pure ACK captured twice
    f.t += 0.00001
    f.close()
    return _write(tmp, "dup", f)


def case_two_interfaces(tmp: Path) -> Path:
    """pcapng with the same conversation seen on two interfaces (a router's in and out)."""
    f = _flow()
    f.echo_exchange(b"hello world").close()
    recs = []
    for t, p in f.packets:
        recs.append(Rec(p, t, 0))
        recs.append(Rec(p, t + 0.00002, 1))
    from tests.craft import RAW
    return write_pcapng(tmp / "two-ifaces.pcapng", recs, [Iface(RAW, name="eth0"), Iface(RAW, name="eth1")])


def case_two_interfaces_interleaved(tmp: Path) -> Path:
    """As two_interfaces, but a copy comes after the next original when that one carries data the
    same way (the handshake ACK's copy after the request: a client sends them microseconds apart)."""
    f = _flow()
    f.echo_exchange(b"hello world").close()
    recs: list[Rec] = []
    pk, i = f.packets, 0
    while i < len(pk):
        (t0, p0) = pk[i]
        nxt = pk[i + 1][1] if i + 1 < len(pk) else b""
        if nxt[20:22] == p0[20:22] and nxt[33] & PSH:  # same source port and data (IPv4, no IP options)
            t1, p1 = pk[i + 1]
            recs += [Rec(p0, t0, 0), Rec(p1, t1, 0), Rec(p0, t1 + 0.00001, 1), Rec(p1, t1 + 0.00002, 1)]
            i += 2
        else:
            recs += [Rec(p0, t0, 0), Rec(p0, t0 + 0.00002, 1)]
            i += 1
    from tests.craft import RAW
    return write_pcapng(tmp / "two-ifaces-interleaved.pcapng", recs, [Iface(RAW, name="eth0"), Iface(RAW, name="eth1")])


def case_any_sll2(tmp: Path) -> Path:
    """`tcpdump -i any` on loopback sees each frame twice (outgoing and incoming)."""
    f = _flow()
    f.echo_exchange(b"ping").close()
    recs = []
    for r in f.recs(LINUX_SLL2):
        recs.append(r)
        recs.append(Rec(r.data, r.t + 0.000001, 0))
    return write_pcap(tmp / "any.pcap", recs, linktype=LINUX_SLL2)


def case_port_reuse(tmp: Path) -> Path:
    f = _flow()
    f.echo_exchange(b"first").close()
    g = TcpFlow(isn_c=987654, isn_s=123456, t=f.t + 1)
    g.handshake().echo_exchange(b"second").close()
    return write_pcap(tmp / "reuse.pcap", f.recs() + g.recs())


def case_midstream(tmp: Path) -> Path:
    """Capture started after the handshake: offsets count from the first byte seen."""
    f = TcpFlow(isn_c=5555, isn_s=7777)
    f.data("c", 0, b"mid-stream ").data("s", 0, b"mid-stream ").data("c", 11, b"data").data("s", 11, b"data")
    f.ack("c")
    return _write(tmp, "mid", f)


def case_ipv6(tmp: Path) -> Path:
    f = _flow(client="::1", server="::1")
    f.echo_exchange(b"over IPv6").close()
    return _write(tmp, "v6", f)


def case_reset(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A).rst("s")
    return _write(tmp, "rst", f)


def case_zero_window_probe(tmp: Path) -> Path:
    f = _flow()
    f.data("c", 0, A)
    f._emit("s", f.isn_s + 1, ACK, ack=f.isn_c + 11)  # window 64240 from craft; probe follows
    f.data("c", 10, b"B", dt=0.2)  # one-byte probe
    f.data("c", 10, B, dt=0.2)  # the real segment, starting with the probed byte
    f.ack("s").close()
    return _write(tmp, "zwp", f)


def case_syn_retransmission(tmp: Path) -> Path:
    f = TcpFlow()
    f._emit("c", f.isn_c, SYN, options=tcp_options())
    f._emit("c", f.isn_c, SYN, options=tcp_options(), dt=1.0)  # same ISN: the kernel retrying
    f._emit("s", f.isn_s, SYN | ACK, ack=f.isn_c + 1)
    f._emit("c", f.isn_c + 1, ACK)
    f.echo_exchange(b"late").close()
    return _write(tmp, "syn-rexmit", f)


def case_keepalive(tmp: Path) -> Path:
    """Windows keep-alives carry one filler byte at the last acknowledged offset minus one."""
    f = _flow()
    f.data("c", 0, A).ack("s")
    f.data("c", 9, b"\0", dt=2.0).ack("s")
    f.data("c", 10, B).ack("s").close()
    return _write(tmp, "keepalive", f)


def case_before_first_byte(tmp: Path) -> Path:
    """A copy that starts before the stream's first byte (a damaged or odd capture): its bytes
    before offset 0 are not part of the stream; its offset is Wireshark's relative seq - 1 (mod 2^32)."""
    f = _flow()
    f.data("c", 0, A).data("c", -5, b"x" * 5 + A[:5], dt=0.3).data("c", -30, b"y" * 10, dt=0.3)
    f.data("c", 10, B).ack("s").close()
    return _write(tmp, "before-first", f)


def case_fast_retransmission(tmp: Path) -> Path:
    """Segment [10,20) lost past the capture point; two duplicate ACKs ask for it and it is sent
    again at once, within the out-of-order time (the iRTT): Wireshark calls it a (fast)
    retransmission, checking that before out-of-order (tcp_analyze_sequence_number)."""
    f = _flow()
    f.data("c", 0, A).ack("s")
    f.data("c", 10, B, dt=0.0002).data("c", 20, C, dt=0.0002).data("c", 30, D, dt=0.0002)
    for _ in range(2):
        f._emit("s", f.isn_s + 1, ACK, ack=f.isn_c + 11, dt=0.0001)  # duplicate ACKs for offset 10
    f.data("c", 10, B, dt=0.0005)
    f.ack("s").close()
    return _write(tmp, "fast-rexmit", f)


def case_one_dup_ack_is_out_of_order(tmp: Path) -> Path:
    """As fast_retransmission with a single duplicate ACK: not enough, so out-of-order (Wireshark)."""
    f = _flow()
    f.data("c", 0, A).ack("s")
    f.data("c", 10, B, dt=0.0002).data("c", 20, C, dt=0.0002)
    f._emit("s", f.isn_s + 1, ACK, ack=f.isn_c + 11, dt=0.0001)
    f.data("c", 10, B, dt=0.0005)
    f.ack("s").close()
    return _write(tmp, "one-dup-ack", f)


def case_fast_retransmission_too_late(tmp: Path) -> Path:
    """Two duplicate ACKs, but the copy comes 25 ms after the last one (Wireshark's bound is 20 ms)
    and within the out-of-order time (an iRTT of 60 ms): out-of-order."""
    f = TcpFlow(step=0.03)
    f.handshake()
    f.step = 0.001
    f.data("c", 0, A).ack("s")
    f.data("c", 10, B, dt=0.0002).data("c", 20, C, dt=0.0002).data("c", 30, D, dt=0.0002)
    for _ in range(2):
        f._emit("s", f.isn_s + 1, ACK, ack=f.isn_c + 11, dt=0.0001)
    f.data("c", 10, B, dt=0.025)
    f.ack("s").close()
    return _write(tmp, "fast-too-late", f)


def case_synack_written_first(tmp: Path) -> Path:
    """Two capture buffers: the SYN-ACK was written to the file before the SYN (times unchanged)."""
    f = _flow()
    f.echo_exchange(b"two buffers").close()
    recs = f.recs()
    recs[0], recs[1] = recs[1], recs[0]
    return write_pcap(tmp / "synack-first.pcap", recs)


def case_synack_with_data(tmp: Path) -> Path:
    """A SYN-ACK that carries data (a server greeting sent with TCP Fast Open); the client's ACK
    acknowledges the SYN and those bytes."""
    f = TcpFlow()
    f._emit("c", f.isn_c, SYN, options=tcp_options())
    f._emit("s", f.isn_s, SYN | ACK | PSH, payload=b"220 ready\r\n", options=tcp_options(), ack=f.isn_c + 1)
    f.sent["s"] = 11
    f._emit("c", f.isn_c + 1, ACK)
    f.data("c", 0, b"hello").data("s", 11, b"hello").ack("c").close()
    return _write(tmp, "synack-data", f)


CASES: dict[str, Callable[[Path], Path]] = {
    "retransmission": case_retransmission,
    "conflicting_retransmission": case_conflicting_retransmission,
    "out_of_order": case_out_of_order,
    "conflicting_ooo_copies": case_conflicting_ooo_copies,
    "in_order_supersedes": case_in_order_supersedes,
    "partial_overlap": case_partial_overlap,
    "wraparound": case_wraparound,
    "gap": case_gap,
    "capture_duplicate": case_capture_duplicate,
    "two_interfaces": case_two_interfaces,
    "two_interfaces_interleaved": case_two_interfaces_interleaved,
    "any_sll2": case_any_sll2,
    "port_reuse": case_port_reuse,
    "midstream": case_midstream,
    "ipv6": case_ipv6,
    "reset": case_reset,
    "zero_window_probe": case_zero_window_probe,
    "syn_retransmission": case_syn_retransmission,
    "keepalive": case_keepalive,
    "before_first_byte": case_before_first_byte,
    "fast_retransmission": case_fast_retransmission,
    "one_dup_ack": case_one_dup_ack_is_out_of_order,
    "fast_retransmission_too_late": case_fast_retransmission_too_late,
    "synack_written_first": case_synack_written_first,
    "synack_with_data": case_synack_with_data,
}


def _one(tmp: Path, name: str) -> tuple[TcpResult, bytes, bytes]:
    res = analyse(CASES[name](tmp))
    assert len(res.connections) == 1, res.connections
    c2s, s2c = res.streams[0]
    return res, c2s, s2c


# -- the rules ----------------------------------------------------------------------------------

def test_retransmission_with_same_bytes_is_delivered_once(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "retransmission")
    a = res.connections[0].anomalies
    assert c2s == A + B
    assert (a.retransmissions, a.out_of_order, a.overlap_conflicts, a.capture_duplicates) == (1, 0, 0, 0)
    assert [n.tcp_analysis for n in res.frames.values()] == [None, None, "retransmission"]
    assert "T" in res.connections[0].history


def test_conflicting_retransmission_keeps_delivered_bytes(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "conflicting_retransmission")
    assert c2s == A + B
    assert res.connections[0].anomalies.overlap_conflicts == 1
    assert [(w.code, w.frame) for w in res.warnings] == [("tcp-overlap-conflict", 6)]


def test_out_of_order_segment_is_put_in_place(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "out_of_order")
    a = res.connections[0].anomalies
    assert c2s == A + B + C
    assert (a.out_of_order, a.retransmissions, a.gaps) == (1, 0, 0)
    notes = list(res.frames.values())
    assert [(n.offset, n.len, n.tcp_analysis) for n in notes] == [(0, 10, None), (20, 10, None), (10, 10, "out_of_order")]


def test_first_queued_out_of_order_copy_wins(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "conflicting_ooo_copies")
    assert c2s == A + B + C
    assert res.connections[0].anomalies.overlap_conflicts == 1


def test_in_order_segment_supersedes_queued_overlap(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "in_order_supersedes")
    assert c2s == A + B + b"Q" * 5
    assert res.connections[0].anomalies.overlap_conflicts == 1


def test_partial_overlap_adds_only_new_bytes(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "partial_overlap")
    assert c2s == A + B
    assert res.connections[0].anomalies.overlap_conflicts == 1  # bytes 5..10 differ: 'a' vs 'A'
    assert res.connections[0].bytes.client_to_server == 20


def test_sequence_wraparound(tmp_path: Path) -> None:
    res, c2s, s2c = _one(tmp_path, "wraparound")
    assert c2s == A + B + C + D and s2c == A + B + C + D
    c = res.connections[0]
    assert c.echo.verified and c.echo.echoed_bytes == 40
    assert [n.offset for n in res.frames.values()] == [0, 20, 10, 30, 0, 20]


def test_gap_is_skipped_never_filled(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "gap")
    c = res.connections[0]
    assert c2s == A + C + D
    assert c.anomalies.gaps == 1
    assert c.bytes.client_to_server == 30
    assert c.sha256.client_to_server == hashlib.sha256(A + C + D).hexdigest()
    assert [(w.code, w.frame) for w in res.warnings] == [("tcp-gap", 6)]  # the server's ACK past the hole
    assert c.history == "ShADGaFf"  # Zeek's G: a content gap in the client's stream, seen at the ACK past it


def test_unacknowledged_bytes_behind_a_gap_stay_undelivered(tmp_path: Path) -> None:
    f = _flow()
    f.data("c", 0, A).data("c", 20, C)
    res = analyse(_write(tmp_path, "tail-gap", f))
    assert res.streams[0][0] == A
    assert res.connections[0].anomalies.gaps == 1


def test_capture_duplicates_are_not_retransmissions(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "capture_duplicate")
    a = res.connections[0].anomalies
    assert c2s == A + B
    assert (a.capture_duplicates, a.retransmissions, a.out_of_order) == (2, 0, 0)
    assert [n.tcp_analysis for n in res.frames.values()] == [None, "duplicate", None]
    assert res.connections[0].segments.client_to_server == 2
    assert [(w.code, w.frame) for w in res.warnings] == [("tcp-capture-duplicate", 5)]
    assert "2 frame(s)" in res.warnings[0].message


@pytest.mark.parametrize("name", ["two_interfaces", "two_interfaces_interleaved", "any_sll2"])
def test_every_frame_captured_twice(tmp_path: Path, name: str) -> None:
    res = analyse(CASES[name](tmp_path))
    assert len(res.connections) == 1
    c = res.connections[0]
    packets = 9  # handshake, request, echo, ACK, FIN, FIN, ACK: every one seen twice
    assert c.anomalies.capture_duplicates == packets
    assert c.anomalies.retransmissions == 0 and c.anomalies.out_of_order == 0
    assert c.echo.verified and c.state == "SF"
    msg = b"ping" if name == "any_sll2" else b"hello world"
    assert res.streams[0] == (msg, msg)


def test_port_reuse_starts_a_new_connection(tmp_path: Path) -> None:
    res = analyse(CASES["port_reuse"](tmp_path))
    assert [c.id for c in res.connections] == [0, 1]
    assert [c.client_no for c in res.connections] == [1, 2]
    assert res.streams[0] == (b"first", b"first") and res.streams[1] == (b"second", b"second")
    assert all(c.state == "SF" and c.echo.verified for c in res.connections)


def test_midstream_capture(tmp_path: Path) -> None:
    res, c2s, s2c = _one(tmp_path, "midstream")
    c = res.connections[0]
    assert (c.client.port, c.server.port) == (40000, 10000)
    assert c2s == s2c == b"mid-stream data"
    assert c.state == "OTH" and c.handshake.syn_frame is None and not c.handshake.complete
    assert c.echo.verified and c.echo.wait_s is None
    assert [n.offset for n in res.frames.values()] == [0, 0, 11, 11]


def test_ipv6(tmp_path: Path) -> None:
    res, c2s, s2c = _one(tmp_path, "ipv6")
    c = res.connections[0]
    assert c.client.ip == "::1" and c2s == s2c == b"over IPv6" and c.echo.verified


def test_zero_window_probe_is_not_a_retransmission_of_new_data(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "zero_window_probe")
    assert c2s == A + B
    assert [(n.offset, n.len, n.tcp_analysis) for n in res.frames.values()] == [(0, 10, None), (10, 1, None), (10, 10, None)]
    assert res.connections[0].anomalies.retransmissions == 0


def test_snaplen_cut_payload_is_a_gap(tmp_path: Path) -> None:
    f = _flow()
    f.data("c", 0, A).data("c", 10, B).ack("s")
    recs = f.recs()
    cut = recs[3]  # the segment carrying A, cut 4 bytes short by the snap length
    recs[3] = Rec(cut.data[:-4], cut.t, 0, orig_len=len(cut.data))
    res = analyse(write_pcap(tmp_path / "snap.pcap", recs))
    assert res.streams[0][0] == A[:6] + B
    assert res.connections[0].anomalies.gaps == 1
    assert res.frames["4"].len == 6  # captured bytes, as the plugin shows (tcp.len says 10)


def test_production_path_keeps_no_stream(tmp_path: Path) -> None:
    res = analyse(CASES["out_of_order"](tmp_path), keep=False)
    assert res.streams is None
    assert res.connections[0].sha256.client_to_server == hashlib.sha256(A + B + C).hexdigest()
    assert res.connections[0].preview.client_to_server == (A + B + C).decode()


def test_memory_is_bounded_by_what_is_outstanding() -> None:
    """A 40 MB stream echoed in order keeps only the comparison window, not the stream."""
    from reporter.analyses.reassembly import WINDOW2
    from reporter.reading.packet import Packet

    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    c, s = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    chunk = bytes(range(256)) * 16
    tcp.feed(Packet(1, 0, 0, 4, c, s, 6, 1, 40000, 10000, 100, 0, 0x02))
    tcp.feed(Packet(2, 1, 0, 4, s, c, 6, 1, 10000, 40000, 900, 101, 0x12))
    tcp.feed(Packet(3, 2, 0, 4, c, s, 6, 2, 40000, 10000, 101, 901, ACK))
    no = 4
    for i in range(10000):
        off = i * len(chunk)
        tcp.feed(Packet(no, no, 0, 4, c, s, 6, no, 40000, 10000, (101 + off) & 0xFFFFFFFF, 901, PSH | ACK, 512, b"", chunk))
        tcp.feed(Packet(no + 1, no + 1, 0, 4, s, c, 6, no, 10000, 40000, (901 + off) & 0xFFFFFFFF,
                        (101 + off + len(chunk)) & 0xFFFFFFFF, PSH | ACK, 512, b"", chunk))
        no += 2
    conn = tcp.conns[0]
    assert len(conn.c.win) <= WINDOW2 and len(conn.s.win) <= WINDOW2
    assert len(conn.echo.buf) == 0 and not conn.c.queue
    res = tcp.finish(0)
    assert res.connections[0].echo.verified and res.connections[0].echo.echoed_bytes == 10000 * len(chunk)


def test_out_of_order_queue_is_bounded() -> None:
    """Segments behind a hole nobody ACKs past: after 4 MiB queued the hole is skipped (a gap)."""
    from reporter.analyses.reassembly import QUEUE_BYTES
    from reporter.reading.packet import Packet

    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    c, s = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    tcp.feed(Packet(1, 0, 0, 4, c, s, 6, 1, 40000, 10000, 100, 0, 0x02))
    chunk = b"q" * 1000
    for i in range(6000):  # offset 0..1000 never arrives
        tcp.feed(Packet(2 + i, 1 + i, 0, 4, c, s, 6, 2 + i, 40000, 10000, 101 + 1000 * (i + 1), 0, PSH, 512, b"", chunk))
        assert tcp.conns[0].c.qbytes <= QUEUE_BYTES
    res = tcp.finish(0)
    conn = res.connections[0]
    assert conn.anomalies.gaps >= 1 and conn.bytes.client_to_server >= 6000 * 1000 - QUEUE_BYTES - 1000


def test_keepalive_filler_byte_is_not_a_conflict(tmp_path: Path) -> None:
    res, c2s, _ = _one(tmp_path, "keepalive")
    a = res.connections[0].anomalies
    assert c2s == A + B
    assert (a.overlap_conflicts, a.retransmissions, a.out_of_order) == (0, 0, 0)
    assert [(k, n.tcp_analysis) for k, n in res.frames.items()] == [("4", None), ("8", None)]  # none for it


def test_copy_from_before_the_first_byte(tmp_path: Path) -> None:
    """Bytes before offset 0 are not stream bytes; the frames keep a note with Wireshark's offset."""
    res, c2s, _ = _one(tmp_path, "before_first_byte")
    a = res.connections[0].anomalies
    assert c2s == A + B
    assert (a.retransmissions, a.overlap_conflicts, a.gaps) == (2, 0, 0)
    assert [(k, n.offset, n.len, n.tcp_analysis) for k, n in res.frames.items()] == [
        ("4", 0, 10, None), ("5", (1 << 32) - 5, 10, "retransmission"), ("6", (1 << 32) - 30, 10, "retransmission"),
        ("7", 10, 10, None)]
