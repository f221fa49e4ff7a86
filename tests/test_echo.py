"""Echo checking, exchanges, wait_s and queued_behind on lab-like captures (tasks T2-T4)."""
from __future__ import annotations

from pathlib import Path

import pytest

from reporter.analyses.echo import EchoCheck
from tests.conftest import LAB_SERVICES
from tests.craft import ACK, LAB_MESSAGE, TcpFlow, merge, write_pcap
from tests.test_reassembly import analyse

SERVER = "172.16.16.101"


def _lab_flow(**kw) -> TcpFlow:
    f = TcpFlow(client="172.16.16.102", server=SERVER, **kw)
    f.handshake()
    return f


def test_lab_message_echoed_as_32_and_14_is_verified(tmp_path: Path) -> None:
    f = _lab_flow()
    f.echo_exchange(LAB_MESSAGE).close()
    res = analyse(write_pcap(tmp_path / "t2.pcap", f.recs()))
    c = res.connections[0]
    assert c.service == "echo" and c.client_no == 1
    assert c.echo.verified and c.echo.echoed_bytes == 46 and c.echo.first_mismatch_offset is None
    assert c.echo.first_request_time_s == pytest.approx(0.003) and c.echo.first_echo_time_s == pytest.approx(0.004)
    assert c.echo.wait_s == pytest.approx(0.004)  # client SYN (t=0) -> first echo segment
    assert c.echo.queued_behind is None
    assert len(c.exchanges) == 1
    ex = c.exchanges[0]
    assert (ex.request_frames, ex.echo_frames, ex.bytes) == ([4], [5, 6], 46)
    assert ex.request_time_s == pytest.approx(0.003) and ex.echo_time_s == pytest.approx(0.004)
    notes = res.frames
    assert [(k, n.role, n.offset, n.len, n.echo_ok) for k, n in notes.items()] == [
        ("4", "request", 0, 46, None), ("5", "echo", 0, 32, True), ("6", "echo", 32, 14, True)]
    assert c.preview.server_to_client == LAB_MESSAGE.decode()


def test_mismatch_gives_the_first_differing_offset(tmp_path: Path) -> None:
    f = _lab_flow()
    f.data("c", 0, LAB_MESSAGE)
    wrong = LAB_MESSAGE[:40] + b"x" + LAB_MESSAGE[41:]
    f.data("s", 0, wrong[:32]).data("s", 32, wrong[32:]).ack("c").close()
    res = analyse(write_pcap(tmp_path / "bad.pcap", f.recs()))
    c = res.connections[0]
    assert not c.echo.verified
    assert c.echo.first_mismatch_offset == 40 and c.echo.echoed_bytes == 40
    assert [n.echo_ok for n in res.frames.values()] == [None, True, False]


def test_short_echo_is_not_verified(tmp_path: Path) -> None:
    f = _lab_flow()
    f.data("c", 0, LAB_MESSAGE).data("s", 0, LAB_MESSAGE[:32]).ack("c").close()
    c = analyse(write_pcap(tmp_path / "short.pcap", f.recs())).connections[0]
    assert not c.echo.verified and c.echo.echoed_bytes == 32 and c.echo.first_mismatch_offset is None


def test_no_echo_at_all(tmp_path: Path) -> None:
    f = _lab_flow()
    f.data("c", 0, LAB_MESSAGE).ack("s").close()
    c = analyse(write_pcap(tmp_path / "none.pcap", f.recs())).connections[0]
    assert not c.echo.verified and c.echo.echoed_bytes == 0
    assert c.echo.first_echo_time_s is None and c.echo.wait_s is None
    assert [(x.request_frames, x.echo_frames) for x in c.exchanges] == [([4], [])]


def test_three_sends_three_exchanges(tmp_path: Path) -> None:
    f = _lab_flow()
    for _ in range(3):
        f.t += 3.0
        f.echo_exchange(LAB_MESSAGE)
    f.close()
    c = analyse(write_pcap(tmp_path / "three.pcap", f.recs())).connections[0]
    assert c.echo.verified and c.echo.echoed_bytes == 3 * 46
    assert [x.bytes for x in c.exchanges] == [46, 46, 46]
    assert [len(x.echo_frames) for x in c.exchanges] == [2, 2, 2]
    assert c.exchanges[1].request_time_s - c.exchanges[0].request_time_s == pytest.approx(3.004, abs=1e-3)


