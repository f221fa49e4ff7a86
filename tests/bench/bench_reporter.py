"""The reporter on every shape of capture, against tshark and the bare-read ceiling, in one table;
then how its peak memory grows with connections and with bytes in one connection.

Why ratios: the machine's speed varies (and on this 2-core machine other work runs), so each
figure is set against `tshark -q -z conv,tcp` (what a teaching assistant would otherwise run)
measured in the same run on the same file, each command in its own process (measure.py). The
ceiling is the reporter's own reader with no analysis: what the reporter could reach at most.

Shapes (tests/bench/shapes.py): `long` (the original lab-like capture), `short` (many 14-frame echo
connections), `dns` (a third DNS), `bulk` (100 MB file-server transfers), and `long-ng`, `short-ng`:
`long` and `short` saved as Wireshark saves a capture (pcapng, what students hand in; `long-ng` is
re-written from the `long` capture itself). Captures other than `long` are generated into a temporary folder and deleted after use; BENCH_KEEP=1 keeps them in
bench-out/captures/ for the next run. BENCH_SCALE=0.05 runs everything at a twentieth of the size
(a smoke test); BENCH_REPEAT=3 keeps the best of three runs of each command; BENCH_SHAPES=short,bulk
picks shapes; BENCH_MEMORY=0 skips the memory runs.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

from tests.bench.measure import DPKT_LOOP, READ_ONLY, Run, measure, python_env, tshark_conv
from tests.bench.shapes import Manifest, as_pcapng, make

SHAPE_ORDER = ("long", "long-ng", "short", "short-ng", "dns", "bulk")


def _sizes(scale: float) -> dict[str, dict]:
    """Each shape's full size, times ``scale``."""
    return {
        "short": {"connections": max(10, round(71_429 * scale))},
        "short-ng": {"connections": max(10, round(71_429 * scale))},
        "dns": {"packets": max(300, round(1_000_000 * scale))},
        "bulk": {"transfer_bytes": max(30_000, round(100_000_000 * scale)), "downloads": 2, "uploads": 1},
    }


def _say(line: str = "") -> None:
    print(line, flush=True)


def _folder(ctx, stack: contextlib.ExitStack, keep: bool) -> Path:
    """Where a generated capture goes: bench-out/captures to keep (BENCH_KEEP=1), else a temporary
    folder the stack removes."""
    if keep:
        folder = Path(ctx.outdir) / "captures"
        folder.mkdir(exist_ok=True)
        return folder
    return Path(stack.enter_context(tempfile.TemporaryDirectory(dir=ctx.outdir, prefix="capture-")))


@contextlib.contextmanager
def _capture(ctx, shape: str, size: dict, label: str) -> Iterator[tuple[Path, Manifest, float | None]]:
    """A generated capture of ``shape`` at ``size``: (path, manifest, seconds to generate or None
    when reused). Deleted afterwards unless BENCH_KEEP=1."""
    keep = os.environ.get("BENCH_KEEP") == "1"
    tag = "-".join(f"{k}{v}" for k, v in sorted(size.items()))
    with contextlib.ExitStack() as stack:
        folder = _folder(ctx, stack, keep)
        path = folder / f"{shape}-{tag}.{'pcapng' if shape.endswith('-ng') else 'pcap'}"
        mpath = path.with_suffix(".json")
        if keep and path.exists() and mpath.exists():
            m = Manifest(**json.loads(mpath.read_text()))
            _say(f"  {label}: reusing {path.name} ({m.packets:,} packets)")
            yield path, m, None
            return
        _say(f"  {label}: generating ...")
        t = time.perf_counter()
        m = make(shape, path, **size)
        took = time.perf_counter() - t
        mpath.write_text(json.dumps(m.to_json()))
        _say(f"  {label}: generated {m.packets:,} packets, {m.file_bytes / 1e6:,.0f} MB in {took:.1f} s")
        yield path, m, took


