"""The reports a student hands in and a lecturer grades: JSON, HTML and PDF in English and Indonesian.

Facts are checked in the PDF text (what a reader sees), the HTML must be one self-contained file, each
language must stay in its own words, and a busy capture must still give a short report quickly.
"""
from __future__ import annotations

from html import escape as html_escape

import json
import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from reporter.assignments import get, reason_text, task_name
from reporter.model import Report
from reporter.render import report_json, write_reports
from reporter.render.html import render_html
from reporter.grading.wording import CLASS_EN, CLASS_ID
from reporter.render.i18n import CATALOGUES, EN, ID, Lang
from reporter.render.view import MAX_DETAILED, machine
from tests.conftest import ROOT, SAMPLES, require_tool
from tests.report_fixtures import LAB_MESSAGE, big_report, lab_report

SCHEMA = json.loads((ROOT / "reporter/schema/report.schema.json").read_text())
STATUS = {"en": {"pass": "pass", "partial": "partial", "fail": "fail", "absent": "absent"},
          "id": {"pass": "terpenuhi", "partial": "sebagian", "fail": "gagal", "absent": "tidak ditemukan"}}


class _Doc(HTMLParser):
    """Collects tags, attributes and visible text of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self.ui: list[str] = []  # visible text outside payload <pre> blocks: the report's own words
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag not in ("br", "meta", "img", "hr", "link", "input", "col", "area", "base", "wbr", "source"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        (self.style if self._in and self._in[-1] == "style" else self.text).append(data)
        if "pre" not in self._in and "style" not in self._in:
            self.ui.append(data)


def parse(html: str) -> _Doc:
    d = _Doc()
    d.feed(html)
    d.close()
    return d


def pdf_text(path: Path) -> str:
    require_tool("pdftotext")
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return re.sub(r"[ \t]+", " ", out.stdout)


def pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def assert_self_contained(html: str) -> None:
    """No external reference anywhere: attributes only point inside the page, CSS loads nothing."""
    doc = parse(html)
    assert "script" not in doc.tags
    for tag, k, v in doc.attrs:
        low = v.strip().lower()
        assert not k.startswith("on"), (tag, k)
        if k in ("src", "href", "xlink:href", "srcset", "data", "poster", "action"):
            assert low.startswith(("data:", "#")), (tag, k, v)
        for bad in ("http:", "https:", "file:", "//", "ftp:"):
            assert bad not in low, (tag, k, v)
    css = "".join(doc.style).lower()
    for bad in ("http:", "https:", "file:", "@import", "url(/", "url(\"", "url('"):
        assert bad not in css, bad
    for u in re.findall(r"url\(([^)]*)\)", css + " ".join(v for _, _, v in doc.attrs)):
        assert u.strip().startswith("#"), u


# --- catalogues and languages ---------------------------------------------------------------------------

@pytest.mark.parametrize("en,id_", [(EN, ID), (CLASS_EN, CLASS_ID)], ids=["report", "class-page"])
def test_both_catalogues_have_the_same_keys_and_placeholders(en: dict[str, str], id_: dict[str, str]) -> None:
    assert en.keys() == id_.keys()
    for k, text in en.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", id_[k])), k


def test_numbers_follow_the_language() -> None:
    en, id_ = Lang("en"), Lang("id")
    assert en.sec(0.25) == "0.250 s" and id_.sec(0.25) == "0,250 detik"
    assert en.num(1234567) == "1,234,567" and id_.num(1234567) == "1.234.567"
    assert en.sec(5.00329) == "5.00 s" and id_.sec(5.00329) == "5,00 detik"
    assert id_.ms(0.59) == "0,590 ms" and id_.sec(12.5) == "12,5 detik"
    assert id_.join(["mesin-2", "mesin-3"]) == "mesin-2 dan mesin-3"
    assert en.fmt(1234.5, ",.1f") == "1,234.5" and id_.fmt(1234.5, ",.1f") == "1.234,5"
    assert en.fmt(-7.5, "+g") == "-7.5" and id_.fmt(0.213, ".3g") == "0,213"
    with pytest.raises(ValueError):
        Lang("fr")


def vocabulary(lang: str) -> dict[str, str]:
    """Every sentence a report can say in `lang`: the renderer's catalogue, and each assignment's
    task names, reasons, fixes and title, and the diagnosis (the same keys in both languages)."""
    from reporter.assignments import catalogue
    from reporter.assignments.diagnosis import WORDING as DIAGNOSIS

    out = dict(CATALOGUES[lang])
    for a in catalogue().values():
        out[f"{a.id}/title"] = getattr(a.title, lang)
        for tid, name in a.task_names.items():
            out[f"{a.id}/{tid}"] = getattr(name, lang)
        for code, w in a.wording.items():
            out[f"{a.id}/{code}"] = getattr(w.reason, lang)
            if w.fix is not None:
                out[f"{a.id}/{code}/fix"] = getattr(w.fix, lang)
    for kind, text in DIAGNOSIS.items():
        out[f"diagnosis/{kind}"] = getattr(text, lang)
    return out


def leaks_of(other: str, lang: str, text: str) -> list[str]:
    """Fragments of the other language's sentences that appear in a report's own words."""
    return [f for f in _distinctive(vocabulary(other), vocabulary(lang))
            if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)]


def _distinctive(cat: dict[str, str], other: dict[str, str]) -> list[str]:
    """Fragments of one catalogue's wording that the other language never uses."""
    out = []
    for k, text in cat.items():
        if text == other[k]:
            continue
        for frag in re.split(r"\{\w+\}", text):
            frag = frag.strip(" .,:;()—·")
            if len(frag) >= 4 and not any(re.search(rf"(?<!\w){re.escape(frag)}(?!\w)", v) for v in other.values()):
                out.append(frag)
    return out


