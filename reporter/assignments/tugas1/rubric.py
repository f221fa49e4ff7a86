"""The Tugas 1 rubric (docs/rubrics.md): tasks T1..T4 judged from the report model, each with evidence.

Why from the model: a grader (or `progjar batch` re-reading cached JSON) must get the same verdict
from the same facts the report shows. Evidence frames are the frames a grader jumps to in
Wireshark. Two of them are not in the model (a connection's FIN and the server's ACK of the first
request), so the TCP pass notes them on the side (TcpResult.marks, conn.EvidenceFrames); without
marks (cached JSON in batch) the evidence simply leaves them out and the status is the same.

Every task carries a reason code with its facts (wording.py says them in English and Indonesian),
the fix for anything short of pass, and display filters; `summary` keeps version 1's sentence.
"""
from __future__ import annotations

from typing import Any, Optional

from reporter.analyses.conn import EvidenceFrames
from reporter.assignments.judging import RANK as _RANK
from reporter.assignments.judging import endpoint, frames as _frames, make_task
from reporter.assignments.overlap import judge_overlap
from reporter.assignments.tugas1.wording import WORDING
from reporter.model import Connection, DnsLookup, Report, Task

LAB_MESSAGE_LEN = 46  # the fixed T2 message; T3 must send more (a file)


def _same_host(a: str, b: str) -> bool:
    return a.lower().rstrip(".") == b.lower().rstrip(".")


# ---------------------------------------------------------------------------------------------
# T1: getaddrinfo -> A and AAAA queries, no TCP handshake


def judge_t1(report: Report, host: str) -> Task:
    mine = [d for d in report.dns if _same_host(d.name, host)]
    facts: dict[str, Any] = {"host": host}
    if not mine:
        names = sorted({d.name for d in report.dns})
        extra = f" (the capture looks up {', '.join(names[:3])})" if names else ""
        code = "t1_no_query_other" if names else "t1_no_query"
        facts["names"] = names[:3]
        return make_task("T1", "absent", code, facts, WORDING, summary=f"no DNS query for {host}{extra}",
                         filters=["dns"])
    types = {d.qtype for d in mine}
    answered = [d for d in mine if d.response_frame is not None]
    evidence = _t1_evidence(mine)
    answers = list(dict.fromkeys(a for d in answered for a in d.answers))
    follows, then = _tcp_after(report, mine, answers)
    facts.update(then)
    suffix = "_then_tcp" if then else ""
    filters = [f'dns.qry.name == "{host}"']
    if then:
        filters.append(f"tcp.stream eq {then['tcp_conn']}")
    if {"A", "AAAA"} <= types:
        ok = [d for d in answered if d.qtype in ("A", "AAAA")]
        if ok:
            res = ", ".join(dict.fromkeys(
                f"{d.qtype} {d.rcode}" + (f" {' '.join(d.answers)}" if d.answers else " without data" if
                                          d.rcode == "NOERROR" else "") for d in ok))
            for qtype in ("A", "AAAA"):
                got = [d for d in ok if d.qtype == qtype]
                facts[qtype.lower()] = _answer_text(got)
            return make_task("T1", "pass", "t1_answered" + suffix, facts, WORDING, evidence=evidence,
                             summary=f"{host}: A and AAAA queried, answered ({res}); {follows}", filters=filters)
        return make_task("T1", "partial", "t1_unanswered" + suffix, facts, WORDING, evidence=evidence,
                         summary=f"{host}: A and AAAA queried but no response came; {follows}", filters=filters)
    have = ", ".join(sorted(types))
    missing = "AAAA" if "A" in types else "A" if "AAAA" in types else "A and AAAA"
    facts.update(have=sorted(types), missing="AAAA" if "A" in types else "A" if "AAAA" in types else "A, AAAA")
    return make_task("T1", "partial", "t1_one_type" + suffix, facts, WORDING, evidence=evidence,
                     summary=f"{host}: only {have} queried, no {missing} query; {follows}", filters=filters)


def _answer_text(lookups: list[DnsLookup]) -> str:
    """What the lookups of one type got, in words no language needs: 'NOERROR 103.94.189.5',
    'NOERROR –' (an answer without address), 'NXDOMAIN', '–' (no response)."""
    answered = [d for d in lookups if d.response_frame is not None]
    if not answered:
        return "–"
    d = next((x for x in answered if x.answers), answered[0])
    if d.answers:
        return f"{d.rcode} {' '.join(d.answers[:4])}"
    return f"{d.rcode} –" if d.rcode == "NOERROR" else str(d.rcode)


def _t1_evidence(mine: list[DnsLookup]) -> list[int]:
    """Query and response frames of the first A and AAAA lookup of each client (answered ones first),
    at most four lookups: a capture with hundreds of lookups must not bury the grader in frames."""
    picked: dict[tuple[str, str], DnsLookup] = {}
    for d in mine:
        key = (d.client, d.qtype if d.qtype in ("A", "AAAA") else "other")
        have = picked.get(key)
        if have is None or (have.response_frame is None and d.response_frame is not None):
            picked[key] = d
    rows = sorted(picked.values(), key=lambda d: (d.qtype not in ("A", "AAAA"), d.query_frame))[:4]
    return _frames([d.query_frame for d in rows], [d.response_frame for d in rows])


