"""Generated parts of docs/: the rubric reference (docs/rubrics.md) from the assignment catalogue.

Why generated: a rubric's wording (every reason code's sentence and fix, in English and
Indonesian) lives in reporter/assignments/<id>/wording.py and changes with the rubric. Copying it
into docs/ by hand would go stale at the first edit; tests/test_docs.py regenerates the file and
fails when the committed one differs. What the catalogue does not hold is written here, next to
the code that prints it: each assignment's introduction, what each task checks, and which status
each reason code gives (the rubric computes the status in code, not in its wording table).

    python -m tests.tools.docgen rubrics > docs/rubrics.md

The generator refuses to print a reference that would be incomplete: a reason code of the
catalogue that no task below lists, or a listed code the catalogue lacks, stops it with the line
to add here. tests/test_docs.py also runs every bundled sample through every rubric and checks
that each (task, code, status) it gives is one this table allows.
"""
from __future__ import annotations

import argparse
import string
import sys
from collections.abc import Iterable
from typing import Optional

from reporter.assignments import Assignment, catalogue, service_ports, task_name
from reporter.assignments.wording import Say, Wording

REGENERATE = "python -m tests.tools.docgen rubrics > docs/rubrics.md"

PASS, PARTIAL, FAIL, ABSENT = "pass", "partial", "fail", "absent"


class OutOfStep(Exception):
    """The catalogue has a reason code or task this generator does not describe (or the reverse)."""

# ---------------------------------------------------------------------------------------------
# What the catalogue does not say: per assignment an introduction, per task what it checks and
# which reason codes it gives with which status. Intros are str.format templates over the
# catalogue's default ports ({ports[echo]}), so a moved default port cannot leave them behind.

INTRO = {
    "tugas1": """\
Students run the lecturer's socket programs on the three lab machines (server mesin-1
172.16.16.101, clients mesin-2 and mesin-3) and explain the capture: `socket_info.py` resolves a
name (`getaddrinfo`, no connection), the echo server on port {ports[echo]} answers a client that
sends the 46-byte lab message (`recv(32)` on the server, `recv(16)` on the client), the same
server on port {ports[file-echo]} echoes a file, and two clients connect at once to a
single-threaded and to a threaded server. There is no message framing: an echo is compared byte
for byte, offset by offset, in both directions (`connections[].echo`). The name T1 must look up is
`--host` (default `www.its.ac.id`); `--port echo=PORT`, `--port file-echo=PORT` (or
`--ports P1,P2`) move the two TCP services.""",
    "tugas2": """\
A multithreaded time server on port {ports[time]}: a client sends `TIME` and gets `JAM hh:mm:ss`,
`QUIT` ends the session, each line ended by CRLF. Clients run on mesin-2 and mesin-3 at once,
often telnet, which may send every key in a segment of its own. Messages are lines (framing
`line`): a line ends at CRLF, a bare LF is accepted and noted (problem `bare-lf`). A server on
another port is found by its content (`TIME`/`JAM` lines) or named with `--port time=PORT`; the
lecturer's own server listens on 51000 and answers `JAM dd-mm-YYYY HH:MM:SS`, which the rubric
recognises and names as a different format.""",
    "tugas3": """\
A multithreaded file server on port {ports[file]} speaking the lecturer's protocol: `LIST`,
`GET name`, `UPLOAD name <base64>`, `DELETE name`; every reply is one JSON object (`status` OK or
ERROR, `data`, `data_namafile`, `data_file` in base64) ended by CRLF CRLF (framing `json`). A
request ends at CRLF CRLF when the client sends one, else where the server's next reply begins
(the lecturer's client sends no terminator). A file carried as base64 is decoded while it streams:
the report keeps its size and sha256, never its bytes. Students often move the server (46666):
it is found by its JSON replies, or named with `--port file=PORT`. The lab client opens one
connection per command, so "a later LIST" means any LIST answered after the command's reply, on
any connection.""",
    "ets": """\
The midterm (Evaluasi Tengah Semester): the Tugas 3 file server on a thread pool and on a process
pool, stress-tested with uploads and downloads of 10, 50 and 100 MB by 1, 5 and 50 client
workers; students tabulate time, throughput, successes and failures. It uses the same file
service as Tugas 3 (port {ports[file]}, framing `json`), so `--assignment auto` tells the two apart
by the capture's own evidence: it picks the ETS when one operation and file size was transferred
at least 3 times with at least 2 transfers in progress at once (a stress test), and
`assignment.why` says so. The rubric first fills `runs[]` (one row per UPLOAD or GET) and
`ets_table` (the assignment's table) and then judges them. A transfer starts at its connection's
SYN (the first request of a connection) or at the previous reply, ends with its first reply, and
fails when the reply is ERROR or never comes, the connection is reset first, the file's base64
does not decode, the decoded file differs from the size or sha256 the reply announces, or bytes
of it are missing from the capture. A batch is a set of transfers of one operation and size
started together; its clients are its transfers (see `reporter/assignments/ets/runs.py`).""",
}

