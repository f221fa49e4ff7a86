"""From per-capture reports to one row per student: best status per task, score, flags, gradebook.

Why digests: the batch runs captures in worker processes and caches their results between runs, so
each report is boiled down once (in the worker) to the few values the class view needs, a plain
dict that crosses process boundaries and lands in the cache manifest unchanged. The digest keeps
each task's reason and fix in the grader's language (the cache is per language), so the Moodle
feedback and the combined report say the rubric's own sentences.
"""
from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from reporter import assignments
from reporter.assignments.diagnosis import CODE as NO_LAB_TRAFFIC
from reporter.assignments.judging import RANK, best_ranked
from reporter.grading.scores import score
from reporter.grading.wording import NOT_A_CAPTURE, Words, problem_text
from reporter.model import Report
from reporter.grading.ets_class import ets_digest
from reporter.options import ReportOptions
from reporter.reading.packet import is_loopback

COUNTED = ("warning", "error")  # warning severities the class table counts; "info" is not a warning
OFF_WINDOW_H = 6.0  # a capture started this far from the class median was made at another time
MANY_ANOMALIES = 10  # retransmissions + out-of-order + ... summed over a student's captures


def capture_digest(report: Report, opts: ReportOptions) -> dict[str, Any]:
    """The values the class page, the gradebook and the combined report need from one capture."""
    host = opts.host.lower().rstrip(".")
    asked = {d.qtype for d in report.dns if d.name.lower().rstrip(".") == host}
    conns = report.connections
    ips = [c.client.ip for c in conns] + [c.server.ip for c in conns]
    ips += [d.client for d in report.dns] + [d.server for d in report.dns]
    aid = report.assignment.id if report.assignment else None
    entry = assignments.find(aid)
    diagnosis = next((w for w in report.warnings if w.code == NO_LAB_TRAFFIC), None)
    tasks = {}
    for t in report.tasks:
        reason, fix = assignments.reason_text(entry, t, opts.lang)
        tasks[t.id] = {"status": t.status, "verdict": t.verdict, "evidence_frames": list(t.evidence_frames),
                       "summary": t.summary, "reason": reason, "fix": fix}
    return {
        "assignment": aid,
        "tasks": tasks,
        "start": report.capture.start,
        "duration_s": report.capture.duration_s,
        "packets": report.capture.packets,
        "truncated": report.capture.truncated,
        "warnings": [{"code": w.code, "severity": w.severity} for w in report.warnings],
        "dns_a": "A" in asked,
        "dns_aaaa": "AAAA" in asked,
        # the report's own diagnosis (assignments/diagnosis.py): no connection to the assignment's
        # ports and no lookup it asks for; its facts say what the capture holds instead, so the
        # class page's flag and the student's report say the same
        "lab_traffic": diagnosis is None,
        "diagnosis": dict(diagnosis.facts) if diagnosis is not None else None,
        "loopback_only": bool(ips) and all(is_loopback(i) for i in ips),
        "rtt_ms": [c.handshake.rtt_ms for c in conns if c.handshake.rtt_ms is not None],
        "dns_latency_ms": [d.latency_ms for d in report.dns if d.latency_ms is not None],
        "wait_s": [c.echo.wait_s for c in conns
                   if getattr(c, "echo", None) is not None and c.echo.wait_s is not None and c.client_no >= 2],
        "anomalies": sum(c.anomalies.network_faults() for c in conns),
        "ets": ets_digest(report),  # the ETS table's rows (grading/ets_class.py), [] for other assignments
    }


def class_assignment(results: list[dict], wanted: str) -> tuple[Optional[str], Counter]:
    """The assignment the class table shows: the one asked for, else the one most captures were
    judged as (ties: course order). Also how many captures each assignment got."""
    counts: Counter = Counter(r["digest"]["assignment"] for r in results if r.get("digest") and r["digest"].get("assignment"))
    if wanted != "auto":
        return wanted, counts
    if not counts:
        return next(iter(assignments.assignment_ids()), None), counts
    order = {a: i for i, a in enumerate(assignments.assignment_ids())}
    return min(counts, key=lambda a: (-counts[a], order.get(a, 99), a)), counts


