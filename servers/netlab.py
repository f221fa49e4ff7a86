"""The lab's network, rebuilt in network namespaces: mesin1/2/3 and a DNS server on one bridge.

Every machine is a namespace with an `eth0` on the bridge `pjbr0`; the bridge itself lives in its own
namespace `pjlab` (the "switch"), so nothing touches the host's interfaces and 172.16.16.0/24 exists only
in here: no route leads out, no forwarding or NAT is switched on. Offloads (TSO/GSO/GRO) are off so every
captured segment has the size it has on a real wire. `Topology` remembers everything it created (namespaces,
/etc/netns files, processes by PID) and `destroy()` removes exactly that, also after a failure.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

SUBNET = "172.16.16"
MACHINES = {"mesin1": f"{SUBNET}.101", "mesin2": f"{SUBNET}.102", "mesin3": f"{SUBNET}.103", "dns": f"{SUBNET}.53"}
SWITCH_NS = "pjlab"
BRIDGE = "pjbr0"
NAMESPACES = (SWITCH_NS, *MACHINES)
NETNS_ETC = Path("/etc/netns")
DNS_NAME = "www.its.ac.id"
DNS_ADDRESS = "103.94.189.5"
STEP_TIMEOUT = 15.0

# Files `ip netns exec` bind-mounts over /etc: our own resolver, and name lookups that go to DNS
# (no systemd-resolved, no host /etc/hosts entry that would short-circuit the query).
ETC_FILES = {
    "resolv.conf": f"nameserver {MACHINES['dns']}\n",
    "nsswitch.conf": "hosts: files dns\n",
    "hosts": "127.0.0.1\tlocalhost\n",
}


class LabError(Exception):
    """A lab step failed; the message is the one line the user sees."""


def run(argv: list[str], timeout: float = STEP_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess:
    """Run one command with a time limit; a failure becomes a one-line LabError."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LabError(f"'{' '.join(argv)}' took longer than {timeout:.0f} s") from None
    except FileNotFoundError:
        raise LabError(f"'{argv[0]}' is not installed") from None
    if check and p.returncode != 0:
        err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]
        raise LabError(f"'{' '.join(argv)}' failed: {err}")
    return p


def existing_namespaces() -> list[str]:
    """Our namespace names that exist now (leftovers when nothing of ours should be running)."""
    out = run(["ip", "netns", "list"], check=False).stdout
    present = {line.split()[0] for line in out.splitlines() if line.strip()}
    return [n for n in NAMESPACES if n in present]


def leftovers() -> list[str]:
    """What a crashed earlier run may have left: our namespaces and /etc/netns/<name> folders."""
    found = existing_namespaces()
    found += [f"{NETNS_ETC / n}" for n in MACHINES if (NETNS_ETC / n).exists()]
    return found


def namespace_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False).stdout
    return [int(x) for x in out.split() if x.isdigit()]


def stop_pid(pid: int, sig: int = signal.SIGTERM, wait: float = 3.0) -> None:
    """Signal one process we started, then SIGKILL it if it is still there after `wait` seconds."""
    for s in (sig, signal.SIGKILL):
        try:
            os.kill(pid, s)
        except ProcessLookupError:
            return
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child: poll for its disappearance instead
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
            time.sleep(0.05)


def remove_namespace(ns: str) -> None:
    """Stop what still runs inside a namespace (by PID), then delete it."""
    for pid in namespace_pids(ns):
        stop_pid(pid)
    run(["ip", "netns", "del", ns], check=False)


def remove_etc_dir(d: Path) -> None:
    """Remove the /etc/netns/<name> files the lab writes, and the folder if nothing else is in it."""
    for f in ETC_FILES:
        (d / f).unlink(missing_ok=True)
    try:
        d.rmdir()
    except OSError:
        pass


def remove_leftovers() -> None:
    """--force-clean: stop the processes inside our namespaces (all started by an earlier lab run), delete them."""
    for ns in existing_namespaces():
        remove_namespace(ns)
    for n in MACHINES:
        d = NETNS_ETC / n
        if d.is_dir():
            remove_etc_dir(d)
    try:
        NETNS_ETC.rmdir()  # only if empty
    except OSError:
        pass


@dataclass
class Proc:
    """A program started inside a namespace; its output goes to a log file (never a pipe that can fill)."""

    name: str
    ns: str
    argv: list[str]
    popen: subprocess.Popen
    log: Path
    started: float = field(default_factory=time.time)
    ended: Optional[float] = None
    shown: str = ""

    def lines(self) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def wait_for(self, pattern: str, timeout: float) -> None:
        """Block until the program logs a line matching `pattern` (e.g. the server is listening)."""
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < end:
            if any(rx.search(l) for l in self.lines()):
                return
            if self.popen.poll() is not None:
                raise LabError(f"{self.name} on {self.ns} stopped early: {(self.lines() or ['no output'])[-1]}")
            time.sleep(0.05)
        raise LabError(f"{self.name} on {self.ns} did not report /{pattern}/ within {timeout:.0f} s")

    def wait(self, timeout: float) -> int:
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name} on {self.ns} did not finish within {timeout:.0f} s") from None
        self.ended = time.time()
        return rc


