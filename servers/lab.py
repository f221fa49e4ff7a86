"""`progjar lab`: run the four tasks of Tugas 1 on a rebuilt lab network and capture each one.

The captures in samples/ come from here: real kernel TCP between namespaces (servers/netlab.py), the
programs a student runs (servers/*.py), and tcpdump/dumpcap. Next to the captures it writes manifest.json:
which hosts ran which command when, what each program logged, where and how each capture was taken
(link type, packet count, sha256), which task it evidences and what a correct report must find in it.
Everything the run created is removed at the end, also on Ctrl-C, SIGTERM or failure.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from servers.echo_client import LAB_MESSAGE
from servers.netlab import (
    BRIDGE,
    DNS_ADDRESS,
    DNS_NAME,
    MACHINES,
    NAMESPACES,
    SWITCH_NS,
    LabError,
    Proc,
    Topology,
    leftovers,
    remove_leftovers,
    run,
)

SCRIPTS = Path(__file__).resolve().parent
TOOLS = ("ip", "tcpdump", "dumpcap", "dnsmasq", "ethtool")
LOCK = Path("/run/progjar-lab.lock")
SERVER = MACHINES["mesin1"]
ECHO_PORT, FILE_PORT = 10000, 32444
T3_FILE = "t3-file.txt"
CAPTURES = {"t1": "t1-dns.pcapng", "t2": "t2-echo.pcap", "t3": "t3-file.pcap",
            "t4-serial": "t4-serial.pcap", "t4-thread": "t4-thread.pcap"}


def progress(text: str) -> None:
    print(f"lab: {text}", flush=True)


def now_iso(t: Optional[float] = None) -> str:
    stamp = dt.datetime.fromtimestamp(time.time() if t is None else t, dt.timezone.utc)
    return stamp.isoformat(timespec="milliseconds")


def t3_file_bytes() -> bytes:
    """The text file of task 3: deterministic, a few KB, so it needs several segments and can be checked."""
    abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lines = [f"{i:03d} Pemrograman Jaringan - Tugas 1 - isi berkas untuk echo di port {FILE_PORT} {abc[i % 26] * 8}\n"
             for i in range(1, 61)]
    return "".join(lines).encode()


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

    def __init__(self, topo: Topology, ns: str, iface: str, path: Path) -> None:
        self.topo, self.ns, self.iface, self.path = topo, ns, iface, path
        if path.suffix == ".pcapng":
            self.argv = ["dumpcap", "-i", iface, "-w", str(path)]
            self.ready = r"Capturing on"
        else:
            self.argv = ["tcpdump", "-i", iface, "-w", str(path), "-U", "--immediate-mode", "-n", "-Z", "root"]
            if iface == "any":
                self.argv += ["-y", "LINUX_SLL2"]
            self.ready = r"listening on"
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

    def record(self) -> dict:
        data = self.path.read_bytes()
        return {"file": self.path.name, "format": "pcapng" if self.path.suffix == ".pcapng" else "pcap",
                "linktypes": capture_linktypes(data, self.path.name), "packets": self.packets, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "capture_point": f"{self.iface} in namespace {self.ns}", "capture_pid": self.proc.popen.pid,
                "capture_command": f"ip netns exec {self.ns} {' '.join(self.argv)}".replace(str(self.path),
                                                                                          self.path.name)}


class Lab:
    """Runs the scenarios on a built topology and collects what the manifest says about each."""

    def __init__(self, topo: Topology, workdir: Path, dns: Proc) -> None:
        self.topo, self.workdir, self.dns = topo, workdir, dns

    def program(self, host: str, script: str, args: list[str]) -> Proc:
        proc = self.topo.spawn(script.removesuffix(".py"), host, [sys.executable, "-u", str(SCRIPTS / script), *args])
        proc.shown = f"python3 {script} {' '.join(args)}".strip()  # what the student types on that machine
        return proc

    def finish(self, proc: Proc, timeout: float) -> dict:
        rc = proc.wait(timeout)
        if rc != 0:
            raise LabError(f"{proc.name} on {proc.ns} failed (exit {rc}): {(proc.lines() or ['no output'])[-1]}")
        return {"host": proc.ns, "address": MACHINES[proc.ns], "command": proc.shown, "pid": proc.popen.pid,
                "exit_code": rc,
                "start": now_iso(proc.started), "end": now_iso(proc.ended), "log": proc.lines()}

    def scenario(self, key: str, ns: str, iface: str, body) -> dict:
        cap = Capture(self.topo, ns, iface, self.workdir / CAPTURES[key])
        start = time.time()
        cap.start()
        steps, expected, shows = body()
        cap.stop()
        progress(f"{key}: {cap.packets} packets -> {CAPTURES[key]}")
        return {"scenario": key, **cap.record(), "start": now_iso(start), "end": now_iso(), "shows": shows,
                "steps": steps, "expected": expected}

    def echo(self, port: int, mode: str, clients: dict[str, list[str]]) -> tuple[list[dict], Proc]:
        """Server on mesin1, the given clients started together; every program must succeed."""
        server = self.program("mesin1", "echo_server.py", ["--port", str(port), "--backlog", "1", "--mode", mode,
                                                             "--max-clients", str(len(clients))])
        server.wait_for(r"waiting for a connection", 10)
        running = [self.program(host, "echo_client.py", ["--server", SERVER, "--port", str(port), *extra])
                   for host, extra in clients.items()]
        steps = [self.finish(c, 60) for c in running]
        return [self.finish(server, 15), *steps], server

    def t1(self) -> dict:
        def body():
            before = len(self.dns.lines())
            steps = []
            for host in ("mesin1", "mesin2"):
                progress(f"t1: socket_info.py on {host}")
                steps.append(self.finish(self.program(host, "socket_info.py", []), 20))
            time.sleep(0.3)
            steps.append({"host": "dns", "address": MACHINES["dns"], "command": "dnsmasq (lab DNS server)",
                          "pid": self.dns.popen.pid,
                          "log": self.dns.lines()[before:]})
            answers = {"A": [DNS_ADDRESS], "AAAA": []}
            expected = {"task": "T1", "status": "pass", "tcp_connections": 0,
                        "dns": [{"client": MACHINES[h], "server": MACHINES["dns"], "name": DNS_NAME, "qtype": t,
                                 "rcode": "NOERROR", "answers": answers[t]}
                                for h in ("mesin1", "mesin2") for t in ("A", "AAAA")]}
            return steps, expected, ("socket_info.py on mesin1 then mesin2: getaddrinfo('www.its.ac.id', 80) "
                                     "sends an A and an AAAA query each; A answered 103.94.189.5, AAAA NOERROR "
                                     "without data. No TCP at all.")
        return self.scenario("t1", SWITCH_NS, BRIDGE, body)

    def t2(self) -> dict:
        def body():
            progress(f"t2: echo_server.py on mesin1:{ECHO_PORT}, echo_client.py on mesin2")
            steps, _ = self.echo(ECHO_PORT, "serial", {"mesin2": []})
            expected = {"task": "T2", "status": "pass", "client": MACHINES["mesin2"], "server": f"{SERVER}:{ECHO_PORT}",
                        "request_bytes": len(LAB_MESSAGE), "echo_segments": [32, 14], "first_fin_by": "client",
                        "message": LAB_MESSAGE}
            return steps, expected, ("Echo on port 10000: handshake, the 46-byte lab message in one segment, the "
                                     "echo as 32 + 14 bytes (server recv(32)), client closes first. Captured "
                                     "with tcpdump -i any: Linux cooked v2 (SLL2).")
        return self.scenario("t2", "mesin1", "any", body)

    def t3(self) -> dict:
        content = t3_file_bytes()
        path = self.workdir / T3_FILE
        path.write_bytes(content)

        def body():
            progress(f"t3: {len(content)}-byte file echoed on mesin1:{FILE_PORT}")
            steps, _ = self.echo(FILE_PORT, "serial", {"mesin2": ["--file", str(path)]})
            steps[1]["command"] = steps[1]["command"].replace(str(path), T3_FILE)
            expected = {"task": "T3", "status": "pass", "client": MACHINES["mesin2"], "server": f"{SERVER}:{FILE_PORT}",
                        "file": T3_FILE, "request_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            return steps, expected, (f"File echo on port 32444: {T3_FILE} ({len(content)} bytes) sent in several "
                                     "full-size segments, echoed back in many small ones; both directions equal "
                                     "the file.")
        return self.scenario("t3", "mesin1", "eth0", body)

    def t4(self, mode: str) -> dict:
        def body():
            progress(f"t4 ({mode}): clients on mesin2 and mesin3 at once, 3 sends 3 s apart (about "
                     f"{'12' if mode == 'serial' else '6'} s)")
            repeat = ["--repeat", "3", "--interval", "3"]
            steps, server = self.echo(ECHO_PORT, mode, {"mesin2": repeat, "mesin3": repeat})
            order = [m.group(1) for line in server.lines() if (m := re.search(r"connection from \('([\d.]+)'", line))]
            verdict = "serial" if mode == "serial" else "concurrent"
            expected = {"task": "T4", "status": "pass", "verdict": verdict, "server_mode": mode,
                        "clients": [MACHINES["mesin2"], MACHINES["mesin3"]], "served_order": order,
                        "second_client_wait": "> 2 s, after the first client's FIN" if mode == "serial"
                        else "< 0.5 s"}
            if mode == "serial":
                shows = ("Two clients against the single-threaded server (listen(1)): the second one's handshake "
                         "completes at once and its data is ACKed, but its first echo only comes after the first "
                         "client has closed (about 6 s later).")
            else:
                shows = "The same two clients against the threaded server: both are echoed at once, interleaved."
            return steps, expected, shows
        return self.scenario(f"t4-{mode}", "mesin1", "eth0", body)


def _plan(scenario: str, server_mode: Optional[str]) -> list[tuple[str, Optional[str]]]:
    if scenario == "all":
        return [("t1", None), ("t2", None), ("t3", None), ("t4", "serial"), ("t4", "thread")]
    return [(scenario, (server_mode or "serial") if scenario == "t4" else None)]


def _versions() -> dict:
    def first_line(argv: list[str]) -> str:
        try:
            p = run(argv, check=False, timeout=10)
        except LabError:
            return "unknown"
        return ((p.stdout or p.stderr).strip().splitlines() or ["unknown"])[0]
    return {"kernel": os.uname().release, "python": sys.version.split()[0],
            "tcpdump": first_line(["tcpdump", "--version"]),
            "dumpcap": first_line(["dumpcap", "--version"]), "dnsmasq": first_line(["dnsmasq", "--version"])}


def _run_lab(plan: list[tuple[str, Optional[str]]], workdir: Path) -> list[dict]:
    """Build the network, run the planned scenarios, always tear everything down; returns manifest entries."""
    topo = Topology(workdir, progress)
    try:
        topo.build()
        dns = topo.start_dns()
        lab = Lab(topo, workdir, dns)
        return [lab.t4(mode) if key == "t4" else getattr(lab, key)() for key, mode in plan]
    finally:
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            progress("removing namespaces, bridge and processes")
            topo.destroy()
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def write_outputs(entries: list[dict], workdir: Path, outdir: Path, started: float) -> None:
    """Copy the captures to OUTDIR and write manifest.json.

    Entries of an earlier run in the same folder whose capture was not redone are kept, so
    `--scenario t2 -o samples` refreshes one capture without dropping the others from the manifest.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    for e in entries:
        shutil.copyfile(workdir / e["file"], outdir / e["file"])
    if (workdir / T3_FILE).exists():
        shutil.copyfile(workdir / T3_FILE, outdir / T3_FILE)
    redone = {e["file"] for e in entries}
    try:
        earlier = json.loads((outdir / "manifest.json").read_text())["captures"]
    except (OSError, ValueError, KeyError, TypeError):
        earlier = []
    kept = [e for e in earlier if isinstance(e, dict) and e.get("file") not in redone
            and e.get("file") in CAPTURES.values() and (outdir / e["file"]).exists()]
    order = list(CAPTURES.values())
    manifest = {
        "schema": "progjar.lab-manifest/1", "generator": "progjar lab", "created": now_iso(started),
        "finished": now_iso(), "tools": _versions(),
        "topology": {"machines": MACHINES, "netmask": 24, "bridge": f"{BRIDGE} in namespace {SWITCH_NS}",
                     "interfaces": "eth0 in each machine namespace; TSO/GSO/GRO off; IPv6 off",
                     "dns": {"server": MACHINES["dns"], "software": "dnsmasq, authoritative for its.ac.id",
                             "records": {DNS_NAME: {"A": [DNS_ADDRESS], "AAAA": []}}}},
        "captures": sorted(kept + entries, key=lambda e: order.index(e["file"])),
    }
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    progress(f"wrote {', '.join(e['file'] for e in entries)} and manifest.json to {outdir}")


