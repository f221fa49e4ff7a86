"""The Tugas 3 and ETS rubrics status by status, from reports built out of the model (files_fixtures):
each reason code with its facts, a fix for anything short of pass, filters, and both languages."""
from __future__ import annotations

import re

import pytest

from reporter.assignments import RubricInput, catalogue, choose, reason_text, service_ports
from reporter.assignments.ets import weigh
from reporter.assignments.ets.rubric import judge as ets_judge
from reporter.assignments.tugas3.rubric import judge as t3_judge
from tests.files_fixtures import SHA_A, SHA_B, conn, f, rep, report, req

PLACEHOLDER = re.compile(r"\{[a-z_]+(:[^}]*)?\}")  # a template field left unfilled
INP = RubricInput("www.its.ac.id", service_ports(), None)


def t3(*conns):
    return {t.id: t for t in t3_judge(report(*conns), INP)}


def ets(*conns):
    r = report(*conns)
    tasks = {t.id: t for t in ets_judge(r, INP)}
    return r, tasks


def said(task, status, code, aid="tugas3"):
    """The task has this status and code, filters, a fix unless it passed, and words in both languages."""
    assert (task.status, task.code) == (status, code), task.reason
    assert task.filters and (task.fix is None) == (status == "pass")
    a = catalogue()[aid]
    assert code in a.wording
    for lang in ("en", "id"):
        reason, fix = reason_text(a, task, lang)
        assert reason and not PLACEHOLDER.search(reason) and not PLACEHOLDER.search(fix or "")
        assert (fix is None) == (status == "pass") or a.wording[code].fix is None
    return task


def said_ets(task, status, code):
    return said(task, status, code, "ets")


LIST_OK = (req("LIST", t=1.0), rep("OK", 1.1, data=["a.txt"]))


# --- Tugas 3 -----------------------------------------------------------------------------------------

def test_no_file_server_at_all():
    tasks = t3()
    for tid in ("T1", "T2", "T3", "T4", "T5"):
        said(tasks[tid], "absent", "no_connection")
    assert tasks["T6"].status == "absent"


@pytest.mark.parametrize("msgs, status, code", [
    ((req("GET", "a", t=1.0), rep("OK", 1.1, file=f("a", 3))), "absent", "t1_no_list"),
    ((req("LIST", t=1.0),), "fail", "t1_unanswered"),
    ((req("LIST", t=1.0), rep(None, 1.1, problems=("not-json",), text="hello")), "fail", "t1_bad_reply"),
    ((req("LIST", t=1.0), rep("ERROR", 1.1, data="request tidak dikenali")), "fail", "t1_error"),
    ((req("LIST", t=1.0), rep("OK", 1.1, data="a.txt b.txt")), "partial", "t1_not_a_list"),
    (LIST_OK, "pass", "t1_ok"),
])
def test_t1(msgs, status, code):
    task = said(t3(conn(0, *msgs))["T1"], status, code)
    if code == "t1_ok":
        assert task.facts["names"] == ["a.txt"] and task.facts["n"] == 1
    if code == "t1_error":
        assert "request tidak dikenali" in task.reason


def test_t1_best_of_several_lists():
    task = t3(conn(0, req("LIST", t=1.0)), conn(1, *LIST_OK))["T1"]
    said(task, "pass", "t1_ok")
    assert task.facts["conn"] == 1


@pytest.mark.parametrize("msgs, status, code", [
    (LIST_OK, "absent", "t2_no_get"),
    ((req("GET", "a", t=1.0),), "fail", "t2_unanswered"),
    ((req("GET", "a", t=1.0), rep("ERROR", 1.1, data="a: No such file")), "fail", "t2_error"),
    ((req("GET", "a", t=1.0), rep("OK", 1.1, file=f("a", 10, None), problems=("bad-base64",))), "fail",
     "t2_bad_base64"),
    ((req("GET", "a", t=1.0), rep("OK", 1.1, data="here")), "partial", "t2_no_file"),
    ((req("GET", "a", t=1.0), rep("OK", 1.1, file=f("a", 10), announced=f("a", 12, None))), "partial",
     "t2_size_differs"),
    ((req("UPLOAD", "a", t=1.0, file=f("a", 10, SHA_B)), rep("OK", 1.1), req("GET", "a", t=2.0),
      rep("OK", 2.1, file=f("a", 10, SHA_A))), "partial", "t2_differs_from_upload"),
    ((req("UPLOAD", "a", t=1.0, file=f("a", 10)), rep("OK", 1.1), req("GET", "a", t=2.0),
      rep("OK", 2.1, file=f("a", 10))), "pass", "t2_ok_same_as_upload"),
    ((req("GET", "a", t=1.0), rep("OK", 1.1, file=f("a", 10))), "pass", "t2_ok"),
])
def test_t2(msgs, status, code):
    task = said(t3(conn(0, *msgs))["T2"], status, code)
    if status == "pass":
        assert task.facts["bytes"] == 10 and task.facts["sha"] == SHA_A[:12]


