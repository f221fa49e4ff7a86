"""Reporter speed and memory against tshark, measured in the same run on the same capture.

Why ratios: the machine's speed varies, so every figure is set against `tshark -q -z conv,tcp`
(the baseline a teaching assistant would otherwise use) and a bare dpkt decode loop, each run as
its own process and measured with os.wait4 (wall time, peak RSS of exactly that process).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.gen import one_connection

ROOT = Path(__file__).resolve().parents[2]

READ_ONLY = """
import sys
from reporter.reading.capture import open_capture, iter_packets
cap = open_capture(sys.argv[1])
n = 0
for p in iter_packets(cap):
    n += 1
print(cap.packets, n)
"""

DPKT_LOOP = """
import sys, dpkt
n = 0
with open(sys.argv[1], 'rb') as f:
    for ts, buf in dpkt.pcap.Reader(f):
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
            tcp = ip.data
            n += len(tcp.data) + tcp.sport + tcp.seq + tcp.flags
print(n)
"""


# The measured command runs under this small launcher, so its peak RSS is not inflated by the
# bench process it was forked from (Linux carries the pre-exec RSS high-water mark across exec).
LAUNCH = """
import resource, subprocess, sys
p = subprocess.Popen(sys.argv[3:])
try:
    rc = p.wait(timeout=float(sys.argv[2]))
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)
"""


def _measure(cmd: list[str], env: dict | None = None, timeout: float = 900) -> tuple[float, int, int, str, str]:
    """Run one command; (wall seconds, peak RSS in MB, exit status, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        t = time.perf_counter()
        try:
            p = subprocess.run([sys.executable, "-c", LAUNCH, rss.name, str(timeout), *cmd], stdout=out,
                               stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT, timeout=timeout + 30,
                               check=False)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = -9
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        kb = rss.read().strip()
        return (wall, int(kb) // 1024 if kb else 0, rc, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))


def run(ctx) -> list[str]:
    lines: list[str] = []
    big = str(ctx.big_capture)
    py = ctx.python
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    wall, rss, rc, out, err = _measure([py, "-c", READ_ONLY, big], env)
    if rc != 0:
        say(f"read+decode FAILED: {err.strip().splitlines()[-1:]}")
        return lines
    frames, decoded = (int(x) for x in out.split())
    read_pps = frames / wall
    say(f"read+decode only: {frames} frames ({decoded} packets) in {wall:.2f} s = {read_pps:,.0f} pps, "
        f"peak RSS {rss} MB")

    with tempfile.TemporaryDirectory() as home:
        tenv = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))
        twall, trss, trc, _, terr = _measure(["tshark", "-q", "-z", "conv,tcp", "-r", big], tenv)
    if trc != 0:
        say(f"tshark FAILED: {terr.strip()[-200:]}")
        tshark_pps = None
    else:
        tshark_pps = frames / twall
        say(f"tshark -q -z conv,tcp: {twall:.2f} s = {tshark_pps:,.0f} pps, peak RSS {trss} MB")

    dwall, _, drc, _, derr = _measure([py, "-c", DPKT_LOOP, big], env)
    dpkt_pps = frames / dwall if drc == 0 else None
    say(f"bare dpkt Ethernet/IP/TCP loop: {dwall:.2f} s = {frames / dwall:,.0f} pps" if drc == 0
        else f"dpkt loop FAILED: {derr.strip()[-200:]}")

    if tshark_pps:
        say(f"ratio read+decode/tshark = {read_pps / tshark_pps:.2f}x")
        if dpkt_pps:
            say(f"ratio dpkt/tshark = {dpkt_pps / tshark_pps:.2f}x")

    with tempfile.TemporaryDirectory() as outdir:
        rwall, rrss, rrc, _, rerr = _measure([py, "-m", "reporter", "report", big, "--format", "json",
                                              "-o", outdir], env)
        reports = list(Path(outdir).glob("*.json"))
        doc = json.loads(reports[0].read_text()) if reports else {}
    if rrc not in (0, 1) or not doc:
        say(f"progjar report FAILED (exit {rrc}): {rerr.strip()[-300:]}")
        return lines
    rep_pps = frames / rwall
    say(f"progjar report --format json: {rwall:.2f} s = {rep_pps:,.0f} pps, peak RSS {rrss} MB "
        f"({len(doc.get('connections', []))} connections, {len(doc.get('dns', []))} DNS lookups in the report)")
    if tshark_pps:
        verdict = "OK" if rep_pps >= 3 * tshark_pps and rrss <= 200 else "BELOW TARGET"
        say(f"ratio reporter/tshark = {rep_pps / tshark_pps:.2f}x (target >= 3x, RSS <= 200 MB): {verdict}")

    # Memory must not grow with one connection's packet count (streams are hashed, not kept).
    rss_by_size = {}
    for n in (20_000, 200_000):
        path = Path(ctx.outdir) / f"one-conn-{n}.pcap"
        if not path.exists():
            one_connection(path, n)
        with tempfile.TemporaryDirectory() as outdir:
            _, r, rc, _, _ = _measure([py, "-m", "reporter", "report", str(path), "--format", "json",
                                       "-o", outdir], env)
        rss_by_size[n] = r if rc in (0, 1) else None
    a, b = rss_by_size[20_000], rss_by_size[200_000]
    if a and b:
        say(f"one connection: 20k packets peak RSS {a} MB, 200k packets {b} MB "
            f"(growth {b - a:+d} MB for 10x the packets)")
    else:
        say(f"one-connection memory check FAILED: {rss_by_size}")
    return lines
