"""One capture -> one report, in a single streaming pass; and the `progjar report` command.

The stages, in the order data flows (docs/architecture.md): reading (frames -> packets) ->
analyses (each consumes the packet stream once) -> the report model -> the assignment's rubric
(from the catalogue) -> renderers. This module is the only one that knows them all.

Why one pass: a class's captures can hold a million packets each, so every analysis consumes the
same packet stream once (Zeek-style) and nothing keeps packets around. The routing loop below is
the hot path: it touches a packet's protocol and ports only, with every method bound to a local.
The catalogue says which TCP ports are the lab's services; the analyses get that map as data.

Exit codes of `progjar report` (DESIGN.md "Command line"):
  0  every capture analysed and its reports written;
  1  done, but some capture was damaged (cut, broken records: one stderr line per problem, the
     partial report is still written) or its analysis failed unexpectedly (one line + a hint);
  2  usage error: a bad option or missing file (caught by the CLI before we run), -o naming a
     folder that cannot be created or written (checked before any work), a file that is not a
     pcap/pcapng capture at all, or a zip that cannot be read (broken, an encrypted or refused
     member, no capture inside). With several captures the others are still analysed and
     written; the exit code is the worst seen (2 over 1 over 0).

A zip given as a capture is read with reporter/reading/archive.py: each capture inside is reported
as ``caps.zip/inner/t1.pcapng``. With --student and several captures, one combined report over all
of them is written too (``OUTDIR/<name>-all.html|pdf``, reporter/render/combined.py).
"""
from __future__ import annotations

import datetime as _dt
import gc
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

from reporter import __version__
from reporter import assignments
from reporter.analyses import fastpath
from reporter.analyses.dns import DnsAnalysis
from reporter.analyses.tcp import TcpAnalysis
from reporter.assignments.diagnosis import diagnose
from reporter.model import AssignmentInfo, CaptureInfo, Report, StudentInfo, Tool
from reporter.options import ReportOptions, UsageError
from reporter.reading.archive import (ArchiveError, Item, Unpacker, capture_stem, is_capture_name, is_gzip_capture,
                                      is_zip_file)
from reporter.reading.capture import HEADER_PROBLEMS, BackgroundSha256, NotACapture, iter_packets, open_capture
from reporter.render import report_json, write_reports_and_body

DNS_PORT = 53
# capture problems that mean "damaged input" (exit code 1): cut or broken records and frames, and file
# headers or record fields that break the format's rules (each read on as described in its warning)
DAMAGE_CODES = frozenset({"truncated", "malformed", "timestamp-overflow", *HEADER_PROBLEMS})


def iso_utc(ns: Optional[int]) -> Optional[str]:
    """Epoch nanoseconds -> ISO 8601 UTC, microseconds (or nanoseconds when the file has them), 'Z'.

    None when there is no frame, or when the time is outside what a calendar date can say.
    """
    if ns is None:
        return None
    sec, frac = divmod(ns, 1_000_000_000)
    try:
        base = (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, ValueError):  # a damaged record's time beyond year 9999: no date to give
        return None
    return f"{base}.{frac // 1000:06d}Z" if frac % 1000 == 0 else f"{base}.{frac:09d}Z"


def analyse(path: str, opts: ReportOptions, sha256: Optional[str] = None,
            fingerprint: Any = None) -> tuple[Report, bool]:
    """Analyse one capture: (report, damaged). Raises NotACapture; never anything for damaged content.

    `sha256`: the file's hash when the caller already has it (batch hashes every capture for its
    cache), so the file is not read a second time just to hash it (~0.08 s per 100 MB).
    `fingerprint`: batch's grading.fingerprint.Collector, filled in the same read when the compiled
    fast path takes the capture (its ``fed`` is then set; otherwise the caller reads the capture
    for it apart)."""
    enabled = gc.isenabled()
    # The pass allocates millions of small objects that die young or live to the end, and none
    # form cycles that matter: the cyclic GC would only walk the growing heap (~25% of the time).
    gc.disable()
    try:
        return _analyse(path, opts, sha256, fingerprint)
    finally:
        if enabled:
            _enable_gc_quietly()


