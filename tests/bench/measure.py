"""Measuring one command: wall time and the peak RSS of exactly that process; the baselines' scripts.

Why a launcher: the measured command runs as the only child of a small Python process, which
reads its peak RSS and CPU time with getrusage(RUSAGE_CHILDREN) and times it around Popen/wait. Measuring from
the bench process itself would be inflated: Linux carries the pre-exec RSS high-water mark of a
forked process across exec, and the bench holds manifests and tables.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAUNCH = """
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[3:])
try:
    rc = p.wait(timeout=float(sys.argv[2]))
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{ru.ru_maxrss} {wall} {ru.ru_utime + ru.ru_stime}")
sys.exit(rc if rc >= 0 else 128 - rc)
"""

# The reporter's own reader with no analysis: what the reporter could reach if analysis and
# output cost nothing. The compiled reader where the reporter takes it (reporter/analyses/fastpath.py:
# records read, frames classified, connections tracked), else records, link and IP/TCP/UDP headers
# decoded into the Python reader's packet objects.
READ_ONLY = """
import sys
from reporter.analyses import fastpath
from reporter.reading.capture import open_capture, iter_packets
cap = open_capture(sys.argv[1])
n = fastpath.read_only(cap)
if n is None:
    n = sum(1 for _ in iter_packets(cap))
print(cap.packets, n)
"""

# A bare dpkt decode loop, as a Python program written the obvious way would read the file (pcap or
# pcapng: dpkt's UniversalReader picks the reader by the file's magic).
DPKT_LOOP = """
import sys, dpkt
n = 0
with open(sys.argv[1], 'rb') as f:
    for ts, buf in dpkt.pcap.UniversalReader(f):
        eth = dpkt.ethernet.Ethernet(buf)
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
            tcp = ip.data
            n += len(tcp.data) + tcp.sport + tcp.seq + tcp.flags
print(n)
"""


@dataclass
class Run:
    wall: float  # seconds, from the launcher's Popen to the child's exit
    rss_mb: int  # peak resident set of the child, MiB
    cpu: float  # user + system seconds of the child: barely moved by other work on the machine
    rc: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


def measure(cmd: list[str], env: dict | None = None, timeout: float = 900, keep_out: bool = True) -> Run:
    """Run ``cmd`` once under the launcher. ``keep_out=False`` discards stdout (tshark's tables)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as stat:
        try:
            p = subprocess.run([sys.executable, "-c", LAUNCH, stat.name, str(timeout), *cmd],
                               stdout=out if keep_out else subprocess.DEVNULL, stderr=err,
                               stdin=subprocess.DEVNULL, env=env, cwd=ROOT, timeout=timeout + 30, check=False)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = -9
        out.seek(0)
        err.seek(0)
        fields = stat.read().split()
        kb, wall, cpu = (int(fields[0]), float(fields[1]), float(fields[2])) if len(fields) == 3 \
            else (0, float("nan"), float("nan"))
        return Run(wall, kb // 1024, cpu, rc, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))


def python_env() -> dict:
    """The environment for a Python child: this checkout's reporter first on the path, and Python's
    bytecode cache on, as an installed tool has it (pip compiles it at install). A machine whose
    environment sets PYTHONDONTWRITEBYTECODE would otherwise recompile ~50 modules on every run
    (~0.1 s, measured here), a cost no user pays."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def tshark_conv(capture: Path, home: Path, timeout: float = 1800) -> tuple[Run, int]:
    """`tshark -q -z conv,tcp -r FILE` with a private HOME: the run and its count of conversations."""
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    run = measure(["tshark", "-q", "-z", "conv,tcp", "-r", str(capture)], env, timeout)
    return run, sum(1 for line in run.out.splitlines() if "<->" in line)


def tshark_version() -> str:
    try:
        p = subprocess.run(["tshark", "--version"], capture_output=True, text=True, timeout=30, check=False)
        return p.stdout.splitlines()[0] if p.stdout else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
