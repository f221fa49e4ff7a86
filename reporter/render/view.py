"""What the report shows, decided once for HTML and PDF: which connections get a detailed page, how the
timeline is grouped, and every sentence composed from the model's structured fields in the reader's language.

A capture with thousands of connections must still give a readable report that renders in seconds, so only
the most relevant connections are detailed (lab ports first, then anomalies, then the busiest) and the rest
are summed per server endpoint; the JSON keeps everything.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Any

from reporter.assignments import all_services, catalogue, reason_text, task_name
from reporter.assignments.wording import say
from reporter.model import Connection, Report
from reporter.options import DEFAULT_TZ
from reporter.render import files_view, messages_view, svg
from reporter.render.capture_view import Clock, warnings as capture_warnings
from reporter.render.i18n import Lang, ms_digits

LAB_MACHINES = {"172.16.16.101": "mesin-1", "172.16.16.102": "mesin-2", "172.16.16.103": "mesin-3"}
MAX_DETAILED = 20
MAX_DNS_ROWS = 40
MAX_ENDPOINTS = 25
PREVIEW_CHARS = 1500
HEX_BYTES = 256
GLOSSARY = ("g_dns", "g_stream", "g_client", "g_handshake", "g_rtt", "g_offset", "g_echo", "g_backlog", "g_state",
            "g_history", "g_fin")


def machine(ip: str) -> str:
    """Lab machines by the names the assignment uses; anything else by its address."""
    return LAB_MACHINES.get(ip, ip)


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _on_lab_port(c: Connection) -> bool:
    """A connection to one of the catalogue's services (the TCP analysis named its service)."""
    return c.service is not None


def _echo_service(c: Connection) -> bool:
    """A service whose bytes must come back unchanged (framing "echo" in the catalogue)."""
    s = all_services().get(c.service or "")
    return s is not None and s.framing == "echo"


def _interest(c: Connection) -> tuple:
    lab = _on_lab_port(c)
    anomalous = c.anomalies.network_faults() > 0 or c.close.reset
    return (not lab, not anomalous, -(c.bytes.client_to_server + c.bytes.server_to_client), c.id)


def select_connections(report: Report, limit: int = MAX_DETAILED) -> list[Connection]:
    conns = report.connections
    if len(conns) <= limit:
        return list(conns)
    return sorted(sorted(conns, key=_interest)[:limit], key=lambda c: c.id)


def hexdump(data: bytes) -> str:
    """Offset, 16 bytes in hex, and the printable characters — like Wireshark's bytes pane."""
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        hx = " ".join(f"{b:02x}" for b in chunk)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{i:04x}  {hx:<47}  {asc}")
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Control characters shown as dots, so the preview cannot garble the page; newlines and tabs kept."""
    return "".join(ch if ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127) else "·" for ch in text)


def _payload(text: str, total: int, L: Lang) -> dict[str, Any]:
    """The preview of one direction, and how much of the stream it is: the model keeps the first
    bytes only, so a file's preview ends mid-word unless the reader is told "first 512 of 4,920"."""
    raw = text.encode("utf-8", "replace")
    shown = min(len(text), PREVIEW_CHARS)
    part = L.t("preview_part", shown=L.num(shown), total=L.num(total)) if total > shown else ""
    return {"text": _printable(text[:PREVIEW_CHARS]), "cut": bool(part),
            "part": part, "hex": hexdump(raw[:HEX_BYTES]), "hex_n": min(len(raw), HEX_BYTES), "empty": not text}


