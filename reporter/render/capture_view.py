"""What the report says about the capture as a whole: wall-clock times in the reader's time zone
beside UTC, and the capture's warnings apart from its notes, in the reader's language.

Why apart from view.py: both are about the capture rather than its connections, and both read
only the model's capture and warnings (and the catalogue's diagnosis wording).
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Optional
from zoneinfo import ZoneInfo

from reporter.assignments.diagnosis import warning_text
from reporter.model import Report, Warning
from reporter.render.i18n import Lang

MAX_WARNINGS = 40


class Clock:
    """Wall-clock times of the capture in the reader's time zone (the lab's WIB by default), beside
    UTC: capture files store UTC, but a student remembers "the lab at 14:00" and a lecturer checks
    hand-in times in local time. Times inside the capture stay relative (as Wireshark's Time
    column), with the wall clock next to them where it matters."""

    def __init__(self, start_iso: Optional[str], tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self.start = _parse_utc(start_iso)
        try:
            local = self.start.astimezone(self.tz) if self.start is not None else None
        except (OverflowError, ValueError):  # a first frame dated at the edge of the calendar
            self.start = local = None
        self.zone = (local.tzname() if local is not None else None) or tz
        self.is_utc = local is not None and local.utcoffset() == _dt.timedelta(0) and self.zone == "UTC"

    def _local(self, rel_s: float) -> Optional[_dt.datetime]:
        if self.start is None:
            return None
        try:
            return (self.start + _dt.timedelta(seconds=rel_s)).astimezone(self.tz)
        except (OverflowError, ValueError):
            return None

    def wall(self, rel_s: float, L: Lang) -> str:
        """hh:mm:ss.mmm in the reader's zone (the language's decimal separator), or '' without a start."""
        t = self._local(rel_s)
        return "" if t is None else _clock(t, L)

    def start_text(self, L: Lang) -> str:
        """'2026-11-24 06:02:16.138 WIB (2026-11-23 23:02:16.138 UTC)'; UTC once when the zone is UTC."""
        if self.start is None:
            return "–"
        local = self.start.astimezone(self.tz)
        utc = f"{self.start:%Y-%m-%d} {_clock(self.start, L)} UTC"
        if self.is_utc:
            return utc
        return f"{local:%Y-%m-%d} {_clock(local, L)} {self.zone} ({utc})"


def _clock(t: _dt.datetime, L: Lang) -> str:
    ms = f"{t.microsecond // 1000:03d}"
    return f"{t:%H:%M:%S}{',' if L.code == 'id' else '.'}{ms}"


def _parse_utc(iso: Optional[str]) -> Optional[_dt.datetime]:
    if not iso:
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z?$", iso)
    if m is None:
        return None
    try:
        base = _dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return None
    return base + _dt.timedelta(microseconds=int((m.group(2) or "0")[:6].ljust(6, "0")))


def _warning_text(w: Warning, n: int, L: Lang) -> str:
    said = warning_text(w, L.code)  # the catalogue's diagnosis, said from its facts
    if said is not None:
        return said
    key = f"w_{w.code}"
    if key in L.cat:
        return L.t(key, n=L.num(n))
    return w.message if L.code == "en" else L.t("w_other", code=w.code)


def warnings(report: Report, L: Lang) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(warnings, notes) in the reader's language. Warnings (severity warning or error) ask someone to
    act or limit what the report can tell; notes (info) only describe the capture, such as the ARP
    frames of any LAN. Several warnings of one code without a count of their own (one per DNS
    message) become one line with how many there were and the first frame. The third value is how
    many lines were left out beyond MAX_WARNINGS."""
    merged: dict[str, dict[str, Any]] = {}
    order: list[dict[str, Any]] = []
    for w in report.warnings:
        counted = w.counted()
        if not counted and w.code in merged:
            merged[w.code]["times"] += 1
            continue
        row = {"frame": w.frame, "code": w.code, "severity": w.severity or "warning", "w": w, "times": 1}
        if not counted and w.code != "no-lab-traffic":
            merged[w.code] = row
        order.append(row)
    rank = {"error": 0, "warning": 1, "info": 2}
    order.sort(key=lambda r: rank.get(r["severity"], 1))
    out: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])  # warnings, notes
    for r in order[:MAX_WARNINGS]:
        w = r.pop("w")
        text = _warning_text(w, w.count(), L)
        if r["times"] > 1:
            text += f" ({L.t('times', n=L.num(r['times']))})"
        r["text"] = text
        out[r["severity"] == "info"].append(r)
    return out[0], out[1], max(0, len(order) - MAX_WARNINGS)
