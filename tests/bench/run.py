"""`make bench`: speed and memory figures, each as a ratio against a baseline measured in the same run.

Every module tests/bench/bench_*.py exposes ``run(ctx: BenchContext) -> list[str]`` and prints its own
lines; this runner makes the shared 1,000,000-packet `long` capture once (tests/bench/shapes.py) and
calls them, the reporter's table first. Results go to bench-out/summary.txt (the lines) and
bench-out/results.json (every figure, with the machine's load), so a test or a note can quote them.
`python -m tests.bench.run [name ...]` runs only the named benches (e.g. `reporter`, `lua`).
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST = "bench_reporter"


@dataclass
class BenchContext:
    outdir: Path
    big_capture: Path  # ~1,000,000 lab-like packets: the `long` shape
    samples: Path
    python: str
    big_manifest: dict = field(default_factory=dict)  # shapes.Manifest of big_capture, as a dict
    big_generate_s: float | None = None  # None when reused from an earlier run
    results: dict = field(default_factory=dict)  # each bench may file structured figures here


def _long_capture(out: Path) -> tuple[Path, dict, float | None]:
    """bench-out/bench-1m.pcap and its manifest, made once and reused (plugin and render benches use it)."""
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    packets = int(os.environ.get("BENCH_PACKETS", str(round(1_000_000 * scale))))
    # named by size: a run of another size must never reuse this capture
    big = out / ("bench-1m.pcap" if packets == 1_000_000 else f"bench-{packets}.pcap")
    mpath = big.with_suffix(".json")
    if big.exists() and mpath.exists():
        return big, json.loads(mpath.read_text()), None
    from tests.bench.shapes import make

    print(f"generating the long capture ({packets:,} packets) ...", flush=True)
    t = time.perf_counter()
    m = make("long", big, packets=packets).to_json()
    took = time.perf_counter() - t
    mpath.write_text(json.dumps(m))
    print(f"generated {big.name}: {m['packets']:,} packets in {took:.1f} s", flush=True)
    return big, m, round(took, 2)


def _git_commit() -> str | None:
    try:
        p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                           timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return (p.stdout.strip() + ("+changes" if dirty else "")) or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def main(argv: list[str]) -> int:
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    from tests.bench.measure import tshark_version

    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load_start = os.getloadavg()
    big, manifest, took = _long_capture(out)
    ctx = BenchContext(out, big, ROOT / "samples" / "tugas1", sys.executable, manifest, took)
    names = sorted((p.stem for p in Path(__file__).parent.glob("bench_*.py")), key=lambda n: (n != FIRST, n))
    wanted = [n for n in names if not argv or n.removeprefix("bench_") in argv]
    lines: list[str] = []
    for name in wanted:
        mod = importlib.import_module(f"tests.bench.{name}")
        print(f"\n== {name}", flush=True)
        res = mod.run(ctx)
        if name == FIRST:
            lines += [f"== {name}", *res, ""]
        else:
            lines += [f"{name}: {x}" for x in res]
            ctx.results.setdefault(name.removeprefix("bench_"), {"lines": res})
    print("\n== summary")
    print("\n".join(lines))
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    results = {
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "tshark": tshark_version(),
                    "load_start": [round(x, 2) for x in load_start],
                    "load_end": [round(x, 2) for x in os.getloadavg()]},
        **ctx.results,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nfigures in {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
