"""Tugas 2 end to end: the rubric's every status on crafted time-server captures, the assignment
chosen by what the capture carries (also a time server moved to the lecturer's port 51000), and
reports of a Tugas 2 capture that validate against the schema and render in both languages."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reporter import assignments
from reporter.options import ReportOptions
from reporter.pipeline import analyse
from reporter.render import report_json, write_reports
from tests.conftest import ROOT, SAMPLES
from tests.timecraft import MESIN2, MESIN3, TimeSession, lab_session, write

SCHEMA = json.loads((ROOT / "reporter/schema/report.schema.json").read_text())


def run(path: Path, **kw) -> tuple:
    rep, _ = analyse(str(path), ReportOptions(**kw))
    return rep, {t.id: t for t in rep.tasks}


# -- T1: TIME -> JAM hh:mm:ss with a right clock ---------------------------------------------------------

@pytest.mark.parametrize("build, status, code", [
    (lambda s: s.ask_time(), "pass", "t1_ok"),
    (lambda s: s.send(b"TIME\r\n").jam(fmt="%d-%m-%Y %H:%M:%S"), "partial", "t1_lecturer_format"),
    (lambda s: s.send(b"TIME\r\n").jam(fmt="%I:%M:%S %p"), "partial", "t1_other_format"),
    (lambda s: s.send(b"TIME\r\n").jam(offset_s=7 * 3600 + 95), "partial", "t1_clock_off"),
    (lambda s: s.send(b"TIME\r\n").jam(end=b"\n"), "partial", "t1_bare_lf"),
    (lambda s: s.send(b"TIME\r\n").reply(b"ERROR\r\n"), "fail", "t1_not_jam"),
    (lambda s: s.send(b"TIME\r\n").reply(b"JAM sekarang\r\n"), "fail", "t1_bad_format"),
    (lambda s: s.send(b"TIME\r\n"), "fail", "t1_unanswered"),
    (lambda s: s.send(b"time\r\n").reply(b"ERROR\r\n"), "absent", "t1_no_time_request"),
])
def test_t1(build, status: str, code: str, tmp_path: Path) -> None:
    s = TimeSession()
    build(s)
    rep, tasks = run(write(tmp_path / "t1.pcap", s.server_close()))
    t1 = tasks["T1"]
    assert (t1.status, t1.code) == (status, code), t1.reason
    if status != "absent":
        assert t1.evidence_frames and "tcp.stream eq 0" in t1.filters and (t1.fix is None) == (status == "pass")
    if code == "t1_ok":
        assert t1.facts["offset"] == "+07:00" and rep.capture.timezone_hint == "+07:00"
    if code == "t1_clock_off":
        assert t1.facts["nearest"] == "+07:00" and t1.facts["diff"] == pytest.approx(95, abs=1.5)
        assert rep.capture.timezone_hint is None


def test_t1_clock_wraps_at_midnight(tmp_path: Path) -> None:
    """23:59:59 stated at 00:00:00.5 local time is half a second off, not a day."""
    import calendar

    midnight_utc7 = calendar.timegm((2025, 11, 24, 0, 0, 0)) - 7 * 3600
    s = TimeSession(t=midnight_utc7 - 0.02, step=0.005)
    s.send(b"TIME\r\n").reply(b"JAM 23:59:59\r\n")
    rep, tasks = run(write(tmp_path / "mid.pcap", s.server_close()))
    assert tasks["T1"].code == "t1_ok" and tasks["T1"].facts["offset"] == "+07:00"


def test_t1_absent_without_a_time_server(tmp_path: Path) -> None:
    _, tasks = run(SAMPLES / "t2-echo.pcap", assignment="tugas2")
    assert (tasks["T1"].status, tasks["T1"].code) == ("absent", "t1_no_connection")


# -- T2: QUIT and an unknown request ---------------------------------------------------------------------

@pytest.mark.parametrize("build, status, code", [
    (lambda s: s.send(b"HELLO\r\n").reply(b"ERROR\r\n").send(b"QUIT\r\n").server_close(), "pass",
     "t2_quit_closed__unknown_answered"),
    (lambda s: s.send(b"QUIT\r\n").server_close(), "partial", "t2_quit_closed__unknown_none"),
    (lambda s: s.send(b"HELLO\r\n").send(b"QUIT\r\n").client_close(), "fail", "t2_quit_client_closed__unknown_silent"),
    (lambda s: s.send(b"HELLO\r\n").reply(b"ERROR\r\n").send(b"QUIT\r\nTIME\r\n").jam().server_close(), "partial",
     "t2_quit_answered_after__unknown_answered"),
    (lambda s: s.send(b"HELLO\r\n").reply(b"ERROR\r\n").send(b"QUIT\r\n").rst_by_server(), "partial",
     "t2_quit_reset__unknown_answered"),
    (lambda s: s.send(b"HELLO\r\n").server_close(), "fail", "t2_quit_none__unknown_closed"),
    (lambda s: s.ask_time().client_close(), "absent", "t2_quit_none__unknown_none"),
])
def test_t2(build, status: str, code: str, tmp_path: Path) -> None:
    s = TimeSession()
    s.rst_by_server = lambda: s.f.rst("s")  # type: ignore[attr-defined]
    build(s)
    _, tasks = run(write(tmp_path / "t2.pcap", s))
    t2 = tasks["T2"]
    assert (t2.status, t2.code) == (status, code), t2.reason
    assert t2.reason and (t2.fix is None) == (status == "pass")
    if status != "absent":
        assert t2.evidence_frames


# -- T3: requests cut across segments ---------------------------------------------------------------------

def test_t3_pass_bytewise_answered_once(tmp_path: Path) -> None:
    _, tasks = run(write(tmp_path / "t3.pcap", lab_session(bytewise=True)))
    t3 = tasks["T3"]
    assert (t3.status, t3.code) == ("pass", "t3_ok") and t3.facts["n"] == 3  # TIME, HELLO, TIME (QUIT aside)


def test_t3_fail_when_each_recv_is_taken_as_a_request(tmp_path: Path) -> None:
    s = TimeSession().send(b"T").reply(b"ERROR\r\n").send(b"I").reply(b"ERROR\r\n").send(b"ME\r\n").jam()
    _, tasks = run(write(tmp_path / "t3.pcap", s.server_close()))
    t3 = tasks["T3"]
    assert (t3.status, t3.code) == ("fail", "t3_premature") and t3.facts["request"] == "TIME"


def test_t3_fail_when_a_split_request_is_never_answered(tmp_path: Path) -> None:
    s = TimeSession().send(b"TIME\r\n", bytewise=True)
    _, tasks = run(write(tmp_path / "t3.pcap", s.client_close()))
    assert (tasks["T3"].status, tasks["T3"].code) == ("fail", "t3_unanswered")


def test_t3_partial_when_answered_twice(tmp_path: Path) -> None:
    s = TimeSession().send(b"TIME\r\n", bytewise=True).jam().jam()
    _, tasks = run(write(tmp_path / "t3.pcap", s.server_close()))
    assert (tasks["T3"].status, tasks["T3"].code, tasks["T3"].facts["answers"]) == ("partial", "t3_several", 2)


def test_t3_absent_when_every_request_came_whole(tmp_path: Path) -> None:
    _, tasks = run(write(tmp_path / "t3.pcap", lab_session()))
    assert (tasks["T3"].status, tasks["T3"].code) == ("absent", "t3_no_split")


# -- T4: two clients --------------------------------------------------------------------------------------

def _two_clients(tmp_path: Path, serial: bool, second_host: str = MESIN3) -> Path:
    a = TimeSession(MESIN2, cport=40001, t=1_763_900_000.0, step=0.01)
    b = TimeSession(second_host, cport=40002, t=1_763_900_000.5, step=0.01)
    a.ask_time()
    a.f.t += 3.0
    if serial:  # b's request waits, ACKed by the kernel, until a has quit and the server closed it
        b.send(b"TIME\r\n")
        b.f.ack("s")
        a.send(b"QUIT\r\n").server_close()
        b.f.t = a.f.t + 0.01
        b.jam().send(b"QUIT\r\n").server_close()
    else:
        b.ask_time().send(b"QUIT\r\n").server_close()
        a.send(b"QUIT\r\n").server_close()
    return write(tmp_path / "t4.pcap", a, b)


@pytest.mark.parametrize("serial, verdict", [(False, "concurrent"), (True, "serial")])
def test_t4_verdict(serial: bool, verdict: str, tmp_path: Path) -> None:
    rep, tasks = run(_two_clients(tmp_path, serial))
    t4 = tasks["T4"]
    # the assignment asks for a multithreaded server: serving one client at a time is partial, with a fix
    status = "partial" if serial else "pass"
    assert (t4.status, t4.verdict, t4.code) == (status, verdict, f"t4_{verdict}"), t4.reason
    assert (t4.fix is not None) == serial
    if serial:
        later = rep.connections[1]
        assert later.echo.queued_behind == 0 and t4.facts["wait"] > 2.5
        assert t4.filters.count("progjar.expert.queued") == 1  # the serial verdict's filter, once


def test_t4_partial_from_one_host(tmp_path: Path) -> None:
    _, tasks = run(_two_clients(tmp_path, False, second_host=MESIN2))
    assert (tasks["T4"].status, tasks["T4"].code) == ("partial", "t4_same_host")


def test_t4_absent_with_one_client(tmp_path: Path) -> None:
    _, tasks = run(write(tmp_path / "one.pcap", lab_session()))
    assert (tasks["T4"].status, tasks["T4"].code) == ("absent", "t4_no_overlap")


def test_tugas1_t4_is_unchanged_by_the_shared_judgement() -> None:
    """The concurrency task moved to assignments/overlap.py: Tugas 1's samples keep their verdicts."""
    for name, verdict in (("t4-serial.pcap", "serial"), ("t4-thread.pcap", "concurrent")):
        _, tasks = run(SAMPLES / name)
        assert (tasks["T4"].status, tasks["T4"].verdict) == ("pass", verdict)


