"""`progjar lab` end to end (root): the captures hold what each task must show, and nothing is left behind.

The whole lab runs once per session (about 30 s); tshark then checks each capture independently of our
own reader. The committed samples/ are checked against their manifest without root.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers.lab import t3_file_bytes
from servers.netlab import BRIDGE, MACHINES, NAMESPACES, NETNS_ETC
from tests.conftest import ROOT, SAMPLES, require_root, require_tool, tshark
from tests.wireshark import as_bool  # tshark 4.4+ print booleans as True/False, 4.0 as 1/0
from tests.craft import LAB_MESSAGE

LAB_TOOLS = ("ip", "tcpdump", "dumpcap", "dnsmasq", "ethtool", "tshark")
CLIENT, SERVER = MACHINES["mesin2"], MACHINES["mesin1"]


def progjar_lab(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `progjar lab`; past the timeout it gets SIGTERM (it then removes what it built, as on Ctrl-C)
    rather than the SIGKILL of subprocess.run, which would leave namespaces behind."""
    argv = [sys.executable, "-m", "reporter", "lab", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def lab_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip() and l.split()[0] in NAMESPACES]


def assert_nothing_left(pids: list[int] = ()) -> None:
    assert lab_namespaces() == [], "lab namespaces left behind"
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, timeout=10).returncode != 0
    assert not any((NETNS_ETC / n).exists() for n in MACHINES), "/etc/netns files left behind"
    alive = [p for p in pids if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert alive == [], f"processes the lab started are still running: {alive}"


def pcap_linktypes(path: Path) -> list[int]:
    """Read link types straight from the file header (independent of servers/lab.py's reader)."""
    data = path.read_bytes()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        types, pos = [], 0
        while pos + 12 <= len(data):
            btype, blen = struct.unpack("<II", data[pos:pos + 8])
            if btype == 1:
                types.append(struct.unpack("<H", data[pos + 8:pos + 10])[0])
            assert blen >= 12, f"{path.name}: damaged pcapng block at byte {pos}"
            pos += blen
        return types
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), f"{path.name}: not a little-endian pcap"
    return [struct.unpack("<I", data[20:24])[0]]


def fields(cap: Path, home: Path, display_filter: str, *names: str) -> list[list[str]]:
    args = ["-r", str(cap), "-Y", display_filter, "-T", "fields", "-E", "separator=|"]
    for n in names:
        args += ["-e", n]
    out = tshark(args, home).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    """`progjar lab --scenario all` once; yields (outdir, manifest)."""
    require_root()
    require_tool(*LAB_TOOLS)
    assert lab_namespaces() == [], f"leftover lab namespaces before the test: {lab_namespaces()}"
    out = tmp_path_factory.mktemp("lab") / "out"
    t0 = time.monotonic()
    p = progjar_lab("--scenario", "all", "-o", str(out))
    took = time.monotonic() - t0
    assert p.returncode == 0, f"progjar lab failed: {p.stderr.strip()}\n{p.stdout}"
    manifest = json.loads((out / "manifest.json").read_text())
    yield out, manifest, p, took


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def test_lab_writes_every_capture_and_cleans_up(lab_run) -> None:
    out, manifest, p, took = lab_run
    names = [c["file"] for c in manifest["captures"]]
    assert names == ["t1-dns.pcapng", "t2-echo.pcap", "t3-file.pcap", "t4-serial.pcap", "t4-thread.pcap"]
    for c in manifest["captures"]:
        assert (out / c["file"]).stat().st_size == c["bytes"]
        assert pcap_linktypes(out / c["file"]) == c["linktypes"]
        assert all(s["exit_code"] == 0 for s in c["steps"] if s["host"] != "dns"), c["file"]
    assert 276 in [t for c in manifest["captures"] for t in c["linktypes"]], "one capture is tcpdump -i any (SLL2)"
    assert "lab: t4-thread:" in p.stdout and "removing namespaces" in p.stdout
    pids = [s["pid"] for c in manifest["captures"] for s in c["steps"]]
    pids += [c["capture_pid"] for c in manifest["captures"]]
    assert_nothing_left(pids)
    assert took < 120