def _enable_gc_quietly() -> None:
    """Re-enable the cyclic GC without the collection that would follow at once.

    Every object the pass allocated is still in the youngest generation (nothing was collected),
    so the first allocation after gc.enable() would walk the whole report (~0.25 s for a million
    packets). Freezing and unfreezing moves those objects to the oldest generation without
    walking them: they are still collected by later full collections, as any old object."""
    if gc.get_freeze_count() == 0:  # never unfreeze objects someone else froze on purpose
        gc.freeze()
        gc.unfreeze()
    gc.enable()


def _analyse(path: str, opts: ReportOptions, sha256: Optional[str], fingerprint: Any = None) -> tuple[Report, bool]:
    capture = open_capture(path)
    hashing = BackgroundSha256(path) if sha256 is None else None  # beside the analysis, on another core
    try:
        return _analyse_opened(capture, path, opts, sha256, hashing, fingerprint)
    except BaseException:
        if hashing is not None:
            hashing.wait()  # no thread left reading a file the caller may now delete (a zip's member)
        raise


def _analyse_opened(capture: Any, path: str, opts: ReportOptions, sha256: Optional[str],
                    hashing: Optional[BackgroundSha256], fingerprint: Any) -> tuple[Report, bool]:
    ports = assignments.service_ports(opts.port_overrides)
    wanted = assignments.get(opts.assignment) if opts.assignment != "auto" else None
    services = assignments.tcp_services(ports, wanted)

    def analyses() -> tuple[TcpAnalysis, DnsAnalysis]:
        return (TcpAnalysis(services, opts.frames, framings=assignments.framings(),
                            recognise=assignments.recognisable(wanted)), DnsAnalysis())

    tcp, dns = analyses()
    try:
        fast = fastpath.run(capture, tcp, dns, fingerprint)  # the plain connections compiled, the rest as below
    except fastpath.Mismatch:  # a bug of the fast path: the reference alone, from the start
        (tcp, dns), fast = analyses(), False
        if fingerprint is not None:
            fingerprint.fed = None
    if not fast:
        tcp_feed, dns_feed, dns_tcp = tcp.feed, dns.feed, dns.feed_tcp
        for pkt in iter_packets(capture):
            proto = pkt.proto
            if proto == 6:
                tcp_feed(pkt)
                if pkt.sport == DNS_PORT or pkt.dport == DNS_PORT:
                    dns_tcp(pkt)
            elif proto == 17 and (pkt.sport == DNS_PORT or pkt.dport == DNS_PORT):
                dns_feed(pkt)

    t0, t_end = capture.first_ts, capture.last_ts
    tcp_res = tcp.finish(t0 if t0 is not None else 0)
    lookups, dns_warnings = dns.finish(t0)
    duration = max(0, t_end - t0) / 1e9 if t0 is not None and t_end is not None else 0.0
    info = CaptureInfo(
        path=str(path),
        sha256=sha256 if hashing is None else hashing.result(),
        format=capture.format,
        linktypes=list(dict.fromkeys(capture.linktypes)),  # each once; per interface: `interfaces`
        interfaces=capture.interfaces,
        packets=capture.packets,
        start=iso_utc(t0),
        duration_s=round(duration, 9),
        truncated=bool(capture.truncated),
        timezone_hint=tcp_res.timezone_hint,
    )
    report = Report(
        capture=info,
        tool=Tool(version=__version__),
        student=StudentInfo(opts.student.name, opts.student.id) if opts.student else None,
        warnings=[*capture.problems, *dns_warnings, *tcp_res.warnings],
        dns=lookups,
        connections=tcp_res.connections,
        frames=tcp_res.frames,  # {} with --frames (TcpAnalysis(services, frames)), else None
    )
    chosen, by, why, seen = assignments.choose(report, opts.assignment, ports)
    report.assignment = AssignmentInfo(chosen.id, by, why, {s.name: ports[s.name] for s in chosen.services}, seen)
    report.tasks = chosen.rubric(report, assignments.RubricInput(opts.host, ports, tcp_res.marks))
    none_seen = diagnose(report, chosen, ports, opts.host)  # a capture without the assignment's traffic
    if none_seen is not None:
        report.warnings.insert(0, none_seen)
    damaged = bool(capture.truncated) or any(w.code in DAMAGE_CODES for w in capture.problems)
    return report, damaged


