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
from reporter.assignments.judging import conn_facts, endpoint, frames as _frames, make_task
from reporter.assignments.overlap import SERIAL_MIN_WAIT_S, judge_overlap
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
                         filters=["dns"] + [f'dns.qry.name == "{n}"' for n in names[:1]])
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
        # no answer, so no answered address a connection could follow: never "_then_tcp"
        return make_task("T1", "partial", "t1_unanswered", facts, WORDING, evidence=evidence,
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
    missing = c.echo.unverified_bytes  # request/echo bytes the capture lost: no verdict on them
    if sent == 0 and not missing:
        if not c.handshake.complete:
            if c.handshake.syn_frame:
                return "fail", "the handshake did not complete", "echo_handshake_failed", {}
            return "fail", "no handshake and no data in the capture", "echo_no_handshake_no_data", {}
        return "fail", "handshake complete but the client sent no data", "echo_no_data", {}
    facts: dict[str, Any] = {"sent": sent}
    if not c.handshake.complete:
        return ("partial", f"client sent {sent} bytes, but the capture has no complete handshake",
                "echo_no_complete_handshake", facts)
    if c.echo.echoed_bytes == 0 and c.echo.first_mismatch_offset is None and not missing:
        return "partial", f"client sent {sent} bytes, nothing was echoed", "echo_nothing_echoed", facts
    if not c.echo.verified:
        where = c.echo.first_mismatch_offset
        if where is not None:
            facts["offset"] = where
            byte = _differing_byte(c, where)
            if byte is None:
                return "partial", f"echo differs at byte {where}", "echo_differs", facts
            facts["sent_byte"], facts["echo_byte"] = byte
            return "partial", f"echo differs at byte {where}", "echo_differs_byte", facts
        if missing:
            return ("partial", f"{missing} bytes of the request or the echo were not captured, so the echo cannot "
                    "be verified", "echo_unverifiable", {**facts, "missing": missing})
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


def _differing_byte(c: Connection, offset: int) -> Optional[tuple[str, str]]:
    """The request's and the echo's character at the first differing offset, quoted, when both
    previews reach it and show a difference (previews print unprintable bytes as '.')."""
    req, echo = c.preview.client_to_server, c.preview.server_to_client
    if offset >= len(req) or offset >= len(echo) or req[offset] == echo[offset]:
        return None
    return _quoted(req[offset]), _quoted(echo[offset])


def _quoted(ch: str) -> str:
    return {"\r": "CR", "\n": "LF", "\t": "TAB"}.get(ch, f"'{ch}'")


def _echo_evidence(c: Connection, marks: Optional[EvidenceFrames]) -> list[int]:
    hs = c.handshake
    ex = c.exchanges[0] if c.exchanges else None
    return _frames(hs.syn_frame, hs.synack_frame, hs.ack_frame,
                   ex.request_frames[:1] if ex else None, ex.echo_frames[:1] if ex else None,
                   c.echo.first_mismatch_frame, marks.fin_frame(c.id) if marks else None)


ECHO_SERVICES = ("echo", "file-echo")


def _echo_seen(c: Connection) -> bool:
    """Bytes came back unchanged so far: an echo server, whatever port it listens on."""
    return c.echo.echoed_bytes > 0 and c.echo.first_mismatch_offset is None


def echo_elsewhere(report: Report, ports: dict[str, int]) -> dict[int, list[Connection]]:
    """Echo connections on ports that are no lab service's port in effect, by server port: a
    connection recognised by content as an echo service, or one whose bytes came back unchanged.
    A student whose server listens on 5000 has these and nothing on the assignment's port."""
    lab = set(ports.values())
    out: dict[int, list[Connection]] = {}
    for c in report.connections:
        if c.server.port in lab:
            continue
        if c.service in ECHO_SERVICES or (c.service is None and _echo_seen(c)):
            out.setdefault(c.server.port, []).append(c)
    return out


def _claimed_port(elsewhere: dict[int, list[Connection]], service: str, min_request: int) -> Optional[int]:
    """Which of those ports `service` most likely runs on. Content recognition calls any echo
    server "echo" (it cannot tell the echo from the file echo), so the ports are told apart by
    what they carried: for the file echo, the port with the largest request (longer than the lab
    message); for the echo, the port with the smallest requests (a file echo on another port is
    T3's). One port only: both may claim it, each with its own suggestion."""
    free = {p: max(c.bytes.client_to_server for c in cs) for p, cs in elsewhere.items()}
    if not free:
        return None
    if min_request > 0:
        files = [p for p, most in free.items() if most > min_request]
        return max(files, key=lambda p: (free[p], -p)) if files else None
    if len(free) > 1:
        files = [p for p, most in free.items() if most > LAB_MESSAGE_LEN]
        if files and len(files) < len(free):
            free = {p: m for p, m in free.items() if p not in files}
    return min(free, key=lambda p: (free[p], p))


def judge_echo(report: Report, task_id: str, service: str, ports: dict[str, int], min_request: int,
               marks: Optional[EvidenceFrames]) -> Task:
    """T2 (service "echo") or T3 ("file-echo"): the best connection to the service's port in
    effect; without one, an echo seen on another port (partial, with the --port to use)."""
    port = ports[service]
    conns = [c for c in report.connections if c.server.port == port]
    if not conns:
        return _echo_absent(report, task_id, service, ports, min_request, marks)
    judged = [(c, *_echo_status(c, min_request)) for c in conns]
    best = max(judged, key=lambda x: (_RANK[x[1]], x[0].bytes.client_to_server))
    c, status, why, code, facts = best
    who = f"{c.client.ip}:{c.client.port} -> {c.server.ip}:{port}"
    more = f" ({len(conns)} connections to port {port})" if len(conns) > 1 else ""
    facts = {**conn_facts(c), "port": port, "connections": len(conns), **facts}
    filters = [f"tcp.stream eq {c.id}"]
    if code.startswith("echo_differs"):
        filters.append(f"tcp.stream eq {c.id} && progjar.echo.ok == 0")
        if c.echo.first_mismatch_frame:
            filters.append(f"frame.number == {c.echo.first_mismatch_frame}")
    elif code in ("echo_handshake_failed", "echo_no_handshake_no_data"):
        filters = [f"tcp.port == {port}", *filters]
    return make_task(task_id, status, code, facts, WORDING, evidence=_echo_evidence(c, marks),
                     summary=f"{who}: {why}{more}", filters=filters)


def _echo_absent(report: Report, task_id: str, service: str, ports: dict[str, int], min_request: int,
                 marks: Optional[EvidenceFrames]) -> Task:
    port = ports[service]
    elsewhere = echo_elsewhere(report, ports)
    seen = _claimed_port(elsewhere, service, min_request)
    if seen is None:
        facts: dict[str, Any] = {"port": port}
        code = "echo_no_connection"
        if elsewhere and min_request > 0:  # echoes elsewhere, all no longer than the lab message: T2's
            other, most = max(((p, max(c.bytes.client_to_server for c in cs)) for p, cs in elsewhere.items()),
                              key=lambda x: (x[1], -x[0]))
            code = "echo_no_file_elsewhere"
            facts.update(seen_port=other, most=most, min=min_request)
        return make_task(task_id, "absent", code, facts, WORDING,
                         summary=f"no TCP connection to port {port}", filters=[f"tcp.port == {port}"])
    c = max(elsewhere[seen], key=lambda x: (x.service == service, x.echo.verified, x.bytes.client_to_server, -x.id))
    facts = {**conn_facts(c), "port": port, "seen_port": seen, "service": service,
             "sent": c.bytes.client_to_server, "echoed": c.echo.echoed_bytes, "connections": len(elsewhere[seen])}
    code = "echo_other_port" if c.echo.echoed_bytes >= c.bytes.client_to_server else "echo_other_port_short"
    return make_task(task_id, "partial", code, facts, WORDING, evidence=_echo_evidence(c, marks),
                     summary=f"no TCP connection to port {port}; an echo was seen on port {seen} "
                             f"(connection {c.id}); try --port {service}={seen}",
                     filters=[f"tcp.port == {seen}", f"tcp.stream eq {c.id}"])


# ---------------------------------------------------------------------------------------------
# T4: two clients at once against one server (the judgement is shared: assignments/overlap.py)


def _echoed(c: Connection) -> bool:
    return c.echo.verified and c.echo.echoed_bytes > 0


def _first_exchange(c: Connection) -> tuple[list[int], list[int]]:
    ex = c.exchanges[0] if c.exchanges else None
    return (ex.request_frames[:1], ex.echo_frames[:1]) if ex else ([], [])


def judge_t4(report: Report, marks: Optional[EvidenceFrames]) -> Task:
    return judge_overlap(report, "T4", WORDING, served=_echoed, first_frames=_first_exchange, marks=marks,
                         serial_filters=(f"progjar.wait > {SERIAL_MIN_WAIT_S}",))


def judge(report: Report, inp: Any) -> list[Task]:
    """T1..T4 for this report. `inp` (assignments.RubricInput) gives the host, the service ports in
    effect and the TCP pass's evidence marks."""
    return [
        judge_t1(report, inp.host),
        judge_echo(report, "T2", "echo", inp.ports, 0, inp.marks),
        judge_echo(report, "T3", "file-echo", inp.ports, LAB_MESSAGE_LEN, inp.marks),
        judge_t4(report, inp.marks),
    ]