# Every task's check in a sentence or three, and its reason codes with the statuses the rubric
# gives them (reporter/assignments/<id>/rubric.py). "overlap" stands for the concurrency task
# shared by three assignments (reporter/assignments/overlap.py, explained once below).
_ECHO_COMMON: list[tuple[str, tuple[str, ...]]] = [
    ("echo_no_connection", (ABSENT,)),
    ("echo_other_port", (PARTIAL,)),
    ("echo_other_port_short", (PARTIAL,)),
    ("echo_no_handshake_no_data", (FAIL,)),
    ("echo_handshake_failed", (FAIL,)),
    ("echo_no_data", (FAIL,)),
    ("echo_no_complete_handshake", (PARTIAL,)),
    ("echo_nothing_echoed", (PARTIAL,)),
    ("echo_differs", (PARTIAL,)),
    ("echo_differs_byte", (PARTIAL,)),
    ("echo_unverifiable", (PARTIAL,)),
    ("echo_short", (PARTIAL,)),
    ("echo_reset", (PARTIAL,)),
    ("echo_not_closed", (PARTIAL,)),
]
_ECHO_PASS = [("echo_ok_client_closed", (PASS,)), ("echo_ok_server_closed", (PASS,))]


def _overlap(prefix: str, serial: tuple[str, ...] = (PASS,)) -> list[tuple[str, tuple[str, ...]]]:
    return [(f"{prefix}_no_overlap", (ABSENT,)), (f"{prefix}_serial", serial), (f"{prefix}_concurrent", (PASS,)),
            (f"{prefix}_same_host", (PARTIAL,)), (f"{prefix}_not_all_echoed", (PARTIAL,)),
            (f"{prefix}_same_host_not_all_echoed", (PARTIAL,))]


def _file_shared(prefix: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(f"{prefix}_unanswered", (FAIL,)), (f"{prefix}_bad_reply", (FAIL,)), (f"{prefix}_error", (FAIL,))]


