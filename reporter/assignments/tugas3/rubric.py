"""The Tugas 3 rubric (docs/rubrics.md): T1..T6 judged from the file connections' messages.

Why from messages only: every fact a task states (a LIST's names, a file's size and sha256, how
many replies one request got) is in the report's connections[].messages, so a grader re-reading
cached JSON gets the same verdicts. A later LIST means one whose reply completed after the
UPLOAD's (or DELETE's) reply, on any connection: the lab client opens one connection per command.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from reporter.assignments.files import (
    Exchange,
    downloaded_file,
    exchanges,
    file_connections,
    listed_names,
    uploaded_file,
)
from reporter.assignments.judging import RANK, conn_facts, frames, make_task
from reporter.assignments.tugas3.wording import WORDING
from reporter.model import Connection, Message, Report, Task

BAD_REPLY = ("not-json", "json-invalid", "json-incomplete", "not-object", "no-status", "bad-status", "empty")
MALFORMED = ("unknown-command", "missing-name", "bad-quoting", "empty", "bytes-not-captured")


def short(sha: Optional[str]) -> str:
    return (sha or "?")[:12]


def _base(x: Exchange) -> dict[str, Any]:
    c = x.conn
    return {**conn_facts(c), "frame": x.request.last_frame, "name": x.name or "", "port": c.server.port}


def _evidence(x: Exchange, *more: Optional[int]) -> list[int]:
    r = x.reply
    return frames(x.request.first_frame, x.request.last_frame, r.last_frame if r else None, *more)


def _filters(x: Exchange, command: str) -> list[str]:
    return [f'tcp.stream eq {x.conn.id}', f'progjar.msg.command == "{command}" || progjar.msg.status']


def _reply_problem(x: Exchange) -> Optional[dict[str, Any]]:
    """Facts of a reply that answers but cannot be read: not JSON, no status, cut."""
    r = x.reply
    if r is None:
        return None
    bad = [p for p in r.problems if p in BAD_REPLY]
    if bad:
        return {"problem": bad[0], "reply_frame": r.last_frame, "reply": r.text[:60]}
    return None


def _answered(x: Exchange, task_id: str, command: str, facts: dict[str, Any], prefix: str) -> Optional[Task]:
    """The statuses every task shares: no reply, a reply that is no JSON, an ERROR reply."""
    if x.reply is None:
        return make_task(task_id, "fail", f"{prefix}_unanswered", facts, WORDING, evidence=_evidence(x),
                         filters=_filters(x, command))
    bad = _reply_problem(x)
    if bad is not None:
        return make_task(task_id, "fail", f"{prefix}_bad_reply", {**facts, **bad}, WORDING, evidence=_evidence(x),
                         filters=_filters(x, command))
    r = x.reply
    if r.status != "OK":
        return make_task(task_id, "fail", f"{prefix}_error", {**facts, "reply_frame": r.last_frame,
                                                               "said": str(r.data or "")[:80]},
                         WORDING, evidence=_evidence(x), filters=_filters(x, command))
    return None


def _best(tasks: list[Task]) -> Task:
    return max(tasks, key=lambda t: RANK[t.status])


def _absent(task_id: str, code: str, report: Report, port: int) -> Task:
    n = len(file_connections(report))
    facts = {"port": port, "n": n}
    return make_task(task_id, "absent", code if n else "no_connection", facts, WORDING,
                     filters=[f"tcp.port == {port}"])


def _later_list(xs: list[Exchange], after: float) -> Optional[Exchange]:
    return next((y for y in xs if listed_names(y) is not None and y.done_s > after), None)


# ---------------------------------------------------------------------------------------------


def judge_t1(xs: list[Exchange], report: Report, port: int) -> Task:
    lists = [x for x in xs if x.request.command == "LIST"]
    if not lists:
        return _absent("T1", "t1_no_list", report, port)
    judged = []
    for x in lists:
        facts = _base(x)
        t = _answered(x, "T1", "LIST", facts, "t1")
        if t is None:
            names = listed_names(x)
            r = x.reply
            if names is None:
                t = make_task("T1", "partial", "t1_not_a_list", {**facts, "reply_frame": r.last_frame,
                                                                   "reply": r.text[:60]},
                              WORDING, evidence=_evidence(x), filters=_filters(x, "LIST"))
            else:
                t = make_task("T1", "pass", "t1_ok", {**facts, "reply_frame": r.last_frame, "n": len(names),
                                                      "names": names[:5] or ["–"]},
                              WORDING, evidence=_evidence(x), filters=_filters(x, "LIST"))
        judged.append(t)
    return _best(judged)


def judge_t2(xs: list[Exchange], report: Report, port: int) -> Task:
    gets = [x for x in xs if x.request.command == "GET"]
    if not gets:
        return _absent("T2", "t2_no_get", report, port)
    uploads = {}
    for x in xs:
        up = uploaded_file(x)
        if up is not None and x.ok and up.sha256 and x.name:
            uploads[x.name] = (x, up)
    judged = []
    for x in gets:
        facts = _base(x)
        t = _answered(x, "T2", "GET", facts, "t2")
        if t is None:
            r = x.reply
            f = downloaded_file(x)
            facts["reply_frame"] = r.last_frame
            if f is None:
                t = make_task("T2", "partial", "t2_no_file", facts, WORDING, evidence=_evidence(x),
                              filters=_filters(x, "GET"))
            elif f.sha256 is None:
                t = make_task("T2", "fail", "t2_bad_base64", {**facts, "bytes": f.bytes}, WORDING,
                              evidence=_evidence(x), filters=_filters(x, "GET"))
            else:
                facts.update(bytes=f.bytes, sha=short(f.sha256))
                said = r.announced
                earlier = uploads.get(x.name or "")
                if said is not None and said.bytes != f.bytes:
                    t = make_task("T2", "partial", "t2_size_differs", {**facts, "announced": said.bytes}, WORDING,
                                  evidence=_evidence(x), filters=_filters(x, "GET"))
                elif earlier is not None and earlier[0].done_s < x.done_s and earlier[1].sha256 != f.sha256:
                    up = earlier[1]
                    t = make_task("T2", "partial", "t2_differs_from_upload",
                                  {**facts, "up_bytes": up.bytes, "up_sha": short(up.sha256),
                                   "up_frame": earlier[0].request.last_frame},
                                  WORDING, evidence=_evidence(x, earlier[0].request.last_frame),
                                  filters=_filters(x, "GET"))
                elif earlier is not None and earlier[0].done_s < x.done_s:
                    t = make_task("T2", "pass", "t2_ok_same_as_upload",
                                  {**facts, "up_frame": earlier[0].request.last_frame}, WORDING,
                                  evidence=_evidence(x, earlier[0].request.last_frame), filters=_filters(x, "GET"))
                else:
                    t = make_task("T2", "pass", "t2_ok", facts, WORDING, evidence=_evidence(x),
                                  filters=_filters(x, "GET"))
        judged.append(t)
    return _best(judged)


def _then_list(xs: list[Exchange], x: Exchange, task_id: str, facts: dict[str, Any], prefix: str,
               want_listed: bool) -> Task:
    """T3/T4's second half: the first LIST answered after x's reply shows the file (or no longer does)."""
    later = _later_list(xs, x.done_s)
    command = x.request.command or ""
    if later is None:
        return make_task(task_id, "partial", f"{prefix}_no_later_list", facts, WORDING, evidence=_evidence(x),
                         filters=_filters(x, command))
    names = listed_names(later) or []
    shown = (x.name or "") in names
    facts = {**facts, "list_frame": later.reply.last_frame, "names": names[:5] or ["–"]}  # type: ignore[union-attr]
    ev = _evidence(x, later.request.last_frame, later.reply.last_frame)  # type: ignore[union-attr]
    filters = _filters(x, command) + [f"tcp.stream eq {later.conn.id}"]
    if shown == want_listed:
        return make_task(task_id, "pass", f"{prefix}_ok", facts, WORDING, evidence=ev, filters=filters)
    return make_task(task_id, "partial", f"{prefix}_list_wrong", facts, WORDING, evidence=ev, filters=filters)


def judge_t3(xs: list[Exchange], report: Report, port: int) -> Task:
    ups = [x for x in xs if x.request.command == "UPLOAD"]
    if not ups:
        return _absent("T3", "t3_no_upload", report, port)
    judged = []
    for x in ups:
        facts = _base(x)
        f = x.request.file
        if f is None:
            judged.append(make_task("T3", "fail", "t3_no_data", facts, WORDING, evidence=_evidence(x),
                                    filters=_filters(x, "UPLOAD")))
            continue
        if f.sha256 is None:
            judged.append(make_task("T3", "fail", "t3_bad_base64", {**facts, "bytes": f.bytes}, WORDING,
                                    evidence=_evidence(x), filters=_filters(x, "UPLOAD")))
            continue
        facts.update(bytes=f.bytes, sha=short(f.sha256))
        t = _answered(x, "T3", "UPLOAD", facts, "t3")
        if t is None:
            said = x.reply.announced  # type: ignore[union-attr]
            if said is not None and (said.bytes != f.bytes or (said.sha256 and said.sha256 != f.sha256)):
                t = make_task("T3", "partial", "t3_stored_differs",
                              {**facts, "stored": said.bytes, "stored_sha": short(said.sha256 or f.sha256)},
                              WORDING, evidence=_evidence(x), filters=_filters(x, "UPLOAD"))
            else:
                t = _then_list(xs, x, "T3", facts, "t3", want_listed=True)
        judged.append(t)
    return _best(judged)


def judge_t4(xs: list[Exchange], report: Report, port: int) -> Task:
    dels = [x for x in xs if x.request.command == "DELETE"]
    if not dels:
        return _absent("T4", "t4_no_delete", report, port)
    judged = []
    for x in dels:
        facts = _base(x)
        t = _answered(x, "T4", "DELETE", facts, "t4")
        judged.append(t if t is not None else _then_list(xs, x, "T4", facts, "t4", want_listed=False))
    return _best(judged)


def judge_t5(xs: list[Exchange], report: Report, port: int) -> Task:
    """Every well-formed request gets exactly one reply; the recv(32) bug (one request, a reply per
    32-byte chunk) fails it, naming the request and its replies."""
    formed = [x for x in xs if x.request.command and not any(p in MALFORMED for p in x.request.problems)]
    if not formed:
        return _absent("T5", "t5_no_request", report, port)
    several = [x for x in formed if len(x.replies) > 1]
    if several:
        x = max(several, key=lambda y: len(y.replies))
        statuses = sorted({r.status or "?" for r in x.replies})
        facts = {**_base(x), "command": x.request.command, "bytes": x.request.bytes, "replies": len(x.replies),
                 "statuses": statuses, "reply_frames": [r.last_frame for r in x.replies[:5]],
                 "requests": len(several)}
        return make_task("T5", "fail", "t5_several_replies", facts, WORDING,
                         evidence=frames(x.request.last_frame, [r.last_frame for r in x.replies[:5]]),
                         filters=[f"tcp.stream eq {x.conn.id}", f"tcp.stream eq {x.conn.id} && tcp.srcport == {port}"
                                  f" && tcp.len > 0"])
    silent = [x for x in formed if not x.replies]
    if silent:
        x = silent[0]
        facts = {**_base(x), "command": x.request.command, "unanswered": len(silent), "n": len(formed)}
        return make_task("T5", "partial", "t5_unanswered", facts, WORDING, evidence=_evidence(x),
                         filters=[f"tcp.stream eq {x.conn.id}"])
    cmds = sorted({x.request.command for x in formed})  # type: ignore[type-var]
    x = formed[0]
    return make_task("T5", "pass", "t5_ok", {"n": len(formed), "commands": cmds, "conns": len({y.conn.id for y in formed})},
                     WORDING, evidence=_evidence(x), filters=[f"tcp.port == {port}"])


def _served(c: Connection) -> bool:
    """A file client was served: every request it completed got a reply, and it made at least one."""
    reqs = [m for m in c.messages if m.dir == "request"]
    answered = {m.in_reply_to for m in c.messages if m.dir == "response"}
    return bool(reqs) and all(m.index in answered for m in reqs)


def _first_frames(c: Connection) -> tuple[list[int], list[int]]:
    req = next((m.last_frame for m in c.messages if m.dir == "request"), None)
    rep = next((m.last_frame for m in c.messages if m.dir == "response"), None)
    return ([req] if req else []), ([rep] if rep else [])


def judge_t6(report: Report, marks: Any) -> Task:
    """Two clients from different hosts served at overlapping times (the shared concurrency task)."""
    from reporter.assignments.overlap import judge_overlap

    t6 = {k.replace("t6_", "t4_", 1): w for k, w in WORDING.items() if k.startswith("t6_")}
    task = judge_overlap(report, "T6", t6, served=_served, first_frames=_first_frames, marks=marks,
                         eligible=lambda c: c.service == "file", verb="answered", unserved_key="unanswered",
                         serial_passes=False)  # two clients served at overlapping times: a serial server is not
    task.code = task.code.replace("t4_", "t6_", 1)
    return task


JUDGES: tuple[Callable[[list[Exchange], Report, int], Task], ...] = (judge_t1, judge_t2, judge_t3, judge_t4, judge_t5)


def judge(report: Report, inp: Any) -> list[Task]:
    """T1..T6 for this report (`inp`: assignments.RubricInput)."""
    xs = exchanges(report)
    port = inp.ports["file"]
    return [j(xs, report, port) for j in JUDGES] + [judge_t6(report, inp.marks)]


def request_line(m: Message) -> str:
    """A request as the ladder and the reasons name it: 'GET donalbebek.jpg'."""
    return " ".join([m.command or "?"] + m.args[:1])
