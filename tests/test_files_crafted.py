"""Crafted file-server captures (tests/craft.py) through the whole pipeline: a reply cut at every place
of its CRLF CRLF and of its base64, a retransmitted JSON chunk with other bytes, a reply the capture
cuts short, a reply that is not JSON, a huge request, the recv(32) bug, and a server moved to 46666."""
from __future__ import annotations

import base64
import hashlib
import json

from reporter.options import ReportOptions
from reporter.pipeline import analyse

from tests.craft import TcpFlow, cut, file_conversation, merge, send_parts, write_pcap

T = b"\r\n\r\n"
CONTENT = bytes(range(256)) * 3 + b"donal bebek"
SHA = hashlib.sha256(CONTENT).hexdigest()


def get_reply(content: bytes = CONTENT, name: str = "donalbebek.jpg") -> bytes:
    return json.dumps({"status": "OK", "data_namafile": name, "data_size": len(content),
                       "data_file": base64.b64encode(content).decode()}).encode() + T


def run(tmp_path, flows, name="c.pcap", **opts):
    recs = merge(*[f.recs() for f in flows])
    path = write_pcap(tmp_path / name, recs)
    report, damaged = analyse(str(path), ReportOptions(frames=True, **opts))
    assert not damaged
    return report


def tasks(report) -> dict:
    return {t.id: t for t in report.tasks}


def replies(c):
    return [m for m in c.messages if m.dir == "response"]


def test_reply_cut_at_every_place_of_its_terminator(tmp_path):
    rep = json.dumps({"status": "OK", "data": ["catatan.txt"]}).encode() + T
    n = len(rep)
    for i in range(n - 5, n):
        for j in range(i, n):
            r = run(tmp_path, [file_conversation(b"LIST" + T, cut(rep, i, j))], f"t{i}-{j}.pcap")
            (c,) = r.connections
            (m,) = replies(c)
            assert (m.status, m.data, m.bytes, m.problems, m.in_reply_to) == ("OK", ["catatan.txt"], n, [], 0), (i, j)
            assert m.first_frame < m.last_frame or i == j == n - 1 or len(cut(rep, i, j)) == 1
            t1 = tasks(r)["T1"]
            assert (t1.status, t1.code) == ("pass", "t1_ok")
            note = r.frames[str(m.last_frame)]
            assert note.role == "response" and note.status == ["OK"] and note.msg == [m.index]


def test_base64_across_segment_boundaries(tmp_path):
    rep = get_reply()
    for size in (1, 3, 4, 5, 7, 1448):
        parts = [rep[i:i + size] for i in range(0, len(rep), size)]
        r = run(tmp_path, [file_conversation(b"GET donalbebek.jpg" + T, parts)], f"s{size}.pcap")
        (m,) = replies(r.connections[0])
        assert (m.file.name, m.file.bytes, m.file.sha256) == ("donalbebek.jpg", len(CONTENT), SHA), size
        assert m.last_frame - m.first_frame == len(parts) - 1
        t2 = tasks(r)["T2"]
        assert (t2.status, t2.code, t2.facts["bytes"]) == ("pass", "t2_ok", len(CONTENT))


def test_retransmitted_json_chunk_with_other_bytes_keeps_the_first(tmp_path):
    """The receiver keeps the bytes it got first (reassembly policy): the decoded file is the one
    those bytes make, and the copy with other bytes is an overlap conflict."""
    rep = get_reply()
    start = rep.index(b'"data_file": "') + 20
    f = TcpFlow(client="172.16.16.102", server="172.16.16.101", sport=6666).handshake()
    send_parts(f, "c", [b"GET donalbebek.jpg" + T])
    f.data("s", 0, rep[:start + 40])
    forged = rep[start:start + 40].translate(bytes.maketrans(b"ABCDEFGH", b"HGFEDCBA"))
    assert forged != rep[start:start + 40]
    f.data("s", start, forged + rep[start + 40:start + 80], dt=0.3)  # a late copy, other bytes, then new ones
    f.data("s", start + 80, rep[start + 80:])
    f.ack("c").close()
    r = run(tmp_path, [f])
    c = r.connections[0]
    (m,) = replies(c)
    assert (m.file.bytes, m.file.sha256) == (len(CONTENT), SHA)
    assert c.anomalies.overlap_conflicts == 1 and c.anomalies.retransmissions == 1


def test_reply_cut_short_by_the_end_of_the_capture(tmp_path):
    rep = get_reply()
    f = file_conversation(b"GET donalbebek.jpg" + T, cut(rep, 100, 300)[:2], close=False)
    r = run(tmp_path, [f])
    (m,) = replies(r.connections[0])
    assert {"no-terminator", "json-incomplete"} <= set(m.problems) and m.file.sha256 is None
    t2 = tasks(r)["T2"]
    assert (t2.status, t2.code, t2.facts["problem"]) == ("fail", "t2_bad_reply", "json-incomplete")


def test_reply_that_is_not_json(tmp_path):
    r = run(tmp_path, [file_conversation(b"LIST" + T, b"file1.txt\nfile2.txt\n" + T)])
    (m,) = replies(r.connections[0])
    assert m.problems == ["not-json"] and m.status is None
    t1 = tasks(r)["T1"]
    assert (t1.status, t1.code, t1.facts["problem"]) == ("fail", "t1_bad_reply", "not-json")
    assert "file1.txt" in t1.reason


