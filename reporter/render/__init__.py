"""Renderers: report model -> JSON, HTML, PDF. They never look at packets.

``write_reports`` is the single entry the pipeline and batch use; HTML is rendered once and reused
for the PDF, and WeasyPrint is only imported when a PDF is asked for.
"""
from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Optional

from reporter.model import JSON_KEYS, Report, _plain
from reporter.model.jsonenc import dumps as record_json
from reporter.options import DEFAULT_TZ

ORDER = ("json", "html", "pdf")

# Up to this many connections + DNS lookups the JSON is indented for people. Beyond it, Python's
# json only uses its C encoder without indent (indent=1 costs ~80 µs a connection), so big
# reports are written one record per line: still greppable, ~4x faster, built record by record.
PRETTY_LIMIT = 1000


def iter_report_json(report: Report) -> Iterator[str]:
    """The report JSON (key order of Report.to_dict) in pieces, so a big one is never one string."""
    if len(report.connections) + len(report.dns) <= PRETTY_LIMIT:
        yield json.dumps(report.to_dict(), indent=1, ensure_ascii=False)
        return
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    sep = "{"
    for key in JSON_KEYS:
        value = getattr(report, key)
        if value is None and key == "frames":  # frames without --frames: no key
            continue
        if isinstance(value, list):  # warnings, dns, connections, tasks: one record a line
            yield f'{sep}"{key}":['
            for i, item in enumerate(value):
                yield ("\n" if i == 0 else ",\n") + record_json(item)
            yield "\n]" if value else "]"
        elif isinstance(value, dict):  # frames: one note a line
            yield f'{sep}"{key}":{{'
            for i, (no, note) in enumerate(value.items()):
                yield ("\n" if i == 0 else ",\n") + f"{dumps(no)}:{record_json(note)}"
            yield "\n}" if value else "}"
        else:
            yield f'{sep}"{key}":{dumps(_plain(value))}'
        sep = ",\n"
    yield "}"


def report_json(report: Report) -> str:
    """The report JSON exactly as DESIGN.md fixes it (key order of Report.to_dict)."""
    return "".join(iter_report_json(report))


def write_json(report: Report, path: Path) -> None:
    enabled = gc.isenabled()
    gc.disable()  # millions of short-lived dicts: the cyclic GC would walk the whole heap repeatedly
    try:
        with open(path, "w", encoding="utf-8") as f:
            batch: list[str] = []  # a write a few hundred records, not one each
            for piece in iter_report_json(report):
                batch.append(piece)
                if len(batch) >= 512:
                    f.write("".join(batch))
                    batch.clear()
            f.write("".join(batch))
    finally:
        if enabled:
            gc.enable()


def write_reports_and_body(report: Report, outdir: Path, stem: str, formats: Iterable[str], lang: str,
                           tz: str = DEFAULT_TZ) -> tuple[list[Path], Optional[str]]:
    """``write_reports``, and the report's body alone when HTML or PDF is written (None otherwise):
    the section a student's combined report shows, from the same view and rendering as the page."""
    formats = list(formats)
    page = body = None
    if {"html", "pdf"} & {f.lower() for f in formats}:
        from reporter.render.html import render_pages

        page, body = render_pages(report, lang, tz)
    return write_reports(report, outdir, stem, formats, lang, tz, html=page), body


def write_reports(report: Report, outdir: Path, stem: str, formats: Iterable[str], lang: str,
                  tz: str = DEFAULT_TZ, html: Optional[str] = None) -> list[Path]:
    """Write OUTDIR/<stem>.json|.html|.pdf for the asked formats; returns the paths written.

    `tz` (ReportOptions.tz, --tz) is the zone of the wall-clock times HTML and PDF show beside UTC;
    it is a rendering choice, so the JSON (times in UTC and relative seconds) does not carry it.
    `html`: the page already rendered (``write_reports_and_body``), so it is not rendered twice."""
    wanted = {f.lower() for f in formats}
    unknown = wanted - set(ORDER)
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(sorted(unknown))}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in ORDER:
        if fmt not in wanted:
            continue
        path = outdir / f"{stem}.{fmt}"
        if fmt == "json":
            write_json(report, path)
        else:
            if html is None:
                from reporter.render.html import render_html

                html = render_html(report, lang, tz)
            if fmt == "html":
                path.write_text(html, encoding="utf-8")
            else:
                from reporter.render.pdf import write_pdf_from_html

                write_pdf_from_html(html, path)
        written.append(path)
    return written