@pytest.mark.parametrize("conns, status, code", [
    ([conn(0, *LIST_OK)], "absent", "t3_no_upload"),
    ([conn(0, req("UPLOAD", "a", t=1.0), rep("ERROR", 1.1))], "fail", "t3_no_data"),
    ([conn(0, req("UPLOAD", "a", t=1.0, file=f("a", 7, None)), rep("ERROR", 1.1))], "fail", "t3_bad_base64"),
    ([conn(0, req("UPLOAD", "a", t=1.0, file=f("a", 7)))], "fail", "t3_unanswered"),
    ([conn(0, req("UPLOAD", "a", t=1.0, file=f("a", 7)), rep("ERROR", 1.1, data="disk full"))], "fail",
     "t3_error"),
    ([conn(0, req("UPLOAD", "a", t=1.0, file=f("a", 7)), rep("OK", 1.1, announced=f("a", 6, SHA_A)))],
     "partial", "t3_stored_differs"),
    ([conn(0, req("UPLOAD", "a", t=1.0, file=f("a", 7)), rep("OK", 1.1))], "partial", "t3_no_later_list"),
    ([conn(0, req("UPLOAD", "a", t=2.0, file=f("a", 7)), rep("OK", 2.1)),
      conn(1, req("LIST", t=3.0), rep("OK", 3.1, data=["b"]))], "partial", "t3_list_wrong"),
    ([conn(0, req("LIST", t=0.5), rep("OK", 0.6, data=["a"])),  # a LIST before the upload does not count
      conn(1, req("UPLOAD", "a", t=2.0, file=f("a", 7)), rep("OK", 2.1))], "partial", "t3_no_later_list"),
    ([conn(0, req("UPLOAD", "a", t=2.0, file=f("a", 7)), rep("OK", 2.1)),
      conn(1, req("LIST", t=3.0), rep("OK", 3.1, data=["a", "b"]))], "pass", "t3_ok"),
])
def test_t3(conns, status, code):
    said(t3(*conns)["T3"], status, code)


@pytest.mark.parametrize("conns, status, code", [
    ([conn(0, *LIST_OK)], "absent", "t4_no_delete"),
    ([conn(0, req("DELETE", "a", t=1.0))], "fail", "t4_unanswered"),
    ([conn(0, req("DELETE", "a", t=1.0), rep("ERROR", 1.1, data="a: No such file"))], "fail", "t4_error"),
    ([conn(0, req("DELETE", "a", t=1.0), rep("OK", 1.1))], "partial", "t4_no_later_list"),
    ([conn(0, req("DELETE", "a", t=1.0), rep("OK", 1.1)), conn(1, req("LIST", t=2.0), rep("OK", 2.1, data=["a"]))],
     "partial", "t4_list_wrong"),
    ([conn(0, req("DELETE", "a", t=1.0), rep("OK", 1.1)), conn(1, req("LIST", t=2.0), rep("OK", 2.1, data=[]))],
     "pass", "t4_ok"),
])
def test_t4(conns, status, code):
    said(t3(*conns)["T4"], status, code)


def test_t5():
    said(t3(conn(0, req("HELLO", t=1.0, problems=("unknown-command",)), rep("ERROR", 1.1)))["T5"], "absent",
         "t5_no_request")
    task = said(t3(conn(0, req("UPLOAD", "p", t=1.0, file=f("p", 300), problems=("no-terminator",)),
                        *[rep("ERROR", 1.1 + i / 100, to=0) for i in range(14)]))["T5"], "fail", "t5_several_replies")
    assert task.facts["replies"] == 14 and task.facts["statuses"] == ["ERROR"] and len(task.facts["reply_frames"]) == 5
    said(t3(conn(0, *LIST_OK), conn(1, req("GET", "a", t=2.0)))["T5"], "partial", "t5_unanswered")
    task = said(t3(conn(0, *LIST_OK), conn(1, req("GET", "a", t=2.0), rep("OK", 2.1, file=f("a", 1))))["T5"], "pass",
                "t5_ok")
    assert task.facts["n"] == 2 and task.facts["commands"] == ["GET", "LIST"]


# --- ETS ---------------------------------------------------------------------------------------------

def up(cid, t0, dur, n=1000, ok=True, **kw):
    reply = rep("OK", t0 + dur, announced=f("s", n)) if ok else rep("ERROR", t0 + dur, data="busy")
    return conn(cid, req("UPLOAD", "s", t=t0 + dur / 2, file=f("s", n)), reply, syn=t0, end=t0 + dur + 0.001, **kw)


def down(cid, t0, dur, n=1000, **kw):
    return conn(cid, req("GET", "s", t=t0 + 0.001), rep("OK", t0 + dur, file=f("s", n), announced=f("s", n)),
                syn=t0, end=t0 + dur + 0.001, **kw)


