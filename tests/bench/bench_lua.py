"""Cost of the Wireshark plugin: tshark with progjar.lua against the same tshark without it, on the
shared 1,000,000-packet lab-like capture, in the same run (targets: one pass <= 1.5x, -2 <= 2x).

Why several modes: `tshark -q` without a filter or tap skips dissection altogether, so "plain -q"
measures file reading only while the plugin (a post-dissector with field extractors) makes tshark
dissect every frame with a tree; the ratio there says little. The modes users actually run are
the summary lines (`tshark -r`) and field export (`-T fields`, what the tests and a grader's
scripts use), each in one pass and in two passes (`-2`).

A second capture measures the file server's worst case (ETS downloads of 10-100 MB): one GET answered
by a ~50 MB base64 JSON reply in MSS-sized segments. The plugin scans each segment once for the
reply's end and counts the base64 as it streams by (never keeping or rescanning the reply), so its
cost must stay per segment, not per reply; TCP desegmentation (pinfo.desegment_len) would hand the
dissector the whole reply so far on every segment, which grows quadratically (measured: 16 MB took
59 s). Timed through measure.py's launcher: wall time and peak RSS of each tshark, best of three.
"""
from __future__ import annotations

import base64
import os
import struct
import tempfile
import time
from pathlib import Path

from tests import wireshark
from tests.bench.measure import measure
from tests.craft import ACK, FIN, PSH, SYN, ethernet, ip_packet, tcp_options, tcp_segment

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "dissector" / "progjar.lua"

# (label, plain tshark args, plugin args, target ratio)
MODES = [
    ("one pass, summary lines", [], [], 1.5),
    ("one pass, -T fields", ["-T", "fields", "-e", "tcp.stream"], ["-T", "fields", "-e", "tcp.stream", "-e", "progjar.role"], 1.5),
    ("two passes -2, summary lines", ["-2"], ["-2"], 2.0),
    ("two passes -2, -T fields", ["-2", "-T", "fields", "-e", "tcp.stream"],
     ["-2", "-T", "fields", "-e", "tcp.stream", "-e", "progjar.role"], 2.0),
    ("-q (plain tshark does not dissect at all here)", ["-q"], ["-q"], None),
]


# The least a plugin built like progjar.lua can cost: the same registration (a dissector on the lab
# ports, a post-dissector for every frame) and the same TCP field extractors, called as the plugin
# calls them, with no tracking, no tree and a fixed Info text. Whatever the plugin costs above this
# is its own work; this floor says how much room a target leaves for it.
FLOOR_LUA = """
local p = Proto.new("pjfloor", "progjar floor")
local post = Proto.new("pjfloor_post", "progjar floor post-dissector")
local f_stream, f_seq = Field.new("tcp.stream"), Field.new("tcp.seq_raw")
local f_flags, f_payload = Field.new("tcp.flags"), Field.new("tcp.payload")
local seen = {}
function p.dissector(tvb, pinfo, tree)
    local fl, st, sq = f_flags(), f_stream(), f_seq()
    if fl and st and sq then
        local x = tvb:raw()
        seen[pinfo.number] = true
        pinfo.cols.protocol = "PROGJAR"
        pinfo.cols.info = "floor"
    end
    return tvb:len()
end
function post.dissector(tvb, pinfo, tree)
    if seen[pinfo.number] then return end
    if pinfo.dst_port == 10000 or pinfo.src_port == 10000 or pinfo.dst_port == 32444 or pinfo.src_port == 32444 then
        local fp, fl = f_payload(), f_flags()
    end
end
register_postdissector(post)
DissectorTable.get("tcp.port"):add(10000, p)
DissectorTable.get("tcp.port"):add(32444, p)
"""


def _timed(stage: wireshark.Stage, args: list[str], out: Path) -> float:
    """Seconds of one tshark run, run as tests/wireshark.py runs it (as nobody when we are root, so
    that Wireshark 4.2+ load the plugin at all; plain runs the same way, for a fair ratio)."""
    args = stage.args(args)
    t = time.perf_counter()
    with open(out, "wb") as fh:
        p = stage.run("tshark", args, stdout=fh, timeout=3600)
    dt = time.perf_counter() - t
    err = p.stderr
    if p.returncode != 0 or "Lua" in err:
        raise RuntimeError(f"tshark {' '.join(args)}: {err.strip()[:500]}")
    return dt


