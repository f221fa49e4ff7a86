"""What a file that is not a capture is (reporter/reading/filekind.py), and the command line saying it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reporter.reading.capture import NotACapture, open_capture
from reporter.reading.filekind import KINDS, kind_of

CASES = [
    (b"", "empty", {}),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcbH\xcd\xc9\xc9\xe7\x02\x00", "gzip", {}),  # "hello\n", cut
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-broken", {}),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff", "gzip-broken", {}),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image", {"format": "PNG"}),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image", {"format": "JPEG"}),
    (b"GIF89a\x01\x00", "image", {"format": "GIF"}),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image", {"format": "WebP"}),
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00" + bytes(12), "image", {"format": "BMP"}),
    (b"BMW 320i, catatan praktikum\n", "text", {"start": "BMW 320i, catatan praktikum"}),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "pdf", {}),
    (b"PK\x03\x04\x14\x00\x06\x00", "office", {}),
    (b"Rar!\x1a\x07\x01\x00", "archive", {"format": "RAR"}),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "archive", {"format": "7-Zip"}),
    (b"GMBU\x00\x02", "other-capture", {"format": "Microsoft Network Monitor"}),
    (b"snoop\x00\x00\x00\x00\x00\x00\x02", "other-capture", {"format": "snoop"}),
    (b"No.     Time           Source                Destination\n", "export", {"format": "plain text"}),
    (b"\xef\xbb\xbf\"No.\",\"Time\",\"Source\"\n", "export", {"format": "CSV"}),
    (b"Frame 1: 74 bytes on wire (592 bits)", "export", {"format": "plain text"}),
    (b'[\n  {\n    "_index": "packets-2026-11-30",', "export", {"format": "JSON"}),
    (b'<?xml version="1.0" encoding="utf-8"?>\n<pdml version="0">', "export", {"format": "PDML"}),
    (b"<!DOCTYPE html>\n<html><body>", "html", {}),
    (b"Nama: Budi\nNRP: 5025211000\n", "text", {"start": "Nama: Budi"}),
    (b"x" * 80, "text", {"start": "x" * 29 + "\u2026"}),
    (b"\x00\x01\x02\x03\x04\x05\xfe\xff", "unknown", {"magic": "00010203"}),
]


@pytest.mark.parametrize("head,kind,facts", CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_kind_of(head: bytes, kind: str, facts: dict) -> None:
    assert kind_of(head) == (kind, facts)
    KINDS[kind].format(**facts)  # every kind's sentence takes exactly its facts


def test_a_text_cut_in_the_middle_of_a_character_is_still_text() -> None:
    head = ("é" * 600).encode()[:1023] + b"\xc3"  # the sample ends inside a two-byte character
    assert kind_of(head)[0] == "text"


@pytest.mark.parametrize("head,kind,facts", CASES[1:], ids=[c[1] for c in CASES[1:]])
def test_open_capture_raises_with_the_kind(tmp_path: Path, head: bytes, kind: str, facts: dict) -> None:
    p = tmp_path / "hand-in.pcapng"
    p.write_bytes(head)
    with pytest.raises(NotACapture) as e:
        open_capture(p)
    assert (e.value.kind, e.value.facts) == (kind, facts)
    assert e.value.reason == KINDS[kind].format(**facts)


def test_a_device_is_not_called_missing(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "reporter", "report", "/dev/null", "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip() == ("progjar report: /dev/null: not a regular file (a device or a pipe); save the capture "
                                "to a file")


def test_the_command_line_says_what_a_screenshot_is(tmp_path: Path) -> None:
    shot = tmp_path / "tangkapan.pcapng"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    p = subprocess.run([sys.executable, "-m", "reporter", "report", str(shot), "-o", str(tmp_path / "out")],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip() == (f"progjar report: {shot}: not a pcap or pcapng capture: a PNG image, perhaps a "
                                "screenshot; hand in the capture file Wireshark saves (File > Save As, .pcapng)")


def test_every_kind_is_said_in_indonesian_with_the_same_facts() -> None:
    from reporter.grading.wording import NOT_CAPTURE_ID, not_capture_text

    assert set(NOT_CAPTURE_ID) == set(KINDS)
    for _head, kind, facts in CASES:
        said = not_capture_text({"kind": kind, **facts}, "id")
        assert said and "{" not in said and said != KINDS[kind].format(**facts)