def _echo_lines(c: Connection, L: Lang) -> tuple[str, str, dict | None]:
    """(css class, sentence, diff) for the echo verdict."""
    e, sent = c.echo, c.bytes.client_to_server
    if e.first_mismatch_offset is not None:
        off = e.first_mismatch_offset
        lo = max(0, off - 12)
        diff = {"req": _printable(c.preview.client_to_server[lo:off + 20]),
                "echo": _printable(c.preview.server_to_client[lo:off + 20]), "mark": off - lo}
        if e.first_mismatch_frame:
            return "bad", L.t("echo_bad", off=L.num(off), frame=e.first_mismatch_frame), diff
        return "bad", L.t("echo_bad_nf", off=L.num(off)), diff
    if e.verified and e.echoed_bytes >= sent:
        return "ok", L.t("echo_ok", n=L.num(e.echoed_bytes)), None
    if e.unverified_bytes:
        return "warn", L.t("echo_unverified", u=L.num(e.unverified_bytes), n=L.num(e.echoed_bytes)), None
    if e.echoed_bytes:
        return "warn", L.t("echo_partial", n=L.num(e.echoed_bytes), m=L.num(sent)), None
    return "warn", L.t("echo_none"), None


def history_words(history: str, L: Lang) -> str:
    """Zeek's history letters spelled out: capitals are the client's, small letters the server's."""
    parts = []
    for ch in history[:16]:
        key = f"hist_{ch.upper()}"
        if key not in L.cat:
            continue
        who = "" if ch == "^" else L.t("who_client" if ch.isupper() else "who_server") + " "
        parts.append(f"{ch} {who}{L.t(key)}")
    return " · ".join(parts) + (" …" if len(history) > 16 else "")


def _service(c: Connection, L: Lang) -> str:
    if c.service is None:
        return L.t("service_none")
    key = f"service_{c.service}"
    return L.t(key) if key in L.cat else L.t("service_other", name=c.service)


def _connection(c: Connection, report: Report, L: Lang, by_id: dict[int, Connection]) -> dict[str, Any]:
    """One connection's page, named as Wireshark and the plugin name it: tcp.stream N (the
    connection id) and client #N (the plugin's client number on that server)."""
    cname, sname = machine(c.client.ip), machine(c.server.ip)
    o = c.handshake.options
    opts = [L.t("opt_mss", v=o.mss) if o.mss else None, L.t("opt_ws", v=o.wscale) if o.wscale is not None else None,
            L.t("opt_sack") if o.sack_ok else None, L.t("opt_ts") if o.timestamps else None]
    an = [f"{L.num(v)} {L.t('an_' + k)}" for k, v in asdict(c.anomalies).items() if v]
    cls, sentence, diff = _echo_lines(c, L)
    is_echo = _echo_service(c) or (c.service is None and c.echo.echoed_bytes > 0)
    ahead = by_id.get(c.echo.queued_behind) if c.echo.queued_behind is not None else None
    return {
        "id": c.id,
        "title": L.t("conn_title", id=c.id, client=f"{cname}:{c.client.port}", server=f"{sname}:{c.server.port}",
                     n=c.client_no),
        "service": _service(c, L),
        "client_no": L.t("client_no", n=c.client_no, server=f"{sname}:{c.server.port}"),
        "client_addr": _host_port(c.client.ip, c.client.port), "server_addr": _host_port(c.server.ip, c.server.port),
        "ladder": svg.ladder(c, report.frames, L, f"{cname}:{c.client.port}", f"{sname}:{c.server.port}"),
        "complete": c.handshake.complete, "rtt": L.ms(c.handshake.rtt_ms),
        "sent_again": [L.t(key, n=L.num(n)) for key, n in (("syn_again", c.handshake.syn_retransmissions),
                                                            ("synack_again", c.handshake.synack_retransmissions)) if n],
        "options": ", ".join(x for x in opts if x) or L.t("none"),
        "state": c.state, "history": c.history or "–", "history_words": history_words(c.history, L),
        "bytes": (L.num(c.bytes.client_to_server), L.num(c.bytes.server_to_client)),
        "segments": (L.num(c.segments.client_to_server), L.num(c.segments.server_to_client)),
        "anomalies": ", ".join(an) or L.t("none"),
        "c2s": _payload(c.preview.client_to_server, c.bytes.client_to_server, L),
        "s2c": _payload(c.preview.server_to_client, c.bytes.server_to_client, L),
        "echo_cls": cls, "echo_text": sentence, "diff": diff,
        "is_echo": is_echo,
        "wait": L.sec(c.echo.wait_s) if is_echo and c.echo.wait_s is not None else None,
        "queued": L.t("queued", id=c.echo.queued_behind, n=ahead.client_no if ahead else "?")
        if c.echo.queued_behind is not None else None,
        "sha": (c.sha256.client_to_server, c.sha256.server_to_client),
        "same": bool(c.preview.client_to_server) and c.preview.client_to_server == c.preview.server_to_client
        and c.sha256.client_to_server == c.sha256.server_to_client,
        "has_payload": bool(c.preview.client_to_server or c.preview.server_to_client),
    }