# -- the assignment chosen by what the capture carries -----------------------------------------------------

def test_auto_chooses_tugas2_for_a_time_server(tmp_path: Path) -> None:
    rep, tasks = run(write(tmp_path / "lab.pcap", lab_session(), lab_session(MESIN3, cport=40009, bytewise=True)))
    assert rep.assignment.id == "tugas2" and rep.assignment.chosen_by == "auto" and rep.assignment.seen == {"time": 2}
    assert all(c.service == "time" and c.service_by == "port" for c in rep.connections)
    assert [tasks[t].status for t in ("T1", "T2", "T3", "T4")] == ["pass", "pass", "pass", "pass"]


def test_a_time_server_moved_to_51000_is_recognised(tmp_path: Path) -> None:
    s = TimeSession(port=51000)
    s.send(b"TIME\r\n").jam(fmt="%d-%m-%Y %H:%M:%S").send(b"QUIT\r\n").server_close()
    rep, tasks = run(write(tmp_path / "lecturer.pcap", s))
    assert rep.assignment.id == "tugas2" and "recognised by content on port 51000" in rep.assignment.why
    (w,) = [w for w in rep.warnings if w.code == "service-recognised"]
    assert w.severity == "info" and "--port time=51000" in w.message
    assert rep.connections[0].service_by == "content" and tasks["T1"].code == "t1_lecturer_format"
    explicit, tasks2 = run(tmp_path / "lecturer.pcap", port_overrides={"time": 51000})
    assert explicit.connections[0].service_by == "port" and tasks2["T1"].code == "t1_lecturer_format"
    assert not [w for w in explicit.warnings if w.code == "service-recognised"]


