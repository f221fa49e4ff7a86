"""`progjar` command line: report, batch, lab, dissector (DESIGN.md "Command line").

Exit codes: 0 done; 1 done but some input was unreadable or damaged (each said on stderr,
partial reports still written); 2 usage error with a one-line message and no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from reporter import __version__
from reporter.options import DEFAULT_FORMATS, DEFAULT_HOST, DEFAULT_TZ, FORMATS, ReportOptions, Student, UsageError

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def _formats(text: str) -> tuple[str, ...]:
    items = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in FORMATS]
    if not items or bad:
        raise argparse.ArgumentTypeError(f"unknown format {','.join(bad) or text!r} (choose from json,html,pdf)")
    return tuple(dict.fromkeys(items))


def _ports(text: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"ports must be numbers like 10000,32444, not {text!r}") from None
    if not ports or any(not 0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"ports must be between 1 and 65535: {text!r}")
    return ports


def _port_override(text: str) -> tuple[str, int]:
    """SERVICE=PORT, e.g. time=45001, checked against the catalogue's services."""
    from reporter.assignments import all_services

    name, sep, port = text.partition("=")
    services = all_services()
    if not sep or name.strip() not in services:
        raise argparse.ArgumentTypeError(
            f"--port takes SERVICE=PORT with SERVICE one of {', '.join(sorted(services))}, not {text!r}")
    (value,) = _ports(port)
    return name.strip(), value


def _student(text: str) -> Student:
    try:
        return Student.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _zone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r} (e.g. Asia/Jakarta, Asia/Makassar, UTC)") from None
    return text


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--jobs must be at least 1")
    return n


