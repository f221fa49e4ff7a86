"""The rubric T1..T4 judged from report models: every status of every task, T4 serial vs concurrent,
and the evidence frames a grader jumps to (the TCP pass's side marks checked against a crafted capture)."""
from __future__ import annotations

from typing import Optional

import pytest

from reporter.analyses.conn import EvidenceFrames
from reporter.assignments.tugas1 import judge_tasks
from reporter.analyses.tcp import TcpAnalysis
from reporter.reading.capture import iter_packets, open_capture
from reporter.options import ReportOptions
from reporter.model import (
    CaptureInfo, Close, Connection, DnsLookup, Echo, Endpoint, Exchange, Handshake, PerDirection, Report,
)
from tests import craft
from tests.conftest import LAB_SERVICES

OPTS = ReportOptions()
SRV, M2, M3 = "172.16.16.101", "172.16.16.102", "172.16.16.103"


def report(dns=(), conns=(), duration: float = 60.0) -> Report:
    cap = CaptureInfo(path="x.pcap", sha256="0" * 64, format="pcap", duration_s=duration)
    return Report(capture=cap, dns=list(dns), connections=list(conns))


def lookup(qf: int, qtype: str, rf: Optional[int] = None, name: str = "www.its.ac.id", rcode: str = "NOERROR",
           answers=(), t: float = 0.0) -> DnsLookup:
    return DnsLookup(qf, rf, t, M2, "172.16.16.53", qf, name, qtype, rcode if rf else None,
                     list(answers) if rf else [], 1.0 if rf else None)


def conn(cid: int, client: str = M2, port: int = 10000, syn: int = 1, t0: float = 1.0, end: Optional[float] = 2.0,
         sent: int = 46, echoed: Optional[int] = None, verified: Optional[bool] = None, fin_by: Optional[str] = "client",
         reset: bool = False, complete: bool = True, client_no: int = 1, first_echo: Optional[float] = None,
         queued_behind: Optional[int] = None, wait: Optional[float] = None, cport: int = 40000,
         mismatch: Optional[int] = None) -> Connection:
    """A connection as the TCP analysis reports it; frames numbered syn, syn+1, syn+2, request syn+3, echo syn+4."""
    echoed = sent if echoed is None else echoed
    verified = (echoed == sent and sent > 0 and mismatch is None) if verified is None else verified
    first_echo = (t0 + 0.01) if first_echo is None and echoed else first_echo
    ex = [Exchange([syn + 3], [syn + 4] if echoed else [], t0 + 0.005, first_echo, sent)] if sent else []
    return Connection(
        id=cid, client=Endpoint(client, cport + cid), server=Endpoint(SRV, port), client_no=client_no,
        handshake=Handshake(syn, syn + 1 if complete else None, syn + 2 if complete else None, t0, 0.1, complete),
        close=Close(fin_by, reset, end),
        bytes=PerDirection(sent, echoed),
        echo=Echo(verified, echoed, mismatch, t0 + 0.005 if sent else None, first_echo,
                  wait if wait is not None else ((first_echo - t0) if first_echo else None), queued_behind),
        exchanges=ex,
    )


def task(rep: Report, tid: str, marks: Optional[EvidenceFrames] = None):
    return {t.id: t for t in judge_tasks(rep, OPTS, marks)}[tid]


# --- T1 -------------------------------------------------------------------------------------


def test_t1_pass_a_and_aaaa_one_answered_and_no_handshake_follows():
    t = task(report([lookup(1, "A", 3, answers=["103.94.189.5"]), lookup(2, "AAAA")]), "T1")
    assert (t.status, t.evidence_frames) == ("pass", [1, 2, 3])
    assert "no TCP handshake" in t.summary and "103.94.189.5" in t.summary


def test_t1_evidence_is_each_clients_first_a_and_aaaa_lookup():
    rows = [lookup(1, "A"), lookup(2, "A", 4), lookup(3, "AAAA", 5)] + \
        [lookup(10 + i, "A", 100 + i) for i in range(50)]  # a busy capture: many more lookups
    t = task(report(rows), "T1")
    assert (t.status, t.evidence_frames) == ("pass", [2, 3, 4, 5])


