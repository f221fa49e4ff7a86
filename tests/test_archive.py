"""Zips as hand-ins arrive (reporter/reading/archive.py): read member by member into a temporary
folder, never extracted by name, with limits, and `progjar report caps.zip` naming each capture
inside as the user sees it."""
from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest

from reporter.cli import main
from reporter.reading.archive import MAX_RATIO, ArchiveError, Unpacker, unsafe_member_name
from tests.classgen import kernel_like_capture


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name) if "\\" in name else name, data)
    return path


def flag_encrypted(data: bytes, member: str) -> bytes:
    """Set the "encrypted" bit of one member in both its local header and the central directory,
    as `zip -e` does (Python's zipfile cannot write encrypted zips)."""
    raw = bytearray(data)
    name = member.encode()
    for sig, flag_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 26, 30), (b"PK\x01\x02", 8, 28, 46)):
        pos = raw.find(sig)
        while pos >= 0:
            n = struct.unpack_from("<H", raw, pos + name_len_at)[0]
            if bytes(raw[pos + name_at:pos + name_at + n]) == name:
                struct.pack_into("<H", raw, pos + flag_at, struct.unpack_from("<H", raw, pos + flag_at)[0] | 1)
            pos = raw.find(sig, pos + 4)
    return bytes(raw)


@pytest.fixture
def cap(tmp_path: Path) -> bytes:
    return kernel_like_capture(tmp_path / "src.pcap", 5).read_bytes()


def test_every_problem_is_said_in_both_languages_with_the_same_facts() -> None:
    from reporter.grading.wording import ARCHIVE_ID
    from reporter.reading.archive import PROBLEMS

    assert PROBLEMS.keys() == ARCHIVE_ID.keys()
    for code, en in PROBLEMS.items():
        assert re.findall(r"\{(\w+)", en) == re.findall(r"\{(\w+)", ARCHIVE_ID[code]), code


def test_unsafe_names_are_refused() -> None:
    assert unsafe_member_name("inner/t1.pcapng") is None
    for evil in ("../evil.pcap", "a/../../evil.pcap", "/etc/x.pcap", "C:/x.pcap", "..\\evil.pcap", "a\0b.pcap"):
        assert unsafe_member_name(evil), evil


def test_members_are_copied_under_our_own_names_and_removed_on_close(tmp_path: Path, cap: bytes) -> None:
    z = _zip(tmp_path / "caps.zip", {"inner/t1.pcapng": cap, "../../evil.pcap": cap, "/abs.pcap": cap,
                                     "laporan.pdf": b"%PDF-1.4 ...", "renamed.txt": cap, "__MACOSX/._t1.pcapng": b"x"})
    before = sorted(p.name for p in tmp_path.iterdir())
    with Unpacker(tmp_parent=tmp_path) as u:
        items = {i.shown: i for i in u.items(z)}
        assert set(items) == {"inner/t1.pcapng", "../../evil.pcap", "/abs.pcap", "renamed.txt"}  # a PDF is no capture
        assert "climbs out" in items["../../evil.pcap"].problem and "absolute" in items["/abs.pcap"].problem
        with pytest.raises(ArchiveError):
            u.materialize(items["../../evil.pcap"])
        p = u.materialize(items["inner/t1.pcapng"])
        assert p.read_bytes() == cap and p.parent.parent == tmp_path and p.name.endswith(".pcapng")
        assert u.materialize(items["renamed.txt"]).read_bytes() == cap  # found by its magic
        tmp = p.parent
    assert not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left, nothing written by member name
    assert not (tmp_path.parent / "evil.pcap").exists()