def _dns(report: Report, L: Lang, clock: "Clock") -> dict[str, Any]:
    shown = report.dns[:MAX_DNS_ROWS]
    digits = ms_digits([d.latency_ms for d in shown if d.latency_ms is not None])  # one for the whole column
    rows = [{"time": L.num(d.time_s, 3), "wall": clock.wall(d.time_s, L), "client": machine(d.client),
             "client_ip": d.client, "server": d.server, "name": d.name, "qtype": d.qtype, "answers": d.answers[:8],
             "rcode": d.rcode or L.t("no_answer"), "latency": L.ms(d.latency_ms, digits), "frame": d.query_frame,
             "rframe": d.response_frame} for d in shown]
    by_name: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    answers: dict[str, set] = defaultdict(set)
    empty: dict[tuple[str, str], bool] = defaultdict(bool)  # NOERROR without any answer
    answered: dict[tuple[str, str], bool] = defaultdict(bool)
    for d in report.dns:
        by_name[d.name][d.client].add(d.qtype)
        answers[d.name].update(d.answers)
        empty[(d.name, d.qtype)] |= d.rcode == "NOERROR" and not d.answers
        answered[(d.name, d.qtype)] |= bool(d.answers)
    servers = {c.server.ip for c in report.connections}
    explain = []
    for name, clients in list(by_name.items())[:3]:
        both = [machine(c) for c, types in clients.items() if {"A", "AAAA"} <= types]
        if not both:
            continue
        explain.append(L.t("dns_explain_both", client=L.join(both[:6]), name=name))
        addrs = sorted(answers[name])
        if addrs:
            key = "dns_explain_hs" if servers & set(addrs) else "dns_explain_nohs"
            explain.append(L.t(key, addrs=L.join(addrs[:4])))
        for qtype in ("A", "AAAA"):
            if empty[(name, qtype)] and not answered[(name, qtype)]:
                explain.append(L.t("dns_explain_empty", qtype=qtype, name=name))
    return {"rows": rows, "more": max(0, len(report.dns) - MAX_DNS_ROWS), "explain": explain,
            "time_hint": L.t("dns_time_hint", zone=clock.zone) if clock.start is not None else ""}


def _row(c: Connection, L: Lang, one_server: bool = True) -> svg.GanttRow:
    """A client's bar, labelled with the plugin's client number; on the chart of every connection,
    where numbers of several servers meet, with the server port too."""
    e = c.echo
    served = e.first_echo_time_s if e.queued_behind is not None else None
    who = f"{machine(c.client.ip)}:{c.client.port}" if one_server else f"{machine(c.client.ip)} → :{c.server.port}"
    label = L.t("gantt_label", n=c.client_no, who=who)
    if messages_view.is_message_connection(c):
        return messages_view.gantt_row(c, L, label)
    return svg.GanttRow(label, c.handshake.syn_time_s, served, c.close.end_time_s,
                        [x.request_time_s for x in c.exchanges if x.request_time_s is not None],
                        [x.echo_time_s for x in c.exchanges if x.echo_time_s is not None],
                        L.sec(e.wait_s) if served is not None else "")


