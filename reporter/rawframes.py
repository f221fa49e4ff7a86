"""Frames of a capture held in memory, for the test tools that rewrite captures (tests/classgen.py).

Only an adapter now: the reading is reporter.capture's (``iter_records``, the report's own
pcap/pcapng loops), so there is one reader. Callers with a path should call that directly; this
module goes once tests/classgen.py and tests/test_batch.py do.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from reporter import capture as _capture


class NotReadable(Exception):
    """Not a pcap/pcapng file, or a file that is cut or damaged after its last readable frame."""


def iter_frames(raw: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Frames of a whole capture file held in memory, in file order: (link type, ns, bytes)."""
    for _iface, lt, ts, data in iter_records(raw):
        yield lt, ts, data


def iter_records(raw: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """As `iter_frames`, with the interface id first (0 for pcap), for tools that rewrite captures."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "capture")
        path.write_bytes(raw)
        try:
            cap = _capture.open_capture(path)
        except _capture.NotACapture as e:
            raise NotReadable(str(e).removeprefix(f"{path}: ")) from None
        for lt, iface, ts, data in _capture.iter_records(cap):
            yield iface, lt, ts, data
        if cap.truncated:
            raise NotReadable("; ".join(w.message for w in cap.problems))