def class_tasks(assignment: Optional[str]) -> list[str]:
    a = assignments.find(assignment)
    return list(a.tasks) if a else []


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def error_text(c: dict, lang: str) -> str:
    """A capture's error in the grader's language (zip problems are; others keep their English)."""
    return problem_text(c.get("error_code"), c.get("error_facts") or {}, c.get("error") or "", lang)


def student_rows(results: list[dict], similarities: list[dict], assignment: Optional[str], tasks: list[str],
                 weights: dict[str, float], lang: str = "en") -> list[dict]:
    """One row per student from the capture results (batch order), best status per task, score.

    A student's task is judged over all their captures judged as the class's assignment: the best
    status wins (pass > partial > fail > absent), the earliest capture breaks ties, and the verdict,
    reason and fix come from that capture. Captures judged as another assignment are flagged."""
    by_student: dict[str, dict] = {}
    for r in results:
        s = by_student.setdefault(r["sid"], {"sid": r["sid"], "student": r["student"], "moodle_id": r.get("moodle_id"),
                                             "safe": r["safe"], "captures": [], "outliers": [], "similar": [],
                                             "others": []})
        if r.get("path") or r.get("file"):  # a folder without captures makes the student, not a row
            s["captures"].append(r)
        elif r.get("others"):  # ... and says what it held instead (a PDF, a screenshot)
            s["others"] = list(r["others"])
    for s in by_student.values():
        ok = [c for c in s["captures"] if c.get("digest")]
        mine = [c for c in ok if not assignment or c["digest"].get("assignment") == assignment]
        best_tasks = {}
        for tid in tasks:
            best = best_ranked((c, c["digest"]["tasks"][tid]) for c in mine if c["digest"]["tasks"].get(tid))
            best_tasks[tid] = {"status": "absent", "verdict": None, "capture": None, "summary": "",
                               "evidence_frames": [], "reason": "", "fix": None, "report": None}
            if best:
                c, t = best
                html = next((o for o in c["outputs"] if o.endswith(".html")), None)
                best_tasks[tid] = {**best_tasks[tid], **t, "capture": c["key"], "report": html}
        starts = [e for e in (_epoch(c["digest"]["start"]) for c in ok) if e is not None]
        s.update(
            assignment=assignment,
            tasks=best_tasks,
            score=score({t: v["status"] for t, v in best_tasks.items()}, weights),
            errors=[f"{c['file']}: {error_text(c, lang)}" for c in s["captures"] if c.get("error")],
            damaged=any(c.get("damaged") for c in s["captures"]),
            warnings=sum(1 for c in ok for w in c["digest"]["warnings"] if _severity(w) in COUNTED),
            start=min(starts) if starts else None,
            rtt_ms=_median([x for c in ok for x in c["digest"]["rtt_ms"]]),
            dns_latency_ms=_median([x for c in ok for x in c["digest"]["dns_latency_ms"]]),
            wait_s=max([x for c in ok for x in c["digest"].get("wait_s", [])], default=None),
            anomalies=sum(c["digest"]["anomalies"] for c in ok),
            crafted=_crafted(s["captures"]),
            other=sorted({c["digest"]["assignment"] for c in ok if c not in mine and c["digest"].get("assignment")}),
        )
        s["outliers"] = _own_outliers(s, ok, len(ok) - len(mine))
    _time_outliers(list(by_student.values()))
    for sim in similarities:
        for me, other, mine_key, their_key in ((sim["sid_a"], sim["sid_b"], sim["a"], sim["b"]),
                                               (sim["sid_b"], sim["sid_a"], sim["b"], sim["a"])):
            if me in by_student:
                by_student[me]["similar"].append({"student": by_student[other]["student"] if other in by_student else other,
                                                  "sid": other, "kinds": sim["kinds"], "captures": [mine_key, their_key],
                                                  "detail": sim["detail"]})
    return sorted(by_student.values(), key=lambda s: (s["student"].casefold(), s["student"], s["sid"]))