def _tcp_after(report: Report, lookups: list[DnsLookup], answers: list[str]) -> tuple[str, dict[str, Any]]:
    """The lab point of T1: getaddrinfo() resolves, nothing connects. Say whether a handshake follows
    (the v1 summary clause, and the facts of the connection that follows, if one does)."""
    t = min(d.time_s for d in lookups)
    later = [c for c in report.connections
             if c.handshake.syn_time_s is not None and c.handshake.syn_time_s >= t and c.server.ip in answers]
    if not later:
        return "no TCP handshake to the answered address follows", {}
    c = later[0]
    return (f"a TCP connection to {c.server.ip}:{c.server.port} follows (frame {c.handshake.syn_frame})",
            {"tcp_server": endpoint(c.server.ip, c.server.port), "tcp_frame": c.handshake.syn_frame,
             "tcp_conn": c.id})


# ---------------------------------------------------------------------------------------------
# T2 / T3: one echo connection on a lab port


def _echo_status(c: Connection, min_request: int) -> tuple[str, str, str, dict[str, Any]]:
    """(status, v1 reason, reason code, facts) of one connection measured against the T2/T3 bar."""
    sent = c.bytes.client_to_server
    if sent == 0:
        if not c.handshake.complete:
            if c.handshake.syn_frame:
                return "fail", "the handshake did not complete", "echo_handshake_failed", {}
            return "fail", "no handshake and no data in the capture", "echo_no_handshake_no_data", {}
        return "fail", "handshake complete but the client sent no data", "echo_no_data", {}
    facts: dict[str, Any] = {"sent": sent}
    if not c.handshake.complete:
        return ("partial", f"client sent {sent} bytes, but the capture has no complete handshake",
                "echo_no_complete_handshake", facts)
    if c.echo.echoed_bytes == 0:
        return "partial", f"client sent {sent} bytes, nothing was echoed", "echo_nothing_echoed", facts
    if not c.echo.verified:
        where = c.echo.first_mismatch_offset
        if where is not None:
            return "partial", f"echo differs at byte {where}", "echo_differs", {**facts, "offset": where}
        return ("partial", f"only {c.echo.echoed_bytes} of {sent} bytes echoed", "echo_short",
                {**facts, "echoed": c.echo.echoed_bytes})
    if c.close.reset:
        return "partial", f"{sent} bytes echoed, but the connection ended with a reset", "echo_reset", facts
    if c.close.first_fin_by is None:
        return ("partial", f"{sent} bytes echoed, but the connection was not closed in the capture",
                "echo_not_closed", facts)
    if sent <= min_request:
        return ("partial", f"echo verified, but the request is only {sent} bytes (a file should be longer than "
                f"{min_request})", "echo_request_short", {**facts, "min": min_request})
    code = "echo_ok_server_closed" if c.close.first_fin_by == "server" else "echo_ok_client_closed"
    return "pass", f"{sent} bytes sent and echoed back identically, closed by the {c.close.first_fin_by}", code, facts


def judge_echo(report: Report, task_id: str, port: int, min_request: int, marks: Optional[EvidenceFrames]) -> Task:
    conns = [c for c in report.connections if c.server.port == port]
    if not conns:
        return make_task(task_id, "absent", "echo_no_connection", {"port": port}, WORDING,
                         summary=f"no TCP connection to port {port}", filters=[f"tcp.port == {port}"])
    judged = [(c, *_echo_status(c, min_request)) for c in conns]
    best = max(judged, key=lambda x: (_RANK[x[1]], x[0].bytes.client_to_server))
    c, status, why, code, facts = best
    hs = c.handshake
    ex = c.exchanges[0] if c.exchanges else None
    evidence = _frames(hs.syn_frame, hs.synack_frame, hs.ack_frame,
                       ex.request_frames[:1] if ex else None, ex.echo_frames[:1] if ex else None,
                       marks.fin_frame(c.id) if marks else None)
    who = f"{c.client.ip}:{c.client.port} -> {c.server.ip}:{port}"
    more = f" ({len(conns)} connections to port {port})" if len(conns) > 1 else ""
    facts = {"conn": c.id, "client": endpoint(c.client.ip, c.client.port), "server": endpoint(c.server.ip, port),
             "port": port, "connections": len(conns), **facts}
    filters = [f"tcp.stream eq {c.id}"]
    if code == "echo_differs":
        filters.append(f"tcp.stream eq {c.id} && progjar.echo.ok == 0")
    return make_task(task_id, status, code, facts, WORDING, evidence=evidence, summary=f"{who}: {why}{more}",
                     filters=filters)


# ---------------------------------------------------------------------------------------------
# T4: two clients at once against one server (the judgement is shared: assignments/overlap.py)


def _echoed(c: Connection) -> bool:
    return c.echo.verified and c.echo.echoed_bytes > 0


def _first_exchange(c: Connection) -> tuple[list[int], list[int]]:
    ex = c.exchanges[0] if c.exchanges else None
    return (ex.request_frames[:1], ex.echo_frames[:1]) if ex else ([], [])


def judge_t4(report: Report, marks: Optional[EvidenceFrames]) -> Task:
    return judge_overlap(report, "T4", WORDING, served=_echoed, first_frames=_first_exchange, marks=marks)


def judge(report: Report, inp: Any) -> list[Task]:
    """T1..T4 for this report. `inp` (assignments.RubricInput) gives the host, the service ports in
    effect and the TCP pass's evidence marks."""
    return [
        judge_t1(report, inp.host),
        judge_echo(report, "T2", inp.ports["echo"], 0, inp.marks),
        judge_echo(report, "T3", inp.ports["file-echo"], LAB_MESSAGE_LEN, inp.marks),
        judge_t4(report, inp.marks),
    ]