@pytest.mark.parametrize("lang,other", [("en", "id"), ("id", "en")])
def test_a_report_speaks_only_its_language(lang: str, other: str) -> None:
    text = " ".join(parse(render_html(lab_report("serial"), lang)).ui)
    text = re.sub(r"\s+", " ", text)
    leaks = leaks_of(other, lang, text)
    assert not leaks, leaks
    # and it does use its own words
    assert CATALOGUES[lang]["checklist"] in text and CATALOGUES[lang]["glossary"] in text


def test_task_reasons_are_said_in_the_readers_language_not_copied_from_english_model_text() -> None:
    rep = lab_report("serial")
    html = render_html(rep, "id")
    entry = get("tugas1")
    for t in rep.tasks:
        assert t.summary not in html and t.reason not in html
        assert html_escape(reason_text(entry, t, "id")[0]) in html
    assert "serial (server melayani satu klien dalam satu waktu)" in html and "menunggu 5,00 detik" in html
    assert "Kesimpulan" in html and "Penilaian" not in html


# --- content ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "id"])
def test_pdf_of_the_lab_says_the_key_facts(tmp_path: Path, lang: str) -> None:
    rep = lab_report("serial")
    L = Lang(lang)
    paths = write_reports(rep, tmp_path, "lab", ["html", "pdf"], lang)
    assert [p.suffix for p in paths] == [".html", ".pdf"]
    text = pdf_text(tmp_path / "lab.pdf")
    flat = re.sub(r"\s+", " ", text)
    for t in rep.tasks:
        assert task_name(get("tugas1"), t.id, rep.assignment.services, lang) in flat
    assert flat.count(STATUS[lang]["pass"]) >= len(rep.tasks)
    assert "www.its.ac.id" in text and "103.94.189.5" in text and "2001:df0:2e8:2::5" in text
    assert LAB_MESSAGE.decode() in text
    queued = next(c for c in rep.connections if c.echo.queued_behind is not None)
    assert L.sec(queued.echo.wait_s) in text  # 5.00 s / 5,00 s
    assert ("5.00 s" if lang == "en" else "5,00 detik") in text
    assert f"{L.t('page')} 1 {L.t('of')} {pdf_pages(tmp_path / 'lab.pdf')}" in text
    # evidence frames a grader can jump to
    for t in rep.tasks:
        assert ", ".join(map(str, t.evidence_frames[:2])) in flat


