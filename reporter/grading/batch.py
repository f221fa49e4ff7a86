"""`progjar batch`: grade a whole class folder in parallel, with a class summary and a gradebook.

Input is CLASSDIR/<student>/**/*.pcap* or CLASSDIR/<student>.pcap*; output is one report per
capture in OUTDIR/<safe student>/<safe capture stem>.<ext>, plus OUTDIR/index.html, summary.csv
and summary.json. Why worker processes that are recycled every few captures: analysis is CPU
bound and PDF layout keeps memory it never gives back, so a fresh process every RECYCLE captures
keeps the peak flat over a class of 40. Why a cache manifest: a grader re-runs after one late
submission, and only that student's captures should cost anything.

A damaged or foreign file becomes an error row with its reason and never stops the batch.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import multiprocessing as mp
import os
import queue
import re
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reporter import __version__
from reporter.assignments import service_ports
from reporter.reading.capture import NotACapture
from reporter.grading.classpage import render_class_page
from reporter.grading.classsummary import (
    capture_digest,
    pass_rates,
    student_rows,
    write_csv,
    write_json,
)
from reporter.options import ReportOptions, UsageError
from reporter.grading.fingerprint import Fingerprint, compare, fingerprint
from reporter.pipeline import DAMAGE_CODES, analyse
from reporter.reading.capture import file_sha256
from reporter.render import write_reports

CAPTURE_EXTS = (".pcapng", ".pcap", ".cap")
CACHE = ".progjar-batch.json"
RECYCLE = 10  # captures per worker before it is replaced: PDF layout keeps ~1.5 MiB a report
TIMEOUT_S = 600.0  # longest wait for any next result before the rest are given up as timed out
_EXT_ORDER = {"html": 0, "pdf": 1, "json": 2}


@dataclass
class Job:
    student: str  # display name, as the folder/file is called
    safe: str  # output folder name
    path: str  # the capture
    file: str  # capture path relative to CLASSDIR, for people
    key: str  # "<safe student>/<safe stem>": unique, used for output names and the cache
    stem: str
    sha256: str = ""


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


def _capture_ext(name: str) -> str | None:
    low = name.lower()
    return next((e for e in CAPTURE_EXTS if low.endswith(e)), None)


def find_jobs(classdir: Path, outdir: Path) -> list[Job]:
    """Every capture of every student, in a stable order (student, then path)."""
    out_res = outdir.resolve()
    found: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(classdir.iterdir(), key=lambda p: p.name):
        if entry.resolve() == out_res or entry.name.startswith("._") or (entry / CACHE).exists():
            continue  # our own output (this run's or an earlier one's) is not a student
        if entry.is_dir() and not entry.is_symlink():
            caps = found.setdefault(entry.name, [])
            for root, dirs, files in os.walk(entry):
                dirs[:] = sorted(d for d in dirs if Path(root, d).resolve() != out_res)
                for f in sorted(files):
                    if _capture_ext(f) and not f.startswith("._"):
                        p = Path(root, f)
                        caps.append((p.relative_to(entry).as_posix(), p))
        elif entry.is_file() and (ext := _capture_ext(entry.name)):
            found.setdefault(entry.name[: -len(ext)] or entry.name, []).append((entry.name, entry))
    jobs = []
    for student in sorted(found, key=lambda s: (s.casefold(), s)):
        safe = safe_name(student)
        used: set[str] = set()
        for rel, p in found[student]:
            ext = _capture_ext(rel) or ""
            stem = safe_name(rel[: -len(ext)].replace("/", "_"), always_hash=False)
            if stem in used:
                stem = safe_name(rel)
            used.add(stem)
            jobs.append(Job(student, safe, str(p), (Path(student) / rel).as_posix() if p.parent != classdir else rel,
                            f"{safe}/{stem}", stem))
        if not found[student]:
            jobs.append(Job(student, safe, "", "", f"{safe}/", ""))  # a student folder without captures
    return jobs


def _options_key(opts: ReportOptions) -> str:
    return json.dumps({"host": opts.host.lower(), "ports": sorted(opts.port_overrides.items()), "lang": opts.lang,
                       "assignment": opts.assignment, "tz": opts.tz, "formats": sorted(opts.formats),
                       "frames": opts.frames, "tool": __version__})


def _opts_dict(opts: ReportOptions) -> dict:
    return {"host": opts.host, "ports": service_ports(opts.port_overrides), "assignment": opts.assignment,
            "frames": opts.frames, "lang": opts.lang, "tz": opts.tz, "formats": list(opts.formats)}


_started = None  # in a worker: where to say which capture it is working on


def _init_worker(started: Any) -> None:
    global _started
    _started = started


def _alive(pid: int) -> bool:
    """Is the process running (not gone, not a zombie)?"""
    if not os.path.isdir("/proc/self"):  # no procfs: a zombie passes for alive, the timeout still bounds it
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _result(job: dict, error: str | None = None) -> dict[str, Any]:
    """A capture's result row before (or instead of) grading it; a row with an error is damaged."""
    return {**job, "outputs": [], "digest": None, "error": error, "damaged": error is not None, "fingerprint": None}