CHECKS: dict[str, dict[str, str]] = {
    "tugas1": {
        "T1": "The DNS lookups of the `--host` name (compared without case and trailing dot). Pass: an A and an "
              "AAAA query for it were sent and at least one of them got a response (any rcode). Partial: both were "
              "sent and none was answered, or only one of the two types was asked. Absent: no query for the name "
              "(the reason names up to three names the capture looks up instead). The reason also says whether a "
              "TCP connection to an answered address follows (the `_then_tcp` codes): `socket_info.py` only "
              "resolves, but that does not change the status. Evidence: the query and response frames of the "
              "first A and AAAA lookup of each client, at most four lookups.",
        "T2": "The connections to the echo port in effect; the best one decides (by status, then by bytes sent). "
              "Pass: a complete handshake, the client sent bytes, every byte came back unchanged "
              "(`echo.verified`), and the connection closed with a FIN, not a reset. Without any connection to "
              "that port, an echo seen on another port (bytes that came back unchanged, or a connection "
              "recognised as echo by its content) gives partial, with the `--port` option to judge it there; "
              "nothing at all is absent.",
        "T3": "As T2, on the file-echo port, and the request must be longer than the 46-byte lab message (a "
              "file). An echo on another port counts for T3 only when its request is longer than that; an echo "
              "elsewhere that is no longer than the lab message is T2's and T3 stays absent.",
        "T4": "The concurrency task (below) over every connection with a SYN; a connection is served when its "
              "echo is verified. The serial verdict's filters add `progjar.wait > 0.5`.",
    },
    "tugas2": {
        "T1": "Every `TIME` request on every time connection (on the time port, or recognised by content); the "
              "best outcome decides. Pass: answered `JAM hh:mm:ss` ended by CRLF, and the clock is right: the "
              "stated time is within 2 s of the capture's own clock at the reply's frame in some whole- or "
              "half-hour UTC offset (UTC-12:00 to UTC+14:00; the matching offset becomes the message's "
              "`utc_offset` and, when every reply agrees, `capture.timezone_hint`). Partial: the format is right "
              "but the clock is off, the line ends with a bare LF, or the time is in the lecturer's format "
              "(`JAM dd-mm-YYYY HH:MM:SS`) or another format that still holds a time. Fail: no reply, a reply "
              "that does not start with `JAM`, or a `JAM` without a time. Absent: no time connection, or no "
              "client sent `TIME`.",
        "T2": "Two halves judged together: what `QUIT` does, and what an unknown request (neither `TIME` nor "
              "`QUIT`, e.g. `HELLO`) gets. Each half takes its best state over the capture. The code is "
              "`t2_quit_<QUIT state>__unknown_<unknown state>`, its sentence is the QUIT half followed by the "
              "unknown half, and its fix the two halves' fixes (those that have one). Pass: the server closed "
              "the connection first (FIN) after `QUIT`, and the unknown request was answered. Absent: neither "
              "`QUIT` nor an unknown request was sent. Fail: neither half reached a state worth points (see the "
              "points below). Partial: anything else.",
        "T3": "Requests that arrived cut across segments (their first and last frame differ; `QUIT` is left "
              "out), as telnet sends them; the worst finding decides. Fail: the server replied while a request "
              "was still incomplete (message problem `premature`: it treats each `recv()` as a request), or a "
              "cut request was never answered. Partial: a cut request was answered several times. Pass: every "
              "cut request was answered once, after it was complete. Absent: no request was cut.",
        "T4": "The concurrency task (below) over the time connections; a connection is served when it got at "
              "least one reply.",
    },
    "tugas3": {
        "T1": "Every `LIST` and its first reply; the best one decides. Pass: answered OK with `data` a JSON list "
              "of names. Partial: OK, but `data` is not a list. Fail: no reply, a reply that is not a JSON object "
              "with a status (message problems `not-json`, `json-invalid`, `json-incomplete`, `not-object`, "
              "`no-status`, `bad-status`, `empty`), or ERROR (the reason quotes the server's `data`). Absent: no "
              "`LIST`, or no file connection at all (`no_connection`).",
        "T2": "Every `GET`. Pass: answered OK with a `data_file` whose base64 decodes (its size and sha256 are "
              "stated; `t2_ok_same_as_upload` when it equals a file uploaded earlier under that name). Partial: "
              "no `data_file`, a decoded size that differs from the `data_size` the reply announces, or a file "
              "that differs from the one uploaded earlier under that name. Fail: base64 that does not decode, "
              "or no reply, an unreadable reply, ERROR.",
        "T3": "Every `UPLOAD`. Pass: its base64 decodes, the reply is OK, and the next `LIST` answered after it "
              "shows the name. Partial: the server's reply announces a stored size or sha256 that differs from "
              "what was sent, no `LIST` follows, or the next `LIST` does not show the file. Fail: no file "
              "content, base64 that does not decode, or no reply, an unreadable reply, ERROR.",
        "T4": "Every `DELETE`. Pass: answered OK, and the next `LIST` answered after it no longer shows the name. "
              "Partial: no `LIST` follows, or it still shows the file. Fail: no reply, an unreadable reply, "
              "ERROR.",
        "T5": "Every well-formed request (a known command without the message problems `unknown-command`, "
              "`missing-name`, `bad-quoting`, `empty`, `bytes-not-captured`) gets exactly one reply. Fail: a "
              "request got several replies (the lecturer's `recv(32)` loop runs every 32-byte chunk as a command; "
              "the reason names the request with the most replies and their statuses and frames). Partial: some "
              "request got no reply. Pass: each got one. Absent: no well-formed request.",
        "T6": "The concurrency task (below) over the file connections; a connection is served when each of its "
              "requests got a reply and it made at least one. Its codes are the shared task's with `t6_` for "
              "`t4_`.",
    },
    "ets": {
        "T1": "`runs[]`, the transfers measured on the wire. Pass: uploads and downloads. Partial: only one of "
              "the two. Absent: no UPLOAD or GET (or no file connection at all: `no_connection`).",
        "T2": "Whether every transfer succeeded (`runs[].ok`). Pass: all did. Partial: some failed; fail: every "
              "one failed. The code names the first failed transfer's reason (`runs[].reason`: "
              "`t2_failed_<reason>`). Absent: no transfer (`t1_no_transfer`).",
        "T3": "Several clients at once: among the table's rows with more than one client, the row with the most "
              "transfers in progress at one moment (`peak`). Pass: a peak of 2 or more. Partial: batches of "
              "several clients were run, but their transfers never overlapped (files too small). Absent: every "
              "batch had one client, or there was no transfer.",
        "T4": "Whether `ets_table` covers the assignment's matrix: both operations, at least two file sizes and "
              "at least two client counts, and every combination of them. Pass: all there. Partial: fewer "
              "operations, sizes or client counts (`t4_small`), or combinations missing (`t4_gaps`, naming up to "
              "four). Absent: no transfer.",
    },
}