@pytest.mark.parametrize("lang", ["en", "id"])
def test_timeline_reading_explains_the_queued_client(lang: str) -> None:
    rep = lab_report("serial")
    L = Lang(lang)
    text = re.sub(r"\s+", " ", " ".join(parse(render_html(rep, lang)).text))
    b = next(c for c in rep.connections if c.echo.queued_behind is not None)
    a = next(c for c in rep.connections if c.id == b.echo.queued_behind)
    expect = L.t("read_queued", client=machine(b.client.ip), syn=L.sec(b.handshake.syn_time_s),
                 served=L.sec(b.echo.first_echo_time_s), prev=machine(a.client.ip), wait=L.sec(b.echo.wait_s))
    assert expect in text
    # the same sentence written out, so the formatter is not its own oracle
    literal = {"en": "mesin-3 connected at 6.00 s but was served only at 11.0 s, right after mesin-2 closed",
               "id": "mesin-3 terhubung pada 6,00 detik, tetapi baru dilayani pada 11,0 detik, tepat setelah mesin-2 "
                     "menutup"}
    assert literal[lang] in text


def test_threaded_server_reads_as_concurrent() -> None:
    html = render_html(lab_report("thread"), "en")
    text = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "the server serves clients concurrently" in text
    assert "one client at a time" not in text


def test_ladder_draws_segments_in_capture_order() -> None:
    rep = lab_report("serial")
    html = render_html(rep, "en")
    svgs = re.findall(r'<svg[^>]*class="ladder".*?</svg>', html, re.DOTALL)
    assert len(svgs) == len(rep.connections)
    queued = svgs[[c.echo.queued_behind is not None for c in rep.connections].index(True)]
    frames = [int(x) for x in re.findall(r"#(\d+)</text>", queued)]
    assert frames == sorted(frames) and len(frames) >= 9
    assert "waited 5.00 s" in queued
    # T2: the echo of 46 bytes comes back as 32 + 14, with offsets
    t2 = svgs[0]
    assert "46 B [0,46)" in t2 and "32 B [0,32)" in t2 and "14 B [32,46)" in t2
    assert t2.count(">SYN") == 2
    c = rep.connections[0]
    fins = [f.frame for f in c.close.fins]
    assert len(fins) == 2 and re.findall(r">FIN  #(\d+)</text>", t2) == [str(f) for f in fins]
    # the SYN/ACK and both FINs carry their time in the time column, on their own row
    for label, t in ((f"SYN, ACK  #{c.handshake.synack_frame}", c.handshake.synack_time_s),
                     *((f"FIN  #{f.frame}", f.time_s) for f in c.close.fins)):
        assert t is not None and _time_beside(t2, label) == f"{t:.6f}", label


def _time_beside(svg_text: str, label: str) -> str | None:
    """The time-column text drawn on the same ladder row as the arrow labelled `label`."""
    m = re.search(r'<text x="[\d.]+" y="([\d.]+)"[^>]*>' + re.escape(label) + "</text>", svg_text)
    assert m, label
    y = float(m.group(1)) + 9  # labels sit 6 above the arrow, times 3 below it
    t = re.search(rf'<text x="14.0" y="{y:.1f}"[^>]*>([^<]*)</text>', svg_text)
    return t.group(1) if t else None


def test_html_is_one_self_contained_file() -> None:
    for lang in ("en", "id"):
        html = render_html(lab_report("serial"), lang)
        assert_self_contained(html)
        assert "<style>" in html and "@page" in html and "table-header-group" in html


def test_write_reports_json_is_the_report_dict(tmp_path: Path) -> None:
    rep = lab_report("serial")
    paths = write_reports(rep, tmp_path / "out", "cap", ["json"], "en")
    assert paths == [tmp_path / "out" / "cap.json"]
    text = paths[0].read_text(encoding="utf-8")
    assert text == json.dumps(rep.to_dict(), indent=1, ensure_ascii=False) == report_json(rep)
    jsonschema.validate(json.loads(text), SCHEMA)
    with pytest.raises(ValueError):
        write_reports(rep, tmp_path, "cap", ["docx"], "en")


