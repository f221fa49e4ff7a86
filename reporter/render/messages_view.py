"""What the report shows of a message service (time server, file server): a ladder of messages per
connection (`TIME` -> `JAM 14:03:07`, frames, latency, problems marked), the message table, the
timeline rows with request and reply times, and the reading of a group of clients.

Why a module of its own: view.py composes the echo-era report; this adds the message layer's
pages with a handful of hooks there (the timeline row, the group reading, the legend's reply
word) and one template partial (messages.html.j2), so both can change without stepping on
each other. Message text is untrusted: it reaches the page only escaped (svg._t, autoescape).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Optional

from markupsafe import Markup

from reporter.assignments import all_services
from reporter.model import Connection, Message, Report
from reporter.render import files_view, svg
from reporter.render.i18n import Lang

MAX_LADDER = 24  # messages drawn per connection
MAX_ROWS = 60  # messages listed per connection (the JSON has them all)
LABEL_CHARS = 34  # characters of a message's text on an arrow


def is_message_connection(c: Connection) -> bool:
    """A connection whose bytes were framed into messages (a message service's, or recognised)."""
    if c.messages:
        return True
    s = all_services().get(c.service or "")
    return s is not None and s.framing in ("line", "json")


def _short(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _frames(m: Message) -> str:
    return f"#{m.first_frame}" if m.first_frame == m.last_frame else f"#{m.first_frame}–{m.last_frame}"


def problem_words(m: Message, L: Lang) -> list[str]:
    """Each problem code of a message in the reader's words (an unknown code as itself)."""
    return [L.t(f"mp_{p}") if f"mp_{p}" in L.cat else p for p in m.problems]


# service -> what one of its messages says, in the reader's words, drawn on the ladder instead of its
# raw text and shown as its meaning in the table (a file server's JSON reply is long and says little
# at a glance: `OK (23,456 bytes, sha256 ab12…)`)
LABELS: dict[str, Callable[[Message, Lang], str]] = {"file": files_view.message_label}


def _meaning(m: Message, L: Lang, service: Optional[str] = None) -> str:
    label = LABELS.get(service or "")
    if label is not None:
        return label(m, L)
    if m.dir == "request":
        return m.command if m.command is not None else "–"
    parts = [m.status or "–"]
    if m.utc_offset:
        parts.append(L.t("msg_clock", off=m.utc_offset))
    return " · ".join(parts)


def ladder(c: Connection, L: Lang, client_name: str, server_name: str) -> Markup:
    """The connection's messages as arrows, in the order they completed (time runs downwards)."""
    shown = c.messages[:MAX_LADDER]
    width, xl, xr, top, step = 640, 150, 560, 46, 30
    rows = len(shown) + (1 if len(c.messages) > len(shown) else 0)
    height = top + step * rows + 12 * sum(1 for m in shown if m.problems) + 10
    colours = (svg.C_REQ, svg.C_ECHO, svg.C_BAD)
    out = [svg._svg_open(width, height, "ladder msgladder"),
           "<defs>" + "".join(f'<marker id="mh{i}" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
                              f'<path d="M0,0 L8,4 L0,8 z" fill="{col}"/></marker>' for i, col in enumerate(colours))
           + "</defs>"]
    for x, name in ((xl, client_name), (xr, server_name)):
        out.append(f'<rect x="{x - 70}" y="6" width="140" height="22" rx="4" fill="#eef2f7" stroke="#9aa8b8"/>')
        out.append(svg._t(x, 21, name, 10, weight="bold"))
        out.append(f'<line x1="{x}" y1="28" x2="{x}" y2="{height - 6}" stroke="#9aa8b8" stroke-width="1.5" '
                   f'stroke-dasharray="4,3"/>')
    out.append(svg._t(8, 21, L.t("time"), 9, anchor="start", fill="#666"))
    y = top
    for m in shown:
        req = m.dir == "request"
        bad = bool(m.problems)
        colour = svg.C_BAD if bad else (svg.C_REQ if req else svg.C_ECHO)
        x1, x2 = (xl, xr) if req else (xr, xl)
        out.append(f'<line x1="{x1}" y1="{y - 4}" x2="{x2 + (-3 if req else 3)}" y2="{y + 6}" stroke="{colour}" '
                   f'stroke-width="1.6" marker-end="url(#mh{colours.index(colour)})"/>')
        said = LABELS.get(c.service or "")
        label = f"{_short(said(m, L) if said else m.text) or '␤'}  {_frames(m)}"
        if not req and m.latency_ms is not None:
            label += f"  ↩{m.in_reply_to} · {L.ms(m.latency_ms)}"
        out.append(svg._t((xl + xr) / 2, y - 7, label, 9.5, fill=colour,
                          extra='font-family="DejaVu Sans Mono, monospace"'))
        if bad:
            out.append(svg._t((xl + xr) / 2, y + 19, "⚠ " + ", ".join(problem_words(m, L)), 8.5, fill=svg.C_BAD))
        out.append(svg._t(8, y + 3, L.sec(m.time_s, 4 if m.time_s < 100 else 3), 9, anchor="start", fill="#444"))
        y += step + (12 if bad else 0)
    if len(c.messages) > len(shown):
        out.append(svg._t((xl + xr) / 2, y, L.t("msg_more_ladder", n=len(c.messages) - len(shown)), 10, fill="#666",
                          extra='font-style="italic"'))
    out.append("</svg>")
    return Markup("".join(out))


def _rows(c: Connection, L: Lang) -> list[dict[str, Any]]:
    return [{"index": m.index, "req": m.dir == "request",
             "dir": L.t("msg_dir_request" if m.dir == "request" else "msg_dir_response"),
             "frames": _frames(m), "time": L.sec(m.time_s, 3), "text": m.text, "bytes": L.num(m.bytes),
             "meaning": _meaning(m, L, c.service), "reply_to": "–" if m.in_reply_to is None else str(m.in_reply_to),
             "latency": L.ms(m.latency_ms) if m.latency_ms is not None else "–",
             "problems": ", ".join(problem_words(m, L))} for m in c.messages[:MAX_ROWS]]


def connection(c: Connection, L: Lang, client_name: str, server_name: str) -> dict[str, Any]:
    """One connection's message block (the template partial's data)."""
    kinds = Counter(m.dir for m in c.messages)
    bad = sum(1 for m in c.messages if m.problems)
    recognised = None
    if c.service_by == "content" and c.service:
        recognised = L.t("recognised", service=c.service, port=c.server.port)
    return {"ladder": ladder(c, L, client_name, server_name) if c.messages else None, "rows": _rows(c, L),
            "more": max(0, len(c.messages) - MAX_ROWS), "recognised": recognised,
            "summary": L.t("msg_summary", req=L.num(kinds["request"]), resp=L.num(kinds["response"]),
                           bad=L.num(bad)),
            "empty": not c.messages}


def build(report: Report, shown: list[Connection], L: Lang, names: dict[int, tuple[str, str]]) -> dict[int, Any]:
    """connection id -> its message block, for the shown connections of a message service."""
    return {c.id: connection(c, L, *names[c.id]) for c in shown if is_message_connection(c)}


# -- the timeline (view._timeline's hooks) ----------------------------------------------------------

def gantt_row(c: Connection, L: Lang, label: str) -> svg.GanttRow:
    """A client's row: waiting (when it was served only after another client closed), served,
    ticks for its requests (above) and replies (below)."""
    e = c.echo
    served = e.first_echo_time_s if e.queued_behind is not None else None
    return svg.GanttRow(label, c.handshake.syn_time_s, served, c.close.end_time_s,
                        [m.time_s for m in c.messages if m.dir == "request"],
                        [m.time_s for m in c.messages if m.dir == "response"],
                        L.sec(e.wait_s) if served is not None else "")


def is_message_group(group: list[Connection]) -> bool:
    return any(is_message_connection(c) for c in group)


def queued_readings(group: list[Connection], L: Lang, name: dict[int, str], at: Any, key: str) -> list[str]:
    """One sentence (catalogue ``key``) per client of the group that waited behind another one of it."""
    ids = {c.id for c in group}
    out = []
    for c in group:
        e = c.echo
        if e.queued_behind is not None and e.queued_behind in ids:
            out.append(L.t(key, client=name[c.id], syn=at(L, c.handshake.syn_time_s),
                           served=at(L, e.first_echo_time_s), prev=name[e.queued_behind], wait=L.sec(e.wait_s)))
    return out


def readings(group: list[Connection], L: Lang, name: dict[int, str], at: Any) -> list[str]:
    """What a group of clients of one message server shows: queued (serial) or served together."""
    out = queued_readings(group, L, name, at, "read_msg_queued")
    if out:
        return out
    served = [c for c in group if any(m.dir == "response" for m in c.messages)]
    if len(served) >= 2:
        out.append(L.t("read_msg_concurrent", clients=L.join([name[c.id] for c in served[:6]])))
    for c in served[:6]:
        first = _first(c, "response")
        out.append(L.t("read_msg_served", client=name[c.id], syn=at(L, c.handshake.syn_time_s),
                       first=at(L, first.time_s if first else None),
                       n=L.num(sum(1 for m in c.messages if m.dir == "response"))))
    return out


def _first(c: Connection, direction: str) -> Optional[Message]:
    return next((m for m in c.messages if m.dir == direction), None)
