"""`progjar lab --assignment tugas2|tugas3|ets` end to end (root): what each capture holds on the wire, read
with tshark (independently of our reader), and that every run removes what it built.

One lab run per assignment (about 12 + 12 + 5 s) and one bigger ETS run through the --sizes/--clients knob.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.netlab import MACHINES
from servers.scenarios_tugas3 import text_file
from tests.conftest import SAMPLES_ROOT, require_root, require_tool
from tests.test_lab import LAB_TOOLS, assert_nothing_left, fields, lab_namespaces, pcap_linktypes, progjar_lab

SERVER, M2, M3 = MACHINES["mesin1"], MACHINES["mesin2"], MACHINES["mesin3"]
END = b"\r\n\r\n"


@dataclass
class Stream:
    """One TCP connection as tshark shows it: who, the bytes of each direction in order, and when."""

    client: str = ""
    segments: list = field(default_factory=list)  # (time, "c2s" | "s2c", payload) as captured
    pieces: dict = field(default_factory=dict)    # direction -> [(relative seq, payload)]
    fins: list = field(default_factory=list)      # (time, "c2s" | "s2c")
    syn: float = 0.0
    resets: int = 0

    def data(self, direction: str) -> bytes:
        """The bytes the receiver got, in sequence order: veth reorders segments under load, and the
        sender then retransmits some, so frame order is not stream order. A gap fails the test."""
        out, expect = bytearray(), 1
        for seq, payload in sorted(self.pieces.get(direction, []), key=lambda p: p[0]):
            assert seq <= expect, f"{self.client}: bytes {expect}..{seq} of {direction} were never captured"
            out += payload[expect - seq:] if seq + len(payload) > expect else b""
            expect = max(expect, seq + len(payload))
        return bytes(out)

    def first(self, direction: str) -> float:
        return next(t for t, d, _ in self.segments if d == direction)

    def last(self, direction: str) -> float:
        return [t for t, d, _ in self.segments if d == direction][-1]

    def end(self) -> float:
        return max(t for t, _ in self.fins)


def streams(cap: Path, home: Path, port: int) -> list[Stream]:
    rows = fields(cap, home, "tcp", "tcp.stream", "frame.time_relative", "ip.src", "tcp.srcport", "tcp.flags.syn",
                  "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.seq", "tcp.payload")
    out: dict[int, Stream] = {}
    for stream, t, src, sport, syn, ack, fin, rst, seq, payload in rows:
        s = out.setdefault(int(stream), Stream())
        direction = "s2c" if sport == str(port) else "c2s"
        if syn == "1" and ack == "0":
            s.client, s.syn = src, float(t)
        if fin == "1":
            s.fins.append((float(t), direction))
        s.resets += rst == "1"
        if payload:
            data = bytes.fromhex(payload.replace(":", ""))
            s.segments.append((float(t), direction, data))
            s.pieces.setdefault(direction, []).append((int(seq), data))
    return [out[k] for k in sorted(out)]


def replies(data: bytes) -> list[dict]:
    """A file-server direction cut at every terminator; each piece must be JSON."""
    assert data.endswith(END), data[-50:]
    return [json.loads(p) for p in data.split(END)[:-1]]


def run_lab(tmp_path_factory, assignment: str, *extra: str):
    require_root()
    require_tool(*LAB_TOOLS)
    assert lab_namespaces() == [], f"leftover lab namespaces before the test: {lab_namespaces()}"
    out = tmp_path_factory.mktemp(assignment) / "out"
    t0 = time.monotonic()
    p = progjar_lab("--assignment", assignment, *extra, "-o", str(out))
    took = time.monotonic() - t0
    assert p.returncode == 0, f"progjar lab failed: {p.stderr.strip()}\n{p.stdout}"
    manifest = json.loads((out / "manifest.json").read_text())
    pids = [s["pid"] for c in manifest["captures"] for s in c["steps"]]
    pids += [c["capture_pid"] for c in manifest["captures"]]
    assert_nothing_left(pids)
    return out, manifest, took


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def tugas2(tmp_path_factory):
    return run_lab(tmp_path_factory, "tugas2")


@pytest.fixture(scope="module")
def tugas3(tmp_path_factory):
    return run_lab(tmp_path_factory, "tugas3")


@pytest.fixture(scope="module")
def ets(tmp_path_factory):
    return run_lab(tmp_path_factory, "ets")


def entry(manifest: dict, scenario: str) -> dict:
    return next(c for c in manifest["captures"] if c["scenario"] == scenario)


def check_manifest(out: Path, manifest: dict, assignment: str, files: list[str]) -> None:
    assert manifest["assignment"] == assignment
    assert [c["file"] for c in manifest["captures"]] == files
    for c in manifest["captures"]:
        data = (out / c["file"]).read_bytes()
        assert len(data) == c["bytes"] and hashlib.sha256(data).hexdigest() == c["sha256"]
        assert pcap_linktypes(out / c["file"]) == c["linktypes"] == [1]
        assert c["capture_point"] == "eth0 in namespace mesin1"


# --- tugas2 --------------------------------------------------------------------------------------------

def test_tugas2_captures_and_manifest(tugas2) -> None:
    out, manifest, took = tugas2
    check_manifest(out, manifest, "tugas2", ["tugas2-thread.pcap", "tugas2-serial.pcap"])
    assert took < 40
    for c in manifest["captures"]:
        assert [s["exit_code"] for s in c["steps"]] == [0, 0, 0]
        clients = c["expected"]["clients"]
        assert [x["segmentation"] for x in clients] == ["line", "byte"]
        assert [r.split()[0] for r in clients[0]["replies"]] == ["JAM", "ERROR", "JAM"]


@pytest.mark.parametrize("scenario", ["tugas2-thread", "tugas2-serial"])
def test_tugas2_requests_and_replies_on_the_wire(tugas2, home: Path, scenario: str) -> None:
    out, manifest, _ = tugas2
    conns = {s.client: s for s in streams(out / f"{scenario}.pcap", home, 45000)}
    assert set(conns) == {M2, M3}
    line, byte = conns[M2], conns[M3]
    assert [p for _, d, p in line.segments if d == "c2s"] == [b"TIME\r\n", b"HELLO\r\n", b"TIME\r\n", b"QUIT\r\n"]
    assert [len(p) for _, d, p in byte.segments if d == "c2s"] == [1] * 18, "telnet-like: one byte per segment"
    assert byte.data("c2s") == b"TIME\r\nTIME\r\nQUIT\r\n"
    expected = entry(manifest, scenario)["expected"]["clients"]
    assert line.data("s2c") == "".join(r + "\r\n" for r in expected[0]["replies"]).encode()
    assert byte.data("s2c") == "".join(r + "\r\n" for r in expected[1]["replies"]).encode()
    assert len(expected[1]["replies"]) == 2 and all(r.startswith("JAM ") for r in expected[1]["replies"])
    for conn in (line, byte):
        assert conn.fins[0][1] == "s2c", "QUIT: the server closes first"
        assert conn.resets == 0
        quit_sent = conn.last("c2s")
        assert conn.fins[0][0] - quit_sent < 0.5


def test_tugas2_thread_serves_both_at_once(tugas2, home: Path) -> None:
    out, _, _ = tugas2
    conns = {s.client: s for s in streams(out / "tugas2-thread.pcap", home, 45000)}
    line, byte = conns[M2], conns[M3]
    assert line.syn < byte.end() and byte.syn < line.end(), "lifetimes overlap"
    first_line_end = [t for t, d, p in byte.segments if d == "c2s" and p == b"\n"][0]
    assert byte.first("s2c") - first_line_end < 0.5, "answered once its line is complete, not later"
    assert byte.first("s2c") < line.last("c2s"), "mesin3 answered while mesin2 is still sending"


def test_tugas2_serial_second_client_waits_for_the_first_quit(tugas2, home: Path) -> None:
    out, manifest, _ = tugas2
    conns = {s.client: s for s in streams(out / "tugas2-serial.pcap", home, 45000)}
    line, byte = conns[M2], conns[M3]
    first_line_end = [t for t, d, p in byte.segments if d == "c2s" and p == b"\n"][0]
    assert byte.first("s2c") - first_line_end > 1.5, "its first line waited, ACKed but unanswered"
    assert byte.first("s2c") > line.last("c2s"), "answered only after mesin2's QUIT"
    assert byte.first("s2c") >= line.fins[0][0], "and after the server's FIN to mesin2"
    assert entry(manifest, "tugas2-serial")["expected"]["verdict"] == "serial"


# --- tugas3 --------------------------------------------------------------------------------------------

def test_tugas3_captures_and_manifest(tugas3) -> None:
    out, manifest, took = tugas3
    check_manifest(out, manifest, "tugas3", ["tugas3-commands.pcap", "tugas3-concurrent.pcap", "tugas3-legacy.pcap"])
    assert took < 40


def test_tugas3_every_command_on_the_wire(tugas3, home: Path) -> None:
    out, manifest, _ = tugas3
    conns = streams(out / "tugas3-commands.pcap", home, 6666)
    assert len(conns) == 6 and {c.client for c in conns} == {M2}
    requests = [c.data("c2s") for c in conns]
    answers = [replies(c.data("s2c")) for c in conns]
    assert all(r.endswith(END) and r.count(END) == 1 for r in requests), "one request, one terminator"
    assert all(len(a) == 1 and a[0]["status"] == "OK" for a in answers), answers
    laporan = text_file("laporan yang diunggah", 3000)
    assert requests[0] == requests[2] == requests[5] == b"LIST" + END
    assert answers[0][0]["data"] == ["catatan.txt"]
    assert requests[1].startswith(b"UPLOAD laporan.txt ")
    assert base64.b64decode(requests[1][len(b"UPLOAD laporan.txt "):-4]) == laporan
    assert answers[1][0]["data_sha256"] == hashlib.sha256(laporan).hexdigest()
    assert answers[2][0]["data"] == ["catatan.txt", "laporan.txt"], "LIST shows the upload"
    assert requests[3] == b"GET laporan.txt" + END
    assert base64.b64decode(answers[3][0]["data_file"]) == laporan and answers[3][0]["data_size"] == 3000
    assert requests[4] == b"DELETE laporan.txt" + END
    assert answers[5][0]["data"] == ["catatan.txt"], "LIST no longer shows it"
    facts = entry(manifest, "tugas3-commands")["expected"]
    assert [r["command"] for r in facts["requests"]] == ["LIST", "UPLOAD", "LIST", "GET", "DELETE", "LIST"]
    assert facts["files"]["uploaded"]["sha256"] == hashlib.sha256(laporan).hexdigest()
    assert all(c.fins and c.resets == 0 for c in conns)


def test_tugas3_two_clients_at_once(tugas3, home: Path) -> None:
    out, _, _ = tugas3
    upload, get = sorted(streams(out / "tugas3-concurrent.pcap", home, 6666), key=lambda c: c.syn)
    assert (upload.client, get.client) == (M2, M3)
    assert upload.data("c2s").startswith(b"UPLOAD tugas-mesin2.txt ")
    assert get.data("c2s") == b"GET buku.txt" + END
    assert base64.b64decode(replies(get.data("s2c"))[0]["data_file"]) == text_file("buku di server", 8000)
    assert upload.first("c2s") < get.syn and get.last("s2c") < upload.last("c2s"), \
        "the GET is answered while the upload is still arriving"
    assert len([1 for _, d, _ in upload.segments if d == "c2s"]) > 10, "the upload trickles (--rate)"
    assert replies(upload.data("s2c"))[0]["status"] == "OK"


def test_tugas3_legacy_server_answers_each_32_byte_chunk(tugas3, home: Path) -> None:
    out, manifest, _ = tugas3
    short, long = streams(out / "tugas3-legacy.pcap", home, 6666)
    assert short.data("c2s") == b"LIST", "no terminator, like file_client_cli.py"
    assert [r["status"] for r in replies(short.data("s2c"))] == ["OK"]
    request = long.data("c2s")
    assert request.startswith(b"UPLOAD pesan.txt ") and END not in request
    got = replies(long.data("s2c"))
    assert len(got) == -(-len(request) // 32) == 14, "one reply per recv(32) chunk"
    assert all(r["status"] == "ERROR" for r in got)
    facts = entry(manifest, "tugas3-legacy")["expected"]
    assert facts["requests"][1]["replies"] == 14 and facts["tasks"]["T5"] == "fail"


# --- ets -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", ["thread", "process"])
def test_ets_stress_runs_on_both_pools(ets, home: Path, pool: str) -> None:
    out, manifest, took = ets
    check_manifest(out, manifest, "ets", ["ets-thread.pcap", "ets-process.pcap"])
    facts = entry(manifest, f"ets-{pool}")["expected"]
    assert [(r["operation"], r["file_size"], r["clients"], r["successes"], r["failures"]) for r in facts["table"]] == [
        (op, size, n, n, 0) for op in ("upload", "download") for size in (1024, 2048) for n in (1, 3)]
    with open(out / f"ets-{pool}.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["successes"]) for r in table] == [r["successes"] for r in facts["table"]]
    conns = streams(out / f"ets-{pool}.pcap", home, 6666)
    transfers = [c for c in conns if not c.data("c2s").startswith(b"LIST")]
    assert len(transfers) == facts["transfers"] == 16 and len(conns) == 16 + 2, "plus one LIST per size"
    for c in conns:
        answer = replies(c.data("s2c"))
        assert len(answer) == 1 and answer[0]["status"] == "OK"
        assert c.resets == 0 and {d for _, d in c.fins} == {"c2s", "s2c"}, "both sides close with a FIN"
    uploads = [c for c in transfers if c.data("c2s").startswith(b"UPLOAD")]
    assert sorted(replies(c.data("s2c"))[0]["data_size"] for c in uploads) == [1024] * 4 + [2048] * 4
    assert sum((out / c["file"]).stat().st_size for c in manifest["captures"]) < 150_000
    assert took < 30


def test_ets_knob_makes_bigger_runs(tmp_path_factory, home: Path) -> None:
    out, manifest, took = run_lab(tmp_path_factory, "ets", "--scenario", "ets-process", "--sizes", "256KB,1MB",
                                  "--clients", "1,4")
    (c,) = manifest["captures"]
    assert c["file"] == "ets-process.pcap" and c["bytes"] > 2 * 5 * (1.25 * (1 << 20)) * 4 / 3, "base64 both ways"
    table = c["expected"]["table"]
    assert [(r["file_size"], r["clients"], r["successes"]) for r in table] == [
        (size, n, n) for _ in (0, 1) for size in (256 << 10, 1 << 20) for n in (1, 4)]
    conns = streams(out / "ets-process.pcap", home, 6666)
    sizes = sorted(replies(s.data("s2c"))[0].get("data_size") for s in conns if s.data("c2s").startswith(b"GET"))
    assert sizes == [256 << 10] * 5 + [1 << 20] * 5
    gets = [s for s in conns if s.data("c2s").startswith(b"GET stress-1MB.bin")]
    assert all(hashlib.sha256(base64.b64decode(replies(s.data("s2c"))[0]["data_file"])).hexdigest()
               == hashlib.sha256(base64.b64decode(replies(gets[0].data("s2c"))[0]["data_file"])).hexdigest()
               for s in gets)
    assert took < 60


# --- committed samples (no root needed) ------------------------------------------------------------------

@pytest.mark.parametrize("assignment, files", [
    ("tugas2", ["tugas2-thread.pcap", "tugas2-serial.pcap"]),
    ("tugas3", ["tugas3-commands.pcap", "tugas3-concurrent.pcap", "tugas3-legacy.pcap"]),
    ("ets", ["ets-thread.pcap", "ets-process.pcap"]),
])
def test_committed_samples_agree_with_their_manifest(assignment: str, files: list[str]) -> None:
    folder = SAMPLES_ROOT / assignment
    manifest = json.loads((folder / "manifest.json").read_text())
    check_manifest(folder, manifest, assignment, files)
    readme = (folder / "README.md").read_text()
    assert all(f in readme for f in files)
    for c in manifest["captures"]:
        assert all(s["exit_code"] in (0, 1) for s in c["steps"]) and c["expected"]["assignment"] == assignment
    if assignment == "tugas3":
        uploaded = entry(manifest, "tugas3-commands")["expected"]["files"]["uploaded"]
        assert uploaded["sha256"] == hashlib.sha256(text_file("laporan yang diunggah", 3000)).hexdigest()
    if assignment == "ets":
        for pool in ("thread", "process"):
            with open(folder / f"ets-{pool}.csv") as f:
                rows = list(csv.DictReader(f))
            assert [int(r["failures"]) for r in rows] == [0] * 8 and readme.count(f"ets-{pool}.csv")


def test_new_samples_stay_small() -> None:
    total = sum(p.stat().st_size for a in ("tugas2", "tugas3", "ets") for p in (SAMPLES_ROOT / a).iterdir())
    assert total < 300_000, f"samples of tugas2, tugas3 and ets: {total} bytes"
