"""The ETS rubric (docs/rubrics.md): runs[] and the table first (runs.derive), then T1..T4 judged
from them. Why the rubric fills runs[] and ets_table: both are the ETS's reading of the file
connections' messages (which transfers, which batches), a judgement of the assignment stage;
the analyses only frame and parse messages. Re-judging cached JSON gives the same rows.
"""
from __future__ import annotations

from typing import Any, Optional

from reporter.assignments.ets.runs import derive, make_runs
from reporter.assignments.ets.wording import RUN_REASONS, WORDING
from reporter.assignments.files import Exchange, file_connections
from reporter.assignments.judging import frames, make_task
from reporter.model import EtsRow, Report, Run, Task

COMMAND = {"upload": "UPLOAD", "download": "GET"}


def _evidence(x: Optional[Exchange]) -> list[int]:
    if x is None:
        return []
    r = x.reply
    return frames(x.conn.handshake.syn_frame, x.request.last_frame, r.last_frame if r else None)


def _no_runs(report: Report, port: int, task_id: str = "T1") -> Task:
    """A task with nothing to judge: no transfer at all (saying how many file-server connections
    there were, so "0 connections" is never said of a capture that has some)."""
    n = len(file_connections(report))
    return make_task(task_id, "absent", "t1_no_transfer" if n else "no_connection", {"n": n, "port": port}, WORDING,
                     filters=[f"tcp.port == {port}"])


def judge_t1(runs: list[Run], xs: list[Exchange], report: Report, port: int) -> Task:
    if not runs:
        return _no_runs(report, port)
    ups = sum(1 for r in runs if r.operation == "upload")
    sizes = sorted({r.file_bytes for r in runs})
    facts: dict[str, Any] = {"n": len(runs), "uploads": ups, "downloads": len(runs) - ups, "sizes": sizes[:6],
                             "port": port}
    filters = [f"tcp.port == {port} && tcp.flags.syn == 1 && tcp.flags.ack == 0",
               'progjar.msg.command == "UPLOAD" || progjar.msg.command == "GET"']
    if ups and ups < len(runs):
        return make_task("T1", "pass", "t1_measured", facts, WORDING, evidence=_evidence(xs[0]), filters=filters)
    code = "t1_only_uploads" if ups else "t1_only_downloads"
    return make_task("T1", "partial", code, facts, WORDING, evidence=_evidence(xs[0]), filters=filters)


def judge_t2(runs: list[Run], xs: list[Exchange], port: int) -> Task:
    if not runs:
        return make_task("T2", "absent", "t1_no_transfer", {"n": 0, "port": port}, WORDING,
                         filters=[f"tcp.port == {port}"])
    failed = [i for i, r in enumerate(runs) if not r.ok]
    if not failed:
        return make_task("T2", "pass", "t2_all_ok", {"n": len(runs)}, WORDING, evidence=_evidence(xs[0]),
                         filters=[f'tcp.port == {port} && progjar.msg.status'])
    i = failed[0]
    r, x = runs[i], xs[i]
    reason = r.reason if r.reason in RUN_REASONS else "error"
    facts = {"failed": len(failed), "n": len(runs), "command": COMMAND[r.operation], "name": x.name or "?",
             "size": r.file_bytes, "conn": r.connection, "frame": x.request.last_frame}
    status = "fail" if len(failed) == len(runs) else "partial"
    filters = [f"tcp.stream eq {r.connection}", 'progjar.msg.status == "ERROR"' if reason == "error" else
               f"tcp.port == {port} && tcp.flags.reset == 1"]
    return make_task("T2", status, f"t2_failed_{reason}", facts, WORDING, evidence=_evidence(x), filters=filters)


def judge_t3(runs: list[Run], xs: list[Exchange], table: list[EtsRow], port: int) -> Task:
    if not runs:
        return make_task("T3", "absent", "t1_no_transfer", {"n": 0, "port": port}, WORDING,
                         filters=[f"tcp.port == {port}"])
    several = [row for row in table if row.clients > 1]
    if not several:
        return make_task("T3", "absent", "t3_one_client", {}, WORDING, filters=[f"tcp.port == {port}"])
    best = max(several, key=lambda row: (row.peak, row.clients, row.file_bytes))
    first = xs[best.runs[0]] if best.runs else None
    streams = " ".join(str(runs[i].connection) for i in best.runs[:8])
    filters = [f"tcp.stream in {{{streams}}}", f"tcp.port == {port} && tcp.flags.syn == 1 && tcp.flags.ack == 0"]
    if best.peak < 2:
        return make_task("T3", "partial", "t3_no_overlap", {"clients": best.clients, "size": best.file_bytes},
                         WORDING, evidence=_evidence(first), filters=filters)
    facts = {"peak": best.peak, "command": COMMAND[best.operation], "size": best.file_bytes,
             "clients": best.clients, "successes": best.successes}
    ev = frames(*[_evidence(xs[i]) for i in best.runs[:3]])
    return make_task("T3", "pass", "t3_concurrent", facts, WORDING, evidence=ev, filters=filters)


def judge_t4(runs: list[Run], xs: list[Exchange], table: list[EtsRow], port: int) -> Task:
    if not table:
        return make_task("T4", "absent", "t1_no_transfer", {"n": 0, "port": port}, WORDING,
                         filters=[f"tcp.port == {port}"])
    ops = [op for op in ("upload", "download") if any(r.operation == op for r in table)]
    sizes = sorted({r.file_bytes for r in table})
    clients = sorted({r.clients for r in table})
    have = {(r.operation, r.file_bytes, r.clients) for r in table}
    missing = [f"{COMMAND[o]} {s:,} B ×{c}" for o in ops for s in sizes for c in clients if (o, s, c) not in have]
    facts: dict[str, Any] = {"rows": len(table), "ops": [COMMAND[o] for o in ops], "sizes": sizes[:6],
                             "sizes_n": len(sizes), "clients": clients, "clients_n": len(clients)}
    filters = [f"tcp.port == {port} && tcp.flags.syn == 1 && tcp.flags.ack == 0"]
    ev = _evidence(xs[0]) if xs else []
    if len(ops) < 2 or len(sizes) < 2 or len(clients) < 2:
        return make_task("T4", "partial", "t4_small", facts, WORDING, evidence=ev, filters=filters)
    if missing:
        return make_task("T4", "partial", "t4_gaps", {**facts, "missing_n": len(missing), "missing": missing[:4]},
                         WORDING, evidence=ev, filters=filters)
    return make_task("T4", "pass", "t4_matrix", facts, WORDING, evidence=ev, filters=filters)


def judge(report: Report, inp: Any) -> list[Task]:
    """Fill runs[] and ets_table, then T1..T4 (`inp`: assignments.RubricInput)."""
    derive(report)
    runs, xs = make_runs(report)
    port = inp.ports["file"]
    table = report.ets_table
    if not runs:
        return [_no_runs(report, port, tid) for tid in ("T1", "T2", "T3", "T4")]
    return [judge_t1(runs, xs, report, port), judge_t2(runs, xs, port), judge_t3(runs, xs, table, port),
            judge_t4(runs, xs, table, port)]