CODES: dict[str, dict[str, list[tuple[str, tuple[str, ...]]]]] = {
    "tugas1": {
        "T1": [("t1_no_query", (ABSENT,)), ("t1_no_query_other", (ABSENT,)), ("t1_unanswered", (PARTIAL,)),
               ("t1_one_type", (PARTIAL,)), ("t1_one_type_then_tcp", (PARTIAL,)), ("t1_answered", (PASS,)),
               ("t1_answered_then_tcp", (PASS,))],
        "T2": _ECHO_COMMON + _ECHO_PASS,
        "T3": [_ECHO_COMMON[0], ("echo_no_file_elsewhere", (ABSENT,)), *_ECHO_COMMON[1:],
               ("echo_request_short", (PARTIAL,)), *_ECHO_PASS],
        "T4": _overlap("t4"),
    },
    "tugas2": {
        "T1": [("t1_no_connection", (ABSENT,)), ("t1_no_time_request", (ABSENT,)), ("t1_unanswered", (FAIL,)),
               ("t1_not_jam", (FAIL,)), ("t1_bad_format", (FAIL,)), ("t1_other_format", (PARTIAL,)),
               ("t1_lecturer_format", (PARTIAL,)), ("t1_lecturer_format_clock_off", (PARTIAL,)),
               ("t1_clock_off", (PARTIAL,)), ("t1_bare_lf", (PARTIAL,)), ("t1_ok", (PASS,))],
        "T2": [],  # the QUIT x unknown matrix, printed by _tugas2_t2()
        "T3": [("t3_no_split", (ABSENT,)), ("t3_premature", (FAIL,)), ("t3_unanswered", (FAIL,)),
               ("t3_several", (PARTIAL,)), ("t3_ok", (PASS,))],
        "T4": _overlap("t4", (PARTIAL,)),
    },
    "tugas3": {
        "T1": [("no_connection", (ABSENT,)), ("t1_no_list", (ABSENT,)), *_file_shared("t1"),
               ("t1_not_a_list", (PARTIAL,)), ("t1_ok", (PASS,))],
        "T2": [("no_connection", (ABSENT,)), ("t2_no_get", (ABSENT,)), *_file_shared("t2"),
               ("t2_bad_base64", (FAIL,)), ("t2_no_file", (PARTIAL,)), ("t2_size_differs", (PARTIAL,)),
               ("t2_differs_from_upload", (PARTIAL,)), ("t2_ok", (PASS,)), ("t2_ok_same_as_upload", (PASS,))],
        "T3": [("no_connection", (ABSENT,)), ("t3_no_upload", (ABSENT,)), ("t3_no_data", (FAIL,)),
               ("t3_bad_base64", (FAIL,)), *_file_shared("t3"), ("t3_stored_differs", (PARTIAL,)),
               ("t3_no_later_list", (PARTIAL,)), ("t3_list_wrong", (PARTIAL,)), ("t3_ok", (PASS,))],
        "T4": [("no_connection", (ABSENT,)), ("t4_no_delete", (ABSENT,)), *_file_shared("t4"),
               ("t4_no_later_list", (PARTIAL,)), ("t4_list_wrong", (PARTIAL,)), ("t4_ok", (PASS,))],
        "T5": [("no_connection", (ABSENT,)), ("t5_no_request", (ABSENT,)), ("t5_several_replies", (FAIL,)),
               ("t5_unanswered", (PARTIAL,)), ("t5_ok", (PASS,))],
        "T6": _overlap("t6", (PARTIAL,)),
    },
    "ets": {
        "T1": [("no_connection", (ABSENT,)), ("t1_no_transfer", (ABSENT,)), ("t1_only_uploads", (PARTIAL,)),
               ("t1_only_downloads", (PARTIAL,)), ("t1_measured", (PASS,))],
        "T2": [("no_connection", (ABSENT,)), ("t1_no_transfer", (ABSENT,)),
               ("t2_all_ok", (PASS,))],  # + t2_failed_<reason>: _ets_t2()
        "T3": [("no_connection", (ABSENT,)), ("t1_no_transfer", (ABSENT,)), ("t3_one_client", (ABSENT,)),
               ("t3_no_overlap", (PARTIAL,)), ("t3_concurrent", (PASS,))],
        "T4": [("no_connection", (ABSENT,)), ("t1_no_transfer", (ABSENT,)), ("t4_small", (PARTIAL,)),
               ("t4_gaps", (PARTIAL,)),
               ("t4_matrix", (PASS,))],
    },
}