def test_auto_still_chooses_tugas1_for_its_samples() -> None:
    for p in sorted(SAMPLES.glob("*.pcap*")):
        rep, _ = run(p)
        assert rep.assignment.id == "tugas1", p.name


def test_choosing_tugas1_does_not_recognise_a_time_server(tmp_path: Path) -> None:
    rep, _ = run(write(tmp_path / "lab.pcap", lab_session()), assignment="tugas1")
    assert rep.connections[0].service is None and not rep.connections[0].messages


# -- reports ------------------------------------------------------------------------------------------------

def test_catalogue_entry() -> None:
    a = assignments.get("tugas2")
    assert [(s.name, s.port, s.framing) for s in a.services] == [("time", 45000, "line")]
    assert assignments.framings()["time"] == "line"


@pytest.mark.parametrize("lang", ["en", "id"])
def test_reports_validate_and_render_in_both_languages(lang: str, tmp_path: Path) -> None:
    from pypdf import PdfReader

    s = TimeSession().send(b"TIME\r\n", bytewise=True).jam().send(b"HELLO\r\n").reply(b"ERROR\r\n")
    s.send(b"<script>alert(1)</script>\r\n").reply(b"ERROR\r\n").send(b"QUIT\r\n").server_close()
    cap = write(tmp_path / "t2.pcap", s, lab_session(MESIN3, cport=40009))
    rep, _ = analyse(str(cap), ReportOptions(frames=True))
    doc = json.loads(report_json(rep))
    jsonschema.validate(doc, SCHEMA)
    notes = [n for n in doc["frames"].values() if n.get("msg")]
    assert notes and all(n["role"] in ("request", "response") for n in notes)
    written = write_reports(rep, tmp_path / "out", "t2", ("html", "pdf"), lang)
    html = written[0].read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    words = {"en": ("Messages", "reply", "request"), "id": ("Pesan", "balasan", "permintaan")}[lang]
    assert all(w in html for w in words)
    text = " ".join(p.extract_text() for p in PdfReader(str(written[1])).pages)
    assert "TIME" in text and "JAM " in text and ("Answers #" if lang == "en" else "Menjawab #") in text
    assert ("time service" if lang == "en" else "layanan waktu") in text


def test_a_reply_whose_frame_time_no_calendar_holds_is_said_not_a_traceback(tmp_path: Path) -> None:
    """A damaged time field puts a reply beyond the year 9999: its clock cannot be checked, and the
    report says so instead of failing (seen on a damaged pcapng of the serial sample)."""
    from reporter.assignments.tugas2.rubric import _utc
    from reporter.model import CaptureInfo, Report

    rep = Report(capture=CaptureInfo("x.pcapng", "0" * 64, "pcapng", start="9999-12-31T23:59:59.000000Z"))
    assert _utc(rep, 5.0) is None and _utc(rep, 0.5) is not None
