"""Renderers: report model -> JSON, HTML, PDF. They never look at packets.

``write_reports`` is the single entry the pipeline and batch use; HTML is rendered once and reused
for the PDF, and WeasyPrint is only imported when a PDF is asked for.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from reporter.model import Report

ORDER = ("json", "html", "pdf")


def report_json(report: Report) -> str:
    """The report JSON exactly as DESIGN.md fixes it (key order of Report.to_dict)."""
    return json.dumps(report.to_dict(), indent=1, ensure_ascii=False)


def write_reports(report: Report, outdir: Path, stem: str, formats: Iterable[str], lang: str) -> list[Path]:
    """Write OUTDIR/<stem>.json|.html|.pdf for the asked formats; returns the paths written."""
    wanted = {f.lower() for f in formats}
    unknown = wanted - set(ORDER)
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(sorted(unknown))}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    html = None
    for fmt in ORDER:
        if fmt not in wanted:
            continue
        path = outdir / f"{stem}.{fmt}"
        if fmt == "json":
            path.write_text(report_json(report), encoding="utf-8")
        else:
            if html is None:
                from reporter.render.html import render_html

                html = render_html(report, lang)
            if fmt == "html":
                path.write_text(html, encoding="utf-8")
            else:
                from reporter.render.pdf import write_pdf_from_html

                write_pdf_from_html(html, path)
        written.append(path)
    return written
