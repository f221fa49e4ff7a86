"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external requests).

Payload bytes are untrusted, so the template environment autoescapes everything and payload text is
never marked safe nor rendered through a second template pass: ``<script>`` or ``{{ x }}`` in a capture
shows up as text. Only the SVG figures (built in svg.py with every model string escaped) are Markup.
"""
from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from reporter.model import Report
from reporter.options import DEFAULT_TZ
from reporter.render import view


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("reporter.render", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True, enabled_extensions=("j2", "html", "css")),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def render_pages(report: Report, lang: str, tz: str = DEFAULT_TZ) -> tuple[str, str]:
    """(the report as one HTML page, its body alone), from one view and one rendering of the body:
    the body is also one section of a page that shows several captures' reports (a student's
    combined report), and building the view is most of the cost."""
    ctx = view.build(report, lang, tz)
    body = _env().get_template("report_body.html.j2").render(**ctx)
    return _env().get_template("report.html.j2").render(**ctx, body=Markup(body)), body


def render_html(report: Report, lang: str, tz: str = DEFAULT_TZ) -> str:
    """The report as one HTML page in English ("en") or Indonesian ("id"), wall-clock times in `tz`
    (an IANA zone name; --tz, Asia/Jakarta by default)."""
    return render_pages(report, lang, tz)[0]