def test_t1_host_match_ignores_case_and_trailing_dot():
    t = task(report([lookup(1, "A", 3, name="WWW.its.ac.id."), lookup(2, "AAAA", 4, name="www.ITS.ac.id")]), "T1")
    assert t.status == "pass" and t.evidence_frames == [1, 2, 3, 4]


def test_t1_says_when_a_handshake_follows():
    c = conn(0, port=80, syn=5, t0=0.5)
    c.server.ip = "103.94.189.5"
    t = task(report([lookup(1, "A", 3, answers=["103.94.189.5"], t=0.1), lookup(2, "AAAA", 4, t=0.1)], [c]), "T1")
    assert t.status == "pass" and "follows (frame 5)" in t.summary


@pytest.mark.parametrize("rows, words", [
    ([lookup(1, "A", 2, answers=["103.94.189.5"])], "only A queried, no AAAA query"),
    ([lookup(1, "AAAA", 2)], "only AAAA queried, no A query"),
    ([lookup(1, "A"), lookup(2, "AAAA")], "A and AAAA queried but no response came"),
    ([lookup(1, "HTTPS", 2)], "only HTTPS queried, no A and AAAA query"),
])
def test_t1_partial(rows, words):
    t = task(report(rows), "T1")
    assert (t.status, t.evidence_frames) == ("partial", [1, 2])
    assert words in t.summary


def test_t1_absent_names_what_was_looked_up_instead():
    t = task(report([lookup(1, "A", 2, name="example.org")]), "T1")
    assert (t.status, t.evidence_frames) == ("absent", [])
    assert "example.org" in t.summary
    assert task(report(), "T1").status == "absent"


def test_t1_host_comes_from_the_options():
    rep = report([lookup(1, "A", 3, name="lab.test"), lookup(2, "AAAA", 4, name="lab.test")])
    assert {t.id: t for t in judge_tasks(rep, ReportOptions(host="lab.test"))}["T1"].status == "pass"


# --- T2 / T3 --------------------------------------------------------------------------------


def test_t2_pass_with_evidence():
    t = task(report(conns=[conn(0, syn=10)]), "T2")
    assert t.status == "pass"
    assert t.evidence_frames == [10, 11, 12, 13, 14]


@pytest.mark.parametrize("kw, status, words", [
    (dict(echoed=0), "partial", "nothing was echoed"),
    (dict(echoed=32), "partial", "only 32 of 46"),
    (dict(mismatch=3), "partial", "differs at byte 3"),
    (dict(reset=True, fin_by=None), "partial", "reset"),
    (dict(fin_by=None, end=None), "partial", "not closed"),
    (dict(sent=0), "fail", "no data"),
    (dict(complete=False, sent=0), "fail", "handshake did not complete"),
    (dict(complete=False), "partial", "no complete handshake"),  # capture started after the SYN
])
def test_t2_statuses(kw, status, words):
    t = task(report(conns=[conn(0, **kw)]), "T2")
    assert t.status == status and words in t.summary


def test_t2_absent_without_connection_to_its_port():
    t = task(report(conns=[conn(0, port=32444)]), "T2")
    assert (t.status, t.evidence_frames) == ("absent", [])


def test_t2_best_connection_counts_and_ports_come_from_options():
    rep = report(conns=[conn(0, port=5000, sent=0), conn(1, port=5000, syn=20)])
    t = {t.id: t for t in judge_tasks(rep, ReportOptions(port_overrides={"echo": 5000, "file-echo": 6000}))}["T2"]
    assert t.status == "pass" and 20 in t.evidence_frames and "2 connections" in t.summary


def test_t3_pass_needs_more_than_the_46_byte_message():
    assert task(report(conns=[conn(0, port=32444, sent=300)]), "T3").status == "pass"
    short = task(report(conns=[conn(0, port=32444, sent=46)]), "T3")
    assert short.status == "partial" and "only 46 bytes" in short.summary
    assert task(report(conns=[conn(0, port=32444, sent=300, echoed=100)]), "T3").status == "partial"


# --- T4 -------------------------------------------------------------------------------------


