"""`make bench`: speed and memory figures, each as a ratio against a baseline measured in the same run.

Every module tests/bench/bench_*.py exposes ``run(ctx: BenchContext) -> list[str]`` and prints its own
lines; this runner makes the shared 1,000,000-packet capture once (tests/bench/gen.py) and calls them.
`python -m tests.bench.run [name ...]` runs only the named benches (e.g. `reporter`, `lua`).
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BenchContext:
    outdir: Path
    big_capture: Path  # ~1,000,000 lab-like packets
    samples: Path
    python: str


def main(argv: list[str]) -> int:
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    packets = int(os.environ.get("BENCH_PACKETS", "1000000"))
    # named by size: a BENCH_PACKETS run must never reuse a capture of another size
    big = out / ("bench-1m.pcap" if packets == 1_000_000 else f"bench-{packets}.pcap")
    if not big.exists():
        from tests.bench.gen import generate

        t = time.perf_counter()
        n = generate(big, packets=packets)
        print(f"generated {big.name}: {n} packets in {time.perf_counter() - t:.1f} s", flush=True)
    ctx = BenchContext(out, big, ROOT / "samples" / "tugas1", sys.executable)
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = [n for n in names if not argv or n.removeprefix("bench_") in argv]
    lines: list[str] = []
    for name in wanted:
        mod = importlib.import_module(f"tests.bench.{name}")
        print(f"== {name}", flush=True)
        res = mod.run(ctx)
        lines += [f"{name}: {x}" for x in res]
    print("\n== summary")
    print("\n".join(lines))
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
