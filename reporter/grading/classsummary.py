"""From per-capture reports to one row per student: best status per task, outliers, gradebook files.

Why digests: the batch runs captures in worker processes and caches their results between runs, so
each report is boiled down once (in the worker) to the few numbers the class view needs, a plain
dict that crosses process boundaries and lands in the cache manifest unchanged.
"""
from __future__ import annotations

import csv
import ipaddress
import json
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from reporter.options import ReportOptions
from reporter.model import Report
from reporter.grading.ets_class import ets_digest
from reporter.grading.wording import CLASS_CATALOGUES
from reporter.render.i18n import Lang

TASKS = ("T1", "T2", "T3", "T4")
RANK = {"pass": 3, "partial": 2, "fail": 1, "absent": 0}
OFF_WINDOW_H = 6.0  # a capture started this far from the class median was made at another time
MANY_ANOMALIES = 10  # retransmissions + out-of-order + ... summed over a student's captures


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def capture_digest(report: Report, opts: ReportOptions) -> dict[str, Any]:
    """The numbers the class page and gradebook need from one capture's report."""
    host = opts.host.lower().rstrip(".")
    asked = {d.qtype for d in report.dns if d.name.lower().rstrip(".") == host}
    conns = report.connections
    ips = [c.client.ip for c in conns] + [c.server.ip for c in conns]
    ips += [d.client for d in report.dns] + [d.server for d in report.dns]
    return {
        "tasks": {t.id: {"status": t.status, "verdict": t.verdict, "evidence_frames": list(t.evidence_frames),
                         "summary": t.summary} for t in report.tasks},
        "start": report.capture.start,
        "duration_s": report.capture.duration_s,
        "packets": report.capture.packets,
        "truncated": report.capture.truncated,
        "warnings": [w.code for w in report.warnings],
        "dns_a": "A" in asked,
        "dns_aaaa": "AAAA" in asked,
        # on a lab port: a service recognised by content on another port (service_by "content") is
        # said in the report, but the student still did not use the assignment's port
        "lab_traffic": bool(asked) or any(c.service is not None and c.service_by != "content" for c in conns),
        "loopback_only": bool(ips) and all(_loopback(i) for i in ips),
        "rtt_ms": [c.handshake.rtt_ms for c in conns if c.handshake.rtt_ms is not None],
        "dns_latency_ms": [d.latency_ms for d in report.dns if d.latency_ms is not None],
        "t4_wait_s": [c.echo.wait_s for c in conns if c.echo.wait_s is not None and c.client_no >= 2],
        "anomalies": sum(c.anomalies.network_faults() for c in conns),
        "ets": ets_digest(report),  # the ETS table's rows (grading/ets_class.py), [] for other assignments
    }


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def student_rows(results: list[dict], similarities: list[dict]) -> list[dict]:
    """One row per student from the capture results (batch order), best status per task.

    A student's task is judged over all their captures: the best status wins (pass > partial >
    fail > absent), the earliest capture breaks ties, and the verdict comes from that capture.
    """
    by_student: dict[str, dict] = {}
    for r in results:
        s = by_student.setdefault(r["student"], {"student": r["student"], "safe": r["safe"], "captures": [],
                                                 "outliers": [], "similar": []})
        if r.get("path") or r.get("file"):  # a folder without captures makes the student, not a row
            s["captures"].append(r)
    for s in by_student.values():
        ok = [c for c in s["captures"] if c.get("digest")]
        tasks = {}
        for tid in TASKS:
            best = None
            for c in ok:
                t = c["digest"]["tasks"].get(tid)
                if t and (best is None or RANK.get(t["status"], 0) > RANK.get(best[1]["status"], 0)):
                    best = (c, t)
            tasks[tid] = {"status": "absent", "verdict": None, "capture": None, "summary": "", "evidence_frames": []}
            if best:
                c, t = best
                tasks[tid] = {**t, "capture": c["key"], "report": c["outputs"][0] if c["outputs"] else None}
        starts = [e for e in (_epoch(c["digest"]["start"]) for c in ok) if e is not None]
        s.update(
            tasks=tasks,
            errors=[f"{c['file']}: {c['error']}" for c in s["captures"] if c.get("error")],
            damaged=any(c.get("damaged") for c in s["captures"]),
            warnings=sum(len(c["digest"]["warnings"]) for c in ok),
            start=min(starts) if starts else None,
            rtt_ms=_median([x for c in ok for x in c["digest"]["rtt_ms"]]),
            dns_latency_ms=_median([x for c in ok for x in c["digest"]["dns_latency_ms"]]),
            t4_wait_s=max([x for c in ok for x in c["digest"]["t4_wait_s"]], default=None),
            anomalies=sum(c["digest"]["anomalies"] for c in ok),
            crafted=sorted({h for c in s["captures"] for h in (c.get("fingerprint") or {}).get("crafted", [])}),
        )
        s["outliers"] = _own_outliers(s, ok)
    _time_outliers(list(by_student.values()))
    for sim in similarities:
        for me, other in ((sim["student_a"], sim["student_b"]), (sim["student_b"], sim["student_a"])):
            if me in by_student:
                by_student[me]["similar"].append({"student": other, "kinds": sim["kinds"],
                                                  "captures": [sim["a"], sim["b"]], "detail": sim["detail"]})
    return sorted(by_student.values(), key=lambda s: (s["student"].casefold(), s["student"]))


