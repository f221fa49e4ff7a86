"""What every lab scenario uses: start a program on a lab machine, capture, and describe it in the manifest.

A scenario module (servers/scenarios_*.py) gets a `Lab` on a built topology (servers/netlab.py) and returns
one manifest entry per capture: which machines ran which command when, what each program logged, where and
how the capture was taken (link type, packet count, sha256), and what a correct report must find in it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import signal
import struct
import sys
import time
from pathlib import Path
from typing import Callable, Optional

from servers.netlab import MACHINES, LabError, Proc, Topology

SCRIPTS = Path(__file__).resolve().parent
SERVER = MACHINES["mesin1"]


def progress(text: str) -> None:
    print(f"lab: {text}", flush=True)


def now_iso(t: Optional[float] = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if t is None else t, dt.timezone.utc)
    return stamp.isoformat(timespec="milliseconds")


def capture_linktypes(data: bytes, name: str) -> list[int]:
    """Link type of each interface in a pcap or pcapng file's bytes (to record, and to check, what was captured)."""
    magic = data[:4]
    for order in ("<", ">"):
        if struct.unpack(order + "I", magic)[0] in (0xA1B2C3D4, 0xA1B23C4D):
            return [struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF]
    if magic != b"\x0a\x0d\x0d\x0a":
        raise LabError(f"{name} is not a pcap or pcapng file")
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    types, pos = [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack(order + "II", data[pos:pos + 8])
        if btype == 1:
            types.append(struct.unpack(order + "H", data[pos + 8:pos + 10])[0])
        if blen < 12:
            break
        pos += blen
    return types


class Capture:
    """tcpdump (pcap) or dumpcap (pcapng) inside a namespace, stopped only once the traffic is over."""

    def __init__(self, topo: Topology, ns: str, iface: str, path: Path, buffer_kib: Optional[int] = None) -> None:
        self.topo, self.ns, self.iface, self.path = topo, ns, iface, path
        if path.suffix == ".pcapng":
            self.argv = ["dumpcap", "-i", iface, "-w", str(path)]
            self.ready = r"Capturing on"
        else:
            self.argv = ["tcpdump", "-i", iface, "-w", str(path), "-U", "--immediate-mode", "-n", "-Z", "root"]
            if iface == "any":
                self.argv += ["-y", "LINUX_SLL2"]
            self.ready = r"listening on"
        if buffer_kib:  # megabytes of traffic in a fraction of a second: a bigger kernel buffer drops nothing
            self.argv += ["-B", str(buffer_kib)]
        self.proc: Optional[Proc] = None
        self.packets: Optional[int] = None

    def start(self) -> None:
        self.proc = self.topo.spawn(self.argv[0], self.ns, self.argv)
        self.proc.wait_for(self.ready, 10)
        time.sleep(0.3)

    def stop(self) -> None:
        """Wait until the file stops growing (the last FIN/ACK is written), then SIGINT and wait."""
        assert self.proc is not None
        last, still_since, end = -1, time.monotonic(), time.monotonic() + 8
        while time.monotonic() < end:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size != last:
                last, still_since = size, time.monotonic()
            elif time.monotonic() - still_since >= 1.0:
                break
            time.sleep(0.1)
        os.kill(self.proc.popen.pid, signal.SIGINT)
        self.proc.wait(10)  # on a timeout the LabError ends the run, and Topology.destroy() stops it
        text = "\n".join(self.proc.lines())
        m = re.search(r"(\d+) packets? captured|Packets captured: (\d+)", text)
        self.packets = int(m.group(1) or m.group(2)) if m else None
        if not self.path.exists() or self.packets == 0:
            raise LabError(f"{self.argv[0]} on {self.ns} captured nothing")
        m = re.search(r"(\d+) packets? dropped by kernel|Packets dropped: (\d+)", text)
        dropped = int(m.group(1) or m.group(2)) if m else 0
        if dropped:  # a sample with holes would teach the wrong thing
            raise LabError(f"{self.argv[0]} on {self.ns} dropped {dropped} packets: the capture is incomplete "
                           "(run again, or with smaller --sizes)")

    def record(self) -> dict:
        data = self.path.read_bytes()
        return {"file": self.path.name, "format": "pcapng" if self.path.suffix == ".pcapng" else "pcap",
                "linktypes": capture_linktypes(data, self.path.name), "packets": self.packets, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "capture_point": f"{self.iface} in namespace {self.ns}", "capture_pid": self.proc.popen.pid,
                "capture_command": f"ip netns exec {self.ns} {' '.join(self.argv)}".replace(str(self.path),
                                                                                          self.path.name)}


class Lab:
    """Runs scenarios on a built topology and collects what the manifest says about each."""

    def __init__(self, topo: Topology, workdir: Path, dns: Proc, options: Optional[dict] = None) -> None:
        self.topo, self.workdir, self.dns = topo, workdir, dns
        self.options = options or {}  # per-assignment knobs, e.g. the ETS's sizes and client counts

    def machine_dir(self, host: str) -> Path:
        """The working folder of a machine (files a student would keep there); created on first use."""
        d = self.workdir / host
        d.mkdir(exist_ok=True)
        return d

    def fresh_dir(self, host: str, name: str) -> Path:
        """An empty folder in a machine's working folder (each scenario starts with its own server files)."""
        d = self.machine_dir(host) / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        return d

    def program(self, host: str, script: str, args: list[str], cwd: Optional[Path] = None) -> Proc:
        proc = self.topo.spawn(script.removesuffix(".py"), host,
                               [sys.executable, "-u", str(SCRIPTS / script), *args], cwd=cwd)
        proc.shown = f"python3 {script} {' '.join(args)}".strip()  # what the student types on that machine
        return proc

    def finish(self, proc: Proc, timeout: float, expect_rc: int = 0) -> dict:
        """Wait for a program; a different exit code than expected ends the run with its last log line."""
        rc = proc.wait(timeout)
        if rc != expect_rc:
            raise LabError(f"{proc.name} on {proc.ns} exited {rc}, not {expect_rc}: "
                           f"{(proc.lines() or ['no output'])[-1]}")
        return {"host": proc.ns, "address": MACHINES[proc.ns], "command": proc.shown, "pid": proc.popen.pid,
                "exit_code": rc, "start": now_iso(proc.started), "end": now_iso(proc.ended), "log": proc.lines()}

    def stop(self, proc: Proc, timeout: float = 15) -> dict:
        """Stop a server that runs until told (SIGTERM: it closes cleanly and exits 0), then finish it."""
        if proc.popen.poll() is None:
            os.kill(proc.popen.pid, signal.SIGTERM)
        return self.finish(proc, timeout)

    def scenario(self, key: str, capture_file: str, ns: str, iface: str,
                 body: Callable[[], tuple[list[dict], dict, str]], buffer_kib: Optional[int] = None) -> dict:
        """Capture while body() runs; body returns (steps, expected facts, what the capture shows)."""
        cap = Capture(self.topo, ns, iface, self.workdir / capture_file, buffer_kib)
        start = time.time()
        cap.start()
        steps, expected, shows = body()
        cap.stop()
        progress(f"{key}: {cap.packets} packets -> {capture_file}")
        return {"scenario": key, **cap.record(), "start": now_iso(start), "end": now_iso(), "shows": shows,
                "steps": steps, "expected": expected}


def logged(step: dict, pattern: str) -> list[str]:
    """The first group of every log line of a step that matches pattern (e.g. the replies a client got)."""
    rx = re.compile(pattern)
    return [m.group(1) for line in step["log"] if (m := rx.search(line))]