def test_huge_request_is_bounded_and_said(tmp_path):
    junk = b"A" * (2 << 20)
    parts = [junk[i:i + 1448] for i in range(0, len(junk), 1448)]
    r = run(tmp_path, [file_conversation(parts, b'{"status": "ERROR", "data": "request tidak dikenali"}' + T)])
    (req,) = [m for m in r.connections[0].messages if m.dir == "request"]
    assert req.bytes == len(junk) and {"too-long", "unknown-command", "no-terminator"} <= set(req.problems)
    assert len(req.text) <= 200 and len(req.command) <= 32
    assert tasks(r)["T5"].status == "absent"  # no well-formed request to count replies for


def test_recv32_bug_fails_t5_naming_the_request_and_its_replies(tmp_path):
    data = b"x" * 500
    req = b"UPLOAD pesan.txt " + base64.b64encode(data)  # no terminator, like file_client_cli.py
    n = -(-len(req) // 32)
    err = b'{"status": "ERROR", "data": "request tidak dikenali"}' + T
    r = run(tmp_path, [file_conversation(req, [err] * n)])
    c = r.connections[0]
    (m,) = [m for m in c.messages if m.dir == "request"]
    assert (m.command, m.file.bytes, m.file.sha256) == ("UPLOAD", 500, hashlib.sha256(data).hexdigest())
    assert len(replies(c)) == n and all(x.in_reply_to == m.index for x in replies(c))
    t5 = tasks(r)["T5"]
    assert (t5.status, t5.code, t5.facts["replies"], t5.facts["command"]) == ("fail", "t5_several_replies", n, "UPLOAD")
    assert t5.evidence_frames[0] == m.last_frame and len(t5.facts["reply_frames"]) == 5
    assert tasks(r)["T3"].status == "fail"


def _two_commands(port: int) -> list[TcpFlow]:
    up = b"UPLOAD a.txt " + base64.b64encode(CONTENT) + T
    ok = json.dumps({"status": "OK", "data": "a.txt uploaded"}).encode() + T
    lst = json.dumps({"status": "OK", "data": ["a.txt"]}).encode() + T
    return [file_conversation(up, ok, cport=40001, sport=port, t=1.0),
            file_conversation(b"LIST" + T, lst, cport=40002, sport=port, t=2.0)]


def test_server_moved_to_46666_by_option_and_by_content(tmp_path):
    by_option = run(tmp_path, _two_commands(46666), "o.pcap", port_overrides={"file": 46666})
    assert [(c.service, c.service_by) for c in by_option.connections] == [("file", "port")] * 2
    assert by_option.assignment.id == "tugas3" and tasks(by_option)["T3"].status == "pass"
    found = run(tmp_path, _two_commands(46666), "c.pcap")
    assert [(c.service, c.service_by) for c in found.connections] == [("file", "content")] * 2
    assert found.assignment.id == "tugas3"
    t = tasks(found)
    assert (t["T1"].status, t["T3"].status, t["T3"].code) == ("pass", "pass", "t3_ok")
    assert "46666" in t["T3"].reason
    assert any(w.code == "service-recognised" for w in found.warnings)


def test_two_clients_served_at_once_and_one_at_a_time(tmp_path):
    """T6 from the shared concurrency task: mesin-3's GET answered during mesin-2's slow upload."""
    up = b"UPLOAD big.txt " + base64.b64encode(CONTENT * 4) + T
    slow = TcpFlow(client="172.16.16.102", server="172.16.16.101", cport=40001, sport=6666, t=1.0).handshake()
    send_parts(slow, "c", [up[i:i + 500] for i in range(0, len(up), 500)], dt=0.2)
    send_parts(slow, "s", [json.dumps({"status": "OK", "data": "ok"}).encode() + T])
    slow.close()
    quick = file_conversation(b"GET donalbebek.jpg" + T, get_reply(), client="172.16.16.103", cport=40002, t=1.5)
    r = run(tmp_path, [slow, quick])
    t6 = tasks(r)["T6"]
    assert (t6.status, t6.verdict, t6.code) == ("pass", "concurrent", "t6_concurrent")
    # a serial server: mesin-3 connects and asks at once, but is answered only after mesin-2 closes
    slow2 = TcpFlow(client="172.16.16.102", server="172.16.16.101", cport=40001, sport=6666, t=1.0).handshake()
    send_parts(slow2, "c", [b"LIST" + T])
    late = TcpFlow(client="172.16.16.103", server="172.16.16.101", cport=40002, sport=6666, t=1.1).handshake()
    send_parts(late, "c", [b"LIST" + T])
    send_parts(slow2, "s", [json.dumps({"status": "OK", "data": []}).encode() + T], dt=0.1)
    slow2.t = 3.0
    slow2.close()
    late.t = 3.2
    send_parts(late, "s", [json.dumps({"status": "OK", "data": []}).encode() + T])
    late.close()
    r = run(tmp_path, [slow2, late], "serial.pcap")
    t6 = tasks(r)["T6"]
    # Tugas 3 asks for clients served at overlapping times: a serial server is partial, with the fix
    assert (t6.status, t6.verdict, t6.code) == ("partial", "serial", "t6_serial") and t6.fix
