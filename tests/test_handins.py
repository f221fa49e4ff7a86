"""Who handed in what (reporter/grading/handins.py): Moodle's names in every version and setting,
and plain class folders, read into one hand-in per student."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from reporter.grading.handins import MoodleName, collect, parse_moodle
from reporter.reading.archive import Unpacker
from tests.classgen import kernel_like_capture


@pytest.mark.parametrize("entry,is_dir,want", [
    ("Siti Nurhaliza_101_assignsubmission_file", True, MoodleName("Siti Nurhaliza", "101", "file")),  # Moodle >= 4.1
    ("Siti Nurhaliza_101_assignsubmission_file_", True, MoodleName("Siti Nurhaliza", "101", "file")),  # 3.1 - 4.0
    ("Siti Nurhaliza_101_assignsubmission_onlinetext", True, MoodleName("Siti Nurhaliza", "101", "onlinetext")),
    ("Participant_7_assignsubmission_file", True, MoodleName("Participant 7", "7", "file")),  # blind marking
    ("Peserta_7_assignsubmission_file", True, MoodleName("Peserta 7", "7", "file")),  # ... in Indonesian
    ("Ana 2 Putri_55_assignsubmission_file_t 1_v2.pcap", False, MoodleName("Ana 2 Putri", "55", "file", "t 1_v2.pcap")),
    ("Siti Nurhaliza", True, None), ("t1.pcap", False, None), ("Ana_12_file", True, None),
])
def test_moodle_names(entry: str, is_dir: bool, want: MoodleName | None) -> None:
    assert parse_moodle(entry, is_dir) == want


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_flat_download_and_a_rezipped_wrapper(tmp_path: Path) -> None:
    cap = kernel_like_capture(tmp_path / "c.pcap", 1, tasks="1").read_bytes()
    z = _zip(tmp_path / "a.zip", {
        "Tugas 1 download/Ana Putri_55_assignsubmission_file_t1.pcap": cap,  # "download in folders" off
        "Tugas 1 download/Ana Putri_55_assignsubmission_file_laporan.pdf": b"%PDF",
        "Tugas 1 download/Budi_56_assignsubmission_onlinetext_onlinetext.html": b"<p>x</p>",
    })
    with Unpacker() as u:
        hs = collect(z, u)
        assert [(h.name, h.moodle_id, [r for r, _ in h.items], h.others) for h in hs] == [
            ("Ana Putri", "55", ["t1.pcap"], ["laporan.pdf"]), ("Budi", "56", [], [])]  # online text: not a file


def test_a_class_of_one_plain_folder_is_not_a_wrapper(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    (cls / "Siti" / "minggu 1").mkdir(parents=True)
    kernel_like_capture(cls / "Siti" / "minggu 1" / "t.pcap", 1, tasks="1")
    with Unpacker() as u:
        [h] = collect(cls, u)
    assert (h.name, h.moodle_id, [r for r, _ in h.items]) == ("Siti", None, ["minggu 1/t.pcap"])


def test_plain_files_folders_and_zips_mix(tmp_path: Path) -> None:
    cls = tmp_path / "kelas"
    cls.mkdir()
    cap = kernel_like_capture(tmp_path / "c.pcap", 1, tasks="1").read_bytes()
    (cls / "Ana.pcapng").write_bytes(cap)
    _zip(cls / "Budi.zip", {"tugas/t1.pcap": cap, "tugas/notes.txt": b"x"})
    (cls / "Cici").mkdir()
    (cls / "Cici" / "capture").write_bytes(cap)  # no extension: found by its magic
    (cls / "nilai.xlsx").write_bytes(b"PK\x03\x04 a spreadsheet, not a student")
    (cls / "README.txt").write_text("daftar mahasiswa")
    with Unpacker() as u:
        hs = collect(cls, u)
    assert [(h.name, [r for r, _ in h.items], [i.shown for _, i in h.items], h.others) for h in hs] == [
        ("Ana", ["Ana.pcapng"], ["Ana.pcapng"], []),
        ("Budi", ["tugas/t1.pcap"], ["Budi.zip/tugas/t1.pcap"], ["tugas/notes.txt"]),
        ("Cici", ["capture"], ["Cici/capture"], [])]  # the class's own README and spreadsheet: nobody's