@contextlib.contextmanager
def _long_ng(ctx) -> Iterator[tuple[Path, Manifest, float | None]]:
    """The `long` capture itself re-written as pcapng (the same frames and times): (path, manifest,
    seconds to write or None when reused). Deleted afterwards unless BENCH_KEEP=1."""
    keep = os.environ.get("BENCH_KEEP") == "1"
    big = Path(ctx.big_capture)
    with contextlib.ExitStack() as stack:
        folder = _folder(ctx, stack, keep)
        path = folder / f"{big.stem}-ng.pcapng"
        mpath = path.with_suffix(".json")
        if keep and path.exists() and mpath.exists() and mpath.stat().st_mtime >= big.stat().st_mtime:
            _say(f"  long-ng: reusing {path.name}")
            yield path, Manifest(**json.loads(mpath.read_text())), None
            return
        t = time.perf_counter()
        m = as_pcapng(big, path, Manifest(**ctx.big_manifest), "long-ng")
        took = time.perf_counter() - t
        mpath.write_text(json.dumps(m.to_json()))
        _say(f"  long-ng: {big.name} re-written as pcapng, {m.file_bytes / 1e6:,.0f} MB in {took:.1f} s")
        yield path, m, took


def _best(runs: list[Run]) -> Run:
    """The fastest successful run (each command is measured BENCH_REPEAT times): least wall and CPU
    time, highest peak RSS."""
    good = [r for r in runs if r.ok] or runs
    best = min(good, key=lambda r: r.wall)
    return Run(best.wall, max(r.rss_mb for r in good), min(r.cpu for r in good), best.rc, best.out, best.err)


def _reporter(ctx, path: Path) -> tuple[Run, dict]:
    """`python -m reporter report FILE --format json -o DIR`: the run and what its report counted."""
    with tempfile.TemporaryDirectory(dir=ctx.outdir, prefix="report-") as outdir:
        run = measure([ctx.python, "-m", "reporter", "report", str(path), "--format", "json", "-o", outdir],
                      python_env(), timeout=3600)
        found = list(Path(outdir).glob("*.json"))
        counted: dict = {}
        if found:
            doc = json.loads(found[0].read_text())
            counted = {"packets": doc["capture"]["packets"], "connections": len(doc["connections"]),
                       "dns": len(doc["dns"]),
                       "dns_answered": sum(1 for d in doc["dns"] if d.get("response_frame") is not None)}
    return run, counted


def measure_shape(ctx, shape: str, path: Path, m: Manifest, repeat: int) -> dict:
    """Reporter, tshark, reader ceiling and dpkt loop on one capture, interleaved ``repeat`` times."""
    rep_runs, tsh_runs, read_runs, dpkt_runs = [], [], [], []
    counted: dict = {}
    conversations = -1
    load = os.getloadavg()[0]
    env = python_env()
    with tempfile.TemporaryDirectory(prefix="bench-tshark-") as home:
        for _ in range(repeat):
            r, counted = _reporter(ctx, path)
            rep_runs.append(r)
            _say(f"    reporter {r.wall:.2f} s, {r.rss_mb} MB" + ("" if r.ok else f" (exit {r.rc})"))
            t, conversations = tshark_conv(path, Path(home))
            tsh_runs.append(t)
            _say(f"    tshark   {t.wall:.2f} s, {t.rss_mb} MB" + ("" if t.ok else f" (exit {t.rc})"))
            read_runs.append(measure([ctx.python, "-c", READ_ONLY, str(path)], env))
            dpkt_runs.append(measure([ctx.python, "-c", DPKT_LOOP, str(path)], env))
            _say(f"    reader   {read_runs[-1].wall:.2f} s, dpkt loop {dpkt_runs[-1].wall:.2f} s")
    rep, tsh, read, dp = (_best(x) for x in (rep_runs, tsh_runs, read_runs, dpkt_runs))
    n = m.packets

    def fig(r: Run) -> dict:
        return {"s": round(r.wall, 3), "cpu_s": round(r.cpu, 3), "pps": round(n / r.wall) if r.ok else None,
                "rss_mb": r.rss_mb,
                "exit": r.rc, "error": None if r.ok else r.err.strip()[-300:]}

    row = {"shape": shape, "packets": n, "connections": m.connections, "capture_mb": round(m.file_bytes / 1e6, 1),
           "load_1min": round(load, 2), "runs": repeat,
           "reporter": fig(rep), "tshark": fig(tsh), "read_ceiling": fig(read), "dpkt_loop": fig(dp),
           "reporter_counted": counted, "tshark_conversations": conversations, "manifest": m.to_json()}
    for key, r in (("ratio", rep), ("read_ratio", read), ("dpkt_ratio", dp)):
        row[key] = round(tsh.wall / r.wall, 2) if r.ok and tsh.ok else None
        row["cpu_" + key] = round(tsh.cpu / r.cpu, 2) if r.ok and tsh.ok and r.cpu > 0 else None
    row["checks"] = _checks(row, m)
    return row


