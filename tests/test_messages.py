"""The message layer: messages framed from the reassembled stream whatever the segmentation.

Each crafted capture pins down one framing rule (DESIGN.md "Messages"; CONTRACTS.md). Wireshark is
the oracle for the streams: tshark's Follow TCP Stream (`-z follow,tcp,raw,N`) must give the bytes
our messages were framed from, and splitting its stream at line ends must give our messages' text.
Then the facts only the message layer knows are checked: frames, pairing, problems, frame notes.
"""
from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from reporter.analyses.messages import MessageStream, open_stream
from reporter.analyses.messages.core import HEAD_MAX, TEXT_MAX
from reporter.analyses.messages.recognise import recognise
from reporter.analyses.tcp import TcpAnalysis, TcpResult
from reporter.model import Connection, FrameNote, Message, MessageFrameNote
from reporter.reading.capture import iter_packets, open_capture
from tests.craft import TcpFlow, write_pcap
from tests.test_follow_oracle import assert_follow_equal
from tests.timecraft import TimeSession, write

TIME_SERVICES = {45000: "time"}


def analyse(path: Path, services: dict[int, str] = TIME_SERVICES, recognise_: object = ()) -> TcpResult:
    cap = open_capture(path)
    tcp = TcpAnalysis(services, frames=True, keep_streams=True, recognise=recognise_)  # type: ignore[arg-type]
    t0 = None
    for pkt in iter_packets(cap):
        t0 = t0 if t0 is not None else pkt.ts
        if pkt.proto == 6:
            tcp.feed(pkt)
    return tcp.finish(t0 or 0)


def requests(c: Connection) -> list[Message]:
    return [m for m in c.messages if m.dir == "request"]


def responses(c: Connection) -> list[Message]:
    return [m for m in c.messages if m.dir == "response"]


# -- the crafted captures ---------------------------------------------------------------------------

def case_telnet_bytewise(tmp: Path) -> Path:
    s = TimeSession().ask_time(bytewise=True)
    return write(tmp / "telnet.pcap", s.send(b"QUIT\r\n", bytewise=True).server_close())


def case_line_split_over_retransmission(tmp: Path) -> Path:
    """'TIM' arrives, 'E\\r\\n' is lost before the capture point and retransmitted 200 ms later."""
    s = TimeSession()
    s.send(b"TIM")
    s.f.ack("s")
    s.f.data("c", 3, b"E\r\n", dt=0.2)  # the copy that got through
    s.f.data("c", 3, b"E\r\n", dt=0.2)  # and a spurious second copy: delivered once
    return write(tmp / "retrans.pcap", s.jam().server_close())


def case_reply_before_request_complete(tmp: Path) -> Path:
    """A server that answers each recv(): 'ERROR' for 'TI' before 'ME\\r\\n' arrives."""
    s = TimeSession().send(b"TI").reply(b"ERROR\r\n").send(b"ME\r\n")
    return write(tmp / "early.pcap", s.client_close())


def case_quit_with_data_after(tmp: Path) -> Path:
    s = TimeSession().send(b"QUIT\r\nTIME\r\n")
    return write(tmp / "quit-more.pcap", s.server_close())


def case_bare_lf(tmp: Path) -> Path:
    s = TimeSession().send(b"TIME\n").jam(end=b"\n").send(b"QUIT\n")
    return write(tmp / "lf.pcap", s.server_close())


def case_never_ending_line(tmp: Path) -> Path:
    s = TimeSession()
    for _ in range(12):
        s.send(b"A" * 1000)
    return write(tmp / "endless.pcap", s.client_close())


def case_gap_inside_line(tmp: Path) -> Path:
    """'TI' captured, 'ME' never captured (the server ACKs past it), '\\r\\n' captured; then a whole TIME."""
    s = TimeSession().send(b"TI")
    s.f.sent["c"] += 2  # 'ME' crossed the wire where the capture did not see it
    s.send(b"\r\n")
    s.f.ack("s")
    s.reply(b"ERROR\r\n").ask_time()
    return write(tmp / "gap.pcap", s.server_close())


def case_crlf_split_across_segments(tmp: Path) -> Path:
    s = TimeSession().send(b"TIME\r").send(b"\n").jam()
    return write(tmp / "crlf.pcap", s.server_close())


