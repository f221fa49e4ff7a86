"""Each student's combined report in batch: what goes on it (a spec) and the worker that writes it.

Why specs: the combined reports are written by worker processes (a PDF per student takes a second
or two of layout) and cached between runs; a spec is the plain dict of everything a report shows,
so its hash says whether last run's report is still right.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

from reporter.grading.classsummary import error_text, shown_files
from reporter.grading.scores import SCALE
from reporter.grading.wording import Words
from reporter.options import ReportOptions

COMBINED = "report"  # OUTDIR/<student>/report.html|pdf; no capture's report may take this name


def score_note(weights: dict[str, float], lang: str) -> str:
    """The score rule in words, with the weights in effect."""
    w = Words(lang)
    equal = len(set(weights.values())) <= 1
    total = sum(weights.values()) or 1.0
    given = ", ".join(f"{t} {w.num(SCALE * v / total, ',.4g')}%" for t, v in weights.items())
    return w.t("score_rule", weights=w.t("w_equal") if equal else w.t("w_given", w=given))


def combine_specs(students: list[dict], opts: ReportOptions, aid: Optional[str],
                  weights: dict[str, float]) -> list[dict]:
    """One spec per student (every student gets a report, a cover alone when nothing was readable)."""
    w = Words(opts.lang)
    note = score_note(weights, opts.lang)
    specs = []
    for s in students:
        parts = []
        for c in s["captures"]:
            d = c.get("digest")
            parts.append({"file": c["file"], "part": c.get("part") if d else None, "sha256": c.get("sha256", ""),
                          "assignment": d.get("assignment") if d else None,
                          "tasks": [{"id": tid, **{k: t.get(k) for k in ("status", "verdict", "reason", "fix")}}
                                    for tid, t in (d["tasks"].items() if d else [])],
                          "error": None if d else (error_text(c, opts.lang) or "?")})
        spec: dict[str, Any] = {
            "key": f"combined:{s['sid']}", "sid": s["sid"], "safe": s["safe"], "student": s["student"],
            "moodle_id": s.get("moodle_id"), "assignment": aid, "parts": parts,
            "others": shown_files(s.get("others") or []),  # only a student without captures has any
            "score": w.score(s["score"]), "score_note": note,
            "lang": opts.lang, "formats": sorted({"html", "pdf"} & set(opts.formats)),
        }
        spec["hash"] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        specs.append(spec)
    return specs


def combine_student(spec: dict, outdir: str, version: str) -> dict:
    """Worker: write OUTDIR/<safe>/report.html and/or .pdf. Never raises."""
    from reporter.render.combined import Part, render_combined

    res: dict[str, Any] = {"key": spec["key"], "sid": spec["sid"], "outputs": [], "error": None}
    try:
        parts = []
        for p in spec["parts"]:
            body = ""
            if p["part"]:
                body = (Path(outdir) / p["part"]).read_text(encoding="utf-8")
            parts.append(Part(p["file"], body, p["tasks"], p["assignment"], p["error"] if not p["part"] else None))
        page = render_combined(spec["student"], spec["moodle_id"], "moodle", parts, spec["lang"], spec["assignment"],
                               score=spec["score"], score_note=spec["score_note"], tool_version=version,
                               others=spec.get("others") or ())
        folder = Path(outdir) / spec["safe"]
        folder.mkdir(parents=True, exist_ok=True)
        if "html" in spec["formats"]:
            (folder / f"{COMBINED}.html").write_text(page, encoding="utf-8")
            res["outputs"].append(f"{spec['safe']}/{COMBINED}.html")
        if "pdf" in spec["formats"]:
            from reporter.render.pdf import write_pdf_from_html

            write_pdf_from_html(page, folder / f"{COMBINED}.pdf")
            res["outputs"].append(f"{spec['safe']}/{COMBINED}.pdf")
    except Exception as e:  # noqa: BLE001 - one student's report must not stop the class
        res["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
    return res


def fail_combined(spec: dict, why: str) -> dict:
    return {"key": spec["key"], "sid": spec["sid"], "outputs": [], "error": why}