def _checks(row: dict, m: Manifest) -> list[str]:
    """Disagreements between the generator, the reporter and tshark: each would make a figure suspect."""
    bad = []
    c = row["reporter_counted"]
    if c.get("packets") != m.packets:
        bad.append(f"reporter read {c.get('packets')} packets, generator wrote {m.packets}")
    if c.get("connections") != m.connections:
        bad.append(f"reporter found {c.get('connections')} connections, generator made {m.connections}")
    if row["tshark_conversations"] != m.connections:
        bad.append(f"tshark found {row['tshark_conversations']} conversations, generator made {m.connections}")
    if m.dns_queries and c.get("dns") != m.dns_queries:
        bad.append(f"reporter listed {c.get('dns')} DNS queries, generator sent {m.dns_queries}")
    return bad


def _k(pps: int | None) -> str:
    return f"{pps / 1000:,.0f}k/s" if pps else "failed"


def _x(v: float | None) -> str:
    return f"{v:.2f}x" if v is not None else "-"


COLUMNS = [  # (title, width); one header line, so the table pastes into a note as it is
    ("shape", 8), ("packets", 9), ("conns", 6), ("MB", 4), ("rep. s", 7), ("rep. pkt/s", 10), ("tshark s", 8),
    ("tshark pkt/s", 12), ("ratio", 6), ("cpu ratio", 9), ("rep. RSS MB", 11), ("tshark RSS MB", 13), ("read s", 6),
    ("read ratio", 10), ("dpkt ratio", 10), ("load", 4),
]


def shape_table(rows: list[dict]) -> list[str]:
    """The reporter table: one row per shape, with the checks that failed under it."""
    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, (_, w)) in enumerate(zip(cells, COLUMNS)))

    lines = [line([t for t, _ in COLUMNS])]
    lines.append("-" * len(lines[0]))
    for r in rows:
        rep, tsh, rd = r["reporter"], r["tshark"], r["read_ceiling"]
        lines.append(line([
            r["shape"], f"{r['packets']:,}", f"{r['connections']:,}", f"{r['capture_mb']:.0f}",
            f"{rep['s']:.2f}", _k(rep["pps"]), f"{tsh['s']:.2f}", _k(tsh["pps"]), _x(r["ratio"]), _x(r["cpu_ratio"]),
            str(rep["rss_mb"]), str(tsh["rss_mb"]), f"{rd['s']:.2f}", _x(r["read_ratio"]), _x(r["dpkt_ratio"]),
            f"{r['load_1min']:.1f}"]))
    lines.append("ratio = reporter pkt/s / tshark pkt/s by wall time (above 1: faster than `tshark -q -z conv,tcp`); "
                 "cpu ratio = the same by CPU time (user+system), steadier when other work shares the cores; "
                 "read = the reporter's own reader with no analysis (its ceiling); dpkt = a bare dpkt decode loop; "
                 "load = 1-min load average before the shape's runs")
    for r in rows:
        for problem in r["checks"]:
            lines.append(f"CHECK FAILED ({r['shape']}): {problem}")
        for who in ("reporter", "tshark", "read_ceiling", "dpkt_loop"):
            if r[who]["error"] is not None or r[who]["exit"] != 0:
                lines.append(f"{who} on {r['shape']}: exit {r[who]['exit']}: {r[who]['error']}")
    return lines


def _size_label(shape: str, size: dict) -> str:
    if shape == "short":
        return f"short, {size['connections']:,} connections"
    if shape == "bulk":
        b = size["transfer_bytes"]
        return f"one GET, {b / 1e6:g} MB" if b >= 1_000_000 else f"one GET, {b / 1e3:g} kB"
    return f"one echo connection, {size['packets']:,} packets"