CASES: dict[str, Callable[[Path], Path]] = {
    name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")}


def _lines(stream: bytes) -> list[str]:
    """Our text rule applied to Wireshark's stream: split after each LF, drop CRLF/LF, bound, '.' for
    unprintable bytes."""
    out = []
    rest = stream
    while rest:
        i = rest.find(b"\n")
        line, rest = (rest, b"") if i < 0 else (rest[:i + 1], rest[i + 1:])
        body = line[:-2] if line.endswith(b"\r\n") else line[:-1] if line.endswith(b"\n") else line
        out.append(bytes(b if 32 <= b < 127 else 46 for b in body[:TEXT_MAX]).decode())
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_messages_are_wiresharks_stream_cut_at_line_ends(name: str, tmp_path: Path, tshark_home: Path) -> None:
    path = CASES[name](tmp_path)
    res = analyse(path)
    ws = assert_follow_equal(res, path, tshark_home, name)  # the stream we framed is Wireshark's
    for c in res.connections:
        c2s, s2c = ws[c.id]
        assert [m.text for m in requests(c)] == _lines(c2s), name
        assert [m.text for m in responses(c)] == _lines(s2c), name
        gaps = c.anomalies.gaps
        assert sum(m.bytes for m in requests(c)) == c.bytes.client_to_server + (2 if gaps else 0)
        assert [m.index for m in sorted(c.messages, key=lambda m: (m.last_frame, m.index))] == \
            list(range(len(c.messages))), "indexes follow the order messages complete"


def test_telnet_bytes_make_one_request_completed_by_its_last_segment(tmp_path: Path) -> None:
    res = analyse(case_telnet_bytewise(tmp_path))
    c = res.connections[0]
    (time, quit), (reply,) = requests(c), responses(c)
    assert (time.command, quit.command, time.bytes) == ("TIME", "QUIT", 6)
    assert time.last_frame - time.first_frame == 5  # six one-byte segments
    assert reply.in_reply_to == time.index and reply.status == reply.time_value and not reply.problems
    assert quit.problems == []  # QUIT expects no reply: not "unanswered"
    notes = {int(k): n for k, n in res.frames.items()}
    assert all(isinstance(n, MessageFrameNote) for n in notes.values())
    assert notes[time.last_frame].msg == [time.index] and notes[time.last_frame].command == ["TIME"]
    assert all(notes[f].msg is None for f in range(time.first_frame, time.last_frame))
    assert notes[reply.last_frame].role == "response" and notes[reply.last_frame].status == [reply.status]


def test_line_split_over_a_retransmission_completes_once(tmp_path: Path) -> None:
    c = analyse(case_line_split_over_retransmission(tmp_path)).connections[0]
    (req,), (rep,) = requests(c), responses(c)
    assert req.text == "TIME" and rep.in_reply_to == req.index
    assert c.anomalies.retransmissions == 1


def test_reply_before_the_request_is_complete_is_premature(tmp_path: Path) -> None:
    c = analyse(case_reply_before_request_complete(tmp_path)).connections[0]
    (rep,), (req,) = responses(c), requests(c)
    assert rep.index == 0 and req.index == 1, "the reply completed first"
    assert "premature" in rep.problems and rep.in_reply_to is None
    assert req.command == "TIME" and "unanswered" in req.problems


def test_quit_with_data_after_it_frames_both_in_one_segment(tmp_path: Path) -> None:
    res = analyse(case_quit_with_data_after(tmp_path))
    c = res.connections[0]
    quit, time = requests(c)
    assert (quit.command, time.command) == ("QUIT", "TIME") and quit.last_frame == time.last_frame
    assert "unanswered" in time.problems and "unanswered" not in quit.problems
    note = res.frames[str(quit.last_frame)]
    assert note.msg == [0, 1] and note.command == ["QUIT", "TIME"]


def test_bare_lf_ends_a_line_and_is_said(tmp_path: Path) -> None:
    c = analyse(case_bare_lf(tmp_path)).connections[0]
    assert all("bare-lf" in m.problems for m in c.messages)
    assert [m.text for m in c.messages[:2]] == ["TIME", c.messages[1].text] and c.messages[1].text.startswith("JAM ")


def test_a_line_that_never_ends_is_bounded_and_said(tmp_path: Path) -> None:
    c = analyse(case_never_ending_line(tmp_path)).connections[0]
    (req,) = c.messages
    assert req.bytes == 12000 and len(req.text) == TEXT_MAX
    assert "too-long" in req.problems and "no-terminator" in req.problems


def test_a_gap_inside_a_line_marks_it(tmp_path: Path) -> None:
    c = analyse(case_gap_inside_line(tmp_path)).connections[0]
    cut, whole = requests(c)
    assert "bytes-not-captured" in cut.problems and cut.bytes == 6 and cut.text == "TI"
    assert cut.command is None, "a request not all captured is not judged"
    assert whole.command == "TIME" and not whole.problems


def test_crlf_split_across_segments_is_not_a_bare_lf(tmp_path: Path) -> None:
    c = analyse(case_crlf_split_across_segments(tmp_path)).connections[0]
    assert requests(c)[0].problems == [] and requests(c)[0].text == "TIME"


def test_echo_frame_notes_keep_their_keys(tmp_path: Path) -> None:
    f = TcpFlow().handshake()
    f.echo_exchange(b"hello")
    res = analyse(write_pcap(tmp_path / "e.pcap", f.close().recs()), {10000: "echo"})
    assert res.frames and all(type(n) is FrameNote for n in res.frames.values())
    from reporter.model import _plain
    assert set(_plain(next(iter(res.frames.values())))) == {"conn", "role", "offset", "len", "client_no", "echo_ok",
                                                          "tcp_analysis"}


# -- pairing ---------------------------------------------------------------------------------------------

def test_several_replies_to_one_request_and_an_unsolicited_one(tmp_path: Path) -> None:
    s = TimeSession().reply(b"WELCOME\r\n").send(b"TIME\r\n").jam().jam()
    c = analyse(write(tmp_path / "p.pcap", s.server_close())).connections[0]
    welcome, first, extra = responses(c)
    (req,) = requests(c)
    assert "unsolicited" in welcome.problems and welcome.in_reply_to is None
    assert first.in_reply_to == req.index and not first.problems
    assert extra.in_reply_to == req.index and "extra-response" in extra.problems
    assert "several-responses" in req.problems
    assert first.latency_ms == pytest.approx(10.0, abs=0.01)


# -- the JSON framing (the file server's; its parser comes next) ------------------------------------------

class _Pkt:
    def __init__(self, no: int) -> None:
        self.no, self.ts = no, no * 1_000_000


class _Echo:
    first_req_ts = first_echo_ts = None


def _feed(stream: MessageStream, parts: list[tuple[int, bytes]]) -> None:
    off = [0, 0]
    for no, (side, data) in enumerate(parts, 1):
        (stream.request if side == 0 else stream.response)(off[side], data, _Pkt(no))
        off[side] += len(data)
    stream.finish()


def test_json_replies_end_at_crlf_crlf_even_split_inside_it() -> None:
    st = open_stream("file", "json", _Echo())
    _feed(st, [(0, b"LIST\r\n\r\n"), (1, b'{"status": "OK", "data": []}\r'), (1, b"\n\r"), (1, b"\n"),
               (0, b"GET a"), (1, b'{"status": "ERROR"}\r\n\r\n{"status": "ERROR"}\r\n\r\n')])
    msgs = st.messages(0)
    assert [(m.dir, m.text, m.last_frame) for m in msgs] == [
        ("request", "LIST", 1), ("response", '{"status": "OK", "data": []}', 4),
        ("request", "GET a", 5), ("response", '{"status": "ERROR"}', 6), ("response", '{"status": "ERROR"}', 6)]
    assert "no-terminator" in msgs[2].problems  # ended by the server's reply, as the lecturer's client sends it
    assert msgs[3].in_reply_to == 2 and "extra-response" in msgs[4].problems  # the recv(32) bug's signature
    assert msgs[2].command == "GET" and msgs[2].args == ["a"]


def test_a_ten_megabyte_reply_keeps_a_bounded_head() -> None:
    st = open_stream("file", "json", _Echo())
    chunk = b"A" * 65536
    parts = [(0, b"GET big\r\n\r\n"), *[(1, chunk)] * 160, (1, b"\r\n\r\n")]
    _feed(st, parts)
    (req, rep) = st.messages(0)
    assert rep.bytes == 160 * 65536 + 4 and len(rep.text) == TEXT_MAX and rep.in_reply_to == req.index
    assert all(d.head is None for d in st.done), "parsed messages keep no bytes"


# -- memory: a line that never ends ----------------------------------------------------------------------

def test_memory_of_a_never_ending_line_does_not_grow(tmp_path: Path) -> None:
    """20 MB of one line in 1,448-byte segments: the draft keeps HEAD_MAX bytes, memory stays flat."""
    st = open_stream("time", "line", _Echo())
    seg = b"B" * 1448
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(14_000):
        st.request(i * 1448, seg, _Pkt(i + 1))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    d = st.drafts[0]
    assert d is not None and len(d.head) == HEAD_MAX and d.bytes == 14_000 * 1448 and d.cut
    assert grown_kb < 8 * 1024, f"memory grew by {grown_kb} KB"
    st.finish()
    (m,) = st.messages(0)
    assert {"too-long", "no-terminator"} <= set(m.problems)


# -- recognition ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("c, s, final, want", [
    (b"TIME\r\n", b"JAM 14:03:07\r\n", False, "time"),
    (b"TIME\r\n", b"JAM 01-06-2025 14:03:07\r\n", False, "time"),
    (b"TIME\r\n", b"ERROR\r\n", False, "time"),
    (b"TIME\r\n", b"TIME\r\n", False, "echo"),  # an echo server answering a time request is an echo server
    (b"INI ADALAH DATA", b"INI ADALAH", False, "echo"),
    (b"INI", b"INI", False, None),  # too little to tell yet
    (b"LIST\r\n\r\n", b'{"status": "OK"', False, "file"),
    (b"list", b' {"status"', False, "file"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", b"SSH-2.0-OpenSSH_8.9\r\n", False, ""),
    (b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", False, ""),
    (b"TIME\r\n", b"", True, "time"),  # a server that never answered
    (b"TI", b"", False, None),
])
def test_recognition_by_content(c: bytes, s: bytes, final: bool, want: str | None) -> None:
    assert recognise(c, s, ("echo", "time", "file"), final) == want


def test_recognition_honours_the_allowed_services() -> None:
    assert recognise(b"TIME\r\n", b"JAM 14:03:07\r\n", ("echo",)) == ""


def test_a_time_server_on_another_port_is_framed_from_its_first_byte(tmp_path: Path) -> None:
    s = TimeSession(port=51000).ask_time(bytewise=True).send(b"QUIT\r\n").server_close()
    res = analyse(write(tmp_path / "moved.pcap", s), {}, None)
    c = res.connections[0]
    assert (c.service, c.service_by) == ("time", "content")
    assert [m.text for m in requests(c)] == ["TIME", "QUIT"] and requests(c)[0].last_frame - requests(c)[0].first_frame == 5
    assert any(w.code == "service-recognised" and "--port time=51000" in w.message for w in res.warnings)
    assert not res.frames, "the plugin does not label unclaimed ports: no frame notes either"
    assert c.echo.echoed_bytes == 0 and c.echo.first_request_time_s is not None


def test_an_unrecognised_connection_keeps_its_echo_facts(tmp_path: Path) -> None:
    f = TcpFlow(sport=22).handshake()
    f.data("c", 0, b"SSH-2.0-OpenSSH_9.2\r\n").data("s", 0, b"SSH-2.0-OpenSSH_8.9\r\n")
    path = write_pcap(tmp_path / "ssh.pcap", f.close().recs())
    with_rec, without = analyse(path, {}, None).connections[0], analyse(path, {}, ()).connections[0]
    assert with_rec.service is None and with_rec.service_by is None and not with_rec.messages
    assert with_rec.echo == without.echo and with_rec.exchanges == without.exchanges


@pytest.mark.parametrize("server_says", [b"", b'{"status": "OK"}\r\n\r\n', b"HTTP/1.1 200 OK\r\n\r\n"])
def test_an_http_request_is_never_taken_for_the_file_server(server_says: bytes) -> None:
    """`GET / HTTP/1.1` starts like the file server's GET; a web client is not a lab service,
    whether the server stays silent or answers JSON (a REST API)."""
    from reporter.analyses.messages.recognise import recognise

    assert recognise(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", server_says, {"echo", "time", "file"}, True) == ""
    assert recognise(b"GET laporan.pdf\r\n\r\n", server_says if server_says[:1] == b"{" else b"",
                     {"file"}, True) == "file"