def _own_outliers(s: dict, ok: list[dict]) -> list[dict]:
    out = []
    if not s["captures"]:
        out.append({"code": "no-captures"})
    if s["errors"]:
        out.append({"code": "unreadable", "n": len(s["errors"])})
    if ok:
        if any(c["digest"]["dns_a"] for c in ok) and not any(c["digest"]["dns_aaaa"] for c in ok):
            out.append({"code": "no-aaaa"})
        if not any(c["digest"]["lab_traffic"] for c in ok):
            out.append({"code": "no-lab-traffic"})
        elif all(c["digest"]["loopback_only"] for c in ok):
            out.append({"code": "loopback-only"})
        if s["anomalies"] >= MANY_ANOMALIES:
            out.append({"code": "many-anomalies", "n": s["anomalies"]})
    if s["crafted"]:
        out.append({"code": "crafted", "hints": s["crafted"]})
    return out


def _time_outliers(students: list[dict]) -> None:
    starts = [s["start"] for s in students if s["start"] is not None]
    if len(starts) < 3:
        return
    med = statistics.median(starts)
    for s in students:
        if s["start"] is not None and abs(s["start"] - med) > OFF_WINDOW_H * 3600:
            s["outliers"].append({"code": "off-window", "hours": round((s["start"] - med) / 3600, 1)})


def pass_rates(students: list[dict]) -> dict[str, dict[str, int]]:
    out = {t: {k: 0 for k in RANK} for t in TASKS}
    for s in students:
        for t in TASKS:
            out[t][s["tasks"][t]["status"]] += 1
    return out


def outlier_text(o: dict, lang: str) -> str:
    """One outlier flag in the grader's language, as the class page and summary.csv show it."""
    L = Lang(lang, CLASS_CATALOGUES)
    tpl = L.cat.get(o["code"], o["code"])
    args = {k: "; ".join(v) if isinstance(v, list) else L.fmt(v, "+g") if k == "hours" else v
            for k, v in o.items() if k != "code"}
    try:
        return tpl.format(**args)
    except (KeyError, ValueError):
        return tpl


def _cell(v: Any) -> str:
    """Spreadsheet-safe text: a leading = + - @ would run as a formula in Excel/LibreOffice."""
    t = "" if v is None else str(v)
    return "'" + t if t[:1] in ("=", "+", "-", "@", "\t", "\r") else t


def write_csv(path: Path, students: list[dict], lang: str) -> None:
    """The gradebook: UTF-8 with a BOM and CRLF rows, which Excel, LibreOffice and Google Sheets
    all open with names like "Ñoño Ünïcode" intact (Excel guesses a legacy code page without it)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *TASKS, "T4 verdict", "captures", "errors", "warnings", "flags", "similar to", "report"])
        for s in students:
            sim = "; ".join(f"{x['student']} ({', '.join(x['kinds'])})" for x in s["similar"])
            first = next((c["outputs"][0] for c in s["captures"] if c["outputs"]), "")
            w.writerow([_cell(s["student"]), *(s["tasks"][t]["status"] for t in TASKS),
                        s["tasks"]["T4"]["verdict"] or "", len(s["captures"]), len(s["errors"]), s["warnings"],
                        _cell("; ".join(outlier_text(o, lang) for o in s["outliers"])), _cell(sim), _cell(first)])


def write_json(path: Path, summary: dict) -> None:
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