def _unique_stem(path: str, used: set[str]) -> str:
    """OUTDIR/<capture stem>.<ext>; a second capture with the same stem gets -2, -3 ... ."""
    name = Path(path).name
    stem = (capture_stem(name) if is_capture_name(name) else Path(path).stem) or "capture"  # t1.pcapng.gz -> t1
    cand, i = stem, 1
    while cand in used:
        i += 1
        cand = f"{stem}-{i}"
    used.add(cand)
    return cand


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def ensure_outdir(outdir: Path, prog: str) -> None:
    """Create the output folder and prove it takes a file, before any work: a folder that cannot be
    written is the user's to fix (exit 2, one line naming it), not a damaged capture.

    Writing a real file is the only test that holds for root too (root ignores file modes, but not a
    path under a regular file, a read-only mount or /proc)."""
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{prog}: {outdir}: exists and is not a folder (give -o a folder for the reports)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{prog}: cannot create {outdir}: {e.strerror or e}") from None
    try:
        with tempfile.TemporaryFile(dir=outdir, prefix=".progjar-write-test-"):
            pass
    except OSError as e:
        raise UsageError(f"{prog}: {outdir}: cannot write in this folder: {e.strerror or e}") from None


def _inputs(paths: Sequence[str], unpacker: Unpacker) -> tuple[list[tuple[str, Optional[Item]]], int]:
    """Each argument, or each capture inside an argument that is a zip: (shown path, the unpacker's
    item for a zip member or a gzip'd capture, else None), and the exit code the zips' problems
    alone give (2: unreadable input)."""
    out: list[tuple[str, Optional[Item]]] = []
    worst = 0
    for path in paths:
        if is_gzip_capture(path):  # decompressed into the unpacker's temporary folder
            out.append((path, Item((Path(path).name,), _path=Path(path))))
            continue
        if not is_zip_file(path):
            out.append((path, None))
            continue
        items = unpacker.items(Path(path))
        for item in items:
            shown = f"{path}/{item.shown}" if item.shown else path
            if item.problem:
                print(f"progjar report: {shown}: {item.problem}", file=sys.stderr)
                worst = 2
            else:
                out.append((shown, item))
        if not items:
            print(f"progjar report: {path}: no captures (*.pcap, *.pcapng, *.cap) inside the zip", file=sys.stderr)
            worst = 2
    return out, worst


def report_command(captures: Sequence[str], outdir: str, opts: ReportOptions, quiet: bool = False) -> int:
    """`progjar report`: analyse each capture (or each capture in a zip), write its reports, and with
    --student and several captures one combined report; exit code as the module doc says."""
    to_stdout = outdir == "-"
    if not to_stdout:
        try:
            ensure_outdir(Path(outdir), "progjar report")
        except UsageError as e:
            print(str(e), file=sys.stderr)
            return 2
    with Unpacker(tmp_parent=None) as unpacker:
        inputs, worst = _inputs(captures, unpacker)
        if to_stdout and len(inputs) > 1:
            print("progjar report: '-o -' needs exactly one capture, and the zip holds several", file=sys.stderr)
            return 2
        return max(worst, _report_all(inputs, unpacker, outdir, opts, quiet))