def test_file_echo_over_several_segments(tmp_path: Path) -> None:
    text = b"Pemrograman Jaringan - isi file yang dikirim.\n" * 30
    f = _lab_flow(sport=32444)
    for i in range(0, len(text), 500):
        f.data("c", i, text[i:i + 500])
    for i in range(0, len(text), 32):
        f.data("s", i, text[i:i + 32])
    f.ack("c").close()
    res = analyse(write_pcap(tmp_path / "t3.pcap", f.recs()))
    c = res.connections[0]
    assert c.service == "file-echo" and c.echo.verified and c.echo.echoed_bytes == len(text)
    assert c.segments.client_to_server == 3 and c.segments.server_to_client == (len(text) + 31) // 32
    assert len(c.exchanges) == 1 and len(c.exchanges[0].request_frames) == 3
    echoes = [n for n in res.frames.values() if n.role == "echo"]
    assert len(echoes) == c.segments.server_to_client and all(n.echo_ok for n in echoes)


def _t4(tmp: Path, serial: bool) -> Path:
    """Two clients, three sends each 3 s apart, against one server (serial: listen(1), one at a time)."""
    a = TcpFlow(client="172.16.16.102", server=SERVER, cport=40001, t=1.0, isn_c=1000, isn_s=5000)
    b = TcpFlow(client="172.16.16.103", server=SERVER, cport=40002, t=1.01, isn_c=77000, isn_s=99000)
    a.handshake()
    b.handshake()  # completes at once: the kernel's backlog accepts it
    for k in range(3):
        a.t = 1.02 + 3 * k
        a.echo_exchange(LAB_MESSAGE)
    a.t += 0.01
    a.close()
    for k in range(3):
        b.t = 1.03 + 3 * k
        b.data("c", 46 * k, LAB_MESSAGE)
        if serial:
            b.ack("s")  # the kernel ACKs, the program does not read yet
        else:
            b.data("s", 46 * k, LAB_MESSAGE[:32]).data("s", 46 * k + 32, LAB_MESSAGE[32:]).ack("c")
    if serial:
        b.t = a.t + 0.001  # served right after the first client's close
        for k in range(3):
            b.data("s", 46 * k, LAB_MESSAGE[:32], dt=0.0001).data("s", 46 * k + 32, LAB_MESSAGE[32:], dt=0.0001)
        b.ack("c")
    b.t += 0.01
    b.close()
    return write_pcap(tmp / ("t4-serial.pcap" if serial else "t4-thread.pcap"), merge(a.recs(), b.recs()))


def test_t4_serial_server_second_client_queued_behind_first(tmp_path: Path) -> None:
    res = analyse(_t4(tmp_path, serial=True))
    a, b = res.connections
    assert (a.client.ip, b.client.ip) == ("172.16.16.102", "172.16.16.103")
    assert (a.client_no, b.client_no) == (1, 2)
    assert a.echo.verified and b.echo.verified
    assert a.echo.queued_behind is None and b.echo.queued_behind == a.id
    a_closed = 7.02 + 0.004 + 0.01 + 0.003  # A's third exchange (4 frames), pause, FIN/FIN/ACK
    b_syn = 1.01 + 0.001
    assert b.echo.wait_s == pytest.approx(a_closed + 0.001 + 0.0001 - b_syn, abs=2e-6)
    assert b.echo.wait_s > 6
    assert a.echo.wait_s < 0.1
    assert [(x.bytes, len(x.request_frames), len(x.echo_frames)) for x in b.exchanges] == [(46, 1, 2)] * 3
    t0 = 1.001  # the first frame: A's SYN
    assert all(x.echo_time_s > 7.03 - t0 for x in b.exchanges)  # every send waited for A's close
    assert [x.request_time_s for x in b.exchanges] == pytest.approx([1.031 - t0, 4.031 - t0, 7.031 - t0])
    echo_frames = [int(k) for k, n in res.frames.items() if n.conn == b.id and n.role == "echo"]
    assert min(echo_frames) > max(int(k) for k, n in res.frames.items() if n.conn == a.id)


