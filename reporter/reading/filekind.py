"""What a file that is not a pcap or pcapng capture is, from its first bytes, said so a student can act.

Why: students hand in what they have at hand: a screenshot of Wireshark, their PDF report, the
packet list exported as text, a capture saved in another tool's format, a RAR archive. "unknown
file magic 89504e47" tells neither the student nor the lecturer anything; "a PNG image, perhaps a
screenshot" and what to hand in instead does. Only the kinds seen in hand-ins are named; anything
else keeps its magic bytes, which is the one fact there is. (A gzip-compressed capture is not one
of them: reporter/reading/archive.py decompresses it, as Wireshark reads it.)

``kind_of(head)`` -> (kind, facts); ``KINDS[kind]`` is the English sentence (the command line's),
grading/wording.py NOT_CAPTURE_ID the Indonesian one (class pages, Moodle feedback).
"""
from __future__ import annotations

import re
import zlib

GZIP_MAGIC = b"\x1f\x8b"
SAVE_AS = "hand in the capture file Wireshark saves (File > Save As, .pcapng)"

KINDS: dict[str, str] = {
    "empty": "an empty file",
    "gzip": "gzip-compressed, with no pcap or pcapng inside",
    "gzip-broken": "a gzip file that cannot be decompressed (damaged or cut short)",
    "image": "a {format} image, perhaps a screenshot; " + SAVE_AS,
    "pdf": "a PDF document; " + SAVE_AS + " as well as the report",
    "office": "a zip or an Office document (docx, xlsx, pptx); " + SAVE_AS,
    "archive": "a {format} archive, which is not read here; " + SAVE_AS + ", or a .zip of it",
    "other-capture": "a {format} capture, a format not read here; open it in Wireshark and save it as pcapng "
                     "(File > Save As)",
    "export": "Wireshark's {format} export of the packets (File > Export Packet Dissections), which holds "
              "no packets to analyse; " + SAVE_AS,
    "html": "an HTML page; " + SAVE_AS,
    "text": "a text file that starts with \u201c{start}\u201d; " + SAVE_AS,
    "unknown": "unknown file magic {magic}",
}

_IMAGES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))
_ARCHIVES = ((b"Rar!\x1a\x07", "RAR"), (b"7z\xbc\xaf\x27\x1c", "7-Zip"), (b"\xfd7zXZ\x00", "xz"),
             (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"))
_CAPTURES = ((b"GMBU", "Microsoft Network Monitor"), (b"snoop\x00\x00\x00", "snoop"))
# Wireshark's File > Export Packet Dissections: plain text (packet list or details), CSV, JSON, PDML, PSML
_EXPORTS = ((re.compile(rb'^\s*"No\.","Time"'), "CSV"),
            (re.compile(rb"^\s*No\.\s+Time\s"), "plain text"),
            (re.compile(rb"^\s*Frame 1: \d+ bytes"), "plain text"),
            (re.compile(rb'^\s*\[\s*\{\s*"_index"'), "JSON"),
            (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?<pdml\b"), "PDML"),
            (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?<psml\b"), "PSML"))
_HTML = re.compile(rb"^\s*(<!doctype html|<html)", re.IGNORECASE)
START_CHARS = 30  # of a text file's first line, in the sentence


def kind_of(head: bytes) -> tuple[str, dict]:
    """(kind, facts) for a file's first bytes (a few KB), when they are not a pcap or pcapng header."""
    if not head:
        return "empty", {}
    if head[:2] == GZIP_MAGIC:
        return ("gzip" if _inflates(head) else "gzip-broken"), {}
    for magic, name in _IMAGES:
        if head.startswith(magic):
            return "image", {"format": name}
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", {"format": "WebP"}
    if head[:2] == b"BM" and head[6:10] == b"\0\0\0\0" and len(head) >= 26:  # "BM", size, two zero reserved
        return "image", {"format": "BMP"}  # words: two letters alone would make "BMW ..." notes an image
    if head.startswith(b"%PDF-"):
        return "pdf", {}
    if head.startswith(b"PK\x03\x04"):
        return "office", {}
    for magic, name in _ARCHIVES:
        if head.startswith(magic):
            return "archive", {"format": name}
    for magic, name in _CAPTURES:
        if head.startswith(magic):
            return "other-capture", {"format": name}
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head  # a UTF-8 byte order mark
    for pattern, name in _EXPORTS:
        if pattern.match(body):
            return "export", {"format": name}
    if _HTML.match(body):
        return "html", {}
    start = _text_start(body)
    if start is not None:
        return "text", {"start": start}
    return "unknown", {"magic": head[:4].hex()}


def _inflates(head: bytes) -> bool:
    """Whether a gzip file's first bytes decompress to something (a capture inside is found before:
    reporter/reading/archive.py)."""
    try:
        return bool(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64))
    except zlib.error:
        return False


def describe(head: bytes) -> tuple[str, dict, str]:
    """(kind, facts, English sentence) for a file that is not a capture."""
    kind, facts = kind_of(head)
    return kind, facts, KINDS[kind].format(**facts)


def _text_start(body: bytes) -> str | None:
    """The first line of a text file (UTF-8, printable), shortened; None when the bytes are not text."""
    sample = body[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(sample) - 3:  # not just a character cut at the sample's end
            return None
        text = sample[: e.start].decode("utf-8")
    if not text.strip() or any(not (c.isprintable() or c in "\r\n\t") for c in text):
        return None
    first = " ".join(text.strip().splitlines()[0].split())
    return first if len(first) <= START_CHARS else first[: START_CHARS - 1].rstrip() + "\u2026"