def test_pdf_import_is_lazy() -> None:
    code = ("import sys, pathlib, tempfile; from tests.report_fixtures import lab_report; "
            "from reporter.render import write_reports; d = pathlib.Path(tempfile.mkdtemp()); "
            "write_reports(lab_report(), d, 'x', ['json', 'html'], 'en'); print('weasyprint' in sys.modules)")
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, check=False)
    assert out.stdout.strip() == "False", out.stderr


# --- bounded size -------------------------------------------------------------------------------------

def test_five_thousand_connections_give_a_short_report_quickly(tmp_path: Path) -> None:
    rep = big_report(5000)
    assert len(rep.connections) == 5000
    t = time.perf_counter()
    write_reports(rep, tmp_path, "big", ["html", "pdf"], "en")
    took = time.perf_counter() - t
    html = (tmp_path / "big.html").read_text(encoding="utf-8")
    assert len(html) < 400_000
    assert html.count('class="conn"') == MAX_DETAILED
    assert "5,000 connections" in html
    assert pdf_pages(tmp_path / "big.pdf") <= 40
    assert took < 30, f"5,000 connections took {took:.1f} s"
    # lab connections are among the detailed ones, whatever their order
    assert "Connection (tcp.stream 3): mesin-3:51944" in html
    assert_self_contained(html)


# --- real samples (captures made by `progjar lab`) ------------------------------------------------------

def _sample_reports() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.pcap*"))


@pytest.mark.parametrize("sample", _sample_reports(), ids=lambda p: p.name)
def test_every_sample_renders_in_both_languages(tmp_path: Path, sample: Path) -> None:
    from reporter.options import ReportOptions
    from reporter.pipeline import analyse

    rep, damaged = analyse(str(sample), ReportOptions())
    assert isinstance(rep, Report) and not damaged
    jsonschema.validate(rep.to_dict(), SCHEMA)
    for lang in ("en", "id"):
        L = Lang(lang)
        write_reports(rep, tmp_path, f"{sample.stem}-{lang}", ["html", "pdf"], lang)
        assert_self_contained((tmp_path / f"{sample.stem}-{lang}.html").read_text(encoding="utf-8"))
        text = pdf_text(tmp_path / f"{sample.stem}-{lang}.pdf")
        flat = re.sub(r"\s+", " ", text)
        for t in rep.tasks:
            assert STATUS[lang][t.status] in flat, (t.id, t.status)
        ui = re.sub(r"\s+", " ", " ".join(parse((tmp_path / f"{sample.stem}-{lang}.html").read_text()).ui))
        other = "id" if lang == "en" else "en"
        leaks = leaks_of(other, lang, ui)
        assert not leaks, leaks
        for d in rep.dns[:5]:
            assert d.name in text and all(a in text for a in d.answers)
        shown = rep.connections[:MAX_DETAILED]
        heads = [c.preview.client_to_server[:20].strip() for c in shown]
        assert all(h and h.isprintable() for h in heads), heads  # every lab connection sends text
        for head in heads:
            assert head in flat, head
        queued = [c for c in shown if c.echo.wait_s is not None and c.echo.queued_behind is not None]
        assert bool(queued) == sample.name.startswith("t4-serial")  # only the serial server makes a client wait
        for c in queued:
            assert L.sec(c.echo.wait_s) in flat


def wrong_echo_report(frames: bool) -> Report:
    """The lab's T2 connection whose echo carries 'X' at byte 30 in its first echo segment."""
    from reporter.assignments.tugas1 import judge_tasks

    rep = lab_report("serial", frames=frames)
    c = rep.connections[0]
    c.preview.server_to_client = c.preview.client_to_server[:30] + "X" + c.preview.client_to_server[31:]
    c.sha256.server_to_client = "0" * 64
    bad = c.exchanges[0].echo_frames[0]  # [0,32): holds byte 30
    c.echo.verified, c.echo.first_mismatch_offset, c.echo.first_mismatch_frame = False, 30, bad
    c.echo.echoed_bytes = 30
    if rep.frames is not None:
        rep.frames[str(bad)].echo_ok = False
    rep.tasks = judge_tasks(rep)
    return rep