def test_t1_both_machines_ask_a_and_aaaa(lab_run, home: Path) -> None:
    out, _, _, _ = lab_run
    cap = out / "t1-dns.pcapng"
    assert fields(cap, home, "tcp", "frame.number") == [], "getaddrinfo makes no TCP connection"
    rows = fields(cap, home, "dns", "ip.src", "ip.dst", "dns.flags.response", "dns.qry.name", "dns.qry.type",
                  "dns.flags.rcode", "dns.count.answers", "dns.a")
    for client in (MACHINES["mesin1"], MACHINES["mesin2"]):
        queries = {r[4] for r in rows if r[0] == client and as_bool(r[2]) is False and r[3] == "www.its.ac.id"}
        assert queries == {"1", "28"}, f"{client} asks A and AAAA"
        answers = {r[4]: r for r in rows if r[1] == client and as_bool(r[2]) is True}
        assert answers["1"][5] == "0" and answers["1"][7] == "103.94.189.5"
        assert answers["28"][5] == "0" and answers["28"][6] == "0", "AAAA: NOERROR without data"


def test_t2_lab_message_and_its_echo_as_32_plus_14(lab_run, home: Path) -> None:
    out, _, _, _ = lab_run
    cap = out / "t2-echo.pcap"
    assert pcap_linktypes(cap) == [276]
    rows = fields(cap, home, "tcp.len > 0", "ip.src", "tcp.dstport", "tcp.srcport", "tcp.payload")
    requests = [r for r in rows if r[0] == CLIENT and r[1] == "10000"]
    echoes = [r for r in rows if r[0] == SERVER and r[2] == "10000"]
    assert [bytes.fromhex(r[3]) for r in requests] == [LAB_MESSAGE]
    assert [bytes.fromhex(r[3]) for r in echoes] == [LAB_MESSAGE[:32], LAB_MESSAGE[32:]]
    syn = fields(cap, home, "tcp.flags.syn == 1", "ip.src")
    assert [r[0] for r in syn] == [CLIENT, SERVER], "one handshake"
    fins = fields(cap, home, "tcp.flags.fin == 1", "ip.src")
    assert [r[0] for r in fins] == [CLIENT, SERVER], "the client closes first"


def _follow_raw(cap: Path, home: Path) -> tuple[bytes, bytes]:
    out = tshark(["-r", str(cap), "-q", "-z", "follow,tcp,raw,0"], home).stdout
    lines = out.split("Node 1:", 1)[1].splitlines()[1:]
    sent = b"".join(bytes.fromhex(l) for l in lines if l and not l.startswith(("\t", "=")))
    back = b"".join(bytes.fromhex(l.strip()) for l in lines if l.startswith("\t"))
    return sent, back


def test_t3_file_is_echoed_whole_on_32444(lab_run, home: Path) -> None:
    out, _, _, _ = lab_run
    content = t3_file_bytes()
    assert (out / "t3-file.txt").read_bytes() == content
    assert 2000 < len(content) < 20000
    sent, back = _follow_raw(out / "t3-file.pcap", home)
    assert sent == content and back == content
    ports = {r[0] for r in fields(out / "t3-file.pcap", home, "tcp.len > 0", "tcp.dstport") if r[0] != "32444"}
    assert len(ports) == 1, "one client port talking to 32444"
    segs = fields(out / "t3-file.pcap", home, f"ip.src == {CLIENT} && tcp.len > 0", "tcp.len")
    assert len(segs) >= 3, "the file needs several segments"