def _clusters(conns: list[Connection]) -> list[list[Connection]]:
    """Connections to one server endpoint whose lifetimes overlap: the clients a server juggled at once."""
    by_server: dict[tuple, list[Connection]] = defaultdict(list)
    for c in conns:
        if c.handshake.syn_time_s is not None:
            by_server[(c.server.ip, c.server.port)].append(c)
    out = []
    for group in by_server.values():
        group.sort(key=lambda c: c.handshake.syn_time_s)
        cur, end = [], -1.0
        for c in group:
            e = c.close.end_time_s if c.close.end_time_s is not None else float("inf")
            if cur and c.handshake.syn_time_s > end:
                out.append(cur)
                cur, end = [], -1.0
            cur.append(c)
            end = max(end, e)
        out.append(cur)
    return [g for g in out if len(g) >= 2]


def _at(L: Lang, t: float | None) -> str:
    """A moment on the capture's time axis, as a reader would say it: 5.00 s, 12.0 s."""
    return L.sec(t, 1 if t is not None and t >= 10 else 2)


def _names(group: list[Connection]) -> dict[int, str]:
    """Machine names for a group of clients, with the port added when one machine opened several connections."""
    hosts = Counter(c.client.ip for c in group)
    return {c.id: machine(c.client.ip) if hosts[c.client.ip] == 1 else f"{machine(c.client.ip)}:{c.client.port}"
            for c in group}


def _readings(group: list[Connection], L: Lang) -> list[str]:
    name = _names(group)
    out = messages_view.queued_readings(group, L, name, _at, "read_queued")
    if not out:
        served = [c for c in group if c.echo.first_echo_time_s is not None]
        if len(served) >= 2:
            out.append(L.t("read_concurrent", clients=L.join([name[c.id] for c in served[:6]])))
        for c in served[:6]:
            out.append(L.t("read_served", client=name[c.id], syn=_at(L, c.handshake.syn_time_s),
                           wait=L.sec(c.echo.wait_s)))
    return out


def _timeline(report: Report, shown: list[Connection], L: Lang) -> dict[str, Any]:
    dur = report.capture.duration_s
    servers = {(c.server.ip, c.server.port) for c in shown}
    rows = [_row(c, L, len(servers) == 1) for c in shown if c.handshake.syn_time_s is not None]
    overview = svg.gantt(rows, 0.0, max(dur, max((r.end or 0) for r in rows) if rows else 1.0), L) if rows else None
    clusters = _clusters(shown)
    groups = []
    for g in clusters[:4]:
        t0 = min(c.handshake.syn_time_s for c in g)
        t1 = max(c.close.end_time_s or dur for c in g)
        pad = (t1 - t0) * 0.04 + 0.05
        s = g[0].server
        msgs = messages_view.is_message_group(g)
        groups.append({"title": L.t("timeline_group", server=f"{machine(s.ip)}:{s.port}", t0=_at(L, t0),
                                    t1=_at(L, t1)),
                       "svg": svg.gantt([_row(c, L) for c in g], max(0.0, t0 - pad), t1 + pad, L,
                                        reply_key="lg_reply" if msgs else "lg_echo"),
                       "readings": messages_view.readings(g, L, _names(g), _at) if msgs else _readings(g, L)})
    if len(clusters) == 1 and len(clusters[0]) == len(rows):
        overview = None  # the one group already shows every connection
    return {"overview": overview, "groups": groups, "any": bool(rows)}


def _aggregate(report: Report, L: Lang) -> list[dict[str, Any]]:
    eps: dict[tuple, list[Connection]] = defaultdict(list)
    for c in report.connections:
        eps[(c.server.ip, c.server.port)].append(c)
    rows = []
    for (ip, port), cs in sorted(eps.items(), key=lambda kv: -len(kv[1])):
        states = Counter(c.state for c in cs)
        rows.append({"endpoint": f"{machine(ip)}:{port}", "count": L.num(len(cs)),
                     "clients": L.num(len({c.client.ip for c in cs})),
                     "states": ", ".join(f"{s} {L.num(n)}" for s, n in states.most_common(5)),
                     "c2s": L.num(sum(c.bytes.client_to_server for c in cs)),
                     "s2c": L.num(sum(c.bytes.server_to_client for c in cs)),
                     "anom": L.num(sum(sum(asdict(c.anomalies).values()) for c in cs))})
    return rows


