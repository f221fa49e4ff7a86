"""`progjar batch`: grade a whole class in parallel, with a class page, a gradebook and Moodle grades.

Input is a folder or a zip (reporter/grading/handins.py: plain student folders or files, Moodle's
"Download all submissions"; zips inside are opened by reporter/reading/archive.py). Output in
OUTDIR: one report per capture in ``<safe student>/<safe capture stem>.<ext>``, one combined
report per student ``<safe student>/report.html|pdf``, ``index.html``, ``summary.csv``,
``summary.json`` and ``moodle-grades.csv``.

Why a cache manifest: a grader re-runs after one late submission, and only that student's
captures (and combined report) should cost anything. A damaged or foreign file becomes an error
row with its reason and never stops the batch.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from reporter import __version__
from reporter.assignments import service_ports
from reporter.grading import runner
from reporter.grading.classpage import render_class_page
from reporter.grading.classsummary import (
    capture_digest,
    class_assignment,
    class_tasks,
    pass_rates,
    student_rows,
    write_csv,
    write_json,
)
from reporter.grading.combine import COMBINED, combine_specs, combine_student, fail_combined
from reporter.grading.fingerprint import Collector, Fingerprint, compare, fingerprint
from reporter.grading.handins import collect, student_files
from reporter.grading.moodle import feedback_lines, write_worksheet
from reporter.grading.scores import parse_weights
from reporter.grading.wording import NOT_A_CAPTURE
from reporter.options import ReportOptions, UsageError
from reporter.pipeline import DAMAGE_CODES, analyse, ensure_outdir
from reporter.reading.archive import ArchiveError, Item, Unpacker, capture_stem
from reporter.reading.capture import NotACapture, file_sha256
from reporter.render import write_reports_and_body

CACHE = ".progjar-batch.json"
CACHE_VERSION = 2
PARTS = ".progjar-parts"  # each capture's report body, kept for the combined reports (and re-runs)
_EXT_ORDER = {"html": 0, "pdf": 1, "json": 2}


@dataclass
class Job:
    sid: str  # the student's key: unique per student ("moodle:<id>" or the folder/file name)
    student: str  # display name
    moodle_id: Optional[str]
    safe: str  # output folder name
    path: str  # the capture as a real file (a temporary copy for a zip member); "" for none
    file: str  # the capture as the user sees it, relative to the class folder or zip
    key: str  # "<safe student>/<safe stem>": unique, used for output names and the cache
    stem: str
    sha256: str = ""
    problem: Optional[str] = None  # why it cannot be read (a zip problem), in English
    problem_code: Optional[str] = None  # the same as reporter.reading.archive.PROBLEMS code and facts,
    problem_facts: Optional[dict] = None  # which the class page and feedback say in the grader's language
    rel: str = ""  # the capture's path under the student's own folder (what the student named it)
    others: Optional[list] = None  # a student without captures: the files handed in instead (paths under the student)


def safe_name(name: str, always_hash: bool = True) -> str:
    """A folder/file name that cannot escape OUTDIR or clobber another student's.

    ASCII letters, digits, '.', '_' and '-' only, no leading dot, lower case (so "Ana" and "ana"
    stay apart on case-insensitive file systems through the suffix), plus a short hash of the
    exact original name so names differing only in case, accents or punctuation never collide.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9._-]+", "-", folded.lower()).strip("-.")[:60].strip("-.") or "x"
    if not always_hash:
        return slug
    return f"{slug}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"