def serial_pair(second_client: str = M3) -> list[Connection]:
    """The lab's single-threaded server: #2 connects at 1.5 s, is ACKed, but served only after #1 closes at 7.5 s."""
    first = conn(0, M2, syn=1, t0=1.0, end=7.5, sent=138, client_no=1)
    second = conn(1, second_client, syn=4, t0=1.5, end=14.0, sent=138, client_no=2, first_echo=7.52,
                  queued_behind=0, wait=6.02)
    return [first, second]


def test_t4_serial_pass():
    t = task(report(conns=serial_pair()), "T4")
    assert (t.status, t.verdict) == ("pass", "serial")
    assert "client #2 (172.16.16.103) waited 6.02 s, served after client #1 closed" in t.summary
    assert {1, 4, 7, 8} <= set(t.evidence_frames)  # both SYNs, #2's request and its first echo


def test_t4_serial_found_from_times_when_queued_behind_is_missing():
    first, second = serial_pair()
    second.echo.queued_behind = None
    t = task(report(conns=[first, second]), "T4")
    assert (t.status, t.verdict) == ("pass", "serial")


def test_t4_concurrent_pass():
    first = conn(0, M2, syn=1, t0=1.0, end=7.5, sent=138, client_no=1)
    second = conn(1, M3, syn=4, t0=1.5, end=8.0, sent=138, client_no=2, first_echo=1.52)
    t = task(report(conns=[first, second]), "T4")
    assert (t.status, t.verdict) == ("pass", "concurrent")


def test_t4_partial_same_host():
    t = task(report(conns=serial_pair(second_client=M2)), "T4")
    assert (t.status, t.verdict) == ("partial", "serial") and "same host" in t.summary


def test_t4_partial_when_not_all_echoed():
    first, second = serial_pair()
    second.echo = Echo(False, 0, None, 1.505, None, None, None)
    t = task(report(conns=[first, second]), "T4")
    assert t.status == "partial" and "not every connection" in t.summary


def test_t4_absent_when_clients_do_not_overlap():
    first = conn(0, M2, syn=1, t0=1.0, end=2.0)
    second = conn(1, M3, syn=9, t0=3.0, end=4.0, client_no=2)
    assert task(report(conns=[first, second]), "T4").status == "absent"
    assert task(report(conns=[first]), "T4").status == "absent"


def test_t4_overlap_needs_the_same_server_endpoint():
    first = conn(0, M2, syn=1, t0=1.0, end=7.0)
    second = conn(1, M3, syn=4, t0=1.5, end=8.0, port=32444)
    t = task(report(conns=[first, second]), "T4")
    assert (t.status, t.verdict) == ("absent", None)


def test_t4_cross_host_overlap_found_past_same_host_neighbours():
    """M2 holds a long connection; two short M2 ones come and go; M3 connects while the first is open."""
    conns = [conn(0, M2, syn=1, t0=1.0, end=9.0), conn(1, M2, syn=5, t0=2.0, end=2.5, client_no=2),
             conn(2, M2, syn=9, t0=3.0, end=3.5, client_no=3), conn(3, M3, syn=13, t0=4.0, end=5.0, client_no=4)]
    t = task(report(conns=conns), "T4")
    assert (t.status, t.verdict) == ("pass", "concurrent")
    assert {1, 13} <= set(t.evidence_frames)  # the M2 connection still open and the M3 one


def test_t4_judges_thousands_of_connections_quickly():
    import time

    conns = [conn(i, f"172.16.{i % 8}.{i % 200 + 1}", syn=1 + 5 * i, t0=1.0 + i * 0.01, end=1.5 + i * 0.01,
                  client_no=i + 1) for i in range(6000)]
    t0 = time.perf_counter()
    t = task(report(conns=conns, duration=100.0), "T4")
    assert time.perf_counter() - t0 < 2.0
    assert (t.status, t.verdict) == ("pass", "concurrent") and t.summary.startswith("6000 overlapping")


def test_t4_open_connection_lasts_to_the_end_of_the_capture():
    first = conn(0, M2, syn=1, t0=1.0, end=None, fin_by=None)
    second = conn(1, M3, syn=4, t0=5.0, end=6.0, client_no=2)
    assert task(report(conns=[first, second], duration=10.0), "T4").status == "pass"