def _labelled(out: Path, fields: bool) -> int:
    """Frames the plugin labelled in tshark's output: a last -T fields column that is set, or the
    Protocol column the plugin sets on summary lines."""
    with open(out, "rb") as fh:
        if fields:
            return sum(1 for line in fh if line.rstrip(b"\n").split(b"\t")[-1])
        return sum(1 for line in fh if b" PROGJAR " in line)


def write_download_capture(path: Path, b64_len: int = 50_000_000, mss: int = 1448, port: int = 6666) -> tuple[int, int]:
    """One file-server connection: `GET big.bin` (no terminator, as the lecturer's client sends it)
    answered by a JSON reply whose data_file is ~b64_len bytes of base64, in `mss`-byte segments,
    the client ACKing every second one. Returns (frames written, decoded file size)."""
    size = b64_len * 3 // 4 - 2  # padding "==" at the end
    body = (bytes(range(256)) * (size // 256 + 1))[:size]
    reply = (b'{"status": "OK", "data_namafile": "big.bin", "data_file": "' + base64.b64encode(body)
             + b'"}\r\n\r\n')
    del body
    cli, srv, cport, request = "172.16.16.102", "172.16.16.101", 40000, b"GET big.bin"
    t = 1_763_900_000 * 1_000_000
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    ipid = 0

    def emit(from_client: bool, seq: int, ack: int, flags: int, payload: bytes = b"", opts: bytes = b"") -> None:
        nonlocal t, ipid
        src, dst, sp, dp = (cli, srv, cport, port) if from_client else (srv, cli, port, cport)
        ipid = (ipid + 1) & 0xFFFF
        frame = ethernet(ip_packet(src, dst, 6, tcp_segment(src, dst, sp, dp, seq, ack, flags, payload, options=opts),
                                   ip_id=ipid))
        t += 20
        out.append(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame)

    c, s = 1000, 5000
    emit(True, c, 0, SYN, opts=tcp_options())
    emit(False, s, c + 1, SYN | ACK, opts=tcp_options())
    emit(True, c + 1, s + 1, ACK)
    emit(True, c + 1, s + 1, PSH | ACK, request)
    c, s = c + 1 + len(request), s + 1
    for k, i in enumerate(range(0, len(reply), mss)):
        piece = reply[i:i + mss]
        emit(False, s + i, c, ACK | (PSH if i + mss >= len(reply) else 0), piece)
        if k % 2:
            emit(True, c, s + i + len(piece), ACK)
    s += len(reply)
    emit(True, c, s, ACK)
    emit(True, c, s, FIN | ACK)
    emit(False, s, c + 1, FIN | ACK)
    emit(True, c + 1, s + 1, ACK)
    with open(path, "wb") as fh:
        fh.write(b"".join(out))
    return len(out) - 1, size


def _measured(args: list[str], home: Path, out: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one tshark run, started by measure.py's small launcher.

    Not os.wait4 on a child of this process: Linux carries a process's peak RSS across exec, so a
    child forked from this bench (hundreds of MB by now) reported the bench's own peak (717 MB for
    every run), not tshark's."""
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    r = measure(["tshark", *args], env=env)
    out.write_text(r.out)
    if not r.ok or "Lua" in r.err:
        raise RuntimeError(f"tshark {' '.join(args)}: {r.err.strip()[:500]}")
    return r.wall, r.rss_mb * 1024


DOWNLOAD_MODES = [
    ("one pass, summary lines", [], []),
    ("one pass, -T fields", ["-T", "fields", "-e", "tcp.stream"],
     ["-T", "fields", "-e", "tcp.stream", "-e", "progjar.msg.file_len"]),
    ("two passes -2, -T fields", ["-2", "-T", "fields", "-e", "tcp.stream"],
     ["-2", "-T", "fields", "-e", "tcp.stream", "-e", "progjar.msg.file_len"]),
]


def run_download(d: Path, home: Path, b64_len: int = 50_000_000, repeat: int = 3) -> list[str]:
    """tshark with and without the plugin on a ~50 MB GET reply; the plugin must report its size."""
    cap = d / "download.pcap"
    frames, size = write_download_capture(cap, b64_len)
    out = d / "download.txt"
    lines = [f"download capture: {frames} frames, {cap.stat().st_size / 1e6:.0f} MB, one GET reply of "
             f"{b64_len / 1e6:.0f} MB base64 ({size:,} bytes decoded)"]
    for label, plain, plugin in DOWNLOAD_MODES:
        best_plain, best_plugin = (float("inf"), 0), (float("inf"), 0)
        for _ in range(repeat):  # interleaved, best of each: the machine may be busy
            best_plain = min(best_plain, _measured(["-r", str(cap), *plain], home, out))
            best_plugin = min(best_plugin, _measured(["-r", str(cap), "-X", f"lua_script:{PLUGIN}", *plugin], home, out))
        text = out.read_text()
        if "fields" in " ".join(plugin):
            if f"\t{size}\n" not in text:
                raise RuntimeError(f"the plugin did not report the {size}-byte file in {label}")
        elif f"GET big.bin -> OK ({size:,} bytes)" not in text:
            raise RuntimeError(f"the plugin did not label the reply in {label}")
        ratio = best_plugin[0] / best_plain[0]
        lines.append(f"50 MB download, {label}: plain {best_plain[0]:.2f} s ({best_plain[1] / 1024:.0f} MB), "
                     f"with plugin {best_plugin[0]:.2f} s ({best_plugin[1] / 1024:.0f} MB) = {ratio:.2f}x")
    for line in lines:
        print(line, flush=True)
    return lines


def run(ctx) -> list[str]:
    """Time each mode with and without the plugin; lines like 'one pass, -T fields: 1.31x (...)'."""
    cap = Path(ctx.big_capture)
    lines: list[str] = []
    n_summary = -1
    ws = wireshark.host()
    if ws is None:
        raise RuntimeError("no tshark on this machine")
    with ws.stage() as st:
        out = st.dir / "out.txt"
        for label, plain, plugin, target in MODES:
            t_plain = _timed(st, ["-r", str(cap), *plain], out)
            t_plugin = _timed(st, ["-r", str(cap), "-X", f"lua_script:{PLUGIN}", *plugin], out)
            labelled = ""
            if "-q" not in plugin:  # -q prints nothing to count
                n = _labelled(out, "fields" in plugin)
                labelled = f", {n} frames labelled"
                if n == 0:
                    raise RuntimeError("the plugin labelled nothing: the comparison would be meaningless")
                if not plain and not plugin:
                    n_summary = n  # what the floor below must label too
            ratio = t_plugin / t_plain if t_plain > 0 else float("inf")
            verdict = "" if target is None else (f" (target <= {target}x: {'met' if ratio <= target else 'NOT met'})")
            line = f"{label}: plain {t_plain:.1f} s, with plugin {t_plugin:.1f} s = {ratio:.2f}x{verdict}{labelled}"
            print(line, flush=True)
            lines.append(line)
        floor = st.dir / "floor.lua"
        floor.write_text(FLOOR_LUA)
        t_plain = _timed(st, ["-r", str(cap)], out)  # measured next to the floor, as each mode above
        t_floor = _timed(st, ["-r", str(cap), "-X", f"lua_script:{floor}"], out)
        n = _labelled(out, False)
        if n != n_summary:
            raise RuntimeError(f"the floor script labelled {n} frames, the plugin {n_summary}: not the same work")
        line = (f"floor (same registration and TCP field extractors, no work), one pass, summary lines: "
                f"plain {t_plain:.1f} s, floor {t_floor:.1f} s = {t_floor / t_plain:.2f}x, {n} frames labelled")
        print(line, flush=True)
        lines.append(line)
    with tempfile.TemporaryDirectory(prefix="bench-lua-") as d:  # the 50 MB download: a capture of its own
        home = Path(d) / "home"
        home.mkdir()
        lines += run_download(Path(d), home)
    return lines


if __name__ == "__main__":  # the download measure alone: python -m tests.bench.bench_lua [MB]
    import sys

    with tempfile.TemporaryDirectory(prefix="bench-lua-") as d:
        h = Path(d) / "home"
        h.mkdir()
        run_download(Path(d), h, int(float(sys.argv[1]) * 1e6) if len(sys.argv) > 1 else 50_000_000)