OVERLAP = """\
## The concurrency task (Tugas 1 T4, Tugas 2 T4, Tugas 3 T6)

One judgement for three assignments (`reporter/assignments/overlap.py`); each assignment says
which connections count and when a connection was served. Connections to one server endpoint
(address and port) that have a SYN are sorted by SYN time; two overlap when one starts before an
earlier one has ended (its last frame, or the end of the capture). The best server endpoint
decides.

- **pass**: some overlapping pair comes from two different client hosts, and every overlapping
  connection was served;
- **partial**: the overlapping connections all come from one host, or some were not served (the
  reason lists their client numbers);
- **absent**: no two connections to one endpoint overlap.

The verdict (`tasks[].verdict`) is **serial** when an overlapping client was served only after
another client of the same server closed: its first reply (or echo) came after that client's first
FIN or RST, and that close came after this client's first request (for a time or file server, its
first complete request), so the request waited in the backlog while the server was busy (the TCP analysis's `echo.queued_behind`; a report
without it, such as cached JSON of an old version, falls back to a close between request and
reply at least 0.5 s apart). Otherwise the verdict is **concurrent**. The reason of a serial
verdict names the later client, how long it waited (`echo.wait_s`, SYN to first reply) and the
client it waited for; the filters add `progjar.expert.queued`, the plugin's note on that frame.
In Tugas 1 the verdict does not change the status: the lab shows a serial and a threaded server,
so a serial server that serves two overlapping clients passes, and the verdict says how it served
them. Tugas 2 (a multithreaded time server) and Tugas 3 (clients served at overlapping times) ask
for a server that serves clients at once: there a serial verdict is **partial**, with the fix
(serve each client in its own thread).
"""


# ---------------------------------------------------------------------------------------------
# printing


def template(text: str) -> str:
    """A wording template as a reader should see it: `{field}` for every fact (format specs left
    out), literal braces single, and the few characters Markdown would read as markup escaped."""
    out = []
    for literal, fieldname, _spec, _conv in string.Formatter().parse(text):
        out.append(literal.replace("*", "\\*").replace("<", "&lt;"))
        if fieldname is not None:
            out.append("{" + fieldname + "}")
    return "".join(out)


def _entry(code: str, statuses: Iterable[str], w: Wording, note: str = "") -> list[str]:
    lines = [f"- **`{code}`** · {' or '.join(statuses)}{note}",
             f"  - en: {template(w.reason.en)}",
             f"  - id: {template(w.reason.id)}"]
    if w.fix is not None:
        lines += [f"  - fix (en): {template(w.fix.en)}", f"  - fix (id): {template(w.fix.id)}"]
    return lines


