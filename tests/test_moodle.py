"""A class as Moodle's "Download all submissions" gives it, graded and read back as Moodle would.

The download is built by test code with Moodle's own naming (mod/assign/classes/downloader.php):
``<full name>_<participant id>_assignsubmission_file/`` folders, an online-text folder, a
student's zip inside (with a zip-slip member and an encrypted one), a nested folder, a renamed
capture, a blind-marking folder, a zip-bomb-like member and a participant who handed in only
online text. moodle-grades.csv is then read back with the rules of Moodle's importer
(mod/assign/feedback/offline/importgradeslib.php, lib/csvlib.class.php), re-implemented here from
Moodle's code rather than taken from our writer, so a wrong header or identifier fails the test.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader

from reporter.cli import main
from tests.classgen import kernel_like_capture, variant
from tests.test_archive import flag_encrypted
from tests.test_batch import _sample

# Moodle's language strings (lang/en/assign.php, lang/en/moodle.php, assignfeedback_comments; the
# Indonesian ones from Moodle 5.0's language pack). Note "Participant " keeps a space, "Peserta" not.
MOODLE = {
    "en": {"hiddenuser": "Participant ", "recordid": "Identifier", "gradenoun": "Grade",
           "lastmodifiedgrade": "Last modified (grade)", "comments": "Feedback comments", "decsep": "."},
    "id": {"hiddenuser": "Peserta", "recordid": "Tanda pengenal", "gradenoun": "Nilai",
           "lastmodifiedgrade": "Terakhir diubah (nilai)", "comments": "Komentar umpan balik.", "decsep": ","},
}
IDS = {"101", "102", "103", "104", "105", "106"}  # the participants the "course" has


def moodle_import(path: Path, lang: str, max_grade: float = 100.0) -> dict[str, dict]:
    """What assignfeedback_offline_grade_importer would import: {participant id: grade, modified, comments}."""
    s = MOODLE[lang]
    content = path.read_bytes().decode("utf-8")
    content = content.removeprefix("\ufeff")  # core_text::trim_utf8_bom
    content = re.sub(r"\r\n?", "\n", content).strip()  # fix mac/dos newlines, trim()
    rows = [r for r in csv.reader(io.StringIO(content), delimiter=",", quotechar='"') if r]  # fgetcsv, 'comma'
    header = rows[0]
    assert all(len(r) == len(header) for r in rows), "csvweirdcolumns"
    cols = {name: i for i, name in enumerate(header)}  # init(): exact comparison with the strings
    for need in ("recordid", "gradenoun", "lastmodifiedgrade"):
        assert s[need] in cols, f"invalidgradeimport: no {s[need]!r} column in {header}"
    feedback_at = cols.get(s["comments"])
    assert feedback_at, "a feedback column at index 0 is ignored by the importer (!empty($details['index']))"
    out = {}
    for r in rows[1:]:
        uid = r[cols[s["recordid"]]][len(s["hiddenuser"]):]  # substr($idstr, strlen(hiddenuser))
        if uid not in IDS:
            continue  # get_user_id_for_uniqueid() finds nobody: skipped without a word
        raw = r[cols[s["gradenoun"]]].strip().replace(" ", "").replace(s["decsep"], ".")  # unformat_float
        grade = float(raw)
        assert 0 <= grade <= max_grade, "out of range: skipped"
        modified = datetime.strptime(r[cols[s["lastmodifiedgrade"]]], "%Y-%m-%d %H:%M:%S %z")  # strtotime
        out[uid] = {"grade": grade, "modified": modified, "comments": r[feedback_at]}
    return out


def build_download(root: Path) -> Path:
    """moodle.zip as "Download all submissions" makes it (Moodle 4.1+: folders without a trailing _)."""
    src = root / "src"
    src.mkdir()
    t0 = 1_763_900_000.0
    siti1 = variant(_sample("t1"), src / "s1.pcapng", 1)
    siti2 = variant(_sample("t2"), src / "s2.pcap", 2)
    dewi3 = variant(_sample("t3"), src / "d3.pcap", 3)
    dewi4 = variant(_sample("t4-thread"), src / "d4.pcap", 4)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("tugas1/t3.pcap", dewi3.read_bytes())
        z.writestr("tugas1/t4.pcap", dewi4.read_bytes())
        z.writestr("../../evil.pcap", siti1.read_bytes())  # zip-slip
        z.writestr("rahasia.pcap", siti2.read_bytes())
    caps = flag_encrypted(inner.getvalue(), "rahasia.pcap")
    bambang_dns = kernel_like_capture(src / "b1.pcap", 31, tasks="1", aaaa=False, t0=t0)
    bambang_echo = kernel_like_capture(src / "b2.pcap", 32, tasks="2", t0=t0)
    blind = kernel_like_capture(src / "p.pcap", 41, tasks="123", t0=t0)
    zpath = root / "moodle.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Siti Nurhaliza_101_assignsubmission_file/t1.pcapng", siti1.read_bytes())
        z.writestr("Siti Nurhaliza_101_assignsubmission_file/t2.pcap", siti2.read_bytes())
        z.writestr("Siti Nurhaliza_101_assignsubmission_file/laporan.pdf", b"%PDF-1.4 laporan")
        z.writestr("Siti Nurhaliza_101_assignsubmission_onlinetext/onlinetext.html", "<p>Sudah, Pak.</p>")
        z.writestr("Dewi Lestari_102_assignsubmission_file/caps.zip", caps)
        z.writestr("Bambang Pamungkas_103_assignsubmission_file/minggu 1/nested/dns.cap", bambang_dns.read_bytes())
        z.writestr("Bambang Pamungkas_103_assignsubmission_file/tugas.txt", bambang_echo.read_bytes())  # renamed
        z.writestr("Participant_104_assignsubmission_file/t.pcap", blind.read_bytes())  # blind marking
        z.writestr("Joko Susilo_105_assignsubmission_file/bomb.pcap", b"\0" * (3 << 20))
        z.writestr("Rina Wati_106_assignsubmission_onlinetext/onlinetext.html", "<p>Lupa upload.</p>")
        z.writestr("../evil.pcap", siti1.read_bytes())  # zip-slip at the top
    for p in src.iterdir():
        p.unlink()
    src.rmdir()
    return zpath


def _tree(root: Path, skip: Path) -> dict[str, int]:
    """Every file under root (but skip) with its mtime. Files only, unlike test_batch._tree: OUTDIR is
    made inside root here, which changes root's own mtime by design."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(dirpath, d) != skip]
        for name in files:
            out[str(Path(dirpath, name).relative_to(root))] = Path(dirpath, name).stat().st_mtime_ns
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("moodle")
    z = build_download(root)
    out = root / "nilai"
    before = _tree(root.parent, out)
    started = datetime.now(timezone.utc)
    rc = main(["batch", str(z), "-o", str(out), "--format", "json,html,pdf", "--jobs", "2"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"root": root, "zip": z, "out": out, "rc": rc, "summary": summary, "started": started,
            "changed": before != _tree(root.parent, out),
            "students": {s["student"]: s for s in summary["students"]}, "csv": {r["student"]: r for r in rows}}


def _status(s: dict) -> dict[str, str]:
    return {t: v["status"] for t, v in s["tasks"].items()}


def test_every_participant_is_one_row_with_name_id_and_score(graded: dict) -> None:
    st = graded["students"]
    assert set(st) == {"Siti Nurhaliza", "Dewi Lestari", "Bambang Pamungkas", "Participant 104", "Joko Susilo",
                       "Rina Wati", "../evil"}  # online text is no student; blind marking shows no name
    ids = {n: s["moodle_id"] for n, s in st.items()}
    assert ids == {"Siti Nurhaliza": "101", "Dewi Lestari": "102", "Bambang Pamungkas": "103",
                   "Participant 104": "104", "Joko Susilo": "105", "Rina Wati": "106", "../evil": None}
    assert _status(st["Siti Nurhaliza"]) == {"T1": "pass", "T2": "pass", "T3": "absent", "T4": "absent"}
    assert _status(st["Dewi Lestari"]) == {"T1": "absent", "T2": "pass", "T3": "pass", "T4": "pass"}
    assert st["Dewi Lestari"]["tasks"]["T4"]["verdict"] == "concurrent"
    assert _status(st["Bambang Pamungkas"]) == {"T1": "partial", "T2": "pass", "T3": "absent", "T4": "absent"}
    assert _status(st["Participant 104"]) == {"T1": "pass", "T2": "pass", "T3": "pass", "T4": "absent"}
    scores = {n: s["score"] for n, s in st.items()}
    assert scores == {"Siti Nurhaliza": 50, "Dewi Lestari": 75, "Bambang Pamungkas": 37.5, "Participant 104": 75,
                      "Joko Susilo": 0, "Rina Wati": 0, "../evil": 0}
    assert st["Rina Wati"]["captures"] == [] and {"code": "no-captures"} in st["Rina Wati"]["outliers"]
    csvrow = graded["csv"]["Bambang Pamungkas"]
    assert (csvrow["moodle id"], csvrow["score"], csvrow["T1"]) == ("103", "37.5", "partial")


def test_captures_inside_zips_and_folders_are_found_and_named_as_seen(graded: dict) -> None:
    st = graded["students"]
    files = {n: sorted(c["file"] for c in s["captures"]) for n, s in st.items()}
    assert files["Dewi Lestari"] == [
        "Dewi Lestari_102_assignsubmission_file/caps.zip/../../evil.pcap",
        "Dewi Lestari_102_assignsubmission_file/caps.zip/rahasia.pcap",
        "Dewi Lestari_102_assignsubmission_file/caps.zip/tugas1/t3.pcap",
        "Dewi Lestari_102_assignsubmission_file/caps.zip/tugas1/t4.pcap"]
    assert files["Bambang Pamungkas"] == ["Bambang Pamungkas_103_assignsubmission_file/minggu 1/nested/dns.cap",
                                          "Bambang Pamungkas_103_assignsubmission_file/tugas.txt"]
    errors = " | ".join(st["Dewi Lestari"]["errors"])
    assert "caps.zip/../../evil.pcap: refused: a path that climbs out of the zip" in errors
    assert "caps.zip/rahasia.pcap: encrypted (password-protected)" in errors
    assert "bomb.pcap: refused: expands more than" in st["Joko Susilo"]["errors"][0]
    assert "refused: a path that climbs out" in st["../evil"]["errors"][0]
    out = graded["out"]
    report = next(out.rglob("caps.zip_tugas1_t3.json"))
    assert json.loads(report.read_text())["capture"]["path"] == \
        "Dewi Lestari_102_assignsubmission_file/caps.zip/tugas1/t3.pcap"
    assert graded["rc"] == 1  # unreadable members are input problems


def test_nothing_is_written_outside_outdir_and_the_temporary_copies_are_gone(graded: dict) -> None:
    out = graded["out"]
    assert not graded["changed"]
    assert not list(out.glob(".progjar-unpack-*"))
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
    assert not (graded["root"] / "evil.pcap").exists() and not (graded["root"].parent / "evil.pcap").exists()


def test_one_combined_report_per_student_linked_from_csv_and_class_page(graded: dict) -> None:
    out, st = graded["out"], graded["students"]
    dewi = st["Dewi Lestari"]
    assert dewi["report"] == f"{dewi['safe']}/report.html" == graded["csv"]["Dewi Lestari"]["report"]
    page = (out / dewi["report"]).read_text(encoding="utf-8")
    assert "Dewi Lestari" in page and "Moodle participant 102" in page
    for tid in ("T1", "T2", "T3", "T4"):
        assert f'id="task-{tid}"' in page
    links = set(re.findall(r'href="#(c\d+-task-T\d)"', page))
    assert links and all(f'id="{a}"' in page for a in links)  # every evidence link lands in a capture's section
    assert len(re.findall(r'<section class="capture-part"', page)) == 2  # t3 and t4; the unreadable two are listed
    assert "rahasia.pcap" in page
    # no id repeats across the captures' sections (each ladder figure repeats its own arrow markers,
    # the same definitions, within one report already: those stay per section)
    ids = [i for i in re.findall(r'\sid="([^"]+)"', page) if not re.search(r"-ah\d+$", i)]
    assert len(ids) == len(set(ids)), "ids repeat across the captures' sections"
    assert {i.split("-")[0] for i in re.findall(r'\sid="(c\d+-[^"]+)"', page)} == {"c3", "c4"}
    cls = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{dewi["safe"]}/report.html#task-T4"' in cls
    pdf = out / dewi["safe"] / "report.pdf"
    text = " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "Student report" in text and "Dewi Lestari" in text and "102" in text
    assert len(PdfReader(str(pdf)).pages) >= 3


def test_the_worksheet_imports_into_moodle_with_grades_and_feedback(graded: dict) -> None:
    got = moodle_import(graded["out"] / "moodle-grades.csv", "en")
    assert set(got) == IDS  # "../evil" has no participant id: no row
    assert {k: v["grade"] for k, v in got.items()} == {"101": 50, "102": 75, "103": 37.5, "104": 75, "105": 0, "106": 0}
    for v in got.values():  # the run's own time, so a later grade in Moodle is never overwritten
        assert abs(v["modified"] - graded["started"]) < timedelta(minutes=5)
    siti = got["101"]["comments"]
    assert siti.startswith("Tugas 1: score 50 of 100.<br>T3 absent: ")
    assert "What to change: " in siti and "T1 " not in siti  # only tasks short of pass
    bambang = got["103"]["comments"]
    assert "T1 partial: " in bambang and "AAAA" in bambang
    assert "encrypted" in got["102"]["comments"]
    assert got["106"]["comments"].endswith("No capture (pcap or pcapng) was handed in.<br>T1 absent<br>T2 absent"
                                           "<br>T3 absent<br>T4 absent")
    assert "<script" not in "".join(v["comments"] for v in got.values())


def test_indonesian_gradebook_and_worksheet(graded: dict, tmp_path: Path) -> None:
    out = tmp_path / "nilai"
    assert main(["batch", str(graded["zip"]), "-o", str(out), "--format", "json", "--lang", "id",
                 "--moodle-lang", "id", "--weights", "T1=10,T2=10,T3=40,T4=40", "--jobs", "2"]) == 1
    text = (out / "summary.csv").read_bytes().decode("utf-8-sig")
    header, *lines = text.split("\r\n")
    assert header.startswith("mahasiswa;id moodle;nilai;T1;T2;T3;T4;kesimpulan;")  # ';' for an Indonesian spreadsheet
    rows = {r["mahasiswa"]: r for r in csv.DictReader(io.StringIO(text), delimiter=";")}
    assert rows["Bambang Pamungkas"]["nilai"] == "15" and rows["Bambang Pamungkas"]["T1"] == "sebagian"
    assert rows["Siti Nurhaliza"]["nilai"] == "20"
    assert rows["Dewi Lestari"]["kesimpulan"] == "T4 konkuren" and rows["Dewi Lestari"]["T2"] == "terpenuhi"
    assert "tidak mengumpulkan berkas tangkapan" in rows["Rina Wati"]["perlu diperiksa"]
    got = moodle_import(out / "moodle-grades.csv", "id")
    assert {k: v["grade"] for k, v in got.items()} == {"101": 20, "102": 90, "103": 15, "104": 60, "105": 0, "106": 0}
    assert got["101"]["comments"].startswith("Tugas 1: nilai 20 dari 100.<br>T3 tidak ditemukan: ")
    assert "Yang perlu diperbaiki: " in got["101"]["comments"]
    assert "caps.zip/rahasia.pcap tidak dapat dibaca: dienkripsi (dilindungi kata sandi)" in got["102"]["comments"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    dewi = next(s for s in summary["students"] if s["student"] == "Dewi Lestari")
    assert any("ditolak: jalurnya keluar dari zip (..)" in e for e in dewi["errors"])
    # and the comma-separated choice for a spreadsheet set to English
    assert main(["batch", str(graded["zip"]), "-o", str(out), "--format", "json", "--lang", "id",
                 "--csv-delimiter", ","]) == 1
    assert (out / "summary.csv").read_bytes().decode("utf-8-sig").startswith("mahasiswa,id moodle,nilai,")


def test_wrong_weights_are_a_usage_error_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    kernel_like_capture(tmp_path / "a.pcap", 1, tasks="1")
    for bad, why in (("T1=1,T2=1", "missing T3, T4"), ("T1=1,T2=1,T3=1,T9=1", "'T9=1'"),
                     ("T1=x,T2=1,T3=1,T4=1", "must be a number"), ("T1=0,T2=0,T3=0,T4=0", "above 0")):
        assert main(["batch", str(tmp_path), "-o", str(tmp_path / "o"), "--assignment", "tugas1",
                     "--weights", bad]) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert why in line
    assert not (tmp_path / "o").exists()


def test_files_that_are_not_captures_are_named_for_what_they_are(tmp_path: Path) -> None:
    """A screenshot saved as .pcapng and a hand-in of only a PDF and a picture: the feedback says what
    each file is and what to hand in instead, under the name the student gave it, in the grader's language."""
    z = tmp_path / "moodle.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Siti Nurhaliza_101_assignsubmission_file/t1.pcapng", b"\x89PNG\r\n\x1a\n" + bytes(64))
        zf.writestr("Dewi Lestari_102_assignsubmission_file/laporan.pdf", b"%PDF-1.7\n%...")
        zf.writestr("Dewi Lestari_102_assignsubmission_file/gambar/ss1.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
        zf.writestr("Bambang Pamungkas_103_assignsubmission_file/paket.pcap", b"No.     Time           Source\n")
        zf.writestr("Rina Wati_106_assignsubmission_onlinetext/onlinetext.html", "<p>Lupa upload.</p>")
    for lang, want in (("en", {"101": "t1.pcapng is not a capture: a PNG image, perhaps a screenshot; hand in the "
                                      "capture file Wireshark saves (File &gt; Save As, .pcapng)",
                               "102": "No capture (pcap or pcapng) was handed in, only 2 other file(s): "
                                      "gambar/ss1.png, laporan.pdf.",
                               "103": "paket.pcap is not a capture: Wireshark's plain text export of the packets",
                               "106": "No capture (pcap or pcapng) was handed in.<br>"}),
                       ("id", {"101": "t1.pcapng bukan berkas tangkapan: gambar PNG, mungkin tangkapan layar; "
                                      "kumpulkan berkas tangkapan yang disimpan Wireshark",
                               "102": "Tidak ada berkas tangkapan (pcap atau pcapng) yang dikumpulkan, hanya 2 "
                                      "berkas lain: gambar/ss1.png, laporan.pdf.",
                               "103": "paket.pcap bukan berkas tangkapan: hasil ekspor Wireshark berformat plain text",
                               "106": "Tidak ada berkas tangkapan (pcap atau pcapng) yang dikumpulkan.<br>"})):
        out = tmp_path / f"out-{lang}"
        assert main(["batch", str(z), "-o", str(out), "--format", "json,html", "--lang", lang, "--moodle-lang", lang,
                     "--assignment", "tugas1"]) == 1
        got = moodle_import(out / "moodle-grades.csv", lang)
        for pid, text in want.items():
            assert text in got[pid]["comments"], (lang, pid, got[pid]["comments"])
        assert "assignsubmission" not in got["101"]["comments"]  # the student's own file name, not Moodle's folder
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        dewi = next(s for s in summary["students"] if s["moodle_id"] == "102")
        assert dewi["outliers"] == [{"code": "no-captures-others", "n": 2, "files": ["gambar/ss1.png", "laporan.pdf"]}]
        cover = (out / dewi["safe"] / "report.html").read_text(encoding="utf-8")  # her report says what she handed in
        assert re.search(r"<th>(Other files handed in \(not captures\)|Berkas lain yang dikumpulkan \(bukan berkas "
                         r"tangkapan\))</th><td><span class=\"mono\">gambar/ss1.png</span><br><span class=\"mono\">"
                         r"laporan.pdf</span></td>", cover)
        siti = next(s for s in summary["students"] if s["moodle_id"] == "101")
        assert siti["outliers"] == [{"code": "not-captures", "n": 1}]  # readable, just not a capture: not "unreadable"
        rina = next(s for s in summary["students"] if s["moodle_id"] == "106")
        assert rina["outliers"] == [{"code": "no-captures"}]  # her online text is not a file she handed in