def grade_capture(job: dict, opts: ReportOptions, outdir: str) -> dict:
    """Worker: analyse one capture, write its reports, fingerprint it. Never raises."""
    if _started is not None:
        _started.put((job["key"], os.getpid()))
    res = _result(job)
    sha = job["sha256"] or None  # hashed once by the batch for its cache: not again here
    fp = fingerprint(job["path"], sha)
    res["fingerprint"] = fp.to_dict()
    try:
        try:
            report, damaged = analyse(Path(job["path"]), opts, sha256=sha)
        except NotACapture as e:
            res.update(error=f"not a capture: {e.reason}", damaged=True)
            return res
        report.capture.path = job["file"]  # the class-relative name, not this machine's path
        out = Path(outdir) / job["safe"]
        out.mkdir(parents=True, exist_ok=True)
        paths = write_reports(report, out, job["stem"], opts.formats, opts.lang)
        root = Path(outdir).resolve()
        rels = [Path(p).resolve().relative_to(root).as_posix() for p in paths]
        res["outputs"] = sorted(rels, key=lambda r: _EXT_ORDER.get(r.rsplit(".", 1)[-1], 9))
        res["digest"] = capture_digest(report, opts)
        if damaged:
            why = [w.message for w in report.warnings if w.code in DAMAGE_CODES]  # as `progjar report` says it
            res.update(damaged=True, error="damaged: " + ("; ".join(why)[:300] or "see the report's warnings"))
    except Exception as e:  # noqa: BLE001 - one bad capture must not stop a class of 40
        res.update(error=_no_folders(f"{type(e).__name__}: {e}", job, outdir)[:300], damaged=True)
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
        return d.get("entries", {}) if d.get("version") == 1 else {}
    except (OSError, ValueError):
        return {}


