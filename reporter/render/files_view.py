"""What the report shows of the file server (Tugas 3, ETS): a label per message for the message
ladder (`GET donalbebek.jpg` -> `OK (23,456 bytes, sha256 ab12…)`), a table per file name (uploads,
downloads, sizes, whether the hashes agree), and for the ETS its table and two pictures: the
throughput of each transfer, and the transfers in progress over time (in all, and per client host).

Why a module of its own: view.py and messages_view.py compose the rest of the report; this one only
reads the model (messages, runs[], ets_table) and the shared file ledger (assignments/files.py,
the same one the Tugas 3 rubric judges), with one hook in view.build and one template partial
(files.html.j2). Every string that comes from a capture is escaped (svg._t, autoescape).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

from markupsafe import Markup

from reporter.assignments.files import exchanges, file_connections, ledger
from reporter.model import Connection, EtsRow, Message, Report, Run
from reporter.render import svg
from reporter.render.i18n import Lang

MAX_FILES = 60  # file names listed (the JSON has every message)
MAX_RUN_ROWS = 200
NAME_CHARS = 40
HOST_COLOURS = ("#1f5fa8", "#1d8a4e", "#8e44ad", "#d35400", "#16a085", "#7f8c8d")
C_UP, C_DOWN = svg.C_REQ, svg.C_ECHO
OP_KEYS = {"upload": "fv_upload", "download": "fv_download"}


def size_text(n: Optional[int], L: Lang) -> str:
    """A file size the way the stress client labels it (10MB, 512KB: 1 KB = 1,024 bytes), else in bytes."""
    if n is None:
        return "–"
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{L.num(n // factor)} {unit}"
    return f"{L.num(n)} B"


def rate_text(bps: Optional[float], L: Lang) -> str:
    """A throughput in MB/s (1 MB = 1,048,576 bytes, as the stress client's table), KB/s when small."""
    if bps is None:
        return "–"
    if bps >= 1 << 20:
        return f"{L.fmt(bps / (1 << 20), ',.2f')} MB/s"
    return f"{L.fmt(bps / (1 << 10), ',.1f')} KB/s"


def _short(text: str, n: int = NAME_CHARS) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _file(bytes_: int, sha: Optional[str], L: Lang) -> str:
    return L.t("fv_file", n=L.num(bytes_), sha=(sha or "?")[:12]) if sha else L.t("fv_file_bad", n=L.num(bytes_))


def message_label(m: Message, L: Lang) -> str:
    """A file-server message in a few words: what a request asks, what a reply answers."""
    if m.dir == "request":
        words = [m.command or "?"] + [_short(a) for a in m.args[:1]]
        if m.command == "UPLOAD" and m.file is not None:
            words.append(f"({_file(m.file.bytes, m.file.sha256, L)})")
        return " ".join(words)
    status = m.status or "?"
    if m.file is not None:
        return f"{status} ({_file(m.file.bytes, m.file.sha256, L)})"
    if isinstance(m.data, list):
        return f"{status}: " + L.t("fv_names", n=L.num(len(m.data)))
    if m.data:
        return f"{status}: {_short(str(m.data))}"
    return status


def exchange_lines(c: Connection, L: Lang, most: int = 40) -> list[str]:
    """`GET donalbebek.jpg -> OK (23,456 bytes, sha256 ab12…)` for each request of a connection, with
    the count of further replies when one request got several (the recv(32) bug)."""
    replies: dict[int, list[Message]] = defaultdict(list)
    for m in c.messages:
        if m.dir == "response" and m.in_reply_to is not None:
            replies[m.in_reply_to].append(m)
    out = []
    for m in c.messages:
        if m.dir != "request":
            continue
        got = replies.get(m.index, [])
        tail = message_label(got[0], L) if got else L.t("fv_no_reply")
        if len(got) > 1:
            tail += " " + L.t("fv_more_replies", n=L.num(len(got) - 1))
        out.append(f"{message_label(m, L)} → {tail}")
        if len(out) >= most:
            break
    return out


def _files(report: Report, L: Lang) -> list[dict[str, Any]]:
    rows = []
    for r in ledger(exchanges(report))[:MAX_FILES]:
        sizes = sorted(r.sizes())
        same = r.same
        rows.append({"name": r.name, "uploads": L.num(len(r.uploads)), "downloads": L.num(len(r.downloads)),
                     "sizes": ", ".join(L.num(s) for s in sizes) or "–",
                     "hashes": ", ".join(sorted(h[:12] + "…" for h in r.hashes())) or "–",
                     "same": "–" if same is None else L.t("yes" if same else "no"), "bad": same is False,
                     "listed": L.num(r.listed), "deleted": L.num(r.deleted)})
    return rows


# -- the ETS ------------------------------------------------------------------------------------------

def _table(rows: list[EtsRow], L: Lang) -> list[dict[str, Any]]:
    return [{"op": L.t(OP_KEYS.get(r.operation, "fv_upload")), "size": size_text(r.file_bytes, L),
             "clients": L.num(r.clients), "transfers": L.num(r.transfers), "time": L.sec(r.time_s),
             "per_client": L.sec(r.mean_duration_s), "throughput": rate_text(r.throughput_Bps, L),
             "total": rate_text(r.total_throughput_Bps, L), "ok": L.num(r.successes), "failed": L.num(r.failures),
             "bad": r.failures > 0, "peak": L.num(r.peak)} for r in rows]


def _axis_time(out: list[str], x0: float, x1: float, y: float, t0: float, t1: float, L: Lang) -> None:
    span = max(t1 - t0, 1e-9)
    step = svg._nice_step(span, 6)
    k = int(t0 / step)
    while k * step <= t1 + 1e-12:
        t = k * step
        if t >= t0 - 1e-12:
            x = x0 + (x1 - x0) * (t - t0) / span
            out.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#888"/>')
            out.append(svg._t(x, y + 15, L.sec(t), 9, fill="#444"))
        k += 1


def throughput_svg(runs: list[Run], L: Lang) -> Markup:
    """Each transfer as a dot: start time across, throughput up; failures as red crosses on the axis."""
    w, h, left, right, top, bottom = 660, 230, 70, 20, 18, 40
    t0 = min(r.start_s for r in runs)
    t1 = max((r.end_s if r.end_s is not None else r.start_s) for r in runs)
    best = max((r.throughput_Bps or 0.0) for r in runs) or 1.0
    unit = 1 << 20 if best >= 1 << 20 else 1 << 10  # round steps in the unit the labels use
    step = svg._nice_step(best / unit, 4) * unit
    ymax = step * (int(best / step) + 1)
    x_of = lambda t: left + (w - left - right) * (t - t0) / max(t1 - t0, 1e-9)  # noqa: E731
    y_of = lambda v: h - bottom - (h - bottom - top) * v / ymax  # noqa: E731
    out = [svg._svg_open(w, h, "chart throughput")]
    v = 0.0
    while v <= ymax + 1e-9:
        y = y_of(v)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#e3e7ee"/>')
        out.append(svg._t(left - 4, y + 3, rate_text(v, L) if v else "0", 9, anchor="end", fill="#444"))
        v += step
    _axis_time(out, left, w - right, h - bottom, t0, t1, L)
    for r in runs:
        x = x_of(r.start_s)
        if r.ok and r.throughput_Bps is not None:
            colour = C_UP if r.operation == "upload" else C_DOWN
            shape = (f'<circle cx="{x:.1f}" cy="{y_of(r.throughput_Bps):.1f}" r="3.2" fill="{colour}" '
                     f'fill-opacity="0.75"/>' if r.operation == "upload" else
                     f'<rect x="{x - 3:.1f}" y="{y_of(r.throughput_Bps) - 3:.1f}" width="6" height="6" '
                     f'fill="{colour}" fill-opacity="0.75"/>')
            out.append(shape)
        else:
            y = h - bottom - 6
            out.append(f'<path d="M{x - 4:.1f},{y - 4:.1f} L{x + 4:.1f},{y + 4:.1f} M{x - 4:.1f},{y + 4:.1f} '
                       f'L{x + 4:.1f},{y - 4:.1f}" stroke="{svg.C_BAD}" stroke-width="2"/>')
    legend = [(C_UP, L.t("fv_upload")), (C_DOWN, L.t("fv_download")), (svg.C_BAD, L.t("fv_failed"))]
    return _finish(out, legend, left, w - right, h, L)


def _finish(out: list[str], legend: list[tuple[str, str]], left: float, right_x: float, h: float, L: Lang) -> Markup:
    """A chart's legend (a swatch and a label each) and time-axis label along the bottom, then the
    closing tag: both ETS charts end the same way."""
    x = left
    for colour, text in legend:
        out.append(f'<rect x="{x}" y="{h - 12}" width="9" height="9" fill="{colour}"/>')
        out.append(svg._t(x + 13, h - 4, text, 9, anchor="start"))
        x += 22 + 6 * len(text)
    out.append(svg._t(right_x, h - 4, L.t("fv_time_axis"), 9, anchor="end", fill="#444"))
    out.append("</svg>")
    return Markup("".join(out))


def _steps(spans: list[tuple[float, float]]) -> list[tuple[float, int]]:
    """(time, transfers in progress from then on) at every change."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    out: list[tuple[float, int]] = []
    cur = 0
    for t, d in events:
        cur += d
        if out and out[-1][0] == t:
            out[-1] = (t, cur)
        else:
            out.append((t, cur))
    return out


def concurrency_svg(runs: list[Run], hosts: dict[int, str], L: Lang) -> Markup:
    """Transfers in progress over time: in all (thick) and per client host (thin, one colour each)."""
    w, h, left, right, top, bottom = 660, 210, 50, 20, 18, 40
    spans = [(r.start_s, r.end_s if r.end_s is not None else r.start_s) for r in runs]
    t0, t1 = min(a for a, _ in spans), max(b for _, b in spans)
    total = _steps(spans)
    most = max((n for _, n in total), default=1) or 1
    x_of = lambda t: left + (w - left - right) * (t - t0) / max(t1 - t0, 1e-9)  # noqa: E731
    y_of = lambda n: h - bottom - (h - bottom - top) * n / most  # noqa: E731
    out = [svg._svg_open(w, h, "chart concurrency")]
    ystep = max(1, int(svg._nice_step(most, 4)))
    for n in range(0, most + 1, ystep):
        y = y_of(n)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#e3e7ee"/>')
        out.append(svg._t(left - 4, y + 3, L.num(n), 9, anchor="end", fill="#444"))
    _axis_time(out, left, w - right, h - bottom, t0, t1, L)

    def path(steps: list[tuple[float, int]], colour: str, width: float, dash: str = "") -> str:
        pts, prev = [], 0
        for t, n in steps:
            x = x_of(t)
            pts.append(f"{x:.1f},{y_of(prev):.1f} {x:.1f},{y_of(n):.1f}")
            prev = n
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="{width}"{extra}/>'

    by_host: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r, s in zip(runs, spans):
        by_host[hosts.get(r.connection, "?")].append(s)
    legend = [("#222", L.t("fv_all_hosts"))]
    if len(by_host) > 1:
        for i, (host, hs) in enumerate(sorted(by_host.items())[:len(HOST_COLOURS)]):
            colour = HOST_COLOURS[i]
            out.append(path(_steps(hs), colour, 1.3, "4,2"))
            legend.append((colour, host))
    out.append(path(total, "#222", 2.2))
    return _finish(out, legend, left, w - right, h, L)


def _runs(report: Report, hosts: dict[int, str], L: Lang) -> list[dict[str, Any]]:
    return [{"conn": r.connection, "host": hosts.get(r.connection, "?"), "op": L.t(OP_KEYS.get(r.operation,
                                                                                                 "fv_upload")),
             "size": size_text(r.file_bytes, L), "start": L.sec(r.start_s, 4), "duration": L.sec(r.duration_s),
             "throughput": rate_text(r.throughput_Bps, L), "ok": r.ok,
             "reason": "" if r.ok else _reason(r.reason, L)} for r in report.runs[:MAX_RUN_ROWS]]


def _reason(code: Optional[str], L: Lang) -> str:
    key = f"fv_reason_{code}"
    return L.t(key) if key in L.cat else (code or "?")


def build(report: Report, L: Lang, machine: Any = lambda ip: ip) -> Optional[dict[str, Any]]:
    """The file server's section of the report (None when the capture has no file connection)."""
    conns = file_connections(report)
    if not conns:
        return None
    hosts = {c.id: machine(c.client.ip) for c in report.connections}
    out: dict[str, Any] = {
        "files": _files(report, L),
        "ladders": [{"conn": c.id, "client": hosts[c.id], "lines": exchange_lines(c, L)} for c in conns[:20]],
        "ladders_more": max(0, len(conns) - 20),
        "ets": None,
    }
    if report.runs:
        out["ets"] = {"table": _table(report.ets_table, L), "runs": _runs(report, hosts, L),
                      "runs_more": max(0, len(report.runs) - MAX_RUN_ROWS),
                      "throughput": throughput_svg(report.runs, L), "concurrency": concurrency_svg(report.runs, hosts, L)}
    return out
