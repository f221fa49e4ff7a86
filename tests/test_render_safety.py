"""Payload bytes come from whoever sent them: a capture must not be able to script, restyle or make the
renderer read local files. Markup and template syntax in a payload show up as text, in HTML and PDF, and
the PDF renderer fetches nothing (its fetcher refuses every URL)."""
from __future__ import annotations

from pathlib import Path

import pytest

from reporter.render import pdf, write_reports
from reporter.render.html import render_html
from tests.report_fixtures import hostile_report
from tests.test_render import assert_self_contained, parse, pdf_text


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL WeasyPrint asks the report fetcher for (each still refused)."""
    asked: list[str] = []

    def spy(url: str, *a: object, **k: object) -> dict:
        asked.append(url)
        return pdf.refuse_url(url)

    monkeypatch.setattr(pdf, "refuse_url", spy)
    return asked


@pytest.mark.parametrize("lang", ["en", "id"])
def test_payload_markup_stays_text_in_html(lang: str) -> None:
    rep = hostile_report()
    html = render_html(rep, lang)
    doc = parse(html)
    assert "script" not in doc.tags and "img" not in doc.tags and "link" not in doc.tags
    assert doc.tags.count("style") == 1  # only the report's own stylesheet
    assert not [a for a in doc.attrs if a[1].startswith("on")]
    text = "".join(doc.text)
    assert '<script>alert("x")</script></pre>' in text
    assert "{{ 7*7 }}{% if 1 %}yes{% endif %}" in text  # not evaluated by a second template pass
    assert '<img src="file:///etc/passwd">' in text
    assert "<svg onload=alert(1)>.example" in text  # a DNS name is untrusted too
    if lang == "en":  # an unknown warning code's English message is shown only in an English report
        assert "<b>warning</b> with </td> markup" in text
    assert "·" in text  # control bytes shown as dots, not raw
    assert "\x00" not in html and "\x01" not in html
    assert html.count("&lt;script&gt;") >= 1
    assert_self_contained(html)  # attributes and CSS reference nothing; the payload is only text


def test_fetcher_refuses_everything() -> None:
    for url in ("file:///etc/passwd", "http://example.com/x.png", "https://example.com/", "data:,x"):
        with pytest.raises(pdf.FetchRefused):
            pdf.refuse_url(url)


def test_pdf_shows_payload_as_text_and_fetches_nothing(tmp_path: Path, fetches: list[str]) -> None:
    write_reports(hostile_report(), tmp_path, "evil", ["pdf"], "en")
    assert fetches == []  # the report is self-contained: nothing to fetch at all
    text = pdf_text(tmp_path / "evil.pdf")
    assert "<script>alert" in text and "file:///etc/passwd" in text and "{{ 7*7 }}" in text
    assert "root:x:0" not in text


def test_even_injected_markup_cannot_read_local_files(tmp_path: Path, fetches: list[str]) -> None:
    """Defence in depth: if markup ever reached WeasyPrint unescaped, the fetcher would still refuse."""
    html = ('<html><head><link rel="stylesheet" href="file:///etc/passwd"></head><body><p>x</p>'
            '<img src="file:///etc/passwd"><object data="file:///etc/passwd"></object>'
            '<p style="background: url(file:///etc/hostname)">y</p></body></html>')
    pdf.write_pdf_from_html(html, tmp_path / "inj.pdf")
    assert fetches and all(u.startswith("file:") for u in fetches)  # it was asked, and refused
    text = pdf_text(tmp_path / "inj.pdf")
    assert "root:" not in text
