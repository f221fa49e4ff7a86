"""The class page (OUTDIR/index.html) and a report as a lecturer sees them: a laptop screen, 1280x800, in Chromium.

Headless Chromium lays the page out; a small script added to a copy of the page measures it (the
page's width against the window, each row's height, where the last column ends) and tries the
filter, and --dump-dom hands the numbers back. Nothing is fetched: the page is opened from disk.
The rest checks the page's words and links without a browser.
"""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.grading.classpage import render_class_page
from reporter.grading.classsummary import pass_rates, student_rows
from tests.classgen import kernel_like_capture
from tests.conftest import require_tool

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,800"]

MEASURE = """<script>
(function(){
var out={innerWidth:window.innerWidth,scrollWidth:document.documentElement.scrollWidth,rows:[],headRight:0,
hrefs:[]};
var t=document.querySelector("table.cls");
t.querySelectorAll("thead th").forEach(function(th){out.headRight=Math.max(out.headRight,th.getBoundingClientRect().right);});
Array.from(t.tBodies[0].rows).forEach(function(r){out.rows.push(r.getBoundingClientRect().height);});
t.querySelectorAll("a.badge").forEach(function(a){out.hrefs.push(a.getAttribute("href"));});
out.clipped=[];t.querySelectorAll("tbody .b").forEach(function(b){var td=b.closest("td");
if(b.getBoundingClientRect().right>td.getBoundingClientRect().right+0.5)out.clipped.push(b.textContent);});
var sel=document.getElementById("show");var shown={};
Array.from(sel.options).forEach(function(o){sel.value=o.value;sel.dispatchEvent(new Event("change"));
shown[o.value]=Array.from(t.tBodies[0].rows).filter(function(r){return !r.hidden && r.offsetHeight>0;}).length;});
out.shown=shown;out.label=document.getElementById("shown").textContent;
var pre=document.createElement("pre");pre.id="measure";pre.textContent=JSON.stringify(out);document.body.appendChild(pre);
})();
</script>"""


def _chromium() -> str:
    require_tool("chromium")
    return shutil.which("chromium") or "chromium"


def measure(page: Path, tmp: Path, script: str = MEASURE) -> dict:
    """What `script` (a <script> that leaves its JSON in <pre id="measure">) finds on the page in Chromium."""
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    p = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", "--dump-dom",
                        probe.as_uri()], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    m = re.search(r'<pre id="measure">(.*?)</pre>', p.stdout, re.S)
    assert m, f"no measurement from chromium: {p.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def screenshot(page: Path, png: Path, tmp: Path) -> tuple[int, int]:
    p = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile2'}", f"--screenshot={png}",
                        page.as_uri()], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert png.is_file(), p.stderr[-2000:]
    return struct.unpack(">II", png.read_bytes()[16:24])


