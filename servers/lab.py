"""`progjar lab`: run an assignment's scenarios on a rebuilt lab network and capture each one.

The captures in samples/ come from here: real kernel TCP between namespaces (servers/netlab.py), the
programs a student runs (servers/*.py), and tcpdump/dumpcap. Each assignment is one scenario module
(servers/scenarios_<assignment>.py: its scenario names, capture files and how to run them); this module
builds the network, runs the chosen scenarios, writes the captures and manifest.json to OUTDIR, and removes
everything it created, also on Ctrl-C, SIGTERM or failure.
"""
from __future__ import annotations

import fcntl
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Optional

from servers.labcore import Lab, capture_linktypes, now_iso, progress
from servers.netlab import (
    BRIDGE,
    DNS_ADDRESS,
    DNS_NAME,
    MACHINES,
    NAMESPACES,
    SWITCH_NS,
    LabError,
    Topology,
    leftovers,
    remove_leftovers,
    run,
)
from servers.scenarios_tugas1 import CAPTURES, t3_file_bytes

ASSIGNMENTS = ("tugas1", "tugas2", "tugas3", "ets")
TOOLS = ("ip", "tcpdump", "dumpcap", "dnsmasq", "ethtool")
LOCK = Path("/run/progjar-lab.lock")


def assignment_module(assignment: str) -> ModuleType:
    """servers/scenarios_<assignment>.py: SCENARIOS, CAPTURES, FILES and run(lab, scenario, server_mode)."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment!r}")
    return importlib.import_module(f"servers.scenarios_{assignment}")


def scenario_names(assignment: str) -> list[str]:
    """The names `--scenario` takes for this assignment (plus `all`)."""
    return [*assignment_module(assignment).SCENARIOS, "all"]


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


def _run_lab(module: ModuleType, scenario: str, server_mode: Optional[str], workdir: Path,
             options: dict) -> list[dict]:
    """Build the network, run the scenarios, always tear everything down; returns manifest entries."""
    topo = Topology(workdir, progress)
    try:
        topo.build()
        dns = topo.start_dns()
        return module.run(Lab(topo, workdir, dns, options), scenario, server_mode)
    finally:
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            progress("removing namespaces, bridge and processes")
            topo.destroy()
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def write_outputs(assignment: str, entries: list[dict], workdir: Path, outdir: Path, started: float) -> None:
    """Copy the captures (and the assignment's other files) to OUTDIR and write manifest.json.

    Entries of an earlier run in the same folder whose capture was not redone are kept, so
    `--scenario t2 -o samples` refreshes one capture without dropping the others from the manifest.
    """
    module = assignment_module(assignment)
    outdir.mkdir(parents=True, exist_ok=True)
    for e in entries:
        shutil.copyfile(workdir / e["file"], outdir / e["file"])
    for name in module.FILES:
        if (workdir / name).exists():
            shutil.copyfile(workdir / name, outdir / name)
    redone = {e["file"] for e in entries}
    try:
        earlier = json.loads((outdir / "manifest.json").read_text())["captures"]
    except (OSError, ValueError, KeyError, TypeError):
        earlier = []
    order = list(module.CAPTURES.values())
    kept = [e for e in earlier if isinstance(e, dict) and e.get("file") not in redone
            and e.get("file") in order and (outdir / e["file"]).exists()]
    manifest = {
        "schema": "progjar.lab-manifest/1", "generator": "progjar lab", "assignment": assignment,
        "created": now_iso(started), "finished": now_iso(), "tools": _versions(),
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


def lab_command(assignment: str, scenario: str, server_mode: Optional[str], outdir: Path, force_clean: bool,
                *, options: Optional[dict] = None) -> int:
    """Entry point of `progjar lab`: 0 done, 1 a lab step failed (cleaned up), 2 cannot start.

    `options` holds an assignment's knobs (the ETS: {"sizes": [bytes, ...], "clients": [n, ...]})."""
    if assignment not in ASSIGNMENTS:
        print(f"progjar lab: unknown assignment {assignment!r} (choose {', '.join(ASSIGNMENTS)})", file=sys.stderr)
        return 2
    if scenario not in scenario_names(assignment):
        choices = ", ".join(scenario_names(assignment))
        print(f"progjar lab: {assignment} has no scenario {scenario!r} (choose {choices})", file=sys.stderr)
        return 2
    module = assignment_module(assignment)
    try:
        if options and not hasattr(module, "parse_options"):
            raise ValueError(f"{assignment} takes no {', '.join('--' + k for k in options)}")
        options = module.parse_options(options or {}) if hasattr(module, "parse_options") else {}
    except ValueError as e:
        print(f"progjar lab: {e}", file=sys.stderr)
        return 2
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
            entries = _run_lab(module, scenario, server_mode, workdir, options)
            write_outputs(assignment, entries, workdir, outdir, started)
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


__all__ = ["lab_command", "scenario_names", "ASSIGNMENTS", "t3_file_bytes", "capture_linktypes", "CAPTURES",
           "NAMESPACES"]