def _add_render_options(p: argparse.ArgumentParser) -> None:
    from reporter.assignments import all_services, assignment_ids

    p.add_argument("--format", dest="formats", type=_formats, default=DEFAULT_FORMATS, metavar="json,html,pdf",
                   help="which reports to write (default: html,pdf,json)")
    p.add_argument("--lang", choices=("en", "id"), default="en", help="report language: English or Indonesian (default: en)")
    p.add_argument("--assignment", choices=("auto", *assignment_ids()), default="auto",
                   help="which assignment to grade (default: auto, the one whose services the capture uses)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"the name Tugas 1's T1 must look up (default: {DEFAULT_HOST})")
    services = ", ".join(f"{n}={s.port}" for n, s in all_services().items() if s.transport == "tcp")
    p.add_argument("--port", dest="port", type=_port_override, action="append", default=[], metavar="SERVICE=PORT",
                   help=f"a service moved to another port, e.g. --port echo=5000 (repeatable; defaults: {services})")
    p.add_argument("--ports", type=_ports, default=None, metavar="P1,P2",
                   help="echo port, file-echo port (Tugas 1; same as --port echo=P1 --port file-echo=P2)")
    p.add_argument("--tz", type=_zone, default=DEFAULT_TZ,
                   help=f"time zone for wall-clock times in the report (default: {DEFAULT_TZ}, WIB)")


def _options(args: argparse.Namespace, **extra: object) -> ReportOptions:
    overrides: dict[str, int] = {}
    if args.ports:
        overrides.update(zip(("echo", "file-echo"), args.ports))
    overrides.update(dict(args.port))
    return ReportOptions(host=args.host, port_overrides=overrides, assignment=args.assignment, lang=args.lang,
                         formats=args.formats, tz=args.tz, **extra)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="progjar",
        description="progjar-lab: run the socket-programming lab, label it in Wireshark, and grade its captures.",
        epilog="Examples:\n  progjar report samples/tugas1/t2-echo.pcap -o reports\n"
        "  progjar report cap.pcapng --format json -o -\n  progjar batch class/ -o graded/ --lang id\n"
        "  progjar batch moodle-download.zip -o graded/ --assignment tugas1\n"
        "  sudo progjar lab --assignment tugas2 -o lab-out\n  progjar dissector install",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"progjar-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{report,batch,lab,dissector}", parser_class=_Parser)

    p = sub.add_parser("report", help="analyse captures and write JSON/HTML/PDF reports",
                       description="Analyse each capture (pcap or pcapng, gzip-compressed too, or each capture in "
                                   "a zip) and write OUTDIR/<capture stem>.<ext>.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE",
                   help="pcap or pcapng files (also .pcapng.gz), or zips of them")
    p.add_argument("--student", type=_student, default=None, metavar='"NAME / NRP"',
                   help="whose hand-in this is: shown on the report and kept in the JSON; with several "
                        "captures also one combined report, OUTDIR/<name>-all.html|pdf")
    p.add_argument("-o", "--outdir", default="reports",
                   help="output folder (default: reports/); '-' with --format json and one capture writes to stdout")
    _add_render_options(p)
    p.add_argument("--frames", action="store_true", help="add per-frame annotations (as the Wireshark plugin labels them) to the JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but problems")

    p = sub.add_parser("batch", help="grade a whole class: per-student reports, class page, gradebook, Moodle grades",
                       description="CLASSDIR (a folder or a zip: <student>/..., <student>.pcap*, <student>.zip, or "
                                   "Moodle's \"Download all submissions\") -> OUTDIR/index.html, summary.csv, "
                                   "summary.json, moodle-grades.csv and a combined report per student")
    p.add_argument("classdir", metavar="CLASSDIR|MOODLE.zip")
    p.add_argument("-o", "--outdir", required=True)
    p.add_argument("--jobs", type=_jobs, default=None, help="parallel worker processes (default: number of cores)")
    p.add_argument("--force", action="store_true", help="rebuild reports even when they are up to date")
    p.add_argument("--weights", default=None, metavar="T1=20,T2=30,...",
                   help="relative weight of every task in the score (default: equal; pass 1, partial 0.5, else 0)")
    p.add_argument("--csv-delimiter", dest="csv_delimiter", choices=(",", ";", "tab"), default=None,
                   help="summary.csv's delimiter (default: ';' with --lang id, as an Indonesian spreadsheet expects; "
                        "',' with --lang en)")
    p.add_argument("--moodle-lang", dest="moodle_lang", choices=("en", "id"), default="en",
                   help="the language Moodle shows you when you upload moodle-grades.csv: its column names must "
                        "match (default: en)")
    _add_render_options(p)

    from servers.lab import ASSIGNMENTS, scenario_names

    p = sub.add_parser("lab", help="rebuild the lab in network namespaces and capture every task (root)",
                       description="Creates namespaces mesin1/mesin2/mesin3/dns on a bridge, runs the scenarios, captures them, removes everything.")
    p.add_argument("--assignment", choices=ASSIGNMENTS, default="tugas1", help="whose scenarios to run (default: tugas1)")
    p.add_argument("--scenario", choices=list(dict.fromkeys(n for a in ASSIGNMENTS for n in scenario_names(a))),
                   default="all", metavar="NAME|all", help="; ".join(f"{a}: {', '.join(scenario_names(a))}" for a in ASSIGNMENTS))
    p.add_argument("--server-mode", choices=("serial", "thread"), default=None,
                   help="tugas1 t4 server mode (default: t4 runs serial; 'all' captures both)")
    p.add_argument("--sizes", default=None, metavar="1MB,5MB", help="ets: file sizes (default: the small sample matrix)")
    p.add_argument("--clients", default=None, metavar="1,5", help="ets: concurrent client counts")
    p.add_argument("-o", "--outdir", required=True)
    p.add_argument("--force-clean", action="store_true", help="remove leftovers of a crashed earlier run, then go on")

    p = sub.add_parser("dissector", help="install, uninstall or locate the Wireshark plugin",
                       description="Installs dissector/progjar.lua and the 'progjar' profile into Wireshark's personal folders.")
    p.add_argument("action", choices=("install", "uninstall", "path"))
    return parser