def _fake_class(n: int, tasks: list[str]) -> dict:
    """A class of a six-task assignment (Tugas 3 has T1-T6) with the longest things a row can hold:
    long names, several captures, every flag, similar pairs, unreadable files."""
    statuses = ["pass", "partial", "fail", "absent"]
    results = []
    for i in range(n):
        sid = f"s{i}"
        name = ("Muhammad Rizky Pratama Wijaya Kusuma Ningrat " if i % 3 == 0 else "Siti ") + str(i)
        for k in range(3 if i % 2 else 1):
            digest = {"assignment": "tugas3", "start": "2025-03-01T07:00:00Z", "warnings": [
                {"code": "non-ip", "severity": "info"}, {"code": "truncated", "severity": "error"}],
                "dns_a": True, "dns_aaaa": i % 4 != 0, "lab_traffic": i % 5 != 0, "loopback_only": False,
                "rtt_ms": [0.05 + i / 100], "dns_latency_ms": [0.7], "wait_s": [6.0], "anomalies": 12 if i % 2 else 0,
                "tasks": {t: {"status": statuses[(i + j + k) % 4], "verdict": "concurrent" if t == "T6" else None,
                              "evidence_frames": [1, 2], "summary": "", "reason": "a reason " * 20, "fix": "a fix"}
                          for j, t in enumerate(tasks)}}
            fp = {"crafted": [{"code": "h_ipid_zero", "n": 10}, {"code": "h_csum_zero", "n": 10},
                              {"code": "h_odd_ttl", "ttl": [17, 200]}]} if i % 4 == 1 else {}
            results.append({"sid": sid, "student": name, "moodle_id": str(1000 + i), "safe": f"s-{i}",
                            "file": f"{name}_{1000 + i}_assignsubmission_file/minggu {k}/capture-number-{k}.pcapng",
                            "key": f"s-{i}/c{k}", "outputs": [f"s-{i}/c{k}.html"], "digest": digest,
                            "error": "damaged: the capture is cut" if k == 2 else None, "damaged": k == 2,
                            "fingerprint": fp})
    sims = [{"sid_a": "s1", "sid_b": "s2", "a": "s-1/c0", "b": "s-2/c0", "kinds": ["shared-values"],
             "student_a": "x", "student_b": "y", "a_file": "a", "b_file": "b", "shared": {}, "start_offset_s": None,
             "detail": "the same TCP initial sequence numbers in 4 connection(s): a copied capture, or a re-saved one"}]
    students = student_rows(results, sims, "tugas3", tasks, {t: 1.0 for t in tasks})
    for s in students:
        s["report_html"] = f"{s['safe']}/report.html"
    return {"tool": {"version": "test"}, "generated": "now", "assignment": "tugas3", "tasks": tasks,
            "assignment_counts": {"tugas3": 30, "tugas2": 2}, "students": students,
            "pass_rates": pass_rates(students, tasks), "similarities": sims}


@pytest.mark.parametrize("lang", ["en", "id"])
def test_a_six_task_class_fits_a_laptop_screen(tmp_path: Path, lang: str) -> None:
    tasks = ["T1", "T2", "T3", "T4", "T5", "T6"]
    summary = _fake_class(24, tasks)
    page = tmp_path / "index.html"
    page.write_text(render_class_page(summary, lang), encoding="utf-8")
    m = measure(page, tmp_path)
    assert m["innerWidth"] == 1280
    assert m["scrollWidth"] <= 1280, "the table runs past the window: columns hide behind a horizontal scroll"
    assert m["headRight"] <= 1280
    assert max(m["rows"]) <= 110, f"rows up to {max(m['rows']):.0f} px tall"
    assert m["clipped"] == [], "a status badge is cut by its column (Indonesian 'tidak ditemukan' is the longest)"
    # every badge links to that task in the student's combined report
    assert len(m["hrefs"]) == 24 * 6 and all(re.fullmatch(r"s-\d+/report\.html#task-T[1-6]", h) for h in m["hrefs"])
    # the filter works from disk, without a server
    notpass = {t: sum(1 for s in summary["students"] if s["tasks"][t]["status"] != "pass") for t in tasks}
    assert m["shown"]["all"] == 24
    for t in tasks:
        assert m["shown"][f"np:{t}"] == notpass[t] < 24
    assert m["shown"]["flagged"] == sum(1 for s in summary["students"] if s["outliers"])
    assert m["shown"]["similar"] == 2