def _report_all(inputs: list[tuple[str, Optional[Item]]], unpacker: Unpacker, outdir: str,
                opts: ReportOptions, quiet: bool) -> int:
    to_stdout = outdir == "-"
    formats, lang = opts.formats, opts.lang
    used: set[str] = set()
    worst = 0
    parts: list = []  # (shown path, report body, report) for the combined report of --student
    combine = bool(opts.student) and len(inputs) > 1 and not to_stdout and bool({"html", "pdf"} & set(formats))
    for n, (path, item) in enumerate(inputs, 1):
        try:
            real = str(unpacker.materialize(item)) if item is not None else path
        except ArchiveError as e:
            print(f"progjar report: {path}: {e}", file=sys.stderr)
            worst = 2
            continue
        try:
            report, damaged = analyse(real, opts)
            report.capture.path = path  # as the user sees it (a zip member's path, never a temporary copy)
        except NotACapture as e:
            print(f"progjar report: {path}: not a pcap or pcapng capture: {e.reason}", file=sys.stderr)
            worst = 2
            continue
        except FileNotFoundError:
            print(f"progjar report: {path}: no such file", file=sys.stderr)
            worst = 2
            continue
        except MemoryError:
            print(f"progjar report: {path}: out of memory while analysing", file=sys.stderr)
            worst = max(worst, 1)
            continue
        except Exception as e:  # a bug of ours must not become a traceback for a student
            print(f"progjar report: {path}: analysis failed: {type(e).__name__}: {_one_line(e)} "
                  "(please report this bug with the capture)", file=sys.stderr)
            worst = max(worst, 1)
            continue
        if damaged:
            for w in report.warnings:
                if w.code in DAMAGE_CODES:
                    print(f"progjar report: {path}: {_one_line(w.message)}", file=sys.stderr)
            worst = max(worst, 1)
        try:
            if to_stdout:
                sys.stdout.write(report_json(report) + "\n")
                sys.stdout.flush()
                written: list[Path] = []
            else:
                stem = _unique_stem(path, used)  # a zip member's too: "caps.zip/t1.v2.pcap" -> t1.v2
                written, body = write_reports_and_body(report, Path(outdir), stem, formats, lang, opts.tz)
                if combine:
                    parts.append((path, body, report))
        except BrokenPipeError:
            raise
        except OSError as e:
            print(f"progjar report: {path}: cannot write the report: {_one_line(e.strerror or e)}", file=sys.stderr)
            worst = max(worst, 1)
            continue
        except Exception as e:
            print(f"progjar report: {path}: rendering failed: {type(e).__name__}: {_one_line(e)} "
                  "(please report this bug with the capture)", file=sys.stderr)
            worst = max(worst, 1)
            continue
        if not quiet and not to_stdout:
            status = ", ".join(f"{t.id} {t.status}" + (f" ({t.verdict})" if t.verdict else "") for t in report.tasks)
            exts = ",".join(p.suffix.lstrip(".") for p in written)
            where = f"{Path(outdir) / stem}.{{{exts}}}" if len(written) > 1 else \
                (str(written[0]) if written else "nothing written")
            print(f"[{n}/{len(inputs)}] {path}: {report.capture.packets} frames, {len(report.connections)} TCP, "
                  f"{len(report.dns)} DNS; {status} -> {where}", file=sys.stderr)
        if item is not None:
            unpacker.release(item)
    if combine and len(parts) > 1:
        worst = max(worst, _write_combined(parts, Path(outdir), used, opts, quiet))
    return worst


def _write_combined(parts: list, outdir: Path, used: set[str], opts: ReportOptions, quiet: bool) -> int:
    """One report for the student over all captures given (DESIGN.md: --student with several)."""
    from collections import Counter

    from reporter.render.combined import Part, file_stem, render_combined

    chosen = Counter(r.assignment.id for _p, _b, r in parts if r.assignment)
    aid = opts.assignment if opts.assignment != "auto" else (chosen.most_common(1)[0][0] if chosen else None)
    combined = []
    for shown, body, r in parts:
        entry = assignments.get(r.assignment.id) if r.assignment else None
        tasks = []
        for t in r.tasks:
            reason, fix = assignments.reason_text(entry, t, opts.lang)
            tasks.append({"id": t.id, "status": t.status, "verdict": t.verdict, "reason": reason, "fix": fix})
        combined.append(Part(shown, body, tasks, r.assignment.id if r.assignment else None))
    assert opts.student is not None
    page = render_combined(opts.student.name, opts.student.id, "nrp", combined, opts.lang, aid,
                           tool_version=__version__)
    stem = _unique_stem(file_stem(opts.student.name) + "-all", used)
    written = []
    try:
        if "html" in opts.formats:
            written.append(outdir / f"{stem}.html")
            written[-1].write_text(page, encoding="utf-8")
        if "pdf" in opts.formats:
            from reporter.render.pdf import write_pdf_from_html

            written.append(write_pdf_from_html(page, outdir / f"{stem}.pdf"))
    except OSError as e:
        print(f"progjar report: {outdir}: cannot write the combined report: {_one_line(e.strerror or e)}",
              file=sys.stderr)
        return 1
    if not quiet:
        print(f"combined report of {opts.student.name} over {len(parts)} captures -> "
              f"{', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


