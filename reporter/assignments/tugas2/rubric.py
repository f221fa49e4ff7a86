"""The Tugas 2 rubric (docs/rubrics.md): a multithreaded time server, judged from the messages of
the report's time connections (service "time": on the time port, or recognised by content).

T1 a TIME request answered with `JAM hh:mm:ss` and a right clock; T2 QUIT ends the session from
the server side, and an unknown request gets an answer; T3 requests cut across segments are
answered once, whole; T4 two clients from two hosts served at overlapping times (overlap.py,
Tugas 1's evidence standard). Every task names its frames, a reason code with its facts
(wording.py), the fix, and display filters (the plugin's progjar.msg.* fields among them).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from reporter.analyses.messages.timeserver import clock_offsets, offset_text
from reporter.assignments.judging import conn_facts, frames, make_task
from reporter.assignments.overlap import judge_overlap
from reporter.assignments.tugas2.wording import WORDING, t2_code
from reporter.model import Connection, Message, Report, Task

TEXT_IN_REASON = 40  # characters of a message quoted in a reason


def time_connections(report: Report) -> list[Connection]:
    return [c for c in report.connections if c.service == "time"]


def _quote(m: Message) -> str:
    t = m.text if m.text else "(empty line)"
    return t if len(t) <= TEXT_IN_REASON else t[:TEXT_IN_REASON] + "…"


def _replies(c: Connection) -> dict[int, list[Message]]:
    """request index -> the responses paired with it, in order."""
    out: dict[int, list[Message]] = {}
    for m in c.messages:
        if m.dir == "response" and m.in_reply_to is not None:
            out.setdefault(m.in_reply_to, []).append(m)
    return out


def _filters(c: Connection, *extra: str) -> list[str]:
    return [f"tcp.stream eq {c.id}", *extra, f"tcp.port == {c.server.port} && tcp.len > 0"]


# ---------------------------------------------------------------------------------------------
# T1: TIME -> JAM hh:mm:ss with a right clock

_T1_RANK = {"t1_ok": 5, "t1_bare_lf": 4, "t1_clock_off": 3, "t1_lecturer_format": 3, "t1_other_format": 2,
            "t1_lecturer_format_clock_off": 2, "t1_bad_format": 1, "t1_not_jam": 1, "t1_unanswered": 0}
_T1_STATUS = {"t1_ok": "pass", "t1_bare_lf": "partial", "t1_clock_off": "partial", "t1_lecturer_format": "partial",
              "t1_other_format": "partial",
              "t1_lecturer_format_clock_off": "partial", "t1_bad_format": "fail", "t1_not_jam": "fail",
              "t1_unanswered": "fail"}


def _utc(report: Report, time_s: float) -> Optional[_dt.datetime]:
    """The frame's own time of day (UTC), or None when the capture's clock says nothing a calendar
    can hold (a damaged time field beyond the year 9999)."""
    if not report.capture.start:
        return None
    try:
        start = _dt.datetime.strptime(report.capture.start[:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
        return start + _dt.timedelta(seconds=time_s)
    except (OverflowError, ValueError):
        return None


def _t1_outcome(report: Report, c: Connection, req: Message, reply: Optional[Message]) -> tuple[str, dict[str, Any]]:
    facts: dict[str, Any] = {**conn_facts(c), "frame": req.last_frame}
    if reply is None:
        return "t1_unanswered", facts
    facts.update(reply=_quote(reply), reply_frame=reply.last_frame,
                 latency=reply.latency_ms if reply.latency_ms is not None else 0.0)
    if reply.status is None or not reply.text.startswith("JAM"):
        return "t1_not_jam", facts
    if reply.time_value is None:
        return "t1_bad_format", facts
    lecturer = "format-differs" in reply.problems and len(reply.time_value) > 8  # the only format with a date
    if "format-differs" in reply.problems and not lecturer:
        return "t1_other_format", facts
    if reply.utc_offset is None:
        utc = _utc(report, reply.time_s)
        diff, near = (clock_offsets(reply.time_value, int((utc - _dt.datetime(1970, 1, 1)).total_seconds() * 1e9))[0]
                      if utc is not None else (0.0, 0))
        facts.update(utc=utc.strftime("%H:%M:%S") if utc else "?", nearest=offset_text(near), diff=abs(diff))
        return ("t1_lecturer_format_clock_off" if lecturer else "t1_clock_off"), facts
    facts["offset"] = reply.utc_offset
    if lecturer:
        return "t1_lecturer_format", facts
    if "bare-lf" in reply.problems:
        return "t1_bare_lf", facts
    return "t1_ok", facts


def judge_t1(report: Report, port: int) -> Task:
    conns = time_connections(report)
    if not conns:
        return make_task("T1", "absent", "t1_no_connection", {"port": port}, WORDING,
                         filters=[f"tcp.port == {port}"])
    best: Optional[tuple[int, str, dict[str, Any], Connection, Message, Optional[Message]]] = None
    for c in conns:
        replies = _replies(c)
        for m in c.messages:
            if m.dir != "request" or m.command != "TIME":
                continue
            reply = (replies.get(m.index) or [None])[0]
            code, facts = _t1_outcome(report, c, m, reply)
            if best is None or _T1_RANK[code] > best[0]:
                best = (_T1_RANK[code], code, facts, c, m, reply)
    if best is None:
        sent = list(dict.fromkeys(_quote(m) for c in conns for m in c.messages if m.dir == "request"))[:4]
        return make_task("T1", "absent", "t1_no_time_request", {"n": len(conns), "sent": sent or ["–"]}, WORDING,
                         evidence=frames([c.handshake.syn_frame for c in conns[:2]]),
                         filters=[f"tcp.port == {conns[0].server.port} && tcp.len > 0"])
    _, code, facts, c, req, reply = best
    return make_task("T1", _T1_STATUS[code], code, facts, WORDING,
                     evidence=frames(req.first_frame, req.last_frame, reply.last_frame if reply else None),
                     filters=_filters(c, 'progjar.msg.command == "TIME"'))


# ---------------------------------------------------------------------------------------------
# T2: QUIT ends the session from the server side; an unknown request gets an answer

_QUIT_SCORE = {"closed": 2, "reset": 1, "answered_after": 1, "client_closed": 0, "open": 0, "none": -1}
_UNKNOWN_SCORE = {"answered": 2, "silent": 0, "closed": 0, "none": -1}


def _server_ended(c: Connection) -> str:
    if c.close.reset and "r" in c.history:
        return "reset"
    if c.close.first_fin_by == "server":
        return "closed"
    if c.close.first_fin_by == "client" or c.close.reset:
        return "client_closed"
    return "open"


def _quit_state(c: Connection, quit: Message) -> tuple[str, dict[str, Any]]:
    facts: dict[str, Any] = {"quit_conn": c.id, "quit_frame": quit.last_frame}
    later = {m.index for m in c.messages if m.dir == "request" and m.index > quit.index}
    after = next((m for m in c.messages if m.dir == "response" and m.in_reply_to in later), None)
    if after is not None:
        facts.update(after=_quote(after), after_frame=after.last_frame)
        return "answered_after", facts
    return _server_ended(c), facts


def _unknown_state(c: Connection, req: Message, replies: dict[int, list[Message]]) -> tuple[str, dict[str, Any]]:
    facts: dict[str, Any] = {"unknown": _quote(req), "unknown_frame": req.last_frame}
    got = replies.get(req.index)
    if got:
        facts.update(reply=_quote(got[0]), reply_frame=got[0].last_frame)
        return "answered", facts
    later = [m for m in c.messages if m.index > req.index and m.dir == "response"]
    if not later and _server_ended(c) in ("closed", "reset"):
        return "closed", facts
    return "silent", facts


def judge_t2(report: Report) -> Task:
    quit_best: tuple[int, str, dict[str, Any], Optional[Connection]] = (-1, "none", {}, None)
    unknown_best: tuple[int, str, dict[str, Any], Optional[Connection]] = (-1, "none", {}, None)
    for c in time_connections(report):
        replies = _replies(c)
        for m in c.messages:
            if m.dir != "request":
                continue
            if m.command == "QUIT":
                state, facts = _quit_state(c, m)
                if _QUIT_SCORE[state] > quit_best[0]:
                    quit_best = (_QUIT_SCORE[state], state, facts, c)
            elif "unknown-command" in m.problems:
                state, facts = _unknown_state(c, m, replies)
                if _UNKNOWN_SCORE[state] > unknown_best[0]:
                    unknown_best = (_UNKNOWN_SCORE[state], state, facts, c)
    (qs, q, qfacts, qc), (us, u, ufacts, uc) = quit_best, unknown_best
    if qs < 0 and us < 0:
        status = "absent"
    elif qs == 2 and us == 2:
        status = "pass"
    elif qs <= 0 and us <= 0:
        status = "fail"
    else:
        status = "partial"
    facts = {**qfacts, **ufacts}
    evidence = frames(qfacts.get("quit_frame"), qfacts.get("after_frame"), ufacts.get("unknown_frame"),
                      ufacts.get("reply_frame"))
    filters = [f"tcp.stream eq {i}" for i in dict.fromkeys(x.id for x in (qc, uc) if x is not None)]
    if qc is not None:
        filters.append(f'progjar.msg.command == "QUIT" || (tcp.stream eq {qc.id} && tcp.flags.fin == 1)')
    if uc is not None:
        filters.append('progjar.msg.command && !(progjar.msg.command in {"TIME" "QUIT"})')
    if not filters:
        conns = time_connections(report)
        filters = [f"tcp.port == {conns[0].server.port} && tcp.len > 0"] if conns else ["tcp.len > 0"]
    return make_task("T2", status, t2_code(q, u), facts, WORDING, evidence=evidence, filters=filters)


# ---------------------------------------------------------------------------------------------
# T3: requests cut across segments are answered once, whole


def judge_t3(report: Report) -> Task:
    found: list[tuple[int, str, dict[str, Any], Connection, list[int]]] = []  # (rank, code, facts, conn, frames)
    n_split = 0
    for c in time_connections(report):
        replies = _replies(c)
        requests = [m for m in c.messages if m.dir == "request"]
        for r in c.messages:
            if r.dir == "response" and "premature" in r.problems:
                cut = next((q for q in requests if q.first_frame < r.last_frame < q.last_frame), None)
                facts = {**conn_facts(c), "reply": _quote(r), "reply_frame": r.last_frame,
                         "request": _quote(cut) if cut else "?", "first": cut.first_frame if cut else r.first_frame,
                         "last": cut.last_frame if cut else r.last_frame}
                found.append((0, "t3_premature", facts, c, [r.last_frame, facts["first"], facts["last"]]))
        for q in requests:
            if q.first_frame == q.last_frame or q.command == "QUIT":
                continue
            n_split += 1
            got = replies.get(q.index, [])
            facts = {**conn_facts(c), "request": _quote(q), "first": q.first_frame, "last": q.last_frame}
            if not got:
                found.append((1, "t3_unanswered", facts, c, [q.first_frame, q.last_frame]))
            elif len(got) > 1:
                found.append((2, "t3_several", {**facts, "answers": len(got)}, c,
                              [q.first_frame, q.last_frame, *(m.last_frame for m in got[:3])]))
            else:
                found.append((3, "t3_ok", {**facts, "reply_frame": got[0].last_frame}, c,
                              [q.first_frame, q.last_frame, got[0].last_frame]))
    if not found:
        return make_task("T3", "absent", "t3_no_split", {}, WORDING, filters=["tcp.len == 1"])
    rank, code, facts, c, ev = min(found, key=lambda x: x[0])  # the worst finding decides
    if code == "t3_ok":
        facts["n"] = n_split
    status = {"t3_premature": "fail", "t3_unanswered": "fail", "t3_several": "partial", "t3_ok": "pass"}[code]
    return make_task("T3", status, code, facts, WORDING, evidence=frames(ev),
                     filters=[f"tcp.stream eq {c.id} && tcp.dstport == {c.server.port} && tcp.len > 0",
                              f"tcp.stream eq {c.id} && progjar.msg.index"])


# ---------------------------------------------------------------------------------------------
# T4: two clients at once


def _answered(c: Connection) -> bool:
    return any(m.dir == "response" for m in c.messages)


def _first_exchange(c: Connection) -> tuple[list[int], list[int]]:
    req = next((m.last_frame for m in c.messages if m.dir == "request"), None)
    rep = next((m.last_frame for m in c.messages if m.dir == "response"), None)
    return ([req] if req else []), ([rep] if rep else [])


def judge_t4(report: Report, marks: Any) -> Task:
    return judge_overlap(report, "T4", WORDING, served=_answered, first_frames=_first_exchange, marks=marks,
                         eligible=lambda c: c.service == "time", verb="answered", unserved_key="unanswered",
                         extra_filters=['progjar.msg.command == "TIME"'],
                         serial_passes=False)  # the assignment asks for a multithreaded server


def judge(report: Report, inp: Any) -> list[Task]:
    """T1..T4 for this report (`inp`: assignments.RubricInput)."""
    return [judge_t1(report, inp.ports["time"]), judge_t2(report), judge_t3(report), judge_t4(report, inp.marks)]