def test_t4_threaded_server_nobody_queued(tmp_path: Path) -> None:
    res = analyse(_t4(tmp_path, serial=False))
    a, b = res.connections
    assert a.echo.verified and b.echo.verified
    assert a.echo.queued_behind is None and b.echo.queued_behind is None
    assert b.echo.wait_s < 0.1 and len(b.exchanges) == 3


def test_echo_check_streams_without_keeping_echoed_bytes() -> None:
    e = EchoCheck()

    class P:
        def __init__(self, no: int) -> None:
            self.no, self.ts = no, no * 1000

    e.request(0, b"abcdef", P(1))
    assert bytes(e.buf) == b"abcdef"
    e.answer(0, b"abc", P(2))
    assert bytes(e.buf) == b"def"
    e.answer(3, b"def", P(3))
    assert not e.buf and e.echoed == 6 and e.verified(6)
    e.answer(6, b"ghi", P(4))  # the server ahead of the client (capture order): kept, compared later
    e.request(6, b"ghX", P(5))
    assert e.mismatch == 8 and e.echoed == 8 and not e.verified(9)


def test_gap_in_the_request_is_neither_echoed_nor_a_mismatch() -> None:
    e = EchoCheck()

    class P:
        no, ts = 1, 0

    e.request(0, b"abc", P())
    e.request(3, None, 4)  # four request bytes the capture missed
    e.request(7, b"hij", P())
    e.answer(0, b"abcdefghij", P())
    assert e.mismatch is None and e.echoed == 6


def test_server_pure_acks_do_not_make_an_echo(tmp_path: Path) -> None:
    f = _lab_flow()
    f.data("c", 0, LAB_MESSAGE)
    f._emit("s", f.isn_s + 1, ACK)
    res = analyse(write_pcap(tmp_path / "ack.pcap", f.recs()))
    assert res.connections[0].echo.first_echo_time_s is None


@pytest.mark.parametrize(("port", "cap_mib", "warned"), [(10000, 4, True), (443, 0.0625, False)])
def test_unanswered_upload_stops_echo_checking_at_a_bound(port: int, cap_mib: float, warned: bool) -> None:
    """A client that sends megabytes nobody echoes: the kept bytes stay bounded (4 MiB on a lab
    port, 64 KiB elsewhere), the echo is not verified, and a lab connection says so in a warning."""
    from reporter.analyses.tcp import TcpAnalysis
    from reporter.reading.packet import Packet

    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    c, s = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
    tcp.feed(Packet(1, 0, 0, 4, c, s, 6, 1, 40000, port, 100, 0, 0x02))
    tcp.feed(Packet(2, 1, 0, 4, s, c, 6, 1, port, 40000, 900, 101, 0x12))
    tcp.feed(Packet(3, 2, 0, 4, c, s, 6, 2, 40000, port, 101, 901, ACK))
    chunk = b"u" * 65536
    for i in range(80):  # 5 MiB
        tcp.feed(Packet(4 + i, 3 + i, 0, 4, c, s, 6, 3 + i, 40000, port, 101 + i * len(chunk), 901, ACK | 8, 512, b"", chunk))
        assert len(tcp.conns[0].echo.buf) <= cap_mib * (1 << 20)
    res = tcp.finish(0)
    conn = res.connections[0]
    assert not conn.echo.verified and conn.bytes.client_to_server == 80 * len(chunk)
    assert [w.code for w in res.warnings] == (["echo-unchecked"] if warned else [])


def test_huge_gap_allocates_nothing() -> None:
    """A damaged sequence number can open a 2 GiB gap: echo checking stops, no placeholder bytes."""
    e = EchoCheck()

    class P:
        no, ts = 1, 0

    e.request(0, b"abc", P())
    e.request(3 + (1 << 31), b"def", P())
    assert e.stopped and not e.overflow and len(e.buf) == 0