def _tasks(report: Report, L: Lang) -> list[dict[str, Any]]:
    """The checklist: each task's name (with its service's port), status, the specific reason and
    fix in the reader's language (the rubric's wording, by reason code), filters and evidence."""
    a = report.assignment
    entry = catalogue().get(a.id) if a is not None else None
    ports = dict(a.services) if a is not None else {}
    out = []
    for t in report.tasks:
        known = t.status in ("pass", "partial", "fail", "absent")
        reason, fix = reason_text(entry, t, L.code)
        out.append({"id": t.id, "name": task_name(entry, t.id, ports, L.code) if entry else t.id,
                    "status": t.status, "status_text": L.t(f"st_{t.status}") if known else t.status,
                    "verdict": L.t(f"vd_{t.verdict}") if t.verdict in ("serial", "concurrent") else "",
                    "finding": reason or t.summary, "fix": fix, "filters": t.filters,
                    "evidence": ", ".join(str(f) for f in t.evidence_frames[:20])})
    return out


def _glossary(report: Report, conns: list[dict[str, Any]], L: Lang) -> list[str]:
    """Only the terms this report uses: a DNS-only report explains DNS, not backlogs and FINs."""
    used = set()
    if report.dns:
        used.add("g_dns")
    if conns:
        used |= {"g_stream", "g_client", "g_handshake", "g_rtt", "g_offset", "g_state", "g_history", "g_fin"}
    if any(c["is_echo"] for c in conns):
        used.add("g_echo")
    if any(c["queued"] for c in conns) or any(t.verdict == "serial" for t in report.tasks):
        used.add("g_backlog")
    return [L.t(k) for k in GLOSSARY if k in used]


def build(report: Report, lang: str, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Everything the template needs, in the reader's language, with wall-clock times in `tz`."""
    L = Lang(lang)
    cap = report.capture
    clock = Clock(cap.start, tz)
    shown = select_connections(report)
    agg = len(report.connections) > len(shown)
    endpoints = _aggregate(report, L) if agg else []
    by_id = {c.id: c for c in report.connections}
    connections = [_connection(c, report, L, by_id) for c in shown]
    warnings, notes, warnings_more = capture_warnings(report, L)
    a = report.assignment
    entry = catalogue().get(a.id) if a is not None else None
    return {
        "L": L, "t": L.t, "lang": lang, "tool": report.tool,
        "assignment": say(entry.title, {}, lang) if entry is not None else "",
        "capture": {"file": cap.path, "sha256": cap.sha256, "format": cap.format,
                    "linktypes": ", ".join(dict.fromkeys(L.linktype(x) for x in cap.linktypes)) or "–",
                    "interfaces": L.num(cap.interfaces), "packets": L.num(cap.packets),
                    "start": clock.start_text(L), "duration": L.sec(cap.duration_s), "truncated": cap.truncated},
        "tasks": _tasks(report, L),
        "warnings": warnings, "notes": notes,
        "warnings_more": warnings_more,
        "dns": _dns(report, L, clock),
        "connections": connections,
        "messages": messages_view.build(report, shown, L, {c.id: (f"{machine(c.client.ip)}:{c.client.port}",
                                                                  f"{machine(c.server.ip)}:{c.server.port}")
                                                           for c in shown}),
        "timeline": _timeline(report, shown, L),
        "aggregated": agg,
        "aggregate_note": L.t("aggregate_note", n=L.num(len(report.connections)), k=len(shown)) if agg else "",
        "endpoints": endpoints[:MAX_ENDPOINTS], "endpoints_more": max(0, len(endpoints) - MAX_ENDPOINTS),
        "glossary": _glossary(report, connections, L),
        "files": files_view.build(report, L, machine),  # the file server's section (Tugas 3, ETS)
    }