def find_jobs(classdir: Path, outdir: Path, unpacker: Unpacker) -> list[tuple[Job, Optional[Item]]]:
    """Every capture of every student, in a stable order (student, then path); a student without
    captures gets one job without a capture."""
    out_res = outdir.resolve()

    def skip(p: Path) -> bool:  # our own output (this run's or an earlier one's) is not a student
        return p.resolve() == out_res or (p / CACHE).exists()

    jobs: list[tuple[Job, Optional[Item]]] = []
    for h in collect(classdir, unpacker, skip):
        safe = safe_name(f"{h.name} {h.moodle_id}" if h.moodle_id else h.name)
        used = {COMBINED}
        files = student_files(h)
        for rel, item in files:
            stem = safe_name(capture_stem(rel).replace("/", "_"), always_hash=False)
            if stem in used:
                stem = safe_name(rel)
            used.add(stem)
            why = item.why
            jobs.append((Job(h.key, h.name, h.moodle_id, safe, "", item.shown, f"{safe}/{stem}", stem,
                             problem=item.problem, problem_code=why.code if why else None,
                             problem_facts=dict(why.facts) if why else None, rel=rel), item))
        if not files:
            jobs.append((Job(h.key, h.name, h.moodle_id, safe, "", "", f"{safe}/", "", others=sorted(h.others)), None))
    return jobs


def _options_key(opts: ReportOptions) -> str:
    return json.dumps({"host": opts.host.lower(), "ports": sorted(opts.port_overrides.items()), "lang": opts.lang,
                       "assignment": opts.assignment, "tz": opts.tz, "formats": sorted(opts.formats),
                       "frames": opts.frames, "tool": __version__})


def _opts_dict(opts: ReportOptions) -> dict:
    return {"host": opts.host, "ports": service_ports(opts.port_overrides), "assignment": opts.assignment,
            "frames": opts.frames, "lang": opts.lang, "tz": opts.tz, "formats": list(opts.formats)}


def _result(job: dict, error: str | None = None, code: Optional[str] = None, facts: Optional[dict] = None) -> dict[str, Any]:
    """A capture's result row before (or instead of) grading it; a row with an error is damaged.

    ``code`` and ``facts``: the error as reporter.reading.archive's problem (said in the grader's
    language by grading/wording.py); None for errors that only have their English sentence."""
    return {**job, "outputs": [], "part": None, "digest": None, "error": error, "damaged": error is not None,
            "error_code": code, "error_facts": facts or {}, "fingerprint": None}


def grade_capture(job: dict, opts: ReportOptions, outdir: str) -> dict:
    """Worker: analyse one capture, write its reports and report body, fingerprint it. Never raises."""
    res = _result(job)
    sha = job["sha256"] or None  # hashed once by the batch for its cache: not again here
    # the copy signals come from the report's own read when the compiled fast path takes the
    # capture (collector.fed), else from a read of their own (unusual frames, damage: captures the fast path declines)
    collector = Collector(sha or "")
    try:
        try:
            report, damaged = analyse(Path(job["path"]), opts, sha256=sha, fingerprint=collector)
        except NotACapture as e:
            res.update(error=f"not a capture: {e.reason}", damaged=True)
            if e.kind is not None:  # what the file is instead, said in the grader's language (grading/wording.py)
                res.update(error_code=NOT_A_CAPTURE, error_facts={"kind": e.kind, **e.facts})
            return res
        if collector.fed is not None:
            collector.sha256 = report.capture.sha256
            res["fingerprint"] = collector.result(*collector.fed).to_dict()
        report.capture.path = job["file"]  # the class-relative name, never this machine's (or a temporary) path
        out = Path(outdir) / job["safe"]
        out.mkdir(parents=True, exist_ok=True)
        paths, body = write_reports_and_body(report, out, job["stem"], opts.formats, opts.lang, opts.tz)
        root = Path(outdir).resolve()
        rels = [Path(p).resolve().relative_to(root).as_posix() for p in paths]
        res["outputs"] = sorted(rels, key=lambda r: _EXT_ORDER.get(r.rsplit(".", 1)[-1], 9))
        if body is not None:
            part = Path(outdir) / PARTS / job["safe"] / f"{job['stem']}.html"
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_text(body, encoding="utf-8")
            res["part"] = part.relative_to(outdir).as_posix()
        res["digest"] = capture_digest(report, opts)
        if damaged:
            why = [w.message for w in report.warnings if w.code in DAMAGE_CODES]  # as `progjar report` says it
            res.update(damaged=True, error="damaged: " + ("; ".join(why)[:300] or "see the report's warnings"))
    except Exception as e:  # noqa: BLE001 - one bad capture must not stop a class of 40
        res.update(error=_no_folders(f"{type(e).__name__}: {e}", job, outdir)[:300], damaged=True)
    finally:
        if res["fingerprint"] is None:  # a read of its own: the fast path declined the capture, or it failed
            res["fingerprint"] = fingerprint(job["path"], sha).to_dict()
    return res