# --- evidence the model has no field for: FIN and the ACK of the request, noted in one pass


def flow_marks(path) -> tuple[EvidenceFrames, list, TcpAnalysis]:
    """The TCP analysis fed as reporter.pipeline feeds it, and its side marks; also every packet,
    by frame number - 1."""
    tcp = TcpAnalysis(LAB_SERVICES, frames=False)
    frames: list = []
    for pkt in iter_packets(open_capture(path)):
        frames.append(pkt)
        if pkt.proto == 6:
            tcp.feed(pkt)
    marks = tcp.finish(frames[0].ts).marks
    assert marks is not None
    return marks, frames, tcp


def test_flow_marks_find_the_fin_and_the_request_ack(tmp_path):
    one = craft.TcpFlow(client=M2, server=SRV, cport=40001, t=1.0)
    one.handshake().data("c", 0, craft.LAB_MESSAGE).ack("s")
    one.data("s", 0, craft.LAB_MESSAGE).ack("c")
    two = craft.TcpFlow(client=M3, server=SRV, cport=40002, t=1.5)
    two.handshake().data("c", 0, craft.LAB_MESSAGE).ack("s")  # ACKed at once by the kernel...
    one.t = 7.5
    one.close()
    two.t = 8.0
    two.data("s", 0, craft.LAB_MESSAGE).ack("c").close()  # ...echoed only after #1 closed
    path = craft.write_pcap(tmp_path / "t4.pcap", craft.merge(one.recs(), two.recs()))
    marks, frames, tcp = flow_marks(path)
    syns = [p.no for p in frames if p.flags == craft.SYN]
    assert len(syns) == 2 and [c.syn_frame for c in tcp.conns] == syns  # ids 0 and 1 as below

    def frame_of(cport: int, flags_mask: int, from_server: bool) -> int:
        return next(p.no for p in frames if (p.dport if from_server else p.sport) == cport and p.flags & flags_mask
                    and (not from_server or p.sport == 10000))

    assert marks.fin_frame(0) == frame_of(40001, craft.FIN, False)
    assert marks.fin_frame(1) == frame_of(40002, craft.FIN, False)
    ack2 = marks.request_ack_frame(1)
    p = frames[ack2 - 1]
    assert (p.sport, p.dport, p.payload, p.flags) == (10000, 40002, b"", craft.ACK)
    assert p.ack == two.isn_c + 1 + len(craft.LAB_MESSAGE)
    assert ack2 < marks.fin_frame(0)  # the request was ACKed long before #1 closed
    assert [c.wait for c in tcp.conns] == [0, 0]  # no ACK still awaited

    first, second = serial_pair()
    first.handshake.syn_frame, second.handshake.syn_frame = syns
    t = task(report(conns=[first, second]), "T4", marks)
    assert {ack2, marks.fin_frame(0)} <= set(t.evidence_frames)


def test_flow_marks_take_no_ack_of_a_fin_for_the_ack_of_a_request(tmp_path):
    """A client that closes without sending a byte: the server's FIN-ACK acknowledges the FIN, there
    was no request; a later connection on another port pair is still waited for and found."""
    idle = craft.TcpFlow(client=M2, server=SRV, cport=40003, t=1.0)
    idle.handshake().close()
    busy = craft.TcpFlow(client=M3, server=SRV, cport=40004, t=2.0)
    busy.handshake().data("c", 0, craft.LAB_MESSAGE).ack("s")
    path = craft.write_pcap(tmp_path / "idle.pcap", craft.merge(idle.recs(), busy.recs()))
    marks, frames, tcp = flow_marks(path)
    syns = [p.no for p in frames if p.flags == craft.SYN]
    assert [c.syn_frame for c in tcp.conns] == syns  # id 0: the idle client, id 1: the busy one
    assert marks.fin_frame(0) == next(p.no for p in frames if p.sport == 40003 and p.flags & craft.FIN)
    assert marks.request_ack_frame(0) is None
    assert marks.request_ack_frame(1) == frames[-1].no
    assert marks.fin_frame(1) is None and [c.wait for c in tcp.conns] == [0, 0]