def _on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt()


def lab_command(scenario: str, server_mode: Optional[str], outdir: Path, force_clean: bool) -> int:
    """Entry point of `progjar lab`: 0 done, 1 a lab step failed (cleaned up), 2 cannot start."""
    if os.geteuid() != 0:
        print("progjar lab: needs root (it creates network namespaces); run it with sudo", file=sys.stderr)
        return 2
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"progjar lab: missing {', '.join(missing)} (run `make deps` as root)", file=sys.stderr)
        return 2
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        print(f"progjar lab: {outdir} exists and is not a folder", file=sys.stderr)
        return 2
    with open(LOCK if LOCK.parent.is_dir() else Path(tempfile.gettempdir()) / LOCK.name, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("progjar lab: another progjar lab run is in progress", file=sys.stderr)
            return 2
        try:
            found = leftovers()
        except LabError as e:
            print(f"progjar lab: {e}", file=sys.stderr)
            return 2
        if found and not force_clean:
            print(f"progjar lab: leftovers of an earlier run exist ({', '.join(found)}); "
                  "run again with --force-clean to remove them", file=sys.stderr)
            return 2
        old_term = signal.signal(signal.SIGTERM, _on_sigterm)
        workdir = Path(tempfile.mkdtemp(prefix="progjar-lab-"))
        try:
            if found:
                progress(f"--force-clean: removing {', '.join(found)}")
                remove_leftovers()
                still = leftovers()
                if still:
                    print(f"progjar lab: could not remove {', '.join(still)}", file=sys.stderr)
                    return 2
            started = time.time()
            entries = _run_lab(_plan(scenario, server_mode), workdir)
            write_outputs(entries, workdir, Path(outdir), started)
            return 0
        except LabError as e:
            print(f"progjar lab: {e}", file=sys.stderr)
            return 1
        except OSError as e:  # e.g. OUTDIR not writable
            print(f"progjar lab: {e.filename or outdir}: {e.strerror or e}", file=sys.stderr)
            return 1
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            signal.signal(signal.SIGTERM, old_term)


__all__ = ["lab_command", "t3_file_bytes", "capture_linktypes", "CAPTURES", "NAMESPACES"]