_ABSOLUTE = re.compile(r"(?<![\w.~-])/(?:[^/\s'\"]+/)+(?=[^/\s'\"])")  # the folders of an absolute path


def _no_folders(text: str, job: dict, outdir: str) -> str:
    """An error message as the class summary may show it: the capture named by its class-relative
    name, the output folder as OUTDIR, and no other absolute folder of this machine (an OSError
    names the full path of the file it failed on)."""
    forms = [(str(Path(job["path"]).resolve()), job["file"]), (job["path"], job["file"]),
             (str(Path(outdir).resolve()), "OUTDIR"), (os.path.abspath(outdir), "OUTDIR")]
    for form, name in forms:
        if form and form != ".":
            text = text.replace(form, name)
    return _ABSOLUTE.sub("", text)


def _load_cache(outdir: Path) -> dict:
    try:
        d = json.loads((outdir / CACHE).read_text(encoding="utf-8"))
        return d.get("entries", {}) if d.get("version") == CACHE_VERSION else {}
    except (OSError, ValueError):
        return {}


def _save_cache(outdir: Path, entries: dict) -> None:
    tmp = outdir / (CACHE + ".tmp")
    tmp.write_text(json.dumps({"version": CACHE_VERSION, "entries": entries}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, outdir / CACHE)


def _warm_up(outdir: Path, opts: ReportOptions) -> None:
    """Load the heavy modules (and lay out one empty PDF) before forking: workers inherit that warm
    state instead of paying ~1 s each for WeasyPrint's fonts and styles."""
    heavy = ["reporter.pipeline", "reporter.render.html"] + (["reporter.render.pdf"] if "pdf" in opts.formats else [])
    for mod in heavy:
        with contextlib.suppress(Exception):  # the worker reports the real error per capture
            importlib.import_module(mod)
    if "pdf" not in opts.formats:
        return
    warm = outdir / ".warm-up.pdf"
    with contextlib.suppress(Exception):  # only an optimisation; real errors show per capture
        from reporter.model import CaptureInfo, Report
        from reporter.render.html import render_html
        from reporter.render.pdf import write_pdf_from_html

        write_pdf_from_html(render_html(Report(CaptureInfo("warm-up", "", "pcap")), opts.lang), warm)
    with contextlib.suppress(OSError):
        warm.unlink()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM: leave through the same clean-up as Ctrl-C


def batch_command(classdir: Path, outdir: Path, opts: ReportOptions, jobs: int | None, force: bool,
                  weights: Optional[str] = None, csv_delimiter: Optional[str] = None,
                  moodle_lang: str = "en") -> int:
    """Grade every capture under CLASSDIR into OUTDIR; 0 all fine, 1 some capture damaged/unreadable."""
    if outdir.resolve() == classdir.resolve():
        raise UsageError("progjar batch: -o must differ from CLASSDIR (reports would look like students)")
    if opts.assignment != "auto":  # a wrong --weights is a usage error before any work
        parse_weights(weights, class_tasks(opts.assignment), opts.assignment)
    ensure_outdir(outdir, "progjar batch")
    for stale in outdir.glob(".progjar-unpack-*"):  # an earlier run killed before it could clean up
        shutil.rmtree(stale, ignore_errors=True)
    old = signal.signal(signal.SIGTERM, _raise_interrupt) if _main_thread() else None
    try:
        with Unpacker(tmp_parent=outdir) as unpacker:
            return _batch(classdir, outdir, opts, jobs, force, weights, csv_delimiter, moodle_lang, unpacker)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _batch(classdir: Path, outdir: Path, opts: ReportOptions, jobs: int | None, force: bool, weights: Optional[str],
           csv_delimiter: Optional[str], moodle_lang: str, unpacker: Unpacker) -> int:
    t0 = time.monotonic()
    found = find_jobs(classdir, outdir, unpacker)
    if not found:
        raise UsageError(f"progjar batch: {classdir}: no captures (*.pcap, *.pcapng, *.cap), zips of them "
                         f"or Moodle folders found")
    capture_jobs = [(j, it) for j, it in found if it is not None]
    cache = {} if force else _load_cache(outdir)
    okey = _options_key(opts)
    results: dict[str, dict] = {}
    todo: list[dict] = []
    cached = 0
    progress = runner.Progress(len(capture_jobs))
    try:
        for j, item in capture_jobs:
            try:
                j.path = str(unpacker.materialize(item))
                j.sha256 = file_sha256(j.path)
            except ArchiveError as e:
                results[j.key] = _result(asdict(j), e.problem.text, e.problem.code, dict(e.problem.facts))
                progress.step(results[j.key])
                continue
            except OSError as e:
                results[j.key] = _result(asdict(j), f"cannot read: {e.strerror or e}", "unreadable",
                                         {"why": str(e.strerror or e)})
                progress.step(results[j.key])
                continue
            c = cache.get(j.key)
            if (c and c["sha256"] == j.sha256 and c["options"] == okey
                    and all((outdir / o).is_file() for o in c["result"]["outputs"])
                    and (not c["result"].get("part") or (outdir / c["result"]["part"]).is_file())):
                results[j.key] = {**c["result"], **asdict(j)}
                cached += 1
                progress.step(results[j.key], cached=True)
                if item is not None:
                    unpacker.release(item)
            else:
                todo.append(asdict(j))
        if len(todo) > 1:
            _warm_up(outdir, opts)

        def got(res: dict) -> None:
            results[res["key"]] = res
            progress.step(res)

        runner.run(todo, grade_capture, (opts, str(outdir)), jobs or os.cpu_count() or 1, got,
                   lambda t, why: _result(t, why))
    finally:
        progress.close()
    ordered = [results[j.key] for j, _ in capture_jobs] + [_result(asdict(j)) for j, it in found if it is None]
    aid, counts = class_assignment(ordered, opts.assignment)
    tasks = class_tasks(aid)
    w = parse_weights(weights, tasks, aid or "?")
    by_sid = {r["sid"]: r for r in ordered}
    sims = compare((r["sid"], r["key"], Fingerprint.from_dict(r["fingerprint"])) for r in ordered if r.get("fingerprint"))
    files = {r["key"]: r["file"] for r in ordered}
    sim_dicts = [{**s.to_dict(), "sid_a": s.student_a, "sid_b": s.student_b, "student_a": by_sid[s.student_a]["student"],
                  "student_b": by_sid[s.student_b]["student"], "a_file": files.get(s.a, s.a), "b_file": files.get(s.b, s.b),
                  "detail": s.describe(opts.lang)} for s in sims]
    students = student_rows(ordered, sim_dicts, aid, tasks, w, opts.lang)
    combined = _combine(students, opts, outdir, aid, w, cache, jobs or os.cpu_count() or 1)
    for s in students:
        s["report_html"], s["report_pdf"] = combined.get(s["sid"], (None, None))
        first = next((o for c in s["captures"] for o in c.get("outputs", [])), None)
        s["report"] = s["report_html"] or s["report_pdf"] or first  # no combined report with --format json
        for c in s["captures"]:
            c.pop("path", None)  # this machine's (temporary) path: not for a summary that gets shared
    entries = {k: {"sha256": r["sha256"], "options": okey, "result": {**r, "path": ""}}
               for k, r in results.items() if r.get("sha256")}
    entries.update(combined.get("_cache", {}))
    _save_cache(outdir, entries)
    now = datetime.now(timezone.utc)
    summary = {
        "schema": "progjar.batch/2",
        "tool": {"name": "progjar-lab", "version": __version__},
        "generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "options": {**_opts_dict(opts), "weights": w, "moodle_lang": moodle_lang},
        "assignment": aid, "assignment_counts": dict(counts), "tasks": tasks,
        "students": students,
        "pass_rates": pass_rates(students, tasks),
        "similarities": sim_dicts,
    }
    write_json(outdir / "summary.json", summary)
    write_csv(outdir / "summary.csv", students, tasks, opts.lang, csv_delimiter)
    fb = {s["sid"]: feedback_lines(s, tasks, aid, opts.lang) for s in students}
    rows, left_out = write_worksheet(outdir / "moodle-grades.csv", students, moodle_lang, now, opts.tz, fb)
    (outdir / "index.html").write_text(render_class_page(summary, opts.lang), encoding="utf-8")
    bad = [r for r in ordered if r.get("damaged") or (r.get("error") and not r.get("digest"))]
    for r in bad:
        print(f"progjar batch: {r['file']}: {r['error']}", file=sys.stderr)
    if len(counts) > 1:
        print(f"progjar batch: the captures were judged as several assignments "
              f"({', '.join(f'{k}: {v}' for k, v in counts.most_common())}); the class table shows {aid}; "
              f"run again with --assignment to judge every capture as one", file=sys.stderr)
    if left_out:
        why = "no student came from Moodle's download" if not rows else \
            f"{len(left_out)} student(s) without a Moodle participant id: {', '.join(left_out[:5])}" + \
            (" ..." if len(left_out) > 5 else "")
        print(f"progjar batch: moodle-grades.csv has {rows} row(s); {why} (grade those by hand)", file=sys.stderr)
    print(f"progjar batch: {_n(len(capture_jobs), 'capture')} of {_n(len(students), 'student')} "
          f"({len(todo)} analysed, {cached} up to date, {len(bad)} with problems, "
          f"{_n(len(sims), 'similar pair')}) in {time.monotonic() - t0:.1f} s -> {outdir / 'index.html'}")
    return 1 if bad else 0


def _n(n: int, noun: str) -> str:
    """'1 capture', '2 captures': the summary line is read by people."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _combine(students: list[dict], opts: ReportOptions, outdir: Path, aid: Optional[str], weights: dict,
             cache: dict, jobs: int) -> dict:
    """Write each student's combined report (workers, cached); {sid: (html, pdf)} plus "_cache"."""
    if not {"html", "pdf"} & set(opts.formats):
        return {}
    specs = combine_specs(students, opts, aid, weights)
    out: dict[str, Any] = {"_cache": {}}
    todo = []
    for spec in specs:
        c = cache.get(spec["key"])
        if c and c.get("hash") == spec["hash"] and all((outdir / o).is_file() for o in c["outputs"]):
            res = {"key": spec["key"], "sid": spec["sid"], "outputs": c["outputs"], "error": None}
            _took(out, res, spec)
        else:
            todo.append(spec)

    def got(res: dict) -> None:
        spec = next(s for s in specs if s["key"] == res["key"])
        if res.get("error"):
            print(f"progjar batch: combined report of {spec['student']}: {res['error']}", file=sys.stderr)
        _took(out, res, spec)

    runner.run(todo, combine_student, (str(outdir), __version__), jobs, got, fail_combined)
    return out


def _took(out: dict, res: dict, spec: dict) -> None:
    html = next((o for o in res["outputs"] if o.endswith(".html")), None)
    pdf = next((o for o in res["outputs"] if o.endswith(".pdf")), None)
    out[spec["sid"]] = (html, pdf)
    if not res.get("error"):
        out["_cache"][spec["key"]] = {"hash": spec["hash"], "outputs": res["outputs"]}
