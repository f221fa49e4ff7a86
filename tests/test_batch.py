"""`progjar batch` on a synthetic class of 18 students built from samples/ and crafted captures.

Each student's capture is a variant of a bundled sample (same lab behaviour, other random values,
as another run would record it) or a crafted lab session, so only the copies made on purpose
below share anything: a pcapng re-save, a time-shifted copy and a byte-identical copy.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from pypdf import PdfReader

from reporter.grading.batch import safe_name
from reporter.reading.capture import iter_records, open_capture
from reporter.cli import main
from tests.classgen import kernel_like_capture, variant
from tests.conftest import IN_CI, SAMPLES, require_tool

ALL_PASS = {"T1": "pass", "T2": "pass", "T3": "pass", "T4": "pass"}


def _sample(prefix: str) -> Path:
    found = sorted(SAMPLES.glob(f"{prefix}*.pcap*"))
    if not found:
        msg = f"samples/{prefix}*.pcap* missing (run `make lab`)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return found[0]


def _editcap(*args: str) -> None:
    require_tool("editcap")
    p = subprocess.run(["editcap", *args], check=False, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def _tree(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root (but skip) with size and mtime: to prove nothing else changed."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(dirpath, d) != skip]
        for name in dirs + files:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


def _build_class(root: Path) -> Path:
    cls = root / "kelas"
    cls.mkdir()
    t0 = next(iter_records(open_capture(_sample("t2"))))[2] / 1e9  # crafted sessions on the samples' day

    def folder(name: str) -> Path:
        (cls / name).mkdir(exist_ok=True)
        return cls / name

    seed = iter(range(1000, 2000))
    s = folder("Siti Nurhaliza")  # complete work over four captures, T4 on the serial server
    for pre in ("t1", "t2", "t3", "t4-serial"):
        variant(_sample(pre), s / f"{pre}.pcap" if pre != "t1" else s / "t1.pcapng", next(seed))
    d = folder("Dewi Lestari")  # no T3; T4 against the threaded server
    for pre in ("t1", "t2", "t4-thread"):
        variant(_sample(pre), d / f"{pre}{'.pcapng' if pre == 't1' else '.pcap'}", next(seed))
    b = folder("Bambang Pamungkas")  # T1 with an A query only
    kernel_like_capture(b / "dns-dan-echo.pcap", next(seed), aaaa=False, t0=t0)
    r = folder("Rudi Hartono")  # a cut capture and a file that is no capture at all
    v = variant(_sample("t2"), r / "t2.pcap", next(seed))
    v.write_bytes(v.read_bytes()[:-9])
    (r / "tugas.pcapng").write_text("saya lupa menyimpan capture-nya\n", encoding="utf-8")
    _editcap("-F", "pcapng", str(s / "t2.pcap"), str(folder("Rina Wati") / "echo.pcapng"))  # re-saved copy
    _editcap("-t", "3600", str(d / "t1.pcapng"), str(folder("Tono Sugiarto") / "t1.pcapng"))  # time-shifted copy
    shutil.copy(b / "dns-dan-echo.pcap", folder("Joko Susilo") / "punyaku.pcap")  # identical copy
    kernel_like_capture(cls / "Ñoño Ünïcode.pcapng", next(seed), fmt="pcapng", t0=t0)
    kernel_like_capture(folder("ana") / "t.pcap", next(seed), t0=t0)
    kernel_like_capture(folder("Ana") / "t.pcap", next(seed), t0=t0)
    kernel_like_capture(cls / "..pcap", next(seed), t0=t0)  # student "."
    kernel_like_capture(cls / "..%2fevil.pcap", next(seed), t0=t0)
    kernel_like_capture(folder("...") / "..pcap", next(seed), t0=t0)
    a = folder("Agus Salim")  # nested folder and two captures with one stem
    (a / "minggu 1").mkdir()
    kernel_like_capture(a / "minggu 1" / "t.pcap", next(seed), tasks="1", t0=t0)
    kernel_like_capture(a / "t.pcap", next(seed), tasks="2", t0=t0)
    kernel_like_capture(a / "t.pcapng", next(seed), tasks="3", fmt="pcapng", t0=t0)
    kernel_like_capture(folder("Lupa Antarmuka") / "lo.pcap", next(seed), t0=t0, client="127.0.0.1",
                        server="127.0.0.1", dns_server="127.0.0.53")
    kernel_like_capture(folder("Salah Antarmuka") / "lain.pcap", next(seed), tasks="2", other_port=8080, t0=t0)
    kernel_like_capture(folder("Telat Seminggu") / "t.pcap", next(seed), t0=t0 + 7 * 86400)
    kernel_like_capture(cls / "=HYPERLINK(0).pcap", next(seed), t0=t0)  # a formula in a spreadsheet
    kernel_like_capture(folder("Wira Ulang") / "t.pcap", next(seed), t0=t0, retransmits=12)  # a lossy network
    folder("Kosong")
    (folder("Kosong") / "catatan.txt").write_text("belum\n")
    return cls


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("batch")
    cls = _build_class(root)
    out = root / "hasil"
    before = _tree(root, out)
    rc = main(["batch", str(cls), "-o", str(out), "--format", "json,html", "--jobs", "2"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"root": root, "cls": cls, "out": out, "rc": rc, "before": before, "after": _tree(root, out),
            "summary": summary, "students": {s["student"]: s for s in summary["students"]},
            "csv": {r["student"].removeprefix("'"): r for r in rows}}


def _status(g: dict, name: str) -> dict[str, str]:
    return {t: v["status"] for t, v in g["students"][name]["tasks"].items()}


def test_every_student_gets_one_row_with_the_name_as_handed_in(graded: dict) -> None:
    names = {"Siti Nurhaliza", "Dewi Lestari", "Bambang Pamungkas", "Rudi Hartono", "Rina Wati", "Tono Sugiarto",
             "Joko Susilo", "Ñoño Ünïcode", "ana", "Ana", ".", "..%2fevil", "...", "Agus Salim", "Lupa Antarmuka",
             "Salah Antarmuka", "Telat Seminggu", "=HYPERLINK(0)", "Wira Ulang", "Kosong"}
    assert set(graded["students"]) == names
    assert set(graded["csv"]) == names
    assert (graded["out"] / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets see UTF-8
    assert graded["csv"]["Kosong"]["captures"] == "0" and "no capture" in graded["csv"]["Kosong"]["to check"]
    text = (graded["out"] / "summary.csv").read_bytes().decode("utf-8-sig")
    assert "\r\n'=HYPERLINK(0)," in text  # quoted so a spreadsheet shows it instead of running it


def test_tasks_are_judged_over_all_of_a_students_captures(graded: dict) -> None:
    assert _status(graded, "Siti Nurhaliza") == ALL_PASS
    assert graded["students"]["Siti Nurhaliza"]["tasks"]["T4"]["verdict"] == "serial"
    assert graded["csv"]["Siti Nurhaliza"]["verdicts"] == "T4 serial"
    assert _status(graded, "Dewi Lestari") == {**ALL_PASS, "T3": "absent"}
    assert graded["students"]["Dewi Lestari"]["tasks"]["T4"]["verdict"] == "concurrent"
    # Agus: T1 from the nested folder, T2 from t.pcap, T3 from t.pcapng
    agus = graded["students"]["Agus Salim"]
    assert _status(graded, "Agus Salim") == {"T1": "pass", "T2": "pass", "T3": "pass", "T4": "absent"}
    assert agus["tasks"]["T1"]["capture"].endswith("minggu-1_t")
    assert agus["tasks"]["T2"]["capture"] != agus["tasks"]["T3"]["capture"]
    t2 = agus["tasks"]["T2"]
    assert t2["report"].endswith(".html") and (graded["out"] / t2["report"]).is_file()


def test_an_a_only_lookup_is_partial_and_flagged(graded: dict) -> None:
    assert _status(graded, "Bambang Pamungkas")["T1"] == "partial"
    assert {"code": "no-aaaa"} in graded["students"]["Bambang Pamungkas"]["outliers"]
    assert "only A queried, no AAAA" in graded["csv"]["Bambang Pamungkas"]["to check"]
    assert {"code": "no-aaaa"} not in graded["students"]["Siti Nurhaliza"]["outliers"]


def test_damaged_captures_are_error_rows_and_exit_1(graded: dict) -> None:
    assert graded["rc"] == 1
    rudi = graded["students"]["Rudi Hartono"]
    errors = " | ".join(rudi["errors"])
    assert "tugas.pcapng: not a capture" in errors
    assert "t2.pcap: damaged" in errors
    assert graded["csv"]["Rudi Hartono"]["files with problems"] == "2"
    assert str(graded["cls"]) not in json.dumps(graded["summary"])  # no machine paths in what gets shared
    cut = next(c for c in rudi["captures"] if c["file"].endswith("t2.pcap"))
    assert cut["outputs"], "a damaged capture still gets its partial report"


def test_copies_are_paired_with_what_they_share_and_nothing_else_is(graded: dict) -> None:
    pairs = {frozenset((p["student_a"], p["student_b"])): p for p in graded["summary"]["similarities"]}
    assert set(pairs) == {frozenset(("Siti Nurhaliza", "Rina Wati")), frozenset(("Dewi Lestari", "Tono Sugiarto")),
                          frozenset(("Bambang Pamungkas", "Joko Susilo"))}
    resaved = pairs[frozenset(("Siti Nurhaliza", "Rina Wati"))]
    assert resaved["kinds"][0] == "same-content" and resaved["shared"]["isn"]
    shifted = pairs[frozenset(("Dewi Lestari", "Tono Sugiarto"))]
    assert shifted["kinds"][0] == "same-content" and abs(abs(shifted["start_offset_s"]) - 3600) < 1e-3
    same = pairs[frozenset(("Bambang Pamungkas", "Joko Susilo"))]
    assert same["kinds"][0] == "identical-file"
    assert graded["csv"]["Siti Nurhaliza"]["similar to"] == "Rina Wati"
    assert [x["student"] for x in graded["students"]["Joko Susilo"]["similar"]] == ["Bambang Pamungkas"]


def test_outliers_name_wrong_interface_and_time(graded: dict) -> None:
    codes = {n: {o["code"] for o in s["outliers"]} for n, s in graded["students"].items()}
    assert "loopback-only" in codes["Lupa Antarmuka"]
    # echo on port 8080: the flag says what the student's report says, not "wrong interface?"
    [wrong_port] = [o for o in graded["students"]["Salah Antarmuka"]["outliers"] if o["code"] == "service-elsewhere"]
    assert wrong_port == {"code": "service-elsewhere", "seen": ["echo (port 8080)"], "lab_ports": ["10000", "32444"],
                          "options": ["--port echo=8080"]}
    assert graded["csv"]["Salah Antarmuka"]["to check"] == ("echo (port 8080) instead of the assignment's port(s) "
                                                            "10000, 32444: judge it there with --port echo=8080")
    assert "off-window" in codes["Telat Seminggu"]
    assert "off-window" not in codes["Tono Sugiarto"]  # one hour is still the same lab session
    assert "many-anomalies" in codes["Wira Ulang"]
    assert codes["Siti Nurhaliza"] == set() and codes["Ñoño Ünïcode"] == set()


def test_output_names_are_safe_and_never_clobber(graded: dict) -> None:
    out = graded["out"]
    assert graded["before"] == graded["after"], "batch wrote or changed something outside OUTDIR"
    folders = {s["safe"] for s in graded["summary"]["students"]}
    assert len(folders) == len(graded["students"])  # "ana" and "Ana" apart, "." and "..." too
    for f in folders:
        assert f and not f.startswith(".") and "/" not in f and f == f.lower()
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
    agus = graded["students"]["Agus Salim"]
    outs = [o for c in agus["captures"] for o in c["outputs"]]
    assert len(outs) == len(set(outs)) == 6  # t.pcap and t.pcapng: same stem, two reports each
    assert all((out / o).is_file() for o in outs)


def test_reports_validate_and_the_page_is_self_contained(graded: dict) -> None:
    schema = json.loads((Path(__file__).parent.parent / "reporter/schema/report.schema.json").read_text())
    reports = list(graded["out"].rglob("*.json"))
    reports = [p for p in reports if p.name not in ("summary.json",) and not p.name.startswith(".")]
    assert len(reports) >= 20
    for p in reports:
        jsonschema.validate(json.loads(p.read_text(encoding="utf-8")), schema)
    page = (graded["out"] / "index.html").read_text(encoding="utf-8")
    assert "Ñoño Ünïcode" in page and "Siti Nurhaliza" in page and "..%2fevil" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert page.count("<svg") >= 7  # 4 pass-rate bars + 3 distributions
    html_reports = [o for s in graded["summary"]["students"] for c in s["captures"] for o in c["outputs"]
                    if o.endswith(".html")]
    assert len(html_reports) >= 20
    for o in html_reports:
        assert f'href="{o}"' in page, o


def test_a_rerun_skips_what_is_up_to_date(graded: dict, capsys: pytest.CaptureFixture) -> None:
    out = graded["out"]
    page = next(out.glob("siti-nurhaliza-*")) / "t2.html"
    mtime = page.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["batch", str(graded["cls"]), "-o", str(out), "--format", "json,html", "--jobs", "2"]) == 1
    err = capsys.readouterr()
    assert "0 analysed" in err.out and "up to date" in err.err
    assert page.stat().st_mtime_ns == mtime
    assert main(["batch", str(graded["cls"]), "-o", str(out), "--format", "json,html", "--jobs", "2",
                 "--force"]) == 1
    assert "0 analysed" not in capsys.readouterr().out
    assert page.stat().st_mtime_ns != mtime


def test_indonesian_page_and_pdf_for_a_small_class(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    (cls / "Siti Nurhaliza").mkdir(parents=True)
    variant(_sample("t2"), cls / "Siti Nurhaliza" / "t2.pcap", 1)
    kernel_like_capture(cls / "Dewi Lestari.pcap", 2, aaaa=False)
    out = tmp_path / "hasil"
    assert main(["batch", str(cls), "-o", str(out), "--format", "pdf,json", "--lang", "id", "--jobs", "2"]) == 0
    pdfs = sorted(out.rglob("*.pdf"))
    assert len(pdfs) == 4 and sum(p.name == "report.pdf" for p in pdfs) == 2  # per capture, and per student
    for p in pdfs:
        assert len(PdfReader(str(p)).pages) >= 1
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<html lang="id">' in page and "Ringkasan kelas" in page and "hanya kueri A, tanpa AAAA" in page
    assert "terpenuhi" in page
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rtt = next(s["rtt_ms"] for s in summary["students"] if s["student"] == "Siti Nurhaliza")
    shown = format(rtt, ".2f")
    assert "." in shown and f">{shown.replace('.', ',')}</td>" in page  # a decimal comma, as the reports write


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["batch", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "o")]) == 2
    assert main(["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "empty")]) == 2
    (tmp_path / "file").write_text("x")
    kernel_like_capture(tmp_path / "empty" / "a.pcap", 9, tasks="1")
    assert main(["batch", str(tmp_path / "empty"), "-o", str(tmp_path / "file" / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "no captures" in err[1] and "must differ" in err[2] and "cannot create" in err[3]
    assert "Traceback" not in "".join(err)


def test_an_outdir_inside_the_class_folder_is_not_a_student(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    kernel_like_capture(cls / "siti.pcap", 11, tasks="1")
    for out in (cls / "hasil", cls / "hasil"):  # twice: the second run sees its own earlier output
        assert main(["batch", str(cls), "-o", str(out), "--format", "json"]) == 0
    assert main(["batch", str(cls), "-o", str(cls / "lain"), "--format", "json"]) == 0
    summary = json.loads((cls / "lain" / "summary.json").read_text(encoding="utf-8"))
    assert [s["student"] for s in summary["students"]] == ["siti"]


def test_plain_progress_lines_when_not_on_a_terminal(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    for i in range(3):
        kernel_like_capture(cls / f"mhs{i}.pcap", 50 + i, tasks="1")
    p = subprocess.run([sys.executable, "-m", "reporter", "batch", str(cls), "-o", str(tmp_path / "o"),
                        "--format", "json", "--jobs", "2"], check=False, capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).parent.parent)
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.startswith("progjar batch: [")]
    assert len(lines) == 3 and all(x.endswith(": ok") for x in lines)


def test_safe_names() -> None:
    assert safe_name("Siti Nurhaliza").startswith("siti-nurhaliza-")
    assert safe_name("Ñoño Ünïcode").startswith("nono-unicode-")
    assert safe_name("ana") != safe_name("Ana") and safe_name("ana").startswith("ana-")
    for evil in ("..", ".", "../../etc", "..%2fevil", "/", "", "\u202e"):
        s = safe_name(evil)
        assert s and not s.startswith(".") and "/" not in s and ".." not in s.split("-")[0]
    assert len(safe_name("x" * 300)) <= 67


def test_a_worker_killed_mid_capture_is_an_error_row_not_a_hang(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """As when the OS kills a worker for memory: the others finish, that capture says why."""
    import reporter.grading.batch

    real = reporter.grading.batch.analyse

    def dies_on_mati(path, opts, **kw):  # runs in the forked worker
        if "mati" in str(path):
            os._exit(9)
        return real(path, opts, **kw)

    monkeypatch.setattr(reporter.grading.batch, "analyse", dies_on_mati)
    cls = tmp_path / "kelas"
    cls.mkdir()
    for name in ("ani", "mati", "budi", "cici"):
        kernel_like_capture(cls / f"{name}.pcap", len(name) * 7, tasks="1")
    rc = main(["batch", str(cls), "-o", str(tmp_path / "o"), "--format", "json", "--jobs", "2"])
    assert rc == 1
    rows = {s["student"]: s for s in json.loads((tmp_path / "o" / "summary.json").read_text())["students"]}
    assert "worker process died" in rows["mati"]["errors"][0]
    assert all(rows[n]["tasks"]["T1"]["status"] == "pass" for n in ("ani", "budi", "cici"))
