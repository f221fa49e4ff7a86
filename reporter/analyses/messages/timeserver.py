"""The time server's messages (Tugas 2; the lecturer's progjar3 server) and the clock check.

Requests: `TIME` asks for the time, `QUIT` ends the session (no reply expected), anything else is
an unknown request (its command kept as sent, problem "unknown-command"; an empty line: "empty").
Responses: `JAM hh:mm:ss` is the assignment's reply; the lecturer's server answers
`JAM dd-mm-YYYY HH:MM:SS`, recognised (time_value filled) and marked "format-differs"; a JAM
whose value is no time is "bad-format"; `ERROR ...` is status ERROR; anything else "unknown-reply".

The clock check: a reply's time against its own frame's capture time. The server's clock and the
capture's share the machine (or NTP), but the server prints local time and the capture stores
UTC, so the value must match the capture time in some whole- or half-hour UTC offset, within
CLOCK_TOLERANCE_S (the server truncates to seconds and the reply leaves a moment after the
clock was read). A reply without a date is compared on a 24-hour clock (23:59:59 vs 00:00:00.4 is
0.6 s). The matching offset is the reply's utc_offset; the capture's timezone_hint when all agree.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Optional

from reporter.analyses.messages.core import Draft, Parser

CLOCK_TOLERANCE_S = 2.0
OFFSETS_MIN = tuple(range(-12 * 60, 14 * 60 + 1, 30))  # UTC-12:00 .. UTC+14:00 in half hours
DAY = 86400

_HMS = re.compile(r"(\d{2}):(\d{2}):(\d{2})")
_ANY_TIME = re.compile(r"(?<!\d)(\d{1,2})[:.](\d{2})[:.](\d{2})(?!\d)")  # a time in another format
_LECTURER = re.compile(r"(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})")
KNOWN = ("TIME", "QUIT")


def offset_text(minutes: int) -> str:
    """+07:00, -03:30, +00:00."""
    sign = "-" if minutes < 0 else "+"
    h, m = divmod(abs(minutes), 60)
    return f"{sign}{h:02d}:{m:02d}"


def parse_jam(value: str) -> tuple[Optional[str], Optional[str]]:
    """(time_value, problem) of a JAM reply's value: 'hh:mm:ss' -> ('14:03:07', None);
    the lecturer's 'dd-mm-YYYY HH:MM:SS' -> ('2025-06-01 14:03:07', 'format-differs');
    another format that holds a time with seconds ('2:03:07 PM', '14.03.07.5') -> ('14:03:07',
    'format-differs') (12-hour times are read as written); no time at all -> (None, 'bad-format')."""
    m = _HMS.fullmatch(value)
    if m:
        h, mi, s = (int(x) for x in m.groups())
        if h < 24 and mi < 60 and s < 61:
            return value, None
        return None, "bad-format"
    m = _LECTURER.fullmatch(value)
    if m:
        d, mo, y, h, mi, s = (int(x) for x in m.groups())
        try:
            _dt.datetime(y, mo, d, h, mi, min(s, 59))
        except ValueError:
            return None, "bad-format"
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}", "format-differs"
    m = _ANY_TIME.search(value)
    if m:
        h, mi, s = (int(x) for x in m.groups())
        if "PM" in value.upper() and h < 12:
            h += 12
        if h < 24 and mi < 60 and s < 61:
            return f"{h:02d}:{mi:02d}:{s:02d}", "format-differs"
    return None, "bad-format"


def clock_offsets(time_value: str, epoch_ns: int) -> list[tuple[float, int]]:
    """(difference in seconds, offset in minutes) for every whole- and half-hour UTC offset, the
    difference being the stated time minus the capture's time in that offset; nearest first."""
    t = epoch_ns / 1e9
    out = []
    if len(time_value) == 8:  # hh:mm:ss: compare on a 24-hour clock
        h, m, s = (int(x) for x in time_value.split(":"))
        stated = h * 3600 + m * 60 + s
        for off in OFFSETS_MIN:
            d = (stated - (t + off * 60)) % DAY
            if d > DAY / 2:
                d -= DAY
            out.append((d, off))
    else:  # 'YYYY-MM-DD hh:mm:ss'
        y, mo, d_, h, mi, s = (int(x) for x in re.findall(r"\d+", time_value))
        stated = (_dt.datetime(y, mo, d_, h, mi, min(s, 59)) - _dt.datetime(1970, 1, 1)).total_seconds()
        out = [(stated - (t + off * 60), off) for off in OFFSETS_MIN]
    out.sort(key=lambda x: (abs(x[0]), x[1]))
    return out


def clock_match(time_value: str, epoch_ns: int) -> Optional[int]:
    """The UTC offset (minutes) in which the stated time is within tolerance of the capture's, or None."""
    diff, off = clock_offsets(time_value, epoch_ns)[0]
    return off if abs(diff) <= CLOCK_TOLERANCE_S else None


class TimeParser(Parser):
    """Tugas 2's protocol: TIME / QUIT requests, JAM / ERROR replies (module docstring)."""

    def request(self, d: Draft, ts: int) -> None:
        if "bytes-not-captured" in d.problems:
            return  # what was typed is not all in the capture: no command to name or judge
        words = d.line().split()
        if not words:
            d.problem("empty")
            return
        d.command = words[0][:64]
        d.args = [w[:200] for w in words[1:9]]
        if d.command not in KNOWN:
            d.problem("unknown-command")

    def expects_reply(self, d: Draft) -> bool:
        return d.command != "QUIT"

    def response(self, d: Draft, ts: int) -> None:
        if "bytes-not-captured" in d.problems:
            return  # a reply not all in the capture: its status cannot be read
        line = d.line().strip()
        if line.startswith("JAM"):
            value = line[3:].strip()
            d.status = value[:64] or None
            tv, problem = parse_jam(value) if line[3:4] == " " else (None, "bad-format")
            d.time_value = tv
            if problem:
                d.problem(problem)
            if tv is not None:
                off = clock_match(tv, ts)
                if off is None:
                    d.problem("clock-off")
                else:
                    d.utc_offset = offset_text(off)
        elif line.startswith("ERROR"):
            d.status = "ERROR"
        else:
            d.problem("unknown-reply")
