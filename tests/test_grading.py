"""Class grading per assignment, output folders that cannot be written, and a student's combined
report from `progjar report --student` over several captures."""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest

from reporter import assignments
from reporter.assignments import Assignment, Service
from reporter.assignments.wording import Say
from reporter.cli import main
from reporter.model import Task
from tests.classgen import kernel_like_capture


def _six_tasks(report, inp) -> list[Task]:  # type: ignore[no-untyped-def]
    """A stand-in rubric with six tasks (Tugas 3 has T1-T6): task i passes when the capture has i
    connections carrying data to the fake service."""
    n = sum(1 for c in report.connections if c.service == "fake" and c.bytes.client_to_server)
    return [Task(f"T{i}", "pass" if i <= n else "fail", reason=f"{n} connection(s) to the fake service")
            for i in range(1, 7)]


FAKE_PORT = 7777


@pytest.fixture
def fake6(monkeypatch: pytest.MonkeyPatch) -> Assignment:
    a = Assignment(id="fake6", title=Say("Fake six: a test assignment", "Palsu enam: tugas uji"),
                   services=(Service("fake", FAKE_PORT, "echo", "tcp", Say("fake", "palsu")),), tasks=tuple(
                       f"T{i}" for i in range(1, 7)), task_names={}, task_service={}, rubric=_six_tasks)
    monkeypatch.setitem(assignments.catalogue(), "fake6", a)
    return a


