"""The bench's capture generators make what their manifests say: checked on small sizes of every
shape with the reporter and, independently, with tshark. A figure from `make bench` is only worth
something if the capture it was measured on holds the connections, DNS lookups and bytes claimed.
"""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.bench.shapes import Manifest, make
from tests.conftest import ROOT, tshark

SMALL = {
    "long": {"packets": 3000},
    "short": {"connections": 300},
    "dns": {"packets": 3000},
    "bulk": {"transfer_bytes": 300_000, "downloads": 2, "uploads": 1},
    "long-ng": {"packets": 3000},  # long and short as Wireshark saves them (pcapng)
    "short-ng": {"connections": 300},
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Manifest]]:
    d = tmp_path_factory.mktemp("shapes")
    paths = {shape: d / f"{shape}.{'pcapng' if shape.endswith('-ng') else 'pcap'}" for shape in SMALL}
    return {shape: (paths[shape], make(shape, paths[shape], **size)) for shape, size in SMALL.items()}


def report(path: Path) -> dict:
    """The reporter's JSON, run as a user runs it (the CLI in a subprocess)."""
    p = subprocess.run([sys.executable, "-m", "reporter", "report", str(path), "--format", "json", "-o", "-"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def fields(path: Path, home: Path, display_filter: str, *names: str) -> list[list[str]]:
    args = ["-r", str(path), "-T", "fields", *(x for n in names for x in ("-e", n))]
    if display_filter:
        args += ["-Y", display_filter]
    return [line.split("\t") for line in tshark(args, home).stdout.splitlines()]


def analysis_flags(path: Path, home: Path) -> Counter:
    """tshark's TCP expert notes (retransmission, out-of-order, reused ports ...) by message."""
    return Counter(r[1] for r in fields(path, home, "tcp.analysis.flags", "frame.number", "_ws.expert.message"))


@pytest.mark.parametrize("shape", sorted(SMALL))
def test_packets_and_connections_are_what_the_generator_says(small, shape, tshark_home) -> None:
    path, m = small[shape]
    assert m.packets > 0 and m.connections > 0
    doc = report(path)
    assert doc["capture"]["packets"] == m.packets
    assert len(doc["connections"]) == m.connections
    assert all(c["handshake"]["complete"] for c in doc["connections"])
    rows = fields(path, tshark_home, "", "frame.number", "tcp.stream")
    assert len(rows) == m.packets
    assert len({r[1] for r in rows if r[1]}) == m.connections


@pytest.mark.parametrize("shape", ["long", "dns", "bulk", "long-ng"])  # short reuses ports on purpose
def test_tcp_is_clean_in_tshark_eyes(small, shape, tshark_home) -> None:
    """Real TCP semantics: seq/ack consistent, so tshark sees no retransmission, gap or bad ACK."""
    path, _ = small[shape]
    assert analysis_flags(path, tshark_home) == Counter()


def test_short_connections_are_14_frames_echoed_with_port_reuse(small, tshark_home) -> None:
    path, m = small["short"]
    assert m.packets == 14 * m.connections
    assert 0 < m.reused_ports < m.connections // 4
    doc = report(path)
    conns = doc["connections"]
    assert all(c["server"] == {"ip": "172.16.16.101", "port": 10000} for c in conns)
    assert all(c["state"] == "SF" and c["echo"]["verified"] for c in conns)
    assert all(c["bytes"] == {"client_to_server": 92, "server_to_client": 92} for c in conns)
    assert all(c["segments"] == {"client_to_server": 2, "server_to_client": 4} for c in conns)
    assert {"172.16.16.102", "172.16.16.103"} <= {c["client"]["ip"] for c in conns}
    tuples = {(c["client"]["ip"], c["client"]["port"]) for c in conns}
    assert len(conns) - len(tuples) == m.reused_ports
    # tshark: a new stream for each reuse, noted once on its SYN, and nothing else to note
    assert analysis_flags(path, tshark_home) == Counter(
        {"Connection establish request (SYN): server port 10000,"
         "A new tcp session is started with the same ports as an earlier session in this trace": m.reused_ports})
    per_stream = Counter(r[0] for r in fields(path, tshark_home, "tcp", "tcp.stream"))
    assert set(per_stream.values()) == {14}


def test_dns_shape_is_a_third_dns_with_retransmissions_and_silence(small, tshark_home) -> None:
    path, m = small["dns"]
    assert m.dns_retransmissions > 0 and m.dns_unanswered > 0
    assert m.dns_queries == m.dns_responses + m.dns_retransmissions + m.dns_unanswered
    dns_frames = m.dns_queries + m.dns_responses
    assert 0.30 <= dns_frames / m.packets <= 0.37
    doc = report(path)
    assert len(doc["dns"]) == m.dns_queries  # every query frame is a row, retransmissions too
    assert sum(1 for d in doc["dns"] if d["response_frame"] is not None) == m.dns_responses
    assert {d["qtype"] for d in doc["dns"]} == {"A", "AAAA"}
    rows = fields(path, tshark_home, "dns", "dns.flags.response", "dns.retransmission", "dns.qry.type")
    assert sum(1 for r in rows if r[0] == "0") == m.dns_queries
    assert sum(1 for r in rows if r[0] == "1") == m.dns_responses
    assert sum(1 for r in rows if r[0] == "0" and r[1] == "1") == m.dns_retransmissions


def _follow(path: Path, home: Path, stream: int) -> tuple[bytes, bytes]:
    """Both directions of one TCP stream as tshark's Follow TCP Stream reassembles them."""
    out = tshark(["-r", str(path), "-q", "-z", f"follow,tcp,raw,{stream}"], home).stdout
    body = out.split("Node 1:", 1)[1].split("\n", 1)[1]
    client, server = [], []
    for line in body.splitlines():
        if line.startswith("===") or not line.strip():
            continue
        (server if line.startswith("\t") else client).append(bytes.fromhex(line.strip()))
    return b"".join(client), b"".join(server)


def test_bulk_transfers_carry_the_files_the_manifest_names(small, tshark_home) -> None:
    path, m = small["bulk"]
    assert [t["operation"] for t in m.transfers] == ["GET", "GET", "UPLOAD"]
    doc = report(path)
    by_port = {c["client"]["port"]: c for c in doc["connections"]}
    streams = {int(r[1]): int(r[0]) for r in fields(path, tshark_home, "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                                                    "tcp.stream", "tcp.srcport")}
    for t in m.transfers:
        c = by_port[t["client_port"]]
        assert c["server"] == {"ip": "172.16.16.101", "port": 6666}
        assert c["bytes"] == {"client_to_server": t["client_to_server"], "server_to_client": t["server_to_client"]}
        up, down = _follow(path, tshark_home, streams[t["client_port"]])
        assert (len(up), len(down)) == (t["client_to_server"], t["server_to_client"])
        if t["operation"] == "GET":
            assert up == f"GET {t['file_name']}\r\n\r\n".encode()
            assert down.endswith(b"\r\n\r\n")
            reply = json.loads(down[:-4])
            assert reply["status"] == "OK" and reply["data_namafile"] == t["file_name"]
            data = base64.b64decode(reply["data_file"], validate=True)
        else:
            head, b64 = up[:-4].rsplit(b" ", 1)
            assert head == f"UPLOAD {t['file_name']}".encode() and up.endswith(b"\r\n\r\n")
            assert json.loads(down[:-4])["status"] == "OK"
            data = base64.b64decode(b64, validate=True)
        assert len(data) == t["file_bytes"] == 225_000
        assert hashlib.sha256(data).hexdigest() == t["file_sha256"]
    # MSS-sized segments: the downloads' server side is all 1448-byte segments but the last
    lens = [int(r[0]) for r in fields(path, tshark_home, "tcp.srcport == 6666 && tcp.len > 0 && tcp.stream == 0",
                                      "tcp.len")]
    assert set(lens[:-1]) == {1448} and 0 < lens[-1] <= 1448


def test_generators_are_deterministic(tmp_path: Path) -> None:
    """A fixed seed: the same bytes twice, so two runs of the bench measure the same capture."""
    for shape in ("short", "dns", "bulk"):
        size = {"short": {"connections": 40}, "dns": {"packets": 500},
                "bulk": {"transfer_bytes": 40_000, "downloads": 1, "uploads": 1}}[shape]
        a, b = tmp_path / f"{shape}-a.pcap", tmp_path / f"{shape}-b.pcap"
        assert make(shape, a, **size) == make(shape, b, **size)
        assert a.read_bytes() == b.read_bytes()


def test_every_bench_module_loads_and_has_its_entry() -> None:
    """`make bench` imports each tests/bench/bench_*.py in turn: one that no longer imports (a helper
    renamed under it) would stop the run halfway, after the long measurements."""
    import importlib

    names = sorted(p.stem for p in (ROOT / "tests" / "bench").glob("bench_*.py"))
    assert {"bench_reporter", "bench_files", "bench_batch", "bench_lua", "bench_render"} <= set(names)
    for name in names:
        mod = importlib.import_module(f"tests.bench.{name}")
        assert callable(getattr(mod, "run", None)), name


def test_bench_files_measures_a_small_download(tmp_path: Path) -> None:
    """bench_files end to end on a 2 MB download: the report's decoded file is the generated one."""
    from tests.bench import bench_files

    lines = bench_files.measure(mb=2, outdir=tmp_path)
    assert len(lines) == 2 and all("2 MB download" in x and "peak RSS" in x and "OVER" not in x for x in lines)


@pytest.mark.parametrize("shape", ["long", "short"])
def test_ng_shapes_are_their_pcap_shapes_saved_as_pcapng(small, shape, tshark_home) -> None:
    """long-ng and short-ng carry the very frames of long and short, in a pcapng file tshark reads as
    pcapng: the same bytes frame by frame, and the same connections in the reporter's eyes."""
    pcap, _ = small[shape]
    ng, _ = small[f"{shape}-ng"]
    assert ng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a section header block
    want = fields(pcap, tshark_home, "", "frame.time_epoch", "frame.len", "tcp.stream", "tcp.seq_raw", "tcp.len")
    got = fields(ng, tshark_home, "", "frame.time_epoch", "frame.len", "tcp.stream", "tcp.seq_raw", "tcp.len")
    assert got == want and len(got) > 1000
    a, b = report(pcap), report(ng)
    assert a["capture"]["format"] == "pcap" and b["capture"]["format"] == "pcapng"
    assert a["connections"] == b["connections"] and a["tasks"] == b["tasks"]
