"""Cost of the Wireshark plugin: tshark with progjar.lua against the same tshark without it, on the
shared 1,000,000-packet lab-like capture, in the same run (targets: one pass <= 1.5x, -2 <= 2x).

Why several modes: `tshark -q` without a filter or tap skips dissection altogether, so "plain -q"
measures file reading only while the plugin (a post-dissector with field extractors) makes tshark
dissect every frame with a tree; the ratio there says little. The modes users actually run are
the summary lines (`tshark -r`) and field export (`-T fields`, what the tests and a grader's
scripts use), each in one pass and in two passes (`-2`).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

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


def _timed(args: list[str], home: Path, out: Path) -> float:
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    t = time.perf_counter()
    with open(out, "wb") as fh:
        p = subprocess.run(["tshark", *args], stdout=fh, stderr=subprocess.PIPE, env=env, timeout=3600,
                           stdin=subprocess.DEVNULL, check=False)
    dt = time.perf_counter() - t
    err = p.stderr.decode(errors="replace")
    if p.returncode != 0 or "Lua" in err:
        raise RuntimeError(f"tshark {' '.join(args)}: {err.strip()[:500]}")
    return dt


def run(ctx) -> list[str]:
    """Time each mode with and without the plugin; lines like 'one pass, -T fields: 1.31x (...)'."""
    cap = Path(ctx.big_capture)
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-lua-") as d:
        home = Path(d) / "home"
        home.mkdir()
        out = Path(d) / "out.txt"
        for label, plain, plugin, target in MODES:
            t_plain = _timed(["-r", str(cap), *plain], home, out)
            t_plugin = _timed(["-r", str(cap), "-X", f"lua_script:{PLUGIN}", *plugin], home, out)
            labelled = ""
            if "-q" not in plugin:  # -q prints nothing to count
                with open(out, "rb") as fh:
                    if "fields" in plugin:
                        n = sum(1 for line in fh if line.rstrip(b"\n").split(b"\t")[-1])
                    else:  # summary lines: the plugin sets the Protocol column
                        n = sum(1 for line in fh if b" PROGJAR " in line)
                labelled = f", {n} frames labelled"
                if n == 0:
                    raise RuntimeError("the plugin labelled nothing: the comparison would be meaningless")
            ratio = t_plugin / t_plain if t_plain > 0 else float("inf")
            verdict = "" if target is None else (f" (target <= {target}x: {'met' if ratio <= target else 'NOT met'})")
            line = f"{label}: plain {t_plain:.1f} s, with plugin {t_plugin:.1f} s = {ratio:.2f}x{verdict}{labelled}"
            print(line, flush=True)
            lines.append(line)
    return lines
