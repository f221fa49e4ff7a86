"""Inline SVG figures drawn from the report model only: a ladder (sequence) diagram per connection and a
Gantt chart of clients over time.

Pictures are what a lecturer looks at first, so they are drawn for paper: black text, few colours, labels
that name frame numbers (to find them in Wireshark) and byte offsets. Every text that comes from the model
goes through ``escape``; the result is returned as Markup so the template does not escape the tags again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from reporter.model import Connection, FrameNote
from reporter.render.i18n import Lang

C_CTRL, C_REQ, C_ECHO, C_BAD, C_WAIT, C_SERVED = "#5b6b7f", "#1f5fa8", "#1d8a4e", "#c0392b", "#e8a33d", "#3b7dd8"
FONT = "font-family=\"DejaVu Sans, sans-serif\""
ARROW_COLOURS = (C_CTRL, C_REQ, C_ECHO, C_BAD)  # one arrowhead marker each, #ah0..#ah3
MAX_EXCHANGES = 6
MAX_FRAMES_PER_SIDE = 4


def _t(x: float, y: float, text: str, size: float = 10, anchor: str = "middle", fill: str = "#222",
       weight: str = "normal", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}" {FONT} {extra}>{escape(text)}</text>')


def _svg_open(width: int, height: int, cls: str) -> str:
    return (f'<svg width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" class="{cls}" role="img">')


@dataclass
class _Arrow:
    left_to_right: bool  # client -> server
    label: str
    colour: str
    time: float | None = None


def _frames_label(frames: list[int]) -> str:
    return "#" + ",".join(str(f) for f in frames)


def _data_arrows(frames: list[int], notes: dict[str, FrameNote], c2s: bool, offset: int, nbytes: int,
                 colour: str, time: float | None, bad: str = "", mismatch: int | None = None,
                 bad_frame: int | None = None) -> list[_Arrow]:
    """One arrow per segment when the frame notes say each segment's offset and length; else one summary
    arrow. `bad` (an echo that differs from the request) is added to the arrow of the differing segment;
    echo segments after the first difference (`mismatch`, a stream offset) were not checked: grey."""
    known = [notes.get(str(f)) for f in frames]
    if frames and all(known):
        out = []
        shown = frames[:MAX_FRAMES_PER_SIDE]
        for i, f in enumerate(shown):
            n = known[i]
            wrong = n.echo_ok is False or (f == bad_frame and not c2s)
            label = f"{n.len} B [{n.offset},{n.offset + n.len})  #{f}" + (f"  {bad}" if wrong and bad else "")
            tint = colour
            if mismatch is not None and not c2s:
                tint = C_BAD if wrong else C_ECHO if n.offset + n.len <= mismatch else C_CTRL
            out.append(_Arrow(c2s, label, tint, time if i == 0 else None))
        if len(frames) > len(shown):
            rest = known[len(shown):]
            lo, hi = rest[0].offset, rest[-1].offset + rest[-1].len
            out.append(_Arrow(c2s, f"+{len(rest)} × … [{lo},{hi})", colour))
        return out
    label = f"{nbytes} B [{offset},{offset + nbytes})"
    if frames:
        label += "  " + _frames_label(frames[:3]) + (f"… ({len(frames)})" if len(frames) > 3 else "")
    if bad:
        label += f"  {bad}" + (f" (#{bad_frame})" if bad_frame else "")
    return [_Arrow(c2s, label, colour, time)]


def _echo_colour(conn: Connection, lo: int, hi: int, lang: Lang) -> tuple[str, str]:
    """(colour, note) of the echo of request bytes [lo, hi): green when it came back the same, red with
    "differs at byte N" for the part holding the first wrong byte, grey after it (the
    check stops at the first difference, so later bytes are not known to be right)."""
    off = conn.echo.first_mismatch_offset
    if off is None or hi <= lo:
        return C_ECHO, ""
    if off < lo:
        return C_CTRL, ""
    if off < hi:
        return C_BAD, lang.t("ladder_bad", off=off)
    return C_ECHO, ""


def ladder(conn: Connection, notes: dict[str, FrameNote] | None, lang: Lang, client_name: str,
           server_name: str) -> Markup:
    """The connection's life as Wireshark's flow graph would draw it, from handshake, exchanges and close."""
    notes = notes or {}
    hs = conn.handshake
    rows: list[_Arrow | tuple[str, str]] = []
    if hs.syn_frame:
        again = f"  {lang.t('ladder_again', n=hs.syn_retransmissions)}" if hs.syn_retransmissions else ""
        rows.append(_Arrow(True, f"SYN  #{hs.syn_frame}{again}", C_CTRL, hs.syn_time_s))
    if hs.synack_frame:
        again = f"  {lang.t('ladder_again', n=hs.synack_retransmissions)}" if hs.synack_retransmissions else ""
        rows.append(_Arrow(False, f"SYN, ACK  #{hs.synack_frame}{again}", C_CTRL, hs.synack_time_s))
    if hs.ack_frame:
        t = None if hs.syn_time_s is None or hs.rtt_ms is None else hs.syn_time_s + hs.rtt_ms / 1000
        rows.append(_Arrow(True, f"ACK  #{hs.ack_frame}", C_CTRL, t))
    # data segments in capture order (frame numbers are chronological), so a queued client's unanswered
    # requests show up before the burst of late echoes, as on the wire
    data: list[tuple[float, int, _Arrow | tuple[str, str]]] = []
    offset, waited_shown = 0, False
    for k, ex in enumerate(conn.exchanges[:MAX_EXCHANGES]):
        req = _data_arrows(ex.request_frames, notes, True, offset, ex.bytes, C_REQ, ex.request_time_s)
        colour, bad = _echo_colour(conn, offset, offset + ex.bytes, lang)
        echo = _data_arrows(ex.echo_frames, notes, False, offset, ex.bytes, colour, ex.echo_time_s, bad,
                            conn.echo.first_mismatch_offset, conn.echo.first_mismatch_frame)
        rkey = ex.request_frames[0] if ex.request_frames else k * 1e6
        ekey = ex.echo_frames[0] if ex.echo_frames else rkey + 0.5
        data += [(rkey, i, a) for i, a in enumerate(req)]
        if (not waited_shown and ex.echo_time_s is not None and ex.request_time_s is not None
                and ex.echo_time_s - ex.request_time_s > 0.5):
            waited_shown = True
            data.append((ekey - 0.1, 0, ("wait", lang.t("ladder_wait", t=lang.sec(ex.echo_time_s - ex.request_time_s)))))
        data += [(ekey, i, a) for i, a in enumerate(echo)]
        offset += ex.bytes
    rows += [a for _, _, a in sorted(data, key=lambda d: (d[0], d[1]))]
    if len(conn.exchanges) > MAX_EXCHANGES:
        rows.append(("note", lang.t("ladder_more", n=len(conn.exchanges) - MAX_EXCHANGES)))
    rows += _close_rows(conn)

    width, xl, xr, top, step = 640, 180, 545, 46, 24
    height = top + step * len(rows) + 18
    out = [_svg_open(width, height, "ladder"),
           '<defs>' + "".join(
               f'<marker id="ah{i}" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
               f'<path d="M0,0 L8,4 L0,8 z" fill="{c}"/></marker>'
               for i, c in enumerate(ARROW_COLOURS)) + '</defs>']
    for x, name in ((xl, client_name), (xr, server_name)):
        out.append(f'<rect x="{x - 82}" y="6" width="164" height="22" rx="4" fill="#eef2f7" stroke="#9aa8b8"/>')
        out.append(_t(x, 21, name, 10, weight="bold"))
        out.append(f'<line x1="{x}" y1="28" x2="{x}" y2="{height - 6}" stroke="#9aa8b8" stroke-width="1.5" '
                   f'stroke-dasharray="4,3"/>')
    out.append(_t(14, 21, f"{lang.t('time')} ({lang.seconds})", 9, anchor="start", fill="#666"))
    times = [r.time for r in rows if isinstance(r, _Arrow) and r.time is not None]
    digits = 6 if max(times, default=0.0) < 1000 else 3  # microseconds, as Wireshark shows times; one for the column
    y = top
    wait_from = top
    for r in rows:
        if isinstance(r, tuple):
            kind, text = r
            colour = C_WAIT if kind == "wait" else "#666"
            if kind == "wait":
                out.append(f'<line x1="{xr + 8}" y1="{wait_from}" x2="{xr + 8}" y2="{y + 8}" stroke="{C_WAIT}" '
                           f'stroke-width="3"/>')
            out.append(_t((xl + xr) / 2, y + 2, text, 10, fill=colour, extra='font-style="italic"'))
            y += step
            continue
        x1, x2 = (xl, xr) if r.left_to_right else (xr, xl)
        out.append(f'<line x1="{x1}" y1="{y - 6}" x2="{x2 + (-3 if r.left_to_right else 3)}" y2="{y + 6}" '
                   f'stroke="{r.colour}" stroke-width="1.6" marker-end="url(#ah{ARROW_COLOURS.index(r.colour)})"/>')
        out.append(_t((xl + xr) / 2, y - 6, r.label, 9.5, fill=r.colour))
        if r.left_to_right and r.colour == C_REQ and wait_from == top:
            wait_from = y - 6
        if r.time is not None:
            out.append(_t(14, y + 3, lang.num(r.time, digits), 9, anchor="start", fill="#444"))
        y += step
    out.append("</svg>")
    return Markup("".join(out))


def _close_rows(conn: Connection) -> list[_Arrow]:
    """The close as the capture shows it: each side's FIN with its frame and time, then the last
    ACK at the connection's last frame time; a reset as one RST arrow. Reports made before FIN
    frames were recorded (cached JSON) draw the usual FIN, FIN, ACK without numbers."""
    cl = conn.close
    if cl.reset and not cl.fins:
        by_client = "R" in conn.history or "r" not in conn.history
        return [_Arrow(by_client, "RST", C_BAD, cl.end_time_s)]
    if cl.fins:
        rows = [_Arrow(f.by == "client", f"FIN  #{f.frame}", C_CTRL, f.time_s) for f in cl.fins]
        if cl.reset:
            by_client = "R" in conn.history or "r" not in conn.history
            rows.append(_Arrow(by_client, "RST", C_BAD, cl.end_time_s))
        elif len(cl.fins) == 2 and cl.end_time_s is not None and cl.end_time_s > cl.fins[-1].time_s:
            rows.append(_Arrow(cl.fins[-1].by != "client", "ACK", C_CTRL, cl.end_time_s))
        return rows
    if cl.first_fin_by:
        first = cl.first_fin_by == "client"
        return [_Arrow(first, "FIN, ACK", C_CTRL), _Arrow(not first, "FIN, ACK", C_CTRL),
                _Arrow(first, "ACK", C_CTRL, cl.end_time_s)]
    return []


@dataclass
class GanttRow:
    label: str
    syn: float | None
    served_from: float | None  # first echo, when the client waited in the backlog; else None
    end: float | None
    requests: list[float] = field(default_factory=list)
    echoes: list[float] = field(default_factory=list)
    wait_label: str = ""


def _thin(times: list[float], most: int = 60) -> list[float]:
    """At most ``most`` ticks per row, evenly picked: more would merge on paper and slow the PDF down."""
    if len(times) <= most:
        return times
    step = len(times) / most
    return [times[int(i * step)] for i in range(most)]


def _nice_step(span: float, target: int = 8) -> float:
    raw = max(span, 1e-6) / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def gantt(rows: list[GanttRow], t0: float, t1: float, lang: Lang, reply_key: str = "lg_echo") -> Markup:
    """Clients as rows on one time axis: waiting in the backlog (amber), being served (blue), ticks for
    requests (above the bar) and echoes or replies (below; `reply_key` names them in the legend)."""
    width, left, right, top, rh = 680, 170, 16, 34, 34
    if t1 <= t0:
        t1 = t0 + 1
    plot = width - left - right
    height = top + rh * len(rows) + 40

    def x(t: float) -> float:
        return left + (min(max(t, t0), t1) - t0) / (t1 - t0) * plot

    out = [_svg_open(width, height, "gantt")]
    legend = ((C_WAIT, "lg_wait", "bar"), (C_SERVED, "lg_served", "bar"), (C_REQ, "lg_req", "tick"),
              (C_ECHO, reply_key, "tick"), ("#222", "lg_syn", "dot"))
    need = sum(30 + 5.6 * len(lang.t(key)) for _, key, _ in legend)
    lx = max(4.0, min(left, width - need))  # a longer language's legend starts further left, never cut off
    for colour, key, shape in legend:
        if shape == "bar":
            out.append(f'<rect x="{lx}" y="8" width="14" height="9" fill="{colour}" rx="2"/>')
        elif shape == "tick":
            out.append(f'<rect x="{lx + 5}" y="6" width="3" height="13" fill="{colour}"/>')
        else:
            out.append(f'<circle cx="{lx + 7}" cy="12.5" r="3.5" fill="{colour}"/>')
        label = lang.t(key)
        out.append(_t(lx + 18, 16.5, label, 9, anchor="start"))
        lx += 30 + 5.6 * len(label)
    step = _nice_step(t1 - t0)
    first = math.ceil(t0 / step) * step
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    k = 0
    while first + k * step <= t1 + 1e-9 and k < 60:
        tv = first + k * step
        xv = x(tv)
        out.append(f'<line x1="{xv:.1f}" y1="{top - 4}" x2="{xv:.1f}" y2="{top + rh * len(rows)}" stroke="#e3e7ec"/>')
        out.append(_t(xv, top + rh * len(rows) + 14, lang.num(tv, digits), 9, fill="#444"))
        k += 1
    out.append(_t(left + plot / 2, height - 6, f"{lang.t('axis')} ({lang.seconds})", 9, fill="#444"))
    for i, r in enumerate(rows):
        yc = top + rh * i + rh / 2
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{yc - rh / 2}" width="{width}" height="{rh}" fill="#f6f8fa"/>')
        out.append(_t(left - 8, yc + 3.5, r.label, 9.5, anchor="end"))
        if r.syn is None:
            continue
        end = r.end if r.end is not None else t1
        served = r.served_from if r.served_from is not None else r.syn
        if r.served_from is not None:
            w = max(1, x(served) - x(r.syn))
            out.append(f'<rect x="{x(r.syn):.1f}" y="{yc - 5}" width="{w:.1f}" height="10" fill="{C_WAIT}" rx="2"/>')
            if r.wait_label and w > 9 + 5.5 * len(r.wait_label):
                out.append(_t(x(r.syn) + w / 2, yc + 3.5, r.wait_label, 8.5, fill="#3a2a00", weight="bold"))
        out.append(f'<rect x="{x(served):.1f}" y="{yc - 5}" width="{max(1.5, x(end) - x(served)):.1f}" '
                   f'height="10" fill="{C_SERVED}" rx="2"/>')
        for t in _thin(r.requests):
            out.append(f'<rect x="{x(t) - 1.5:.1f}" y="{yc - 15}" width="3" height="9" fill="{C_REQ}"/>')
        for t in _thin(r.echoes):
            out.append(f'<rect x="{x(t) - 1.5:.1f}" y="{yc + 6}" width="3" height="9" fill="{C_ECHO}"/>')
        out.append(f'<circle cx="{x(r.syn):.1f}" cy="{yc}" r="3.5" fill="#222"/>')
        if r.end is not None:
            out.append(f'<line x1="{x(end):.1f}" y1="{yc - 8}" x2="{x(end):.1f}" y2="{yc + 8}" stroke="#222" '
                       f'stroke-width="2"/>')
    out.append("</svg>")
    return Markup("".join(out))
