"""`progjar batch` on a class of 40 lab-size captures to HTML+PDF+JSON: wall time and peak memory.

Memory is the peak of the summed resident set of the batch process and all its workers, sampled
from /proc every 50 ms (no psutil). Baselines measured in the same run: the same class re-run
(everything up to date, from the cache) and one worker (--jobs 1) on a fifth of the class, to show
what the parallel, recycled workers buy on this machine.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from tests.bench.measure import python_env
from tests.classgen import variant

SAMPLES = ("t1", "t2", "t3", "t4-serial", "t4-thread")
TARGET_S = 60.0


def _tree_rss_kb(root: int) -> int:
    """Summed VmRSS of `root` and its descendants."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/status") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st.split("PPid:")[1].split()[0])
        kids.setdefault(ppid, []).append(int(d))
        if "VmRSS:" in st:
            rss[int(d)] = int(st.split("VmRSS:")[1].split()[0])
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += kids.get(p, [])
    return total


def _timed(args: list[str], python: str) -> tuple[float, int, int, float]:
    """(wall s, peak summed RSS KiB, exit code, CPU s of the whole process tree)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "reporter", "batch", *args], stdout=subprocess.DEVNULL, env=python_env(),
                            stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    peak = 0
    deadline = t + 900
    while proc.poll() is None and time.perf_counter() < deadline:
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers are reaped by batch, batch by us
    cpu = ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime
    return time.perf_counter() - t, peak, proc.returncode, cpu


def _make_class(root: Path, samples: Path, n: int) -> Path:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    found = [min(samples.glob(f"{s}*.pcap*")) for s in SAMPLES]
    for i in range(n):
        src = found[i % len(found)]
        (root / f"mahasiswa {i:02d}").mkdir()
        variant(src, root / f"mahasiswa {i:02d}" / src.name, seed=i + 1)
    return root


def run(ctx) -> list[str]:
    base = ctx.outdir / "batch"
    cls = _make_class(base / "class40", ctx.samples, 40)
    small = _make_class(base / "class8", ctx.samples, 8)
    for d in ("out40", "out8"):
        shutil.rmtree(base / d, ignore_errors=True)
    fmt = ["--format", "html,pdf,json"]
    wall, peak, rc, cpu = _timed([str(cls), "-o", str(base / "out40"), *fmt], ctx.python)
    again, _, rc2, _ = _timed([str(cls), "-o", str(base / "out40"), *fmt], ctx.python)
    one, peak1, rc1, _ = _timed([str(small), "-o", str(base / "out8"), *fmt, "--jobs", "1"], ctx.python)
    per_capture_serial = one / 8
    load = os.getloadavg()[0]
    lines = [
        (f"40 captures -> html+pdf+json + summary, {os.cpu_count()} workers: {wall:.1f} s "
         f"(target <= {TARGET_S:.0f} s: {'ok' if wall <= TARGET_S else 'OVER'}), exit {rc}"),
        (f"CPU time, batch + workers: {cpu:.1f} s = {cpu / 40:.2f} s per capture (load average {load:.1f} "
        f"on {os.cpu_count()} cores while measuring)"),
        f"peak memory, batch + workers summed: {peak / 1024:.0f} MiB (one worker on 8 captures: {peak1 / 1024:.0f} MiB)",
        f"one worker: {per_capture_serial:.2f} s per capture -> parallel speed-up x{per_capture_serial * 40 / wall:.2f}, exit {rc1}",
        f"re-run, all up to date: {again:.2f} s (x{again / wall:.3f} of the first run), exit {rc2}",
    ]
    for x in lines:
        print(x, flush=True)
    return lines