def test_a_real_class_page_at_1280x800(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    for i, name in enumerate(("Ana", "Budi Santoso", "Cici", "Dodi Prasetyo Wibowo Kusumo", "Eka")):
        kernel_like_capture(cls / f"{name}.pcap", 60 + i, tasks="123" if i % 2 else "12", aaaa=i != 2)
    (cls / "Fajar.pcap").write_bytes((cls / "Ana.pcap").read_bytes())  # a copy
    out = tmp_path / "nilai"
    assert main(["batch", str(cls), "-o", str(out), "--format", "html", "--jobs", "2"]) == 0
    m = measure(out / "index.html", tmp_path)
    assert m["scrollWidth"] <= 1280 and max(m["rows"]) <= 110
    assert m["shown"]["similar"] == 2 and m["shown"]["np:T3"] == 4  # Ana, Cici, Eka and her copy Fajar
    for h in m["hrefs"]:
        target, anchor = h.split("#")
        assert re.search(rf'id="{anchor}"', (out / target).read_text(encoding="utf-8")), h
    assert screenshot(out / "index.html", tmp_path / "shot.png", tmp_path) == (1280, 800)


def test_the_page_counts_warnings_not_information_and_says_mixed_assignments() -> None:
    summary = _fake_class(4, ["T1", "T2", "T3", "T4", "T5", "T6"])
    for s in summary["students"]:  # each capture: one info (ARP) and one error (cut)
        assert s["warnings"] == len(s["captures"])
    page = render_class_page(summary, "en")
    assert "The captures were judged as several assignments (tugas3: 30, tugas2: 2); this table shows tugas3." in page
    assert "Berkas tangkapan dinilai sebagai beberapa tugas yang berbeda" in render_class_page(summary, "id")
    assert "<script" in page and "http://" not in page and "https://" not in page and "<link" not in page


def test_dns_latency_is_a_column_only_where_a_class_can_have_one() -> None:
    """Tugas 2, 3 and the ETS make no DNS lookups: no empty DNS column, no "no data" chart. Tugas 1
    keeps both even when nobody's capture has a lookup (that absence is the news), and a class whose
    captures do have lookups shows them whatever the assignment."""
    from reporter.grading.wording import Words

    head = Words("en").t("h_dns")
    caption = Words("en").t("dns_c")
    summary = _fake_class(4, ["T1", "T2", "T3", "T4", "T5", "T6"])
    assert f">{head}</th>" in render_class_page(summary, "en")  # tugas3, but lookups were captured
    for s in summary["students"]:
        s["dns_latency_ms"] = None
    page = render_class_page(summary, "en")
    assert f">{head}</th>" not in page and caption not in page
    assert page.count("<col ") == 2 + 6 + 2 + 3  # who, score, six tasks, RTT and wait, warnings, flags, similar
    summary["assignment"] = "tugas1"
    page = render_class_page(summary, "en")
    assert f">{head}</th>" in page and caption in page


WIDEST = """<script>
(function(){var W=window.innerWidth,out=[];
document.querySelectorAll("body *").forEach(function(e){var r=e.getBoundingClientRect();
if(r.right>W+1&&!e.closest("svg"))out.push(e.tagName+"."+e.className+" "+(e.textContent||"").slice(0,50));});
var pre=document.createElement("pre");pre.id="measure";
pre.textContent=JSON.stringify({scrollWidth:document.documentElement.scrollWidth,innerWidth:W,over:out.slice(0,5)});
document.body.appendChild(pre);})();
</script>"""


@pytest.mark.parametrize("sample", ["tugas3/tugas3-legacy.pcap", "tugas3/tugas3-commands.pcap", "ets/ets-thread.pcap",
                                    "tugas1/t3-file.pcap"])
def test_a_report_fits_a_laptop_screen_whatever_its_payloads(tmp_path: Path, sample: str) -> None:
    """A report at 1280x800 scrolls down only: a request of base64 (an UPLOAD's whole file in one
    line) wraps inside its cell instead of widening the messages table past the window."""
    from tests.conftest import ROOT

    out = tmp_path / "r"
    assert main(["report", str(ROOT / "samples" / sample), "--format", "html", "--lang", "id", "-o", str(out), "-q"]) in (0, 1)
    got = measure(next(out.glob("*.html")), tmp_path, WIDEST)
    assert got["innerWidth"] == 1280
    assert got["scrollWidth"] <= 1280 and not got["over"], got