def _tugas2_t2(a: Assignment) -> list[str]:
    """Tugas 2 T2: the two halves with their sentences and fixes, then every code with its status."""
    from reporter.assignments.tugas2 import rubric, wording

    quit_, unknown = wording._QUIT, wording._UNKNOWN
    for q, (qr, qf) in quit_.items():
        for u, (ur, uf) in unknown.items():
            w = a.wording[wording.t2_code(q, u)]
            fixes = [f for f in (qf, uf) if f is not None]
            fix = Say(" ".join(f.en for f in fixes), " ".join(f.id for f in fixes)) if fixes else None
            if (w.reason.en, w.reason.id) != (f"{qr.en} {ur.en}", f"{qr.id} {ur.id}") or w.fix != fix:
                raise OutOfStep(f"tugas2 T2's sentences are no longer the two halves put together: update "
                                f"_tugas2_t2 in tests/tools/docgen.py, then run: {REGENERATE}")
    lines = ["QUIT half (the best state over every `QUIT`; points in brackets):", ""]
    for q, (qr, qf) in quit_.items():
        lines += [f"- `{q}` ({rubric._QUIT_SCORE[q]})", f"  - en: {template(qr.en)}", f"  - id: {template(qr.id)}"]
        if qf is not None:
            lines += [f"  - fix (en): {template(qf.en)}", f"  - fix (id): {template(qf.id)}"]
    lines += ["", "Unknown-request half:", ""]
    for u, (ur, uf) in unknown.items():
        lines += [f"- `{u}` ({rubric._UNKNOWN_SCORE[u]})", f"  - en: {template(ur.en)}", f"  - id: {template(ur.id)}"]
        if uf is not None:
            lines += [f"  - fix (en): {template(uf.en)}", f"  - fix (id): {template(uf.id)}"]
    lines += ["", "Every code and its status (`none`, at -1 points, means nothing of that kind was sent):", ""]
    for q in quit_:
        lines.append("- " + " · ".join(f"`{wording.t2_code(q, u)}` {t2_status(q, u)}" for u in unknown))
    return lines


def t2_status(q: str, u: str) -> str:
    """Tugas 2 T2's status rule (tugas2/rubric.py judge_t2) on the two halves' points."""
    from reporter.assignments.tugas2 import rubric

    qs, us = rubric._QUIT_SCORE[q], rubric._UNKNOWN_SCORE[u]
    if qs < 0 and us < 0:
        return ABSENT
    if qs == 2 and us == 2:
        return PASS
    if qs <= 0 and us <= 0:
        return FAIL
    return PARTIAL


def _ets_failed(a: Assignment) -> list[tuple[str, tuple[str, ...]]]:
    from reporter.assignments.ets.wording import RUN_REASONS

    return [(f"t2_failed_{r}", (PARTIAL, FAIL)) for r in RUN_REASONS]