class Topology:
    """Builds the namespaces, bridge, veths and DNS server; tracks all of it for destroy()."""

    def __init__(self, workdir: Path, progress) -> None:
        self.workdir = workdir
        self.progress = progress
        self.namespaces: list[str] = []
        self.etc_dirs: list[Path] = []
        self.made_netns_etc = False
        self.procs: list[Proc] = []

    # --- building ---------------------------------------------------------------------------
    def build(self) -> None:
        self.progress(f"creating namespaces {', '.join(NAMESPACES)} and bridge {BRIDGE}")
        for ns in NAMESPACES:
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            # IPv4 only, as in the lab: no router solicitations or MLD reports in the captures.
            # /proc/sys/net belongs to the writer's namespace; no sysctl binary needed; no IPv6 is fine too.
            run(["ip", "netns", "exec", ns, "sh", "-c", "for k in all default; do f=/proc/sys/net/ipv6/conf/$k/"
                 "disable_ipv6; [ -w $f ] && echo 1 > $f; done; true"])
        run(["ip", "-n", SWITCH_NS, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0",
             "mcast_snooping", "0"])
        run(["ip", "-n", SWITCH_NS, "link", "set", BRIDGE, "up"])
        for name, addr in MACHINES.items():
            port = f"pj-{name}"
            run(["ip", "-n", SWITCH_NS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name])
            run(["ip", "-n", SWITCH_NS, "link", "set", port, "master", BRIDGE, "up"])
            run(["ip", "-n", name, "addr", "add", f"{addr}/24", "dev", "eth0"])
            run(["ip", "-n", name, "link", "set", "eth0", "up"])
            run(["ip", "netns", "exec", name, "ethtool", "-K", "eth0", "tso", "off", "gso", "off", "gro", "off"])
            run(["ip", "netns", "exec", SWITCH_NS, "ethtool", "-K", port, "tso", "off", "gso", "off", "gro", "off"])
        run(["ip", "netns", "exec", SWITCH_NS, "ethtool", "-K", BRIDGE, "tso", "off", "gso", "off", "gro", "off"],
            check=False)
        self._write_etc()

    def _write_etc(self) -> None:
        if not NETNS_ETC.exists():
            NETNS_ETC.mkdir(mode=0o755)
            self.made_netns_etc = True
        for name in MACHINES:
            d = NETNS_ETC / name
            d.mkdir(mode=0o755)
            self.etc_dirs.append(d)
            files = dict(ETC_FILES, hosts=ETC_FILES["hosts"] + f"{MACHINES[name]}\t{name}\n")
            for fname, text in files.items():
                (d / fname).write_text(text)

    def start_dns(self) -> Proc:
        """dnsmasq as the only DNS server: authoritative for its.ac.id, never asks anyone else."""
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--no-poll", f"--listen-address={MACHINES['dns']}", "--bind-interfaces",
                f"--pid-file={self.workdir / 'dnsmasq.pid'}", "--user=root", "--group=root",
                "--log-queries", "--log-facility=-", "--local=/its.ac.id/",
                f"--host-record={DNS_NAME},{DNS_ADDRESS}"]
        p = self.spawn("dnsmasq", "dns", argv)
        p.wait_for(r"started, version", 10)
        return p

    # --- processes --------------------------------------------------------------------------
    def spawn(self, name: str, ns: str, argv: list[str], cwd: Optional[Path] = None) -> Proc:
        """Start a program inside namespace `ns` (ip netns exec keeps the PID, so we can stop it by PID).

        `cwd` is the machine's working folder (where a student would run the program from)."""
        log = self.workdir / f"{name}-{ns}-{len(self.procs)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
        proc = Proc(name, ns, argv, popen, log)
        self.procs.append(proc)
        return proc

    # --- removing ---------------------------------------------------------------------------
    def destroy(self) -> None:
        """Remove everything this run created, in reverse; never raises (it runs in `finally`)."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                stop_pid(proc.popen.pid)
        for ns in reversed(self.namespaces):
            remove_namespace(ns)  # anything still inside was started by this run
        self.namespaces.clear()
        for d in reversed(self.etc_dirs):
            remove_etc_dir(d)
        self.etc_dirs.clear()
        if self.made_netns_etc:
            try:
                NETNS_ETC.rmdir()
            except OSError:
                pass