def _t4_timeline(cap: Path, home: Path) -> dict[str, dict[str, float]]:
    """Per client address: its SYN, its first echoed byte, its FIN (seconds in the capture)."""
    rows = fields(cap, home, "tcp", "frame.time_relative", "ip.src", "ip.dst", "tcp.flags.syn", "tcp.flags.ack",
                  "tcp.flags.fin", "tcp.len")
    t: dict[str, dict[str, float]] = {}
    for ts, src, dst, syn, ack, fin, ln in rows:
        ts = float(ts)
        if src != SERVER:
            d = t.setdefault(src, {})
            if as_bool(syn) and as_bool(ack) is False:
                d.setdefault("syn", ts)
            if as_bool(fin):
                d.setdefault("fin", ts)
        elif int(ln) > 0:
            t.setdefault(dst, {}).setdefault("echo", ts)
    return t


def test_t4_serial_second_client_waits_for_the_first_to_close(lab_run, home: Path) -> None:
    out, manifest, _, _ = lab_run
    t = _t4_timeline(out / "t4-serial.pcap", home)
    assert set(t) == {MACHINES["mesin2"], MACHINES["mesin3"]}
    first, second = sorted(t.values(), key=lambda d: d["echo"])
    assert first["echo"] - first["syn"] < 0.5
    assert second["echo"] - second["syn"] > 2.0, "queued behind the first client"
    assert second["echo"] > first["fin"], "served only after the first client's FIN"
    entry = next(c for c in manifest["captures"] if c["file"] == "t4-serial.pcap")
    assert entry["expected"]["verdict"] == "serial"


def test_t4_thread_both_clients_are_served_at_once(lab_run, home: Path) -> None:
    out, manifest, _, _ = lab_run
    t = _t4_timeline(out / "t4-thread.pcap", home)
    assert set(t) == {MACHINES["mesin2"], MACHINES["mesin3"]}
    for d in t.values():
        assert d["echo"] - d["syn"] < 0.5
    a, b = t.values()
    assert a["syn"] < b["fin"] and b["syn"] < a["fin"], "lifetimes overlap"
    entry = next(c for c in manifest["captures"] if c["file"] == "t4-thread.pcap")
    assert entry["expected"]["verdict"] == "concurrent"


def test_leftovers_stop_the_lab_until_force_clean(lab_run, tmp_path: Path) -> None:
    """A crashed run's namespace (with a process in it) blocks a new run; --force-clean removes both.

    The second run redoes only t2 into a copy of the full run's folder: the manifest keeps the others.
    """
    require_root()
    out, manifest, _, _ = lab_run
    redo = tmp_path / "redo"
    shutil.copytree(out, redo)
    before = (redo / "manifest.json").read_text()
    subprocess.run(["ip", "netns", "add", "mesin1"], check=True, timeout=10)
    sleeper = subprocess.Popen(["ip", "netns", "exec", "mesin1", "sleep", "120"], stdin=subprocess.DEVNULL)
    try:
        p = progjar_lab("--scenario", "t2", "-o", str(redo), timeout=60)
        assert p.returncode == 2
        assert p.stderr.count("\n") == 1 and "--force-clean" in p.stderr and "mesin1" in p.stderr
        assert (redo / "manifest.json").read_text() == before
        p = progjar_lab("--scenario", "t2", "--force-clean", "-o", str(redo), timeout=120)
        assert p.returncode == 0, p.stderr
        assert sleeper.wait(10) < 0, "the leftover's process was stopped by a signal, not left to finish"
        assert_nothing_left()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(5)
        subprocess.run(["ip", "netns", "del", "mesin1"], capture_output=True, timeout=10)
    again = json.loads((redo / "manifest.json").read_text())
    assert [c["file"] for c in again["captures"]] == [c["file"] for c in manifest["captures"]]
    for old, new in zip(manifest["captures"], again["captures"]):
        assert (old == new) == (new["file"] != "t2-echo.pcap")
        assert hashlib.sha256((redo / new["file"]).read_bytes()).hexdigest() == new["sha256"]