def test_ets_tasks_by_status():
    r, tasks = ets()
    said_ets(tasks["T1"], "absent", "no_connection")
    r, tasks = ets(up(0, 1.0, 0.5))
    said_ets(tasks["T1"], "partial", "t1_only_uploads")
    said_ets(tasks["T2"], "pass", "t2_all_ok")
    said_ets(tasks["T3"], "absent", "t3_one_client")
    said_ets(tasks["T4"], "partial", "t4_small")
    r, tasks = ets(down(0, 1.0, 0.5))
    said_ets(tasks["T1"], "partial", "t1_only_downloads")
    # five uploads at once, one of them failing; then downloads
    conns = [up(0, 1.0, 0.5)] + [up(i, 2.0 + i / 100, 1.0, ok=i != 3) for i in range(1, 6)]
    conns += [down(6, 5.0, 0.2)] + [down(7 + i, 6.0 + i / 100, 0.4) for i in range(5)]
    r, tasks = ets(*conns)
    said_ets(tasks["T1"], "pass", "t1_measured")
    t2 = said_ets(tasks["T2"], "partial", "t2_failed_error")
    assert t2.facts["failed"] == 1 and t2.facts["conn"] == 3 and t2.facts["command"] == "UPLOAD"
    t3_ = said_ets(tasks["T3"], "pass", "t3_concurrent")
    assert t3_.facts["peak"] == 5 and t3_.facts["clients"] == 5
    said_ets(tasks["T4"], "partial", "t4_small")  # one file size: not the ETS's matrix


def test_ets_matrix_and_failure_reasons():
    conns, cid = [], 0
    for op, maker in (("up", up), ("down", down)):
        for size in (1000, 2000):
            conns.append(maker(cid, 10.0 * cid, 0.5, n=size))
            cid += 1
            conns += [maker(cid + i, 10.0 * cid + i / 100, 1.0, n=size) for i in range(3)]
            cid += 3
    r, tasks = ets(*conns)
    said_ets(tasks["T4"], "pass", "t4_matrix")
    assert [(row.operation, row.file_bytes, row.clients) for row in r.ets_table] == [
        ("upload", 1000, 1), ("upload", 1000, 3), ("upload", 2000, 1), ("upload", 2000, 3),
        ("download", 1000, 1), ("download", 1000, 3), ("download", 2000, 1), ("download", 2000, 3)]
    r, tasks = ets(*conns[:-1])  # the last batch lost one transfer: download 2000 x 2 instead of x 3
    assert ("download", 2000, 3) not in {(x.operation, x.file_bytes, x.clients) for x in r.ets_table}
    # reasons
    reset = conn(0, req("GET", "s", t=1.0), syn=0.9, end=1.5, reset=True)
    mism = conn(1, req("GET", "s", t=2.0), rep("OK", 2.5, file=f("s", 900), announced=f("s", 1000),
                                               problems=("size-mismatch",)), syn=1.9, end=2.6)
    silent = conn(2, req("UPLOAD", "s", t=3.0, file=f("s", 10)), syn=2.9, end=3.5)
    r, tasks = ets(reset, mism, silent)
    assert [(x.ok, x.reason) for x in r.runs] == [(False, "reset"), (False, "size-mismatch"), (False, "no-reply")]
    said_ets(tasks["T2"], "fail", "t2_failed_reset")
    assert r.runs[1].file_bytes == 1000  # a file that decodes short: the size it should have had
    r, tasks = ets(mism, silent)
    said_ets(tasks["T2"], "fail", "t2_failed_size-mismatch")


def test_auto_choice_weighs_stress_tests():
    stress = [up(i, 1.0 + i / 100, 0.5) for i in range(4)]
    r = report(*stress)
    claims, why = weigh(r)
    assert claims and "x4" in why and "up to 4 at once" in why
    a, by, why, _ = choose(r, "auto", service_ports())
    assert (a.id, by) == ("ets", "auto") and "ets:" in why
    sequential = [up(i, 1.0 + i, 0.5) for i in range(4)]  # the same upload four times, one after another
    a, _, why, _ = choose(report(*sequential), "auto", service_ports())
    assert a.id == "tugas3" and "not ets" in why and "up to 1 at once" in why
    a, _, _, _ = choose(report(conn(0, *LIST_OK)), "auto", service_ports())
    assert a.id == "tugas3"


def test_ets_without_transfers_counts_the_file_connections_in_every_task(tmp_path) -> None:
    """A capture with a LIST but no UPLOAD or GET: every ETS task says how many file-server
    connections there were (never "0 connections" of a capture that has one)."""
    from reporter.options import ReportOptions
    from reporter.pipeline import analyse
    from tests import craft

    f = craft.TcpFlow(sport=6666).handshake()
    f.data("c", 0, b"LIST\r\n\r\n").data("s", 0, b'{"status": "OK", "data": ["a.txt"]}\r\n\r\n').ack("c").close()
    rep, _ = analyse(str(craft.write_pcap(tmp_path / "list.pcap", f.recs())), ReportOptions(assignment="ets"))
    assert [(t.id, t.status, t.code, t.facts["n"]) for t in rep.tasks] == \
        [(tid, "absent", "t1_no_transfer", 1) for tid in ("T1", "T2", "T3", "T4")]