def _severity(w: Any) -> str:
    """A digest's warning: {"code", "severity"}; a plain code from an older cache counts as a warning."""
    return w.get("severity", "warning") if isinstance(w, dict) else "warning"


def _crafted(captures: list[dict]) -> list[dict]:
    seen, out = set(), []
    for c in captures:
        for h in (c.get("fingerprint") or {}).get("crafted", []):
            key = json.dumps(h, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(h)
    return out


def _own_outliers(s: dict, ok: list[dict], other: int) -> list[dict]:
    out: list[dict] = []
    if not s["captures"]:
        others = s.get("others") or []
        out.append({"code": "no-captures-others", "n": len(others), "files": shown_files(others)} if others
                   else {"code": "no-captures"})
    unread = sum(1 for c in s["captures"] if c.get("error") and not c.get("digest"))
    other_kind = sum(1 for c in s["captures"] if c.get("error_code") == NOT_A_CAPTURE and not c.get("digest"))
    if other_kind:  # readable, but something else (a screenshot, a PDF): said apart from broken files
        out.append({"code": "not-captures", "n": other_kind})
    if unread > other_kind:
        out.append({"code": "unreadable", "n": unread - other_kind})
    if len(s["errors"]) > unread:  # read up to the damage: the report has what came before it
        out.append({"code": "damaged", "n": len(s["errors"]) - unread})
    if other:
        out.append({"code": "other-assignment", "n": other, "ids": s["other"], "a": s["assignment"]})
    if ok:
        if any(c["digest"]["dns_a"] for c in ok) and not any(c["digest"]["dns_aaaa"] for c in ok):
            out.append({"code": "no-aaaa"})
        judged = [c for c in ok if not s["assignment"] or c["digest"].get("assignment") == s["assignment"]]
        if judged and not any(c["digest"]["lab_traffic"] for c in judged):
            out.append(_no_traffic_flag([c["digest"].get("diagnosis") or {} for c in judged]))
        elif all(c["digest"]["loopback_only"] for c in ok):
            out.append({"code": "loopback-only"})
        if s["anomalies"] >= MANY_ANOMALIES:
            out.append({"code": "many-anomalies", "n": s["anomalies"]})
    if s["crafted"]:
        out.append({"code": "crafted", "hints": s["crafted"]})
    return out


# the report's diagnosis kinds, most telling first, as a flag code (grading/wording.py)
_NO_TRAFFIC_FLAGS = (("service-elsewhere", "service-elsewhere", ("seen", "lab_ports", "options")),
                     ("other-ports", "no-lab-traffic-ports", ("lab_ports", "ports")),
                     ("loopback", "no-lab-traffic-loopback", ("ports",)),
                     ("dns-only", "no-lab-traffic-dns", ()),
                     ("no-frames", "no-frames", ()))


def _no_traffic_flag(diagnoses: list[dict]) -> dict:
    """One flag for a student none of whose captures has the assignment's traffic: what their
    reports' diagnoses found instead (a service on another port, other ports, only loopback), else
    the plain "no lab traffic" (nothing but non-IP frames; or a digest cached before diagnoses)."""
    for kind, code, keys in _NO_TRAFFIC_FLAGS:
        d = next((d for d in diagnoses if d.get("kind") == kind and all(k in d for k in keys)), None)
        if d is not None:
            return {"code": code, **{k: [str(x) for x in d[k]] for k in keys}}
    return {"code": "no-lab-traffic"}


def _time_outliers(students: list[dict]) -> None:
    starts = [s["start"] for s in students if s["start"] is not None]
    if len(starts) < 3:
        return
    med = statistics.median(starts)
    for s in students:
        if s["start"] is not None and abs(s["start"] - med) > OFF_WINDOW_H * 3600:
            s["outliers"].append({"code": "off-window", "hours": round((s["start"] - med) / 3600, 1)})


def pass_rates(students: list[dict], tasks: list[str]) -> dict[str, dict[str, int]]:
    out = {t: {k: 0 for k in RANK} for t in tasks}
    for s in students:
        for t in tasks:
            out[t][s["tasks"][t]["status"]] += 1
    return out


def hint_text(h: dict, w: Words) -> str:
    """One crafted-packet hint in the grader's language."""
    facts = {k: (", ".join(map(str, v)) if isinstance(v, list) else w.num(v, ",g") if isinstance(v, (int, float))
                 and not isinstance(v, bool) else v) for k, v in h.items() if k != "code"}
    return w.t(h.get("code", ""), **facts)


SHOWN_FILES = 5  # names a flag or a feedback comment lists; the rest is "…"


def shown_files(names: list[str]) -> list[str]:
    """The first few of a hand-in's file names, and "…" when there are more."""
    return names[:SHOWN_FILES] + (["\u2026"] if len(names) > SHOWN_FILES else [])


def outlier_text(o: dict, lang: str) -> str:
    """One flag in the grader's language, as the class page and summary.csv show it."""
    w = Words(lang)
    code = o["code"]
    if code == "crafted":
        return w.t("crafted", hints="; ".join(hint_text(h, w) for h in o.get("hints", []) if isinstance(h, dict)))
    facts: dict[str, Any] = {}
    for k, v in o.items():
        if k == "code":
            continue
        if k == "hours":
            facts[k] = w.num(v, "+,g")
        elif isinstance(v, list):
            facts[k] = ", ".join(map(str, v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            facts[k] = w.num(v, ",")
        else:
            facts[k] = v
    return w.t(code, **facts)


def spreadsheet_cell(v: Any) -> str:
    """Spreadsheet-safe text: a leading = + - @ would run as a formula in Excel/LibreOffice."""
    t = "" if v is None else str(v)
    return "'" + t if t[:1] in ("=", "+", "-", "@", "\t", "\r") else t


DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}


def default_delimiter(lang: str) -> str:
    """What a spreadsheet set to that locale splits on: Indonesian (decimal comma) expects ';'."""
    return ";" if lang == "id" else ","


def write_csv(path: Path, students: list[dict], tasks: list[str], lang: str, delimiter: Optional[str] = None) -> None:
    """The gradebook: UTF-8 with a BOM and CRLF rows, which Excel, LibreOffice and Google Sheets all
    open with names like "Ñoño Ünïcode" intact; headers, statuses and decimals in the grader's
    language; split on the delimiter a spreadsheet of that locale expects (``--csv-delimiter``)."""
    w = Words(lang)
    sep = delimiter or default_delimiter(lang)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f, delimiter=sep, lineterminator="\r\n")
        out.writerow([w.t("c_student"), w.t("c_id"), w.t("c_score"), *tasks, w.t("c_verdicts"), w.t("c_captures"),
                      w.t("c_errors"), w.t("c_warnings"), w.t("c_flags"), w.t("c_similar"), w.t("c_report")])
        for s in students:
            sim = "; ".join(dict.fromkeys(x["student"] for x in s["similar"]))
            verdicts = "; ".join(f"{t} {w.t(s['tasks'][t]['verdict'])}" for t in tasks if s["tasks"][t].get("verdict"))
            flags = "; ".join(outlier_text(o, lang) for o in s["outliers"])
            out.writerow([spreadsheet_cell(s["student"]), s.get("moodle_id") or "", w.score(s["score"]),
                          *(w.t(s["tasks"][t]["status"]) for t in tasks), spreadsheet_cell(verdicts),
                          len(s["captures"]), len(s["errors"]), s["warnings"], spreadsheet_cell(flags),
                          spreadsheet_cell(sim), spreadsheet_cell(s.get("report") or "")])


def write_json(path: Path, summary: dict) -> None:
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
