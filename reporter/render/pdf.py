"""The PDF report: the HTML report laid out by WeasyPrint with its print stylesheet.

WeasyPrint is imported only here and only when a PDF is asked for (its import alone takes a noticeable
part of a second). Its URL fetcher refuses every URL: the document is self-contained, so any fetch could
only come from a payload that slipped through, and must not read local files or reach the network.
"""
from __future__ import annotations

from pathlib import Path


class FetchRefused(Exception):
    """A report tried to load an external resource; reports never need one."""


def refuse_url(url: str, *args: object, **kwargs: object) -> dict:
    """WeasyPrint url_fetcher that never fetches anything (no file:, no http:, no data: either)."""
    raise FetchRefused(f"report renderer refuses to fetch {url[:80]!r}")


def _refusing_fetcher() -> object:
    """A WeasyPrint URLFetcher whose every fetch goes through ``refuse_url`` (looked up at call time)."""
    from weasyprint.urls import URLFetcher

    class _Refusing(URLFetcher):
        def fetch(self, url: str, headers: object = None) -> object:
            return refuse_url(url)

    return _Refusing(timeout=1, allowed_protocols=(), allow_redirects=False, fail_on_errors=False)


def write_pdf_from_html(html: str, path: Path) -> Path:
    """Lay out already rendered report HTML (write_reports renders it once for HTML and PDF)."""
    import logging

    from weasyprint import HTML  # lazy: heavy import, only when a PDF is wanted

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    HTML(string=html, base_url=None, url_fetcher=_refusing_fetcher()).write_pdf(str(path))
    return path