def _cmd_report(args: argparse.Namespace) -> int:
    opts = _options(args, frames=args.frames, student=args.student)
    if args.outdir == "-" and (len(args.captures) != 1 or opts.formats != ("json",)):
        raise UsageError("progjar report: '-o -' needs exactly one capture and --format json")
    for c in args.captures:
        if os.path.isdir(c):
            raise UsageError(f"progjar report: {c}: is a folder (give capture files, or grade a class folder with `progjar batch`)")
        if not os.path.exists(c):
            raise UsageError(f"progjar report: {c}: no such file")
        if not os.path.isfile(c):  # a device or a pipe: it is read twice (the hash beside the analysis)
            raise UsageError(f"progjar report: {c}: not a regular file (a device or a pipe); "
                             "save the capture to a file")
    from reporter.pipeline import report_command

    global _LEAVE_AT_ONCE
    _LEAVE_AT_ONCE = True
    return report_command(args.captures, args.outdir, opts, quiet=args.quiet)


def _cmd_batch(args: argparse.Namespace) -> int:
    if not os.path.exists(args.classdir):
        raise UsageError(f"progjar batch: {args.classdir}: no such folder or zip")
    if not os.path.isdir(args.classdir):
        import zipfile

        from reporter.reading.archive import is_capture_name, is_gzip_capture, is_zip_file, is_zip_name

        if not is_zip_file(args.classdir) and not is_zip_name(args.classdir):
            if is_capture_name(args.classdir) or is_gzip_capture(args.classdir):
                raise UsageError(f"progjar batch: {args.classdir}: one capture, not a class: report on it with "
                                 "`progjar report`, or give batch the folder or zip of the students' hand-ins")
            raise UsageError(f"progjar batch: {args.classdir}: neither a folder nor a zip")
        try:
            zipfile.ZipFile(args.classdir).close()
        except (zipfile.BadZipFile, OSError) as e:
            raise UsageError(f"progjar batch: {args.classdir}: not a readable zip ({' '.join(str(e).split())})") from None
    from reporter.grading.batch import batch_command
    from reporter.grading.classsummary import DELIMITERS

    opts = _options(args)
    delim = DELIMITERS[args.csv_delimiter] if args.csv_delimiter else None
    return batch_command(Path(args.classdir), Path(args.outdir), opts, jobs=args.jobs, force=args.force,
                         weights=args.weights, csv_delimiter=delim, moodle_lang=args.moodle_lang)


def _cmd_lab(args: argparse.Namespace) -> int:
    from servers.lab import lab_command

    options = {k: v for k, v in (("sizes", args.sizes), ("clients", args.clients)) if v is not None}
    return lab_command(args.assignment, args.scenario, args.server_mode, Path(args.outdir),
                       force_clean=args.force_clean, options=options)


def _cmd_dissector(args: argparse.Namespace) -> int:
    from dissector.install import dissector_command

    return dissector_command(args.action)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        handler = {"report": _cmd_report, "batch": _cmd_batch, "lab": _cmd_lab, "dissector": _cmd_dissector}[args.command]
        return handler(args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("progjar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # a bug of ours: still one line for the user, the traceback on request
        if os.environ.get("PROGJAR_DEBUG"):
            raise
        print(f"progjar: internal error: {type(e).__name__}: {e} (set PROGJAR_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


_LEAVE_AT_ONCE = False  # set by `report`: nothing of it needs the interpreter's orderly shutdown


def entry() -> None:
    """The `progjar` script and `python -m reporter`: main(), then the exit.

    After `progjar report` the process leaves at once (os._exit once its output is flushed): an
    orderly shutdown would free a big report's millions of objects one by one and run a last
    garbage collection over them, ~10% of a 70,000-connection report's time, for memory the
    operating system takes back anyway. Every file the command writes is closed by then; other
    commands (lab cleans up namespaces, batch runs a worker pool) exit the usual way."""
    code = main()
    if _LEAVE_AT_ONCE:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