def _csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_the_class_table_has_the_assignments_own_tasks(fake6: Assignment, tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    kernel_like_capture(cls / "ana.pcap", 1, tasks="2", other_port=FAKE_PORT)
    kernel_like_capture(cls / "budi.pcap", 2, tasks="1")
    out = tmp_path / "o"
    assert main(["batch", str(cls), "-o", str(out), "--assignment", "fake6", "--format", "json,html",
                 "--weights", "T1=50,T2=10,T3=10,T4=10,T5=10,T6=10"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["assignment"] == "fake6" and summary["tasks"] == ["T1", "T2", "T3", "T4", "T5", "T6"]
    rows = _csv(out / "summary.csv")
    assert [k for k in rows["ana"] if re.fullmatch(r"T\d", k)] == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert (rows["ana"]["T1"], rows["ana"]["T2"], rows["ana"]["score"]) == ("pass", "fail", "50")
    assert rows["budi"]["score"] == "0"
    page = (out / "index.html").read_text()
    assert page.count('<span class="b ') == 12 and "Fake six: a test assignment" in page
    assert "np:T6" in page  # the filter offers every task of the assignment


def test_auto_says_when_captures_are_judged_as_different_assignments(fake6: Assignment, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    kernel_like_capture(cls / "ana.pcap", 1)
    kernel_like_capture(cls / "budi.pcap", 2)
    kernel_like_capture(cls / "cici.pcap", 3, tasks="2", other_port=FAKE_PORT)
    out = tmp_path / "o"
    assert main(["batch", str(cls), "-o", str(out), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "judged as several assignments (tugas1: 2, fake6: 1); the class table shows tugas1" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"] == ["T1", "T2", "T3", "T4"] and summary["assignment_counts"] == {"tugas1": 2, "fake6": 1}
    cici = next(s for s in summary["students"] if s["student"] == "cici")
    assert {"code": "other-assignment", "n": 1, "ids": ["fake6"], "a": "tugas1"} in cici["outliers"]
    assert all(t["status"] == "absent" for t in cici["tasks"].values()) and cici["score"] == 0
    assert "cici" in _csv(out / "summary.csv") and "judged as fake6, not tugas1" in _csv(out / "summary.csv")["cici"]["to check"]


def test_information_is_not_counted_as_a_warning(tmp_path: Path) -> None:
    """Samples' ARP frames are "non-ip" warnings of severity info: the class column leaves them out."""
    from tests.test_batch import _sample

    cls = tmp_path / "kelas"
    cls.mkdir()
    src = _sample("t2")
    (cls / "ana.pcap").write_bytes(src.read_bytes())
    cut = (cls / "budi.pcap")
    cut.write_bytes(src.read_bytes()[:-9])
    out = tmp_path / "o"
    assert main(["batch", str(cls), "-o", str(out), "--format", "json"]) == 1
    ana_report = json.loads(next(out.glob("ana-*/ana.json")).read_text())
    assert [(w["code"], w["severity"]) for w in ana_report["warnings"]] == [("non-ip", "info")]
    st = {s["student"]: s for s in json.loads((out / "summary.json").read_text())["students"]}
    assert st["ana"]["warnings"] == 0
    assert st["budi"]["warnings"] == 1  # the cut: an error


@pytest.mark.parametrize("cmd", ["report", "batch"])
def test_an_output_folder_that_cannot_be_written_is_a_usage_error(cmd: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """Exit 2 with one line naming the folder, before any work. Root ignores file modes, so the
    folders here stay unwritable for root too: a path under a regular file, and /proc."""
    (tmp_path / "in").mkdir()
    cap = kernel_like_capture(tmp_path / "in" / "a.pcap", 1, tasks="1")
    src = str(cap) if cmd == "report" else str(tmp_path / "in")
    (tmp_path / "file").write_text("x")
    bad = [tmp_path / "file" / "reports", Path("/proc")]
    if os.geteuid() != 0:  # and, for anyone else, a folder without write permission
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        bad.append(ro)
    for outdir in bad:
        assert main([cmd, src, "-o", str(outdir), "--format", "json"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and str(outdir) in lines[0] and f"progjar {cmd}:" in lines[0], lines
        assert "Traceback" not in lines[0] and "internal error" not in lines[0]


def test_batch_on_one_capture_points_to_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import gzip

    cap = kernel_like_capture(tmp_path / "a.pcap", 1, tasks="1")
    (tmp_path / "b.bin").write_bytes(gzip.compress(cap.read_bytes()))  # found by what is inside
    (tmp_path / "c.txt").write_text("x")
    for src, want in ((cap, "one capture, not a class: report on it with `progjar report`"),
                      (tmp_path / "b.bin", "one capture, not a class"), (tmp_path / "c.txt", "neither a folder nor a zip")):
        assert main(["batch", str(src), "-o", str(tmp_path / "out")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"progjar batch: {src}: {want}"), lines


def test_report_with_a_student_writes_one_combined_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = kernel_like_capture(tmp_path / "dns.pcap", 1, tasks="1")
    b = kernel_like_capture(tmp_path / "echo.pcapng", 2, tasks="23", fmt="pcapng")
    out = tmp_path / "out"
    assert main(["report", str(a), str(b), "-o", str(out), "--student", "Ana Putri / 5025211001",
                 "--format", "html,json", "--lang", "id"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ana-putri-all.html", "dns.html", "dns.json", "echo.html",
                                                     "echo.json"]
    page = (out / "ana-putri-all.html").read_text(encoding="utf-8")
    assert '<html lang="id">' in page and "Laporan mahasiswa" in page
    assert "Ana Putri" in page and "NRP 5025211001" in page
    rows = dict(re.findall(r'<tr id="task-(T\d)">.*?<span class="chip (\w+)">', page, re.S))
    assert rows == {"T1": "pass", "T2": "pass", "T3": "pass", "T4": "absent"}  # best over both captures
    assert 'href="#c1-task-T1"' in page and 'id="c1-task-T1"' in page and 'id="c2-task-T2"' in page
    assert f"{a}" in page and f"{b}" in page
    assert "combined report of Ana Putri over 2 captures" in capsys.readouterr().err
    # one capture: its own report already carries the student
    out2 = tmp_path / "out2"
    assert main(["report", str(a), "-o", str(out2), "--student", "Ana Putri", "--format", "html"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["dns.html"]


def _class_zip(tmp_path: Path, n: int = 3) -> Path:
    import zipfile

    z = tmp_path / "kelas.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(n):
            zf.write(kernel_like_capture(tmp_path / f"{i}.pcap", 70 + i, tasks="1"), f"mhs{i}_{500 + i}_assignsubmission_file/t.pcap")
    return z


def test_ctrl_c_leaves_no_temporary_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    import reporter.grading.batch as batch

    seen = []

    def interrupted(path, opts, **kw):  # type: ignore[no-untyped-def]
        seen.append(list((tmp_path / "o").glob(".progjar-unpack-*/*")))
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "analyse", interrupted)
    assert main(["batch", str(_class_zip(tmp_path)), "-o", str(tmp_path / "o"), "--jobs", "1", "--format", "json"]) == 130
    assert seen and seen[0], "the captures were copied out of the zip into OUTDIR/.progjar-unpack-*"
    assert not list((tmp_path / "o").glob(".progjar-unpack-*"))
    assert "interrupted" in capsys.readouterr().err


def test_sigterm_leaves_no_temporary_copies(tmp_path: Path) -> None:
    """A batch stopped by SIGTERM (a closed terminal, a job scheduler) cleans up as on Ctrl-C."""
    import signal
    import subprocess
    import sys
    import time

    z = _class_zip(tmp_path)
    out = tmp_path / "o"
    code = ("import sys, time\nimport reporter.grading.batch as b\nreal = b.analyse\n"
            "def slow(*a, **k):\n    time.sleep(60)\n    return real(*a, **k)\n"
            f"b.analyse = slow\nfrom reporter.cli import main\nsys.exit(main(['batch', {str(z)!r}, '-o', {str(out)!r}, "
            "'--jobs', '1', '--format', 'json']))\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".progjar-unpack-*/*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(out.glob(".progjar-unpack-*/*")), "the run never copied anything out of the zip"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130 and "interrupted" in err
    assert not list(out.glob(".progjar-unpack-*"))


def test_a_class_flag_without_the_assignments_traffic_says_what_the_report_found(tmp_path: Path) -> None:
    """The "to check" flag of a student whose captures lack the assignment's traffic follows the
    report's own diagnosis: time-server traffic graded as Tugas 1 is "nothing on port 10000, 32444,
    only on port 45000", an echo on port 8080 gets the --port that judges it there, and only ARP
    frames keep "wrong interface?". In the grader's language."""
    from tests import craft
    from tests.conftest import SAMPLES_ROOT

    cls = tmp_path / "kelas"
    for name in ("Ana", "Budi", "Cici"):
        (cls / name).mkdir(parents=True)
    (cls / "Ana" / "waktu.pcap").write_bytes((SAMPLES_ROOT / "tugas2" / "tugas2-thread.pcap").read_bytes())
    kernel_like_capture(cls / "Budi" / "lain.pcap", 7, tasks="2", other_port=8080)
    craft.write_pcap(cls / "Cici" / "arp.pcap", [craft.Rec(craft.arp_frame(), 1.0 + i) for i in range(3)])
    for lang, want in (("en", {"Ana": "nothing on the assignment's port(s) 10000, 32444, only on port(s) 45000 (2)",
                               "Budi": "echo (port 8080) instead of the assignment's port(s) 10000, 32444: judge it "
                                       "there with --port echo=8080",
                               "Cici": "no lab traffic (wrong interface?)"}),
                       ("id", {"Ana": "tidak ada lalu lintas pada port tugas (10000, 32444), hanya pada port 45000 (2)",
                               "Budi": "echo (port 8080), bukan pada port tugas (10000, 32444): nilai di sana dengan "
                                       "--port echo=8080",
                               "Cici": "tidak ada lalu lintas lab (salah memilih antarmuka?)"})):
        out = tmp_path / f"nilai-{lang}"
        assert main(["batch", str(cls), "-o", str(out), "--assignment", "tugas1", "--format", "json",
                     "--lang", lang, "--csv-delimiter", ","]) == 0
        with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as f:
            rows = {r[next(iter(r))]: r for r in csv.DictReader(f)}
        for student, text in want.items():
            flags = rows[student]["to check" if lang == "en" else "perlu diperiksa"]
            assert text in flags.split("; "), (lang, student, flags)  # (beside "captured ... away")
        for student in want:  # and each student's report says the same
            [rep] = (out / next(p.name for p in out.iterdir() if p.name.startswith(student.lower()))).glob("*.json")
            assert "no-lab-traffic" in {w["code"] for w in json.loads(rep.read_text())["warnings"]}
