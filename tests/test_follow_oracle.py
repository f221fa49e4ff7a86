"""Wireshark as the oracle: our reassembled streams must equal `tshark -z follow,tcp,raw,N`.

Every crafted capture of tests/test_reassembly.py (conflicting retransmissions and out-of-order
copies included) is read by tshark 4.0 and by the TCP analysis. Around gaps: Wireshark's follow
output inserts a record "[N bytes missing in capture file]" (plus a NUL) where the receiver ACKed
bytes the capture never held; those records are dropped before comparing, because our stream
leaves gaps out (never zero-filled). Bytes queued behind a gap that nobody ACKed are delivered by
neither. Also checked per payload frame: our connection id is tcp.stream, our offset is the
relative tcp.seq - 1 (tcp.seq on a SYN, whose data starts after it), our length is tcp.len, and our tcp_analysis label is what tcp.analysis says
(a capture duplicate, which Wireshark flags as a retransmission, is ours "duplicate").
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import tshark
from tests.test_reassembly import CASES, analyse

_MISSING = re.compile(rb"\[\d+ bytes missing in capture file\]\x00?")


def follow_streams(path: Path, ids: list[int], home: Path) -> dict[int, tuple[str, bytes, bytes]]:
    """stream id -> (node 0 "ip:port", node 0's bytes, node 1's bytes) from tshark's raw follow."""
    args = ["-r", str(path), "-q"]
    for i in ids:
        args += ["-z", f"follow,tcp,raw,{i}"]
    out = tshark(args, home).stdout
    streams = {}
    for block in out.split("=" * 67):
        m = re.search(r"Filter: tcp\.stream eq (\d+)", block)
        if not m:
            continue
        node0 = re.search(r"Node 0: (\S+)", block).group(1)
        data: dict[bool, bytearray] = {False: bytearray(), True: bytearray()}
        for line in block.splitlines():
            text = line.strip()
            if not text or not re.fullmatch(r"[0-9a-f]+", text):
                continue
            chunk = bytes.fromhex(text)
            if _MISSING.fullmatch(chunk):
                continue
            data[line.startswith("\t")] += chunk
        streams[int(m.group(1))] = (node0, bytes(data[False]), bytes(data[True]))
    return streams


def tshark_segments(path: Path, home: Path) -> dict[int, tuple[int, int, int, str | None]]:
    """frame -> (tcp.stream, relative seq, tcp.len, tcp.analysis label) for payload frames but keep-alives."""
    fields = ["frame.number", "tcp.stream", "tcp.seq", "tcp.len", "tcp.analysis.retransmission",
              "tcp.analysis.out_of_order", "tcp.analysis.spurious_retransmission", "tcp.analysis.keep_alive",
              "tcp.flags.syn"]
    args = ["-r", str(path), "-T", "fields", "-E", "separator=|", "-Y", "tcp.len > 0"]
    for f in fields:
        args += ["-e", f]
    rows = {}
    for line in tshark(args, home).stdout.splitlines():
        no, stream, seq, ln, retr, ooo, spur, keepalive, syn = line.split("|")
        if keepalive:
            continue  # a keep-alive's filler byte: no frame note (the plugin never sees it either)
        label = "out_of_order" if ooo else "retransmission" if (retr or spur) else None
        # data on a SYN starts after it: relative seq 0 is the SYN, the payload's first byte is 1
        rows[int(no)] = (int(stream), int(seq) + (syn in ("1", "True")), int(ln), label)
    return rows


def assert_follow_equal(res, path: Path, home: Path, what: str = "") -> dict[int, tuple[bytes, bytes]]:
    """Our connections are tshark's tcp.stream, and each one's two streams (``res.streams``) are Follow
    TCP Stream's, byte for byte. Returns {id: (client -> server, server -> client)} as tshark has them."""
    ws = follow_streams(path, [c.id for c in res.connections], home)
    assert sorted(ws) == [c.id for c in res.connections], f"{what}: connection ids must be Wireshark's tcp.stream"
    out = {}
    for c in res.connections:
        node0, d0, d1 = ws[c.id]
        out[c.id] = (d0, d1) if node0.endswith(f":{c.client.port}") else (d1, d0)
        assert out[c.id] == res.streams[c.id], f"{what}: stream {c.id} differs from Wireshark's"
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_streams_equal_wireshark_follow(name: str, tmp_path: Path, tshark_home: Path) -> None:
    path = CASES[name](tmp_path)
    assert_follow_equal(analyse(path), path, tshark_home, name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_frame_notes_agree_with_tcp_analysis(name: str, tmp_path: Path, tshark_home: Path) -> None:
    path = CASES[name](tmp_path)
    res = analyse(path)
    ws = tshark_segments(path, tshark_home)
    assert sorted(int(k) for k in res.frames) == sorted(ws), "one note per payload frame on a lab port"
    for key, note in res.frames.items():
        stream, seq, ln, label = ws[int(key)]
        assert (note.conn, note.offset, note.len) == (stream, seq - 1, ln), f"frame {key}"
        if note.tcp_analysis == "duplicate":
            assert label == "retransmission", f"frame {key}: Wireshark calls a capture duplicate a retransmission"
        else:
            assert note.tcp_analysis == label, f"frame {key}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_wireshark_plugin_agrees_on_edge_cases(name: str, tmp_path: Path, ws) -> None:
    """The Lua plugin (dissector/progjar.lua) labels every edge-case frame as our `frames` does:
    role, client, stream, offset, len, echo.ok, and the wait within 1 ms (tests/test_dissector.py's
    frame-by-frame rule, here on the reassembly edge cases), on each Wireshark version."""
    from tests.test_dissector import assert_agreement

    assert_agreement(CASES[name](tmp_path), ws)


@pytest.mark.parametrize("name", sorted(CASES))
def test_handshake_rtt_is_wiresharks_initial_rtt(name: str, tmp_path: Path, tshark_home: Path) -> None:
    path = CASES[name](tmp_path)
    res = analyse(path, frames=False, keep=False)
    out = tshark(["-r", str(path), "-T", "fields", "-E", "separator=|", "-e", "tcp.stream",
                  "-e", "tcp.analysis.initial_rtt"], tshark_home).stdout
    irtt = {int(st): float(v) for st, v in (line.split("|") for line in out.splitlines()) if v}
    for conn in res.connections:
        if conn.handshake.complete:
            # a SYN captured twice: Wireshark counts from the second copy (microseconds later), we
            # from the first, as the capture duplicate is not a SYN of its own
            tol = 0.05 if conn.anomalies.capture_duplicates else 1e-3
            assert conn.handshake.rtt_ms == pytest.approx(irtt[conn.id] * 1000, abs=tol), f"{name} {conn.id}"
        else:
            assert conn.id not in irtt or conn.handshake.syn_frame is None