def _save_cache(outdir: Path, entries: dict) -> None:
    tmp = outdir / (CACHE + ".tmp")
    tmp.write_text(json.dumps({"version": 1, "entries": entries}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, outdir / CACHE)


class _Progress:
    """A rich bar on a terminal; plain lines when piped or in CI (logs stay readable)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.bar = None
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("grading", total=total)

    def step(self, res: dict, cached: bool = False) -> None:
        self.done += 1
        what = "up to date" if cached else ("ERROR " + res["error"] if res.get("error") and not res.get("digest")
                                             else "damaged" if res.get("damaged") else "ok")
        line = f"[{self.done}/{self.total}] {res['file'] or res['student'] + '/'}: {what}"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=res["student"][:30])
            if res.get("error"):
                self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(f"progjar batch: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _run(todo: list[Job], opts: ReportOptions, outdir: Path, jobs: int, progress: _Progress) -> list[dict]:
    results: list[dict] = []
    if len(todo) <= 1:
        for j in todo:
            results.append(grade_capture(asdict(j), opts, str(outdir)))
            progress.step(results[-1])
        return results
    heavy = ["reporter.pipeline", "reporter.render.html"] + (["reporter.render.pdf"] if "pdf" in opts.formats else [])
    for mod in heavy:  # load once: forked workers share them instead of importing each
        with contextlib.suppress(Exception):  # the worker reports the real error per capture
            importlib.import_module(mod)
    if "pdf" in opts.formats:
        _warm_up_pdf(outdir, opts.lang)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    done: queue.Queue = queue.Queue()
    started = ctx.SimpleQueue()  # (capture key, worker pid) as each capture starts
    pool = ctx.Pool(processes=min(jobs, len(todo)), maxtasksperchild=RECYCLE, initializer=_init_worker,
                    initargs=(started,))
    by_key = {j.key: j for j in todo}
    try:
        for j in todo:
            pool.apply_async(grade_capture, (asdict(j), opts, str(outdir)), callback=done.put,
                             error_callback=lambda e, j=j: done.put(_result(asdict(j), f"worker failed: {e}")))
        pending, running, suspect = set(by_key), {}, set()
        last = time.monotonic()
        while pending:
            try:
                res = done.get(timeout=1.0)
            except queue.Empty:
                while not started.empty():
                    key, pid = started.get()
                    running[key] = pid
                # a worker killed by the OS (out of memory) loses its task silently in a Pool:
                # dead twice in a row (results of a worker that just exited have had a second)
                dead = {k for k in pending if k in running and not _alive(running[k])}
                for k in sorted(dead & suspect):
                    res = _result(asdict(by_key[k]), "worker process died while analysing it (out of memory?)")
                    pending.discard(k)
                    results.append(res)
                    progress.step(res)
                suspect = dead - suspect
                if time.monotonic() - last > TIMEOUT_S:
                    for k in sorted(pending):
                        results.append(_result(asdict(by_key[k]), f"timed out after {TIMEOUT_S:.0f} s"))
                        progress.step(results[-1])
                    break
                continue
            last = time.monotonic()
            if res["key"] in pending:
                pending.discard(res["key"])
                results.append(res)
                progress.step(res)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return results


def _warm_up_pdf(outdir: Path, lang: str) -> None:
    """Lay out one empty report before forking: WeasyPrint's first PDF in a process pays ~1 s for
    fonts and styles, and forked workers inherit that warm state instead of paying it each."""
    warm = outdir / ".warm-up.pdf"
    with contextlib.suppress(Exception):  # only an optimisation; real errors show per capture
        from reporter.model import CaptureInfo, Report
        from reporter.render.html import render_html
        from reporter.render.pdf import write_pdf_from_html

        write_pdf_from_html(render_html(Report(CaptureInfo("warm-up", "", "pcap")), lang), warm)
    with contextlib.suppress(OSError):
        warm.unlink()


def batch_command(classdir: Path, outdir: Path, opts: ReportOptions, jobs: int | None, force: bool) -> int:
    """Grade every capture under CLASSDIR into OUTDIR; 0 all fine, 1 some capture damaged/unreadable."""
    t0 = time.monotonic()
    if outdir.resolve() == classdir.resolve():
        raise UsageError("progjar batch: -o must differ from CLASSDIR (reports would look like students)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"progjar batch: cannot create {outdir}: {e.strerror or e}") from None
    all_jobs = find_jobs(classdir, outdir)
    if not all_jobs:
        raise UsageError(f"progjar batch: {classdir}: no captures (*.pcap, *.pcapng, *.cap) found")
    capture_jobs = [j for j in all_jobs if j.path]
    cache = {} if force else _load_cache(outdir)
    okey = _options_key(opts)
    results: dict[str, dict] = {}
    todo, cached = [], 0
    progress = _Progress(len(capture_jobs))
    try:
        for j in capture_jobs:
            try:
                j.sha256 = file_sha256(j.path)
            except OSError as e:
                results[j.key] = _result(asdict(j), f"cannot read: {e.strerror or e}")
                progress.step(results[j.key])
                continue
            c = cache.get(j.key)
            if (c and c["sha256"] == j.sha256 and c["options"] == okey
                    and all((outdir / o).is_file() for o in c["result"]["outputs"])):
                results[j.key] = {**c["result"], **asdict(j)}
                cached += 1
                progress.step(results[j.key], cached=True)
            else:
                todo.append(j)
        for res in _run(todo, opts, outdir, jobs or os.cpu_count() or 1, progress):
            results[res["key"]] = res
    finally:
        progress.close()
    # without "path" (this machine's path: the cache lives in OUTDIR, which may be shared; a cached
    # result gets the current path back from its job when read)
    _save_cache(outdir, {k: {"sha256": r["sha256"], "options": okey,
                             "result": {f: v for f, v in r.items() if f != "path"}}
                         for k, r in results.items() if r.get("sha256")})
    ordered = [results[j.key] for j in capture_jobs] + [_result(asdict(j)) for j in all_jobs if not j.path]
    sims = compare((r["student"], r["key"], Fingerprint.from_dict(r["fingerprint"]))
                   for r in ordered if r.get("fingerprint"))
    sim_dicts = [{**s.to_dict(), "detail": s.describe()} for s in sims]
    students = student_rows(ordered, sim_dicts)
    for s in students:
        for c in s["captures"]:
            c.pop("path", None)  # this machine's absolute path: not for a summary that gets shared
    summary = {
        "schema": "progjar.batch/1",
        "tool": {"name": "progjar-lab", "version": __version__},
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "options": _opts_dict(opts),
        "students": students,
        "pass_rates": pass_rates(students),
        "similarities": sim_dicts,
    }
    write_json(outdir / "summary.json", summary)
    write_csv(outdir / "summary.csv", students, opts.lang)
    (outdir / "index.html").write_text(render_class_page(summary, opts.lang), encoding="utf-8")
    bad = [r for r in ordered if r.get("damaged") or (r.get("error") and not r.get("digest"))]
    for r in bad:
        print(f"progjar batch: {r['file']}: {r['error']}", file=sys.stderr)
    print(f"progjar batch: {len(capture_jobs)} captures of {len(students)} students "
          f"({len(todo)} analysed, {cached} up to date, "
          f"{len(bad)} with problems, {len(sims)} similar pairs) in {time.monotonic() - t0:.1f} s -> {outdir / 'index.html'}")
    return 1 if bad else 0