def memory_runs(ctx, scale: float) -> list[dict]:
    """Peak RSS of `--format json` as connections grow and as one connection's bytes grow."""
    runs = [("short", {"connections": max(10, round(n * scale))}) for n in (10_000, 35_000, 70_000)]
    runs += [("bulk", {"transfer_bytes": max(30_000, round(mb * 1_000_000 * scale)), "downloads": 1, "uploads": 0})
             for mb in (100, 400)]
    runs += [("one_echo", {"packets": max(100, round(n * scale))}) for n in (20_000, 200_000)]
    out = []
    for shape, size in runs:
        label = _size_label(shape, size)
        with _capture(ctx, shape, size, label) as (path, m, gen_s):
            r, counted = _reporter(ctx, path)
        out.append({"what": label, "shape": shape, "size": size, "packets": m.packets,
                    "connections": m.connections, "capture_mb": round(m.file_bytes / 1e6, 1),
                    "generate_s": None if gen_s is None else round(gen_s, 2),
                    "reporter_s": round(r.wall, 2), "reporter_cpu_s": round(r.cpu, 2), "rss_mb": r.rss_mb,
                    "exit": r.rc,
                    "reporter_connections": counted.get("connections")})
        _say(f"    reporter {r.wall:.2f} s, peak RSS {r.rss_mb} MB" + ("" if r.ok else f" (exit {r.rc})"))
    return out


def memory_table(rows: list[dict]) -> list[str]:
    lines = [f"{'memory scaling (reporter --format json)':<38} {'packets':>9} {'capture MB':>10} {'time s':>7} "
             f"{'cpu s':>6} {'peak RSS MB':>11}"]
    for r in rows:
        note = "" if r["exit"] == 0 else f"  (exit {r['exit']})"
        lines.append(f"{r['what']:<38} {r['packets']:>9,} {r['capture_mb']:>10.0f} {r['reporter_s']:>7.2f} "
                     f"{r['reporter_cpu_s']:>6.2f} {r['rss_mb']:>11}{note}")
    short = [r for r in rows if r["shape"] == "short"]
    if len(short) >= 2 and short[-1]["connections"] > short[0]["connections"]:
        a, b = short[0], short[-1]
        per = (b["rss_mb"] - a["rss_mb"]) * 1024 / (b["connections"] - a["connections"])
        lines.append(f"growth with connections: {per:.1f} KiB per short connection "
                     f"({a['connections']:,} -> {b['connections']:,})")
    gets = [r for r in rows if r["shape"] == "bulk"]
    if len(gets) >= 2:
        a, b = gets[0], gets[-1]
        lines.append(f"growth with bytes in one connection: {b['rss_mb'] - a['rss_mb']:+d} MB from {a['what'][9:]} "
                     f"to {b['what'][9:]}")
    return lines


def run(ctx) -> list[str]:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "1")))
    wanted = [s for s in os.environ.get("BENCH_SHAPES", ",".join(SHAPE_ORDER)).split(",") if s]
    sizes = _sizes(scale)
    rows = []
    for shape in wanted:
        _say(f"shape {shape}:")
        if shape == "long":
            m = Manifest(**ctx.big_manifest)
            rows.append(measure_shape(ctx, shape, Path(ctx.big_capture), m, repeat))
            rows[-1]["generate_s"] = ctx.big_generate_s
            continue
        if shape == "long-ng":
            with _long_ng(ctx) as (path, m, took):
                rows.append(measure_shape(ctx, shape, path, m, repeat))
                rows[-1]["generate_s"] = None if took is None else round(took, 2)
            continue
        with _capture(ctx, shape, sizes[shape], shape) as (path, m, gen_s):
            rows.append(measure_shape(ctx, shape, path, m, repeat))
            rows[-1]["generate_s"] = None if gen_s is None else round(gen_s, 2)
    lines = shape_table(rows)
    lines.append("generated in: " + ", ".join(
        f"{r['shape']} {r['generate_s']:.1f} s" if r.get("generate_s") is not None else f"{r['shape']} (reused)"
        for r in rows))
    _say()
    _say("\n".join(lines))
    mem: list[dict] = []
    if os.environ.get("BENCH_MEMORY", "1") != "0":
        _say("\nmemory scaling:")
        mem = memory_runs(ctx, scale)
        mlines = memory_table(mem)
        _say()
        _say("\n".join(mlines))
        lines += [""] + mlines
    ctx.results["reporter"] = {"scale": scale, "repeat": repeat, "shapes": rows, "memory": mem, "table": lines}
    return lines
