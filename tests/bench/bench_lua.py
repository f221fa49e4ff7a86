"""Cost of the Wireshark plugin: tshark with progjar.lua against the same tshark without it, on the
shared 1,000,000-packet lab-like capture, in the same run (targets: one pass <= 1.5x, -2 <= 2x).

Why several modes: `tshark -q` without a filter or tap skips dissection altogether, so "plain -q"
measures file reading only while the plugin (a post-dissector with field extractors) makes tshark
dissect every frame with a tree; the ratio there says little. The modes users actually run are
the summary lines (`tshark -r`) and field export (`-T fields`, what the tests and a grader's
scripts use), each in one pass and in two passes (`-2`).
"""
from __future__ import annotations

import time
from pathlib import Path

from tests import wireshark

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
    return lines