@pytest.mark.parametrize("frames", [True, False], ids=["frame-notes", "no-frame-notes"])
def test_a_wrong_echo_says_where_it_differs(frames: bool) -> None:
    rep = wrong_echo_report(frames)
    c = rep.connections[0]
    bad = c.echo.first_mismatch_frame
    for lang in ("en", "id"):
        html = render_html(rep, lang)
        assert Lang(lang).t("echo_bad", off=30, frame=bad) in html
        assert "<mark>X</mark>" in html and "<mark>" + LAB_MESSAGE.decode()[30] + "</mark>" in html
        assert CATALOGUES[lang]["s2c"] in html  # both directions shown when they differ
        # the ladder draws that echo red with where it differs, never as a green (ok) arrow
        ladder = re.findall(r'<svg[^>]*class="ladder".*?</svg>', html, re.DOTALL)[0]
        note = Lang(lang).t("ladder_bad", off=30)
        arrow = re.search(r'<line [^>]*stroke="(#[0-9a-f]+)"[^>]*/><text [^>]*fill="(#[0-9a-f]+)"[^>]*>([^<]*'
                          + re.escape(note) + r"[^<]*)</text>", ladder)
        assert arrow and arrow.group(1) == arrow.group(2) == "#c0392b", arrow and arrow.groups()
        # the frame that carried the wrong byte is named once: its own arrow (frame notes), else in the note
        label = arrow.group(3)
        assert (f"#{bad}  " in label) if frames else label.endswith(f"{note} (#{bad})"), label
        assert label.count(f"#{bad}") == 1 or not frames, label


def test_history_letters_are_spelled_out() -> None:
    from reporter.render.view import history_words

    assert history_words("ShADadFf", Lang("en")) == ("S client SYN · h server SYN/ACK · A client ACK · D client data · "
                                                     "a server ACK · d server data · F client FIN · f server FIN")
    assert history_words("ShR", Lang("id")) == "S klien SYN · h server SYN/ACK · R klien RST"


def test_ladder_of_the_t2_sample_shows_the_echo_as_32_plus_14() -> None:
    """With --frames the ladder draws each echo segment, as the lab's recv(32) server sends them."""
    from reporter.options import ReportOptions
    from reporter.pipeline import analyse

    sample = next(iter(sorted(SAMPLES.glob("t2*.pcap*"))), None)
    assert sample is not None, "samples/ must hold the T2 capture (see samples/manifest.json)"
    rep, _ = analyse(str(sample), ReportOptions(frames=True))
    html = render_html(rep, "id")
    assert re.search(r"46 B \[0,46\)  #\d+", html)
    assert re.search(r"32 B \[0,32\)  #\d+", html) and re.search(r"14 B \[32,46\)  #\d+", html)


def test_there_are_samples_to_render() -> None:
    assert len(_sample_reports()) >= 5  # t1, t2, t3, t4-serial, t4-thread


def test_a_reports_page_is_built_once_with_its_body_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`progjar report --student` with several captures needs each capture's page and its body (for
    the combined report): one view and one body rendering per capture, the body the page's own."""
    from reporter.pipeline import report_command
    from reporter.options import ReportOptions, Student
    from reporter.render import view
    from reporter.render.html import render_pages

    page, body = render_pages(lab_report("serial"), "en")
    assert page.count(body) == 1 and page.endswith(body + "</body>\n</html>") and len(body) > 1000
    built = []
    real = view.build
    monkeypatch.setattr(view, "build", lambda *a, **k: built.append(1) or real(*a, **k))
    caps = [str(p) for p in sorted(SAMPLES.glob("t[24]-*.pcap"))][:2]
    assert len(caps) == 2
    opts = ReportOptions(formats=("json", "html"), student=Student("Ana", "1"))
    assert report_command(caps, str(tmp_path), opts, quiet=True) == 0
    assert len(built) == 2 and len(list(tmp_path.glob("*-all.html"))) == 1