def test_interrupted_lab_cleans_up(lab_run, tmp_path: Path) -> None:
    require_root()
    proc = subprocess.Popen([sys.executable, "-m", "reporter", "lab", "--scenario", "t4", "-o", str(tmp_path / "o")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "t4 (serial)" not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "t4 (serial)" in seen, seen
        time.sleep(1.5)  # clients and server are running now
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # a failed step above: let the lab remove its namespaces before giving up
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    assert proc.returncode == 130, err
    assert "removing namespaces" in out
    assert not (tmp_path / "o" / "manifest.json").exists()
    assert_nothing_left()


def test_non_root_gets_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    import servers.lab as lab

    monkeypatch.setattr(lab.os, "geteuid", lambda: 1000)
    assert lab.lab_command("tugas1", "all", None, tmp_path / "o", force_clean=False) == 2
    assert capsys.readouterr().err == "progjar lab: needs root (it creates network namespaces); run it with sudo\n"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (("tugas2", "t1", None), "progjar lab: tugas2 has no scenario 't1' (choose tugas2-thread, tugas2-serial, all)"),
    (("tugas5", "all", None), "progjar lab: unknown assignment 'tugas5' (choose tugas1, tugas2, tugas3, ets)"),
])
def test_scenario_must_belong_to_the_assignment(tmp_path: Path, capsys, args, message) -> None:
    import servers.lab as lab

    assert lab.lab_command(*args, tmp_path / "o", force_clean=False) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "o").exists()


def test_only_the_ets_takes_sizes_and_clients(tmp_path: Path, capsys) -> None:
    import servers.lab as lab

    assert lab.lab_command("tugas2", "all", None, tmp_path / "o", False, options={"sizes": "1MB"}) == 2
    assert capsys.readouterr().err == "progjar lab: tugas2 takes no --sizes\n"
    assert lab.lab_command("ets", "all", None, tmp_path / "o", False, options={"clients": "1,x"}) == 2
    assert "--clients: cannot read '1,x'" in capsys.readouterr().err
    from servers.scenarios_ets import parse_options

    assert parse_options({"sizes": "1MB,5MB", "clients": "1,5"}) == {"sizes": [1 << 20, 5 << 20], "clients": [1, 5]}


def test_every_assignment_lists_its_scenarios_for_the_cli() -> None:
    from reporter.cli import build_parser
    from servers.lab import scenario_names

    assert scenario_names("tugas1") == ["t1", "t2", "t3", "t4", "all"]
    assert scenario_names("tugas2") == ["tugas2-thread", "tugas2-serial", "all"]
    assert scenario_names("tugas3") == ["tugas3-commands", "tugas3-concurrent", "tugas3-legacy", "all"]
    assert scenario_names("ets") == ["ets-thread", "ets-process", "all"]
    args = build_parser().parse_args(["lab", "-o", "x"])
    assert (args.assignment, args.scenario) == ("tugas1", "all"), "today's behaviour stays the default"
    args = build_parser().parse_args(["lab", "--assignment", "ets", "--sizes", "1MB", "-o", "x"])
    assert (args.assignment, args.sizes, args.clients) == ("ets", "1MB", None)


def test_committed_samples_agree_with_their_manifest() -> None:
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    caps = manifest["captures"]
    assert {c["file"] for c in caps} >= {"t1-dns.pcapng", "t2-echo.pcap", "t3-file.pcap", "t4-serial.pcap",
                                          "t4-thread.pcap"}
    for c in caps:
        data = (SAMPLES / c["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == c["sha256"], c["file"]
        assert len(data) == c["bytes"]
        assert pcap_linktypes(SAMPLES / c["file"]) == c["linktypes"], c["file"]
        assert c["format"] == ("pcapng" if c["file"].endswith(".pcapng") else "pcap")
    assert any(c["format"] == "pcapng" for c in caps) and any(276 in c["linktypes"] for c in caps)
    assert (SAMPLES / "t3-file.txt").read_bytes() == t3_file_bytes()
    t3 = next(c for c in caps if c["scenario"] == "t3")
    assert t3["expected"]["sha256"] == hashlib.sha256(t3_file_bytes()).hexdigest()
    assert sum((SAMPLES / c["file"]).stat().st_size for c in caps) < 400_000, "samples stay small"
    assert all(c["file"] in (SAMPLES / "README.md").read_text() for c in caps)
