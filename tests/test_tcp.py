"""Connections: who is the client, handshake, close, Zeek conn_state/history, numbering, schema."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import jsonschema
import pytest

from reporter.analyses.conn import iter_tcp_options
from reporter.analyses.tcp import TcpAnalysis, parse_options
from reporter.reading.capture import iter_packets, open_capture
from reporter.reading.packet import Packet
from tests.conftest import LAB_SERVICES
from tests.craft import (
    ACK,
    FIN,
    LAB_MESSAGE,
    RST,
    SYN,
    TcpFlow,
    merge,
    tcp_options,
    write_pcap,
)
from tests.test_reassembly import CASES, analyse

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "reporter/schema/report.schema.json").read_text())


def _conn(tmp: Path, f: TcpFlow, name: str = "c.pcap"):
    res = analyse(write_pcap(tmp / name, f.recs()))
    assert len(res.connections) == 1
    return res.connections[0]


def test_handshake_frames_rtt_and_syn_options(tmp_path: Path) -> None:
    f = TcpFlow(step=0.0005)
    f.handshake(options=tcp_options(mss=1460, wscale=7, sack_ok=True, timestamps=(12345, 0)))
    f.echo_exchange(LAB_MESSAGE).close()
    c = _conn(tmp_path, f)
    hs = c.handshake
    assert (hs.syn_frame, hs.synack_frame, hs.ack_frame, hs.complete) == (1, 2, 3, True)
    assert hs.syn_time_s == 0.0 and hs.rtt_ms == pytest.approx(1.0)  # SYN -> handshake ACK
    assert (hs.options.mss, hs.options.wscale, hs.options.sack_ok, hs.options.timestamps) == (1460, 7, True, True)
    assert (c.close.first_fin_by, c.close.reset) == ("client", False)
    assert c.close.end_time_s == pytest.approx(0.0045)
    assert (c.bytes.client_to_server, c.bytes.server_to_client) == (46, 46)
    assert (c.segments.client_to_server, c.segments.server_to_client) == (1, 2)


def test_options_parser_stops_on_bad_lengths() -> None:
    raw = b"\x02\x04\x05\xb4\x01\x03\x03\x02\x04\x02\x08\x0a" + bytes(range(8)) + b"\x05\x00"
    o = parse_options(raw)
    assert (o.mss, o.wscale, o.sack_ok, o.timestamps) == (1460, 2, True, True)
    assert list(iter_tcp_options(raw)) == [(2, b"\x05\xb4"), (3, b"\x02"), (4, b""), (8, bytes(range(8)))]
    assert list(iter_tcp_options(b"\x01\x08\x0a\x00\x00")) == [(8, b"\x00\x00")]  # cut short: body as far as it goes
    assert list(iter_tcp_options(b"\x02\x04\x05\xb4\x00\x03\x03\x02")) == [(2, b"\x05\xb4")]  # End of Option List
    assert parse_options(b"\x02") .mss is None


def _states(tmp: Path, build) -> tuple[str, str]:
    f = TcpFlow()
    build(f)
    c = _conn(tmp, f)
    return c.state, c.history


@pytest.mark.parametrize(("name", "build", "state", "history"), [
    ("normal", lambda f: f.handshake().echo_exchange(LAB_MESSAGE).close(), "SF", "ShADdFf"),
    ("syn only", lambda f: f._emit("c", f.isn_c, SYN), "S0", "S"),
    ("rejected", lambda f: (f._emit("c", f.isn_c, SYN), f._emit("s", 0, RST | ACK, ack=f.isn_c + 1)), "REJ", "Sr"),
    ("server reset", lambda f: f.handshake().data("c", 0, b"x").rst("s"), "RSTR", "ShADr"),
    ("client reset", lambda f: f.handshake().data("c", 0, b"x").rst("c"), "RSTO", "ShADR"),
    ("syn then reset", lambda f: (f._emit("c", f.isn_c, SYN), f._emit("c", f.isn_c + 1, RST)), "RSTOS0", "SR"),
    ("half open", lambda f: (f._emit("c", f.isn_c, SYN), f._emit("c", f.isn_c + 1, FIN | ACK, ack=1)), "SH", "SF"),
    ("established", lambda f: f.handshake().echo_exchange(b"hi"), "S1", "ShADd"),
    ("client closed", lambda f: f.handshake().data("c", 0, b"hi").fin("c"), "S2", "ShADF"),
    ("server closed", lambda f: f.handshake().data("s", 0, b"hi").fin("s"), "S3", "ShAdf"),
    ("midstream", lambda f: f.data("c", 0, b"hi").data("s", 0, b"hi"), "OTH", "Dd"),
    ("midstream closed", lambda f: f.data("c", 0, b"hi").data("s", 0, b"hi").close(), "SF", "DdFfA"),
])
def test_zeek_state_and_history(tmp_path: Path, name: str, build, state: str, history: str) -> None:
    assert _states(tmp_path, build) == (state, history), name


def test_retransmissions_in_history_on_zeek_log_scale(tmp_path: Path) -> None:
    f = TcpFlow().handshake().data("c", 0, b"x" * 10)
    for _ in range(10):
        f.data("c", 0, b"x" * 10, dt=0.3)
    f.ack("s")
    c = _conn(tmp_path, f)
    assert c.anomalies.retransmissions == 10
    assert c.history == "ShADTTa"  # 1st and 10th retransmission


def test_reset_close(tmp_path: Path) -> None:
    c = _conn(tmp_path, TcpFlow().handshake().data("c", 0, b"x").rst("s"))
    assert c.close.reset and c.close.first_fin_by is None


def test_client_without_syn_is_the_side_off_the_lab_port(tmp_path: Path) -> None:
    f = TcpFlow(cport=50000, sport=10000)
    f.data("s", 0, b"late echo").data("c", 9, b"more")  # first frame comes from the server
    c = _conn(tmp_path, f)
    assert (c.client.port, c.server.port, c.service) == (50000, 10000, "echo")
    assert c.handshake.syn_frame is None


def test_client_without_syn_off_lab_ports_is_the_higher_port(tmp_path: Path) -> None:
    f = TcpFlow(cport=51000, sport=8080)
    f.data("s", 0, b"HTTP/1.1 200 OK\r\n")
    c = _conn(tmp_path, f)
    assert (c.client.port, c.server.port, c.service) == (51000, 8080, None)


def test_syn_ack_first_makes_its_receiver_the_client(tmp_path: Path) -> None:
    f = TcpFlow(cport=40000, sport=7777)
    f._emit("s", f.isn_s, SYN | ACK, ack=f.isn_c + 1)
    f._emit("c", f.isn_c + 1, ACK)
    c = _conn(tmp_path, f)
    assert (c.client.port, c.server.port) == (40000, 7777)


def test_ids_follow_first_packets_and_client_no_counts_per_server_endpoint(tmp_path: Path) -> None:
    flows = [
        TcpFlow(client="10.0.0.2", server="10.0.0.1", cport=40001, t=1.0).handshake().echo_exchange(b"a").close(),
        TcpFlow(client="10.0.0.3", server="10.0.0.1", cport=40002, t=1.0005).handshake().echo_exchange(b"b").close(),
        TcpFlow(client="10.0.0.2", server="10.0.0.1", cport=40003, sport=32444, t=1.0007).handshake().close(),
        TcpFlow(client="10.0.0.2", server="10.0.0.1", cport=40004, t=2.0).handshake().close(),
    ]
    res = analyse(write_pcap(tmp_path / "many.pcap", merge(*(f.recs() for f in flows))))
    got = [(c.id, c.client.port, c.server.port, c.client_no, c.service) for c in res.connections]
    assert got == [(0, 40001, 10000, 1, "echo"), (1, 40002, 10000, 2, "echo"), (2, 40003, 32444, 1, "file-echo"),
                   (3, 40004, 10000, 3, "echo")]


def test_frames_only_when_asked_and_only_on_lab_ports(tmp_path: Path) -> None:
    lab = TcpFlow(cport=40001).handshake().echo_exchange(b"lab").close()
    web = TcpFlow(cport=40002, sport=80, t=2.0).handshake().echo_exchange(b"GET /").close()
    path = write_pcap(tmp_path / "mixed.pcap", merge(lab.recs(), web.recs()))
    assert analyse(path, frames=False).frames is None
    res = analyse(path)
    assert {n.conn for n in res.frames.values()} == {0}
    assert len(res.frames) == 2 and len(res.connections) == 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_connections_and_frames_validate_against_the_report_schema(tmp_path: Path, name: str) -> None:
    res = analyse(CASES[name](tmp_path), keep=False)
    conn_schema = SCHEMA["properties"]["connections"]
    jsonschema.validate([asdict(c) for c in res.connections], conn_schema)
    jsonschema.validate({k: asdict(v) for k, v in res.frames.items()}, SCHEMA["properties"]["frames"])
    json.dumps([asdict(c) for c in res.connections])  # plain JSON types only


def test_feed_rate_on_lab_traffic() -> None:
    """Speed guard for the hot path: 100k in-order lab packets (the benchmark uses 1M)."""
    pkts = []
    c, s = bytes([172, 16, 16, 102]), bytes([172, 16, 16, 101])
    no = 0
    for conn in range(200):
        cp = 30000 + conn
        ic, is_ = conn * 100003 & 0xFFFFFFFF, conn * 7919 & 0xFFFFFFFF
        seq = [
            (c, s, cp, 10000, ic, 0, SYN, b""), (s, c, 10000, cp, is_, ic + 1, SYN | ACK, b""),
            (c, s, cp, 10000, ic + 1, is_ + 1, ACK, b""),
        ]
        for k in range(100):
            co, so = ic + 1 + 46 * k, is_ + 1 + 46 * k
            seq += [(c, s, cp, 10000, co, so, ACK | 8, LAB_MESSAGE), (s, c, 10000, cp, so, co + 46, ACK | 8, LAB_MESSAGE[:32]),
                    (s, c, 10000, cp, so + 32, co + 46, ACK | 8, LAB_MESSAGE[32:]), (c, s, cp, 10000, co + 46, so + 46, ACK, b"")]
        for src, dst, sp, dp, sq, ak, fl, pl in seq:
            no += 1
            pkts.append(Packet(no, no * 1000, 0, 4, src, dst, 6, no & 0xFFFF, sp, dp, sq & 0xFFFFFFFF, ak & 0xFFFFFFFF,
                               fl, 512, b"", pl))
    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    t = time.perf_counter()
    for p in pkts:
        tcp.feed(p)
    rate = len(pkts) / (time.perf_counter() - t)
    res = tcp.finish(0)
    assert all(x.echo.verified and x.echo.echoed_bytes == 4600 for x in res.connections)
    assert rate > 100_000, f"feed() at {rate:,.0f} packets/s"


def test_finished_connections_give_back_their_windows_and_frames(tmp_path: Path) -> None:
    """Many short connections one after another: memory follows the active ones, not all of them."""
    flows = [TcpFlow(cport=20000 + i, t=1.0 + i * 0.01, step=0.0001).handshake().echo_exchange(LAB_MESSAGE).close()
             for i in range(600)]
    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    from reporter.reading.capture import iter_packets, open_capture

    for pkt in iter_packets(open_capture(write_pcap(tmp_path / "many.pcap", merge(*(f.recs() for f in flows))))):
        tcp.feed(pkt)
    # the sweep at the 512th connection (t = 6.11 s) frees those silent for 200 ms: the first 491
    released = [c for c in tcp.conns[:491] if not c.c.win and not c.s.win and all(p is None for p in c.c.recent)]
    assert len(released) == 491
    assert all(c.c.win for c in tcp.conns[-10:])  # the recent ones keep theirs
    res = tcp.finish(0)
    assert all(c.echo.verified and c.state == "SF" for c in res.connections)


def test_retransmitted_syn_is_the_same_connection(tmp_path: Path) -> None:
    f = TcpFlow()
    f._emit("c", f.isn_c, SYN, options=tcp_options())
    f._emit("c", f.isn_c, SYN, options=tcp_options(), dt=1.0)  # the kernel's SYN retransmission, same ISN
    f._emit("s", f.isn_s, SYN | ACK, ack=f.isn_c + 1)
    f._emit("c", f.isn_c + 1, ACK)
    f.echo_exchange(b"late").close()
    c = _conn(tmp_path, f)
    assert (c.handshake.syn_frame, c.handshake.synack_frame, c.handshake.ack_frame) == (1, 3, 4)
    assert c.handshake.rtt_ms == pytest.approx(2.0)  # from the answered (last) SYN, as Wireshark's iRTT
    assert c.handshake.syn_time_s == 0.0 and c.echo.wait_s > 1  # the client waited since its first SYN
    assert c.history.startswith("Sh") and c.history.count("S") == 1 and c.state == "SF"


def test_a_lab_port_is_annotated_with_the_service_the_catalogue_gives_it(tmp_path: Path) -> None:
    f = TcpFlow(sport=5555).handshake().echo_exchange(b"x").close()
    cap = write_pcap(tmp_path / "p3.pcap", f.recs())
    tcp = TcpAnalysis({10000: "echo", 5555: "time"}, frames=True)
    for pkt in iter_packets(open_capture(cap)):
        tcp.feed(pkt)
    res = tcp.finish(0)
    assert res.connections[0].service == "time" and len(res.frames) == 2
    other = analyse(cap, ports=(10000, 32444))  # not a lab port: no service, no frame notes
    assert other.connections[0].service is None and other.frames == {}


def test_zero_window_counts_on_every_kind_of_packet() -> None:
    """Zeek's W/w: a zero window on an in-order data segment (the fast path) counts as on a pure ACK."""
    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    c, s = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    tcp.feed(Packet(1, 0, 0, 4, c, s, 6, 1, 40000, 10000, 100, 0, SYN, 512))
    tcp.feed(Packet(2, 1, 0, 4, s, c, 6, 1, 10000, 40000, 900, 101, SYN | ACK, 512))
    tcp.feed(Packet(3, 2, 0, 4, c, s, 6, 2, 40000, 10000, 101, 901, ACK, 512))
    tcp.feed(Packet(4, 3, 0, 4, c, s, 6, 3, 40000, 10000, 101, 901, ACK | 8, 0, b"", b"hi"))  # in order, window 0
    tcp.feed(Packet(5, 4, 0, 4, s, c, 6, 2, 10000, 40000, 901, 103, ACK, 0))  # pure ACK, window 0
    assert tcp.finish(0).connections[0].history == "ShAWDwa"