def test_encrypted_broken_and_bomb_members_are_one_line_problems(tmp_path: Path, cap: bytes) -> None:
    data = _zip(tmp_path / "a.zip", {"secret.pcap": cap, "ok.pcap": cap}).read_bytes()
    (tmp_path / "a.zip").write_bytes(flag_encrypted(data, "secret.pcap"))
    bomb = _zip(tmp_path / "bomb.zip", {"bomb.pcap": b"\0" * (3 << 20)})
    with Unpacker() as u:
        items = {i.shown: i for i in u.items(tmp_path / "a.zip")}
        assert "encrypted" in items["secret.pcap"].problem and "\n" not in items["secret.pcap"].problem
        assert u.materialize(items["ok.pcap"]).read_bytes() == cap
        [b] = u.items(bomb)
        assert f"more than {MAX_RATIO} times" in b.problem
        (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
        [broken] = u.items(tmp_path / "broken.zip")
        assert broken.problem.startswith("not a readable zip")


def test_a_member_lying_about_its_size_is_cut_off(tmp_path: Path, cap: bytes) -> None:
    """The copy counts real bytes: a total limit stops a zip whose headers understate its content."""
    z = _zip(tmp_path / "a.zip", {"a.pcap": cap, "b.pcap": cap})
    with Unpacker(max_total=len(cap) + 10) as u:
        a, b = u.items(z)
        u.materialize(a)
        with pytest.raises(ArchiveError, match="expand to more than"):
            u.materialize(b)


def test_zips_nest_one_level_only(tmp_path: Path, cap: bytes) -> None:
    level2 = io.BytesIO()
    with zipfile.ZipFile(level2, "w") as z:
        z.writestr("deep.pcap", cap)
    level1 = io.BytesIO()
    with zipfile.ZipFile(level1, "w") as z:
        z.writestr("inner/t.pcap", cap)
        z.writestr("inner/more.zip", level2.getvalue())
    outer = _zip(tmp_path / "outer.zip", {"Ana/caps.zip": level1.getvalue()})
    with Unpacker() as u:
        items = {i.shown: i for i in u.items(outer)}
        assert set(items) == {"Ana/caps.zip/inner/t.pcap", "Ana/caps.zip/inner/more.zip"}
        assert items["Ana/caps.zip/inner/t.pcap"].problem is None
        assert "only one level" in items["Ana/caps.zip/inner/more.zip"].problem


def test_report_reads_a_zip_and_names_each_capture_inside_it(tmp_path: Path, cap: bytes,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    z = _zip(tmp_path / "caps.zip", {"inner/name.pcapng": cap, "t2.pcap": cap, "notes.txt": b"hi"})
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    out = tmp_path / "out"
    assert main(["report", str(z), "-o", str(out), "--format", "json"]) == 0
    paths = sorted(json.loads(p.read_text())["capture"]["path"] for p in out.glob("*.json"))
    assert paths == [f"{z}/inner/name.pcapng", f"{z}/t2.pcap"]  # as the user sees it, never a temporary path
    assert sorted(p.name for p in out.iterdir()) == ["name.json", "t2.json"]
    assert "progjar-unpack" not in capsys.readouterr().err
    assert list(systmp.iterdir()) == []  # the temporary copies are gone


def test_a_capture_in_a_zip_is_named_as_the_same_file_outside_one(tmp_path: Path, cap: bytes) -> None:
    """A report's name is the capture's name less its extension, whether it came in a zip or not
    (a member "t1.v2.pcap" used to lose ".v2" as well)."""
    (tmp_path / "t1.v2.pcap").write_bytes(cap)
    z = _zip(tmp_path / "caps.zip", {"week 1/t1.v2.pcap": cap})
    for src, out in ((tmp_path / "t1.v2.pcap", tmp_path / "plain"), (z, tmp_path / "zipped")):
        assert main(["report", str(src), "-o", str(out), "--format", "json", "-q"]) == 0
        assert [p.name for p in out.iterdir()] == ["t1.v2.json"]


def test_report_on_a_bad_zip_is_one_line_and_exit_2(tmp_path: Path, cap: bytes, capsys: pytest.CaptureFixture) -> None:
    data = _zip(tmp_path / "a.zip", {"secret.pcap": cap}).read_bytes()
    (tmp_path / "a.zip").write_bytes(flag_encrypted(data, "secret.pcap"))
    assert main(["report", str(tmp_path / "a.zip"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"progjar report: {tmp_path / 'a.zip'}/secret.pcap: encrypted (password-protected) in the zip: "
                   "cannot be read; ask for it without a password"]
    _zip(tmp_path / "empty.zip", {"notes.txt": b"no capture here"})
    assert main(["report", str(tmp_path / "empty.zip"), "-o", str(tmp_path / "o")]) == 2
    assert "no captures" in capsys.readouterr().err
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")
    assert main(["report", str(tmp_path / "broken.zip"), "-o", str(tmp_path / "o")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"progjar report: {tmp_path / 'broken.zip'}: not a readable zip")


def test_gzip_compressed_captures_are_read_as_wireshark_reads_them(tmp_path: Path, cap: bytes,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Wireshark's Save As "Compress with gzip" writes t1.pcapng.gz: found by name or by its bytes,
    in a folder or a zip, decompressed into the temporary folder (never beside the hand-in) and
    removed when released; a broken one is one line."""
    import gzip

    folder = tmp_path / "Ana"
    folder.mkdir()
    (folder / "t1.pcapng.gz").write_bytes(gzip.compress(cap))
    (folder / "renamed.bin").write_bytes(gzip.compress(cap))  # found by what is inside the gzip
    (folder / "notes.txt.gz").write_bytes(gzip.compress(b"not a capture"))  # a gzip, but no capture inside
    (folder / "cut.pcap.gz").write_bytes(gzip.compress(cap)[:-20])
    _zip(folder / "caps.zip", {"inner/t2.pcap.gz": gzip.compress(cap)})
    with Unpacker(tmp_parent=tmp_path) as u:
        items = {i.shown: i for i in u.items(folder)}
        assert set(items) == {"t1.pcapng.gz", "renamed.bin", "cut.pcap.gz", "caps.zip/inner/t2.pcap.gz"}
        assert u.others == [("notes.txt.gz",)]
        for name in ("t1.pcapng.gz", "renamed.bin", "caps.zip/inner/t2.pcap.gz"):
            p = u.materialize(items[name])
            assert p.read_bytes() == cap and p.parent.parent == tmp_path, name
        tmp = p.parent
        assert len(list(tmp.iterdir())) == 3  # the zip member's compressed copy is already gone
        u.release(items["t1.pcapng.gz"])
        assert len(list(tmp.iterdir())) == 2
        with pytest.raises(ArchiveError, match=r"^not a readable gzip file \(Compressed file ended"):
            u.materialize(items["cut.pcap.gz"])
    assert not tmp.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["caps.zip", "cut.pcap.gz", "notes.txt.gz", "renamed.bin",
                                                         "t1.pcapng.gz"]  # nothing written beside them
    # a gzip bomb stops at the ratio limit, counting the bytes it really expands to
    (tmp_path / "Budi").mkdir()
    (tmp_path / "Budi" / "bomb.pcap.gz").write_bytes(gzip.compress(b"\0" * (3 << 20)))
    with Unpacker() as u:
        [bomb] = u.items(tmp_path / "Budi")
        with pytest.raises(ArchiveError, match=f"more than {MAX_RATIO} times"):
            u.materialize(bomb)
    # progjar report: the same report as for the capture itself, named without .pcapng.gz
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    (tmp_path / "plain.pcapng").write_bytes(cap)
    for src in (folder / "t1.pcapng.gz", tmp_path / "plain.pcapng"):
        assert main(["report", str(src), "-o", str(tmp_path / src.name[:2]), "--format", "json", "-q"]) == 0
    [gz_json] = (tmp_path / "t1").iterdir()
    assert gz_json.name == "t1.json"
    gz_rep, plain_rep = json.loads(gz_json.read_text()), json.loads((tmp_path / "pl" / "plain.json").read_text())
    assert gz_rep["capture"]["path"] == str(folder / "t1.pcapng.gz")
    for r in (gz_rep, plain_rep):
        del r["capture"]["path"]
    assert gz_rep == plain_rep  # the sha256 is the capture's own, as for a zip member
    # two gzip'd captures of one name from two folders are two captures, each decompressed apart
    other = kernel_like_capture(tmp_path / "other.pcap", 6).read_bytes()
    for sub, data in (("x", cap), ("y", other)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "t.pcapng.gz").write_bytes(gzip.compress(data))
    assert main(["report", str(tmp_path / "x" / "t.pcapng.gz"), str(tmp_path / "y" / "t.pcapng.gz"),
                 "-o", str(tmp_path / "two"), "--format", "json", "-q"]) == 0
    shas = {json.loads((tmp_path / "two" / n).read_text())["capture"]["sha256"] for n in ("t.json", "t-2.json")}
    assert shas == {hashlib.sha256(cap).hexdigest(), hashlib.sha256(other).hexdigest()}
    assert list(systmp.iterdir()) == []