def task_codes(aid: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """task id -> [(reason code, statuses it can have)], complete for the assignment (checked)."""
    a = catalogue()[aid]
    out = {t: list(CODES[aid].get(t, [])) for t in a.tasks}
    if aid == "tugas2":
        from reporter.assignments.tugas2 import wording

        out["T2"] = [(wording.t2_code(q, u), (t2_status(q, u),)) for q in wording.QUIT_STATES
                     for u in wording.UNKNOWN_STATES]
    if aid == "ets":
        out["T2"] = out["T2"][:1] + _ets_failed(a) + out["T2"][1:]
    listed = {c for codes in out.values() for c, _ in codes}
    missing = [c for c in a.wording if c not in listed]
    unknown = sorted(listed - set(a.wording))
    if missing or unknown or set(CHECKS[aid]) != set(a.tasks):
        raise OutOfStep(f"tests/tools/docgen.py: the rubric reference of {aid} is out of step with the catalogue: "
                         f"codes no task lists: {missing or 'none'}; listed codes the wording lacks: "
                         f"{unknown or 'none'}; tasks without a check: "
                         f"{sorted(set(a.tasks) ^ set(CHECKS[aid])) or 'none'}. Add them to CODES/CHECKS in "
                         f"tests/tools/docgen.py, then run: {REGENERATE}")
    return out


def allowed_statuses(aid: str) -> dict[tuple[str, str], set[str]]:
    """(task, code) -> the statuses docs/rubrics.md says it can have (tests check rubrics against it)."""
    return {(t, c): set(s) for t, codes in task_codes(aid).items() for c, s in codes}


def _assignment(a: Assignment) -> list[str]:
    ports = service_ports()
    title = a.title
    lines = [f"## `{a.id}`: {title.en}", "", f"*{title.id}*", ""]
    lines += [INTRO[a.id].format(ports=ports), ""]
    lines += ["| service | default port | transport | framing |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` ({s.title.en} / {s.title.id}) | {s.port} | {s.transport} | `{s.framing}` |"
              for s in a.services]
    lines += ["", "| task | name | nama |", "|---|---|---|"]
    for t in a.tasks:
        lines.append(f"| {t} | {task_name(a, t, ports, 'en').split(' · ', 1)[-1]} | "
                     f"{task_name(a, t, ports, 'id').split(' · ', 1)[-1]} |")
    lines.append("")
    codes = task_codes(a.id)
    shown: dict[str, str] = {}
    for t in a.tasks:
        lines += [f"### {a.id} {t}: {task_name(a, t, ports, 'en').split(' · ', 1)[-1]}", "", CHECKS[a.id][t], ""]
        if a.id == "tugas2" and t == "T2":
            lines += _tugas2_t2(a) + [""]
            continue
        statuses = sorted({s for _, ss in codes[t] for s in ss}, key=("pass", "partial", "fail", "absent").index)
        lines += [f"Statuses: {', '.join(statuses)}. Reason codes:", ""]
        for code, ss in codes[t]:
            if code in shown:
                lines.append(f"- **`{code}`** · {' or '.join(ss)}: as in {shown[code]}")
                continue
            shown[code] = t
            note = ""
            if PASS in ss and len(ss) == 1 and a.wording[code].fix is not None:
                note = " (a pass: its fix is not shown)"
            lines += _entry(code, ss, a.wording[code], note)
        lines.append("")
    return lines


def rubrics() -> str:
    """docs/rubrics.md."""
    from reporter.grading.scores import POINTS

    cat = catalogue()
    lines = [
        "# Rubrics",
        "",
        f"<!-- Generated from the catalogue (reporter/assignments) by `{REGENERATE}`. "
        "Edit the wording in reporter/assignments/<id>/wording.py and the introductions in "
        "tests/tools/docgen.py, then regenerate; tests/test_docs.py fails while this file is stale. -->",
        "",
        "Each assignment of the course is one entry of the catalogue (`reporter/assignments/`): its "
        "services, its tasks and a rubric that judges the report model. This page lists, per assignment, "
        "what each task checks, the statuses it can give and every reason code with its sentence and fix "
        "in English and Indonesian, exactly as the reports say them.",
        "",
        "A task (`tasks[]` in the report JSON, docs/report-json.md) has a **status**: `pass`, `partial`, "
        "`fail` or `absent` (nothing in the capture to judge). Its `code` is one of the reason codes below "
        "and its `facts` fill the sentence's `{fields}`; `reason` and `fix` are the English sentences "
        "(`fix` is null for a pass), and the HTML and PDF reports say them in the reader's language from "
        "`code` and `facts`, numbers written that language's way (4,920 and 6.0 in English; 4.920 and 6,0 "
        "in Indonesian). A connection is named as the plugin numbers it, \"Client #2 (a → b, "
        "tcp.stream 1)\": the client number on that server endpoint in order of first SYN, and "
        "Wireshark's stream index. `evidence_frames` are frame numbers to type into Wireshark's "
        "Go to Packet and `filters` display filters that show them, several using the plugin's fields "
        "(docs/plugin.md).",
        "",
        "`--assignment auto` (the default) judges a capture as the assignment whose services it uses most: "
        "connections that carry data to a service's port in effect, or that were recognised by their "
        "content (`connections[].service_by`), and for Tugas 1 its DNS lookups; ties are settled by an "
        "assignment's own evidence (the ETS) or course order, and `assignment.why` says which.",
        "",
        "**Score** (`progjar batch`, docs/grading.md): per task, the student's best status over all their "
        "captures judged as the class's assignment earns points: "
        + ", ".join(f"{s} {POINTS[s]:g}" for s in ("pass", "partial", "fail", "absent"))
        + ". Tasks weigh equally unless `--weights T1=...` says otherwise; the weighted mean is scaled to "
        "100 and rounded to two decimals. Verdicts and similarity flags never change a score.",
        "",
        "| assignment | tasks |",
        "|---|---|",
    ]
    for a in cat.values():
        lines.append(f"| [`{a.id}`](#{a.id}-{_anchor(a.title.en)}) {a.title.en} | {', '.join(a.tasks)} |")
    lines.append("")
    for a in cat.values():
        lines += _assignment(a)
    lines += [OVERLAP]
    return "\n".join(lines).rstrip("\n") + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor for the part after the code span."""
    keep = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -")
    return keep.replace(" ", "-")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.tools.docgen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("rubrics",))
    args = p.parse_args(argv)
    try:
        text = rubrics()
    except OutOfStep as e:
        print(e, file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
