"""The Wireshark plugin in real tshark 4.x: it loads without Lua errors on every sample and crafted
edge case (one pass and `-2`), labels what the report says frame by frame, raises its expert infos,
honours its port preference, and installs/uninstalls cleanly into a private HOME."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import craft, wireshark
from tests.conftest import ALL_SAMPLES, IN_CI, ROOT, SAMPLES, require_root, require_tool, tshark
from tests.craft import (
    EN10MB,
    LAB_MESSAGE,
    LINUX_SLL2,
    Iface,
    TcpFlow,
    merge,
    write_pcap,
    write_pcapng,
)
from tests.wireshark import Wireshark, as_bool

PLUGIN = ROOT / "dissector" / "progjar.lua"
LUA = ["-X", f"lua_script:{PLUGIN}"]
FIELDS = ["frame.number", "frame.time_relative", "progjar.role", "progjar.client", "progjar.stream",
          "progjar.offset", "progjar.len", "progjar.echo.ok", "progjar.echo.request_frame", "progjar.echo.delay",
          "progjar.wait", "progjar.service", "_ws.lua.error", "tcp.analysis.retransmission",
          "tcp.analysis.out_of_order", "tcp.analysis.spurious_retransmission", "tcp.analysis.fast_retransmission",
          "_ws.col.Protocol", "_ws.col.Info"]
SAMPLE_FILES = ALL_SAMPLES


# ---------------------------------------------------------------------------------------------
# crafted captures: one per edge case the plugin must survive and label right


def _t2(**kw) -> TcpFlow:
    f = TcpFlow(**kw).handshake()
    f.echo_exchange(LAB_MESSAGE)
    return f.close()


def build_crafted(d: Path) -> dict[str, Path]:
    caps: dict[str, Path] = {}
    caps["t2"] = write_pcap(d / "t2.pcap", _t2().recs())

    f = TcpFlow().handshake()  # the request is retransmitted (identical), the echo is retransmitted
    f.data("c", 0, LAB_MESSAGE).data("c", 0, LAB_MESSAGE, dt=0.2)
    f.data("s", 0, LAB_MESSAGE[:32]).data("s", 0, LAB_MESSAGE[:32], dt=0.2).data("s", 32, LAB_MESSAGE[32:])
    caps["retransmission"] = write_pcap(d / "retransmission.pcap", f.ack("c").close().recs())

    f = TcpFlow().handshake()  # the request's second half overtakes its first half
    f.data("c", 20, LAB_MESSAGE[20:]).data("c", 0, LAB_MESSAGE[:20])
    f.data("s", 0, LAB_MESSAGE[:32]).data("s", 32, LAB_MESSAGE[32:])
    caps["out_of_order"] = write_pcap(d / "out_of_order.pcap", f.ack("c").close().recs())

    f = TcpFlow().handshake()  # a later copy with other bytes overlaps delivered bytes: first bytes stay
    f.data("c", 0, LAB_MESSAGE[:30]).data("c", 20, b"X" * 26)
    f.data("s", 0, LAB_MESSAGE[:20] + b"X" * 12).data("s", 32, b"X" * 14)
    caps["overlap"] = write_pcap(d / "overlap.pcap", f.ack("c").close().recs())

    caps["wraparound"] = write_pcap(d / "wraparound.pcap", _t2(isn_c=2**32 - 20, isn_s=2**32 - 40).recs())

    f = _t2()  # every frame captured twice, on two pcapng interfaces (SLL2 `-i any` style + Ethernet)
    recs = [craft.Rec(craft.frame_for(EN10MB, p), t, 0) for t, p in f.packets]
    recs += [craft.Rec(craft.frame_for(LINUX_SLL2, p), t + 0.00001, 1) for t, p in f.packets]
    caps["duplicates"] = write_pcapng(d / "duplicates.pcapng", sorted(recs, key=lambda r: r.t),
                                      [Iface(EN10MB), Iface(LINUX_SLL2, tsresol=9)])

    caps["ipv6"] = write_pcap(d / "ipv6.pcap", _t2(client="::1", server="::1").recs())
    caps["sll2"] = write_pcap(d / "sll2.pcap", _t2().recs(LINUX_SLL2), linktype=LINUX_SLL2, nano=True)

    # task 4 against a serial server: client 2's request is ACKed at once but echoed only after
    # client 1 closed
    a = TcpFlow(client="172.16.16.102", server="172.16.16.101", cport=40001, t=1.0).handshake()
    b = TcpFlow(client="172.16.16.103", server="172.16.16.101", cport=40002, t=1.5, isn_c=7000, isn_s=9000).handshake()
    a.echo_exchange(LAB_MESSAGE)
    b.data("c", 0, LAB_MESSAGE).ack("s")
    a.t = 4.0
    a.close()
    b.t = 5.2
    b.data("s", 0, LAB_MESSAGE[:32]).data("s", 32, LAB_MESSAGE[32:]).ack("c").close()
    caps["serial"] = write_pcap(d / "serial.pcap", merge(a.recs(), b.recs()))

    f = TcpFlow().handshake()  # one echoed byte differs (the server's --corrupt-offset 40)
    bad = bytearray(LAB_MESSAGE)
    bad[40] ^= 0x20
    f.data("c", 0, LAB_MESSAGE).data("s", 0, bytes(bad[:32])).data("s", 32, bytes(bad[32:]))
    caps["corrupt"] = write_pcap(d / "corrupt.pcap", f.ack("c").close().recs())

    f = TcpFlow().handshake()  # the server closes after echoing 32 of 46 bytes
    f.data("c", 0, LAB_MESSAGE).data("s", 0, LAB_MESSAGE[:32]).ack("c").fin("s").fin("c").ack("s")
    caps["unechoed"] = write_pcap(d / "unechoed.pcap", f.recs())

    f = TcpFlow(sport=32444).handshake()  # task 3: a file in several segments, echoed in 32s
    body = bytes(range(32, 127)) * 30
    for i in range(0, len(body), 1448):
        f.data("c", i, body[i:i + 1448])
    for i in range(0, len(body), 32):
        f.data("s", i, body[i:i + 32])
    caps["file_echo"] = write_pcap(d / "file_echo.pcap", f.ack("c").close().recs())

    f = TcpFlow().handshake()  # TCP keep-alives (one old byte) between two exchanges
    f.echo_exchange(LAB_MESSAGE)
    f.data("c", len(LAB_MESSAGE) - 1, b"\0", dt=1.0, flags=craft.ACK).ack("s")
    f.echo_exchange(LAB_MESSAGE)
    caps["keepalive"] = write_pcap(d / "keepalive.pcap", f.close().recs())

    f = TcpFlow(step=0.01).handshake()  # no handshake in the capture: starts mid-connection
    f.packets.clear()
    f.echo_exchange(LAB_MESSAGE)
    caps["midstream"] = write_pcap(d / "midstream.pcap", f.close().recs())
    return caps


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> dict[str, Path]:
    return build_crafted(tmp_path_factory.mktemp("crafted"))


# ---------------------------------------------------------------------------------------------
# running tshark with the plugin: every test that runs it takes the `ws` fixture (tests/conftest.py),
# so it runs on Wireshark 4.0, 4.4 and 4.6

_cache: dict[tuple, list[dict]] = {}
BOOL_FIELDS = ("progjar.echo.ok",)  # FT_BOOLEAN: 1/0 up to Wireshark 4.2, True/False from 4.4


def labels(cap: Path, ws: Wireshark, two_pass: bool = False, extra: tuple = ()) -> list[dict]:
    """One row per frame: the plugin's fields (and tshark's own TCP analysis flags), as text but
    booleans as True / False / None (absent), whatever the version prints."""
    key = (ws.id, str(cap), str(ws.home), two_pass, extra)  # everything the tshark run below depends on
    if key not in _cache:
        args = ["-r", str(cap), *LUA, *extra, "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
        if two_pass:
            args.insert(0, "-2")
        for f in FIELDS:
            args += ["-e", f]
        out = tshark(args, ws).stdout
        rows = [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]
        for r in rows:
            for f in BOOL_FIELDS:
                r[f] = as_bool(r[f])
        assert [r["_ws.lua.error"] for r in rows if r["_ws.lua.error"]] == [], f"Lua error frames in {cap.name}"
        _cache[key] = rows
    return _cache[key]


def labelled(rows: list[dict]) -> dict[int, dict]:
    return {int(r["frame.number"]): r for r in rows if r["progjar.role"]}


def frames_matching(cap: Path, ws: Wireshark, dfilter: str, extra: tuple = ()) -> list[int]:
    p = tshark(["-r", str(cap), *LUA, *extra, "-Y", dfilter, "-T", "fields", "-e", "frame.number"], ws)
    return [int(x) for x in p.stdout.split()]


def expert_messages(cap: Path, ws: Wireshark, name: str) -> dict[int, str]:
    p = tshark(["-r", str(cap), *LUA, "-Y", name, "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message",
                "-E", "occurrence=a", "-E", "aggregator=|"], ws)
    out = {}
    for line in p.stdout.splitlines():
        num, _, msgs = line.partition("\t")
        out[int(num)] = msgs
    return out


def _time(row: dict, key: str) -> float:
    return float(row[key])


# ---------------------------------------------------------------------------------------------
# loads cleanly everywhere, one pass and two passes agree


CRAFTED_NAMES = ["t2", "retransmission", "out_of_order", "overlap", "wraparound", "duplicates", "ipv6", "sll2",
                 "serial", "corrupt", "unechoed", "file_echo", "midstream", "keepalive"]


@pytest.mark.parametrize("name", CRAFTED_NAMES)
def test_crafted_capture_loads_without_lua_error_in_one_and_two_passes(crafted, ws, name) -> None:
    one = labels(crafted[name], ws)
    two = labels(crafted[name], ws, two_pass=True)
    assert labelled(one), f"the plugin labelled nothing in {name}"
    assert labelled(one) == labelled(two), "tshark -2 must show the same labels as one pass"
    assert frames_matching(crafted[name], ws, "_ws.lua.error") == []


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_sample_loads_without_lua_error_in_one_and_two_passes(ws, sample: Path) -> None:
    one = labels(sample, ws)
    # positive control: every sample with TCP is a lab conversation the plugin must label
    assert bool(labelled(one)) == any(r["_ws.col.Protocol"] in ("TCP", "PROGJAR") for r in one), sample.name
    assert labelled(one) == labelled(labels(sample, ws, two_pass=True))
    assert frames_matching(sample, ws, "_ws.lua.error") == []
    assert frames_matching(sample, ws, "_ws.lua.error", extra=("-2",)) == []


def test_a_plugin_wireshark_did_not_load_fails_the_run(crafted, ws, tmp_path) -> None:
    """As root, Wireshark 4.2+ skip `-X lua_script:` and personal plugins without a word unless the
    global init.lua allows them (4.0 ships one that does); tshark still exits 0, and a test that
    expects no Lua error or an empty filter would pass. The harness must refuse such a run."""
    require_root()
    as_root = dataclasses.replace(ws, keep_root=True)
    args = ["-r", str(crafted["t2"]), *LUA, "-T", "fields", "-e", "frame.number"]
    if ws.version.startswith("4.0."):
        assert tshark(args, as_root).stdout.split() == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
        return
    with pytest.raises(AssertionError, match="did not run the user's Lua scripts"):
        tshark(args, as_root)
    h = tmp_path / "h"
    _install_plugin(h, PLUGIN.read_text())
    with pytest.raises(AssertionError, match="did not run the user's Lua scripts"):
        tshark(args[:2] + args[4:], as_root.with_home(h), plugins=True)
    # the same run as nobody loads it
    assert labelled(labels(crafted["t2"], ws))


def test_samples_are_there() -> None:
    if not SAMPLE_FILES:
        if IN_CI:
            pytest.fail("samples/*.pcap* missing")
        pytest.skip("no samples yet (the lab runner writes them)")


# ---------------------------------------------------------------------------------------------
# the public surface: fields and expert infos exactly as DESIGN.md's table


def test_fields_and_expert_infos_are_registered_as_designed(ws) -> None:
    out = tshark(["-G", "fields", *LUA], ws).stdout
    types = {parts[2]: parts[3] for parts in (l.split("\t") for l in out.splitlines())
             if len(parts) > 4 and parts[0] == "F" and parts[4] == "progjar"}
    assert types == {
        "progjar.service": "FT_STRING", "progjar.role": "FT_STRING", "progjar.client": "FT_UINT32",
        "progjar.stream": "FT_UINT32", "progjar.offset": "FT_UINT64", "progjar.len": "FT_UINT32",
        "progjar.echo.ok": "FT_BOOLEAN", "progjar.echo.request_frame": "FT_FRAMENUM",
        "progjar.echo.delay": "FT_RELATIVE_TIME", "progjar.wait": "FT_RELATIVE_TIME", "progjar.text": "FT_STRING",
        "progjar.expert.mismatch": "FT_NONE", "progjar.expert.queued": "FT_NONE", "progjar.expert.unechoed": "FT_NONE",
        # messages of the time and file servers (tests/test_dissector_messages.py)
        "progjar.msg.index": "FT_UINT32", "progjar.msg.command": "FT_STRING", "progjar.msg.status": "FT_STRING",
        "progjar.msg.reply_to": "FT_FRAMENUM", "progjar.msg.file": "FT_STRING", "progjar.msg.file_len": "FT_UINT32",
        "progjar.expert.bad_reply": "FT_NONE", "progjar.expert.not_json": "FT_NONE",
        "progjar.expert.several_replies": "FT_NONE", "progjar.expert.early_reply": "FT_NONE",
        "progjar.expert.error_reply": "FT_NONE", "progjar.expert.unanswered": "FT_NONE",
    }
    protos = tshark(["-G", "protocols", *LUA], ws).stdout
    assert ("Progjar Lab", "PROGJAR", "progjar") in wireshark.protocols(protos)


# ---------------------------------------------------------------------------------------------
# what the labels say, checked against the capture's own construction


def test_t2_request_and_echo_labels(crafted, ws) -> None:
    rows = labels(crafted["t2"], ws)
    got = {n: (r["progjar.role"], r["progjar.client"], r["progjar.offset"], r["progjar.len"], r["progjar.echo.ok"],
               r["progjar.service"]) for n, r in labelled(rows).items()}
    assert got == {4: ("request", "1", "0", "46", None, "echo"), 5: ("echo", "1", "0", "32", True, "echo"),
                   6: ("echo", "1", "32", "14", True, "echo")}
    lab = labelled(rows)
    assert lab[4]["_ws.col.Info"] == 'Client #1 request [0,46) "INI ADALAH ..."'
    assert lab[5]["_ws.col.Info"] == "Echo to #1 [0,32) ok"
    assert lab[5]["progjar.echo.request_frame"] == "4" and lab[6]["progjar.echo.request_frame"] == "4"
    assert _time(lab[5], "progjar.echo.delay") == pytest.approx(_time(rows[4], "frame.time_relative")
                                                                 - _time(rows[3], "frame.time_relative"), abs=1e-6)
    # wait: client's SYN (frame 1) to the first echo (frame 5), only on the first echo
    assert _time(lab[5], "progjar.wait") == pytest.approx(_time(rows[4], "frame.time_relative"), abs=1e-6)
    assert lab[6]["progjar.wait"] == ""
    assert all(r["_ws.col.Protocol"] == "PROGJAR" for r in lab.values())


def test_port_10000_is_ours_not_ndmp(crafted, ws) -> None:
    assert frames_matching(crafted["t2"], ws, "ndmp") == []
    assert frames_matching(crafted["t2"], ws, "progjar") == [4, 5, 6]


@pytest.mark.parametrize("name", ["t2", "wraparound", "ipv6", "sll2"])
def test_same_labels_whatever_the_isn_address_family_or_link_type(crafted, ws, name) -> None:
    base = {n: (r["progjar.role"], r["progjar.offset"], r["progjar.len"], r["progjar.echo.ok"])
            for n, r in labelled(labels(crafted["t2"], ws)).items()}
    got = {n: (r["progjar.role"], r["progjar.offset"], r["progjar.len"], r["progjar.echo.ok"])
           for n, r in labelled(labels(crafted[name], ws)).items()}
    assert got == base


def test_retransmissions_are_not_labelled_and_do_not_disturb_the_echo(crafted, ws) -> None:
    rows = labels(crafted["retransmission"], ws)
    lab = labelled(rows)
    retrans = {int(r["frame.number"]) for r in rows if r["tcp.analysis.retransmission"]}
    assert retrans and not retrans & lab.keys()  # TCP does not hand retransmissions to the plugin
    assert [(r["progjar.role"], r["progjar.offset"], r["progjar.echo.ok"]) for r in lab.values()] == [
        ("request", "0", None), ("echo", "0", True), ("echo", "32", True)]


def test_out_of_order_request_is_reassembled_for_the_echo_check(crafted, ws) -> None:
    lab = labelled(labels(crafted["out_of_order"], ws))
    # frame 4 = bytes [20,46) first; frame 5 (the first half, flagged out-of-order) is not passed
    # to the plugin but its bytes are used: both echoes match and point at the right request frame
    assert (lab[4]["progjar.role"], lab[4]["progjar.offset"], lab[4]["progjar.len"]) == ("request", "20", "26")
    assert 5 not in lab
    assert [(n, r["progjar.echo.ok"], r["progjar.echo.request_frame"]) for n, r in lab.items() if r["progjar.role"] == "echo"] \
        == [(6, True, "5"), (7, True, "4")]


def test_overlap_keeps_the_bytes_delivered_first(crafted, ws) -> None:
    lab = labelled(labels(crafted["overlap"], ws))
    echoes = [(r["progjar.offset"], r["progjar.echo.ok"]) for r in lab.values() if r["progjar.role"] == "echo"]
    # [0,30) came first; the overlapping copy only adds [30,46) = "X" * 16 after the original bytes
    assert echoes == [("0", False), ("32", True)]


def test_duplicates_on_two_interfaces_are_labelled_once(crafted, ws) -> None:
    rows = labels(crafted["duplicates"], ws)
    lab = labelled(rows)
    assert [(r["progjar.role"], r["progjar.offset"]) for r in lab.values()] == [("request", "0"), ("echo", "0"), ("echo", "32")]
    assert all(int(n) % 2 == 1 for n in lab), "only the first copy of each frame is labelled"


def test_serial_server_second_client_is_queued(crafted, ws) -> None:
    rows = labels(crafted["serial"], ws)
    lab = labelled(rows)
    first_echo_b = min(n for n, r in lab.items() if r["progjar.role"] == "echo" and r["progjar.client"] == "2")
    notes = expert_messages(crafted["serial"], ws, "progjar.expert.queued")
    assert list(notes) == [first_echo_b]
    assert "client #2 waited 3.7 s, served after client #1 closed" in notes[first_echo_b]
    syn_b = next(r for r in rows if r["_ws.col.Info"].startswith("40002 → 10000 [SYN]"))
    assert _time(lab[first_echo_b], "progjar.wait") == pytest.approx(
        _time(rows[first_echo_b - 1], "frame.time_relative") - _time(syn_b, "frame.time_relative"), abs=1e-6)
    assert {r["progjar.client"] for r in lab.values() if r["progjar.stream"] == "0"} == {"1"}


def test_corrupted_echo_raises_the_mismatch_error(crafted, ws) -> None:
    lab = labelled(labels(crafted["corrupt"], ws))
    assert [(r["progjar.offset"], r["progjar.echo.ok"]) for r in lab.values() if r["progjar.role"] == "echo"] == [
        ("0", True), ("32", False)]
    errors = expert_messages(crafted["corrupt"], ws, "progjar.expert.mismatch")
    bad = next(n for n, r in lab.items() if r["progjar.echo.ok"] is False)
    assert list(errors) == [bad] and "differs" in errors[bad]
    assert lab[bad]["_ws.col.Info"] == "Echo to #1 [32,46) MISMATCH"
    assert expert_messages(crafted["t2"], ws, "progjar.expert.mismatch") == {}


def test_close_with_bytes_not_echoed_is_warned_on_the_closing_frame(crafted, ws) -> None:
    rows = labels(crafted["unechoed"], ws)
    warned = expert_messages(crafted["unechoed"], ws, "progjar.expert.unechoed")
    assert len(warned) == 1
    (num, msg), = warned.items()
    assert rows[num - 1]["_ws.col.Info"].startswith("10000 → 40000 [FIN, ACK]")  # the server's FIN, no payload
    assert "14 request bytes not echoed" in msg
    assert expert_messages(crafted["t2"], ws, "progjar.expert.unechoed") == {}


def test_file_echo_service_on_the_second_port(crafted, ws) -> None:
    lab = labelled(labels(crafted["file_echo"], ws))
    assert {r["progjar.service"] for r in lab.values()} == {"file-echo"}
    assert all(r["progjar.echo.ok"] is True for r in lab.values() if r["progjar.role"] == "echo")
    assert sum(int(r["progjar.len"]) for r in lab.values() if r["progjar.role"] == "request") == 95 * 30


def test_midstream_capture_counts_from_the_first_segment(crafted, ws) -> None:
    lab = labelled(labels(crafted["midstream"], ws))
    assert [(r["progjar.role"], r["progjar.offset"], r["progjar.echo.ok"], r["progjar.wait"]) for r in lab.values()] == [
        ("request", "0", None, ""), ("echo", "0", True, ""), ("echo", "32", True, "")]


def test_port_preference_moves_the_plugin(tmp_path, ws) -> None:
    a = TcpFlow(sport=12345, cport=40001).handshake().echo_exchange(LAB_MESSAGE).close()
    b = TcpFlow(sport=10000, cport=40002, t=2.0).handshake().echo_exchange(LAB_MESSAGE).close()
    cap = write_pcap(tmp_path / "ports.pcap", merge(a.recs(), b.recs()))
    default = labelled(labels(cap, ws))
    assert {r["progjar.stream"] for r in default.values()} == {"1"}  # only the 10000 connection
    moved = labelled(labels(cap, ws, extra=("-o", "progjar.ports:12345")))
    assert {r["progjar.stream"] for r in moved.values()} == {"0"}
    assert {r["progjar.service"] for r in moved.values()} == {"echo"}
    both = labelled(labels(cap, ws, extra=("-o", "progjar.ports:12345,10000")))
    assert {(r["progjar.stream"], r["progjar.service"]) for r in both.values()} == {("0", "echo"), ("1", "file-echo")}


# ---------------------------------------------------------------------------------------------
# agreement with the reporter, frame by frame


def reporter_json(cap: Path) -> dict:
    p = subprocess.run([sys.executable, "-m", "reporter", "report", str(cap), "--format", "json", "--frames", "-o", "-"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


WS_FLAGS = ("tcp.analysis.retransmission", "tcp.analysis.out_of_order", "tcp.analysis.spurious_retransmission")


def _release(ws: Wireshark) -> tuple[int, int]:
    major, minor = ws.version.split(".")[:2]
    return int(major), int(minor)


def assert_agreement(cap: Path, ws: Wireshark) -> None:
    """The plugin's labels equal the report's `frames` on every frame, with one explicit rule:
    a frame the reporter marks `tcp_analysis` (retransmission, out-of-order, capture duplicate) is
    one Wireshark's TCP also flags, and TCP does not hand such segments to a subdissector, so the
    plugin shows no label there; except a fast retransmission, which Wireshark 4.0 and 4.4's TCP do
    hand on (its flag is not among those tcp_no_subdissector_on_error stops), so the plugin labels it
    like any other segment there (4.6 does not hand it on). Everything else must be identical."""
    report = reporter_json(cap)
    rows = labels(cap, ws)
    by_num = {int(r["frame.number"]): r for r in rows}
    lab = labelled(rows)
    frames = {int(k): v for k, v in (report.get("frames") or {}).items()}
    flagged = {n for n, f in frames.items() if f.get("tcp_analysis")}
    for n in flagged:
        assert any(by_num[n][k] for k in WS_FLAGS), f"{cap.name} frame {n}: reporter says {frames[n]['tcp_analysis']}, Wireshark does not flag it"
    if _release(ws) < (4, 6):  # 4.6's TCP no longer hands a fast retransmission on either
        flagged = {n for n in flagged if not by_num[n]["tcp.analysis.fast_retransmission"]}
    for n in flagged:
        assert n not in lab, f"{cap.name} frame {n}: TCP passed a flagged segment to the plugin"
    want = {n: (f["role"], str(f["client_no"]), str(f["conn"]), str(f["offset"]), str(f["len"]),
                f.get("echo_ok"))
            for n, f in frames.items() if n not in flagged}
    got = {n: (r["progjar.role"], r["progjar.client"], r["progjar.stream"], r["progjar.offset"], r["progjar.len"],
               r["progjar.echo.ok"]) for n, r in lab.items()}
    assert got == want, f"{cap.name}: plugin and report disagree"
    assert bool(want) == any(r["progjar.role"] for r in rows), "a capture with lab payload must be compared, not skipped"
    assert want or not report["connections"], f"{cap.name}: lab connections but no frame compared"
    waits = {int(r["progjar.stream"]): float(r["progjar.wait"]) for r in lab.values() if r["progjar.wait"]}
    for c in report["connections"]:
        w = (c.get("echo") or {}).get("wait_s")
        if w is None:
            assert c["id"] not in waits, f"{cap.name} connection {c['id']}: plugin has a wait, report none"
        elif c["handshake"].get("syn_frame") is not None:
            assert waits.get(c["id"]) == pytest.approx(w, abs=1e-3), f"{cap.name} connection {c['id']} wait"


@pytest.mark.parametrize("name", CRAFTED_NAMES)
def test_crafted_labels_agree_with_the_report(crafted, ws, name) -> None:
    assert_agreement(crafted[name], ws)


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_sample_labels_agree_with_the_report(ws, sample: Path) -> None:
    assert_agreement(sample, ws)


def summary_frames(cap: Path, ws: Wireshark, dfilter: str) -> list[int]:
    """Frame numbers of tshark's summary lines (no -T fields). There the tree is invisible and the
    plugin adds only the fields a filter refers to (TreeItem:referenced): this is the path the GUI's
    packet list, display filters and colouring rules take, which -T fields never exercises."""
    out = tshark(["-r", str(cap), *LUA, "-Y", dfilter], ws).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_display_filters_on_an_invisible_tree_match_the_report(ws, sample: Path) -> None:
    report = reporter_json(sample)
    frames = {int(k): v for k, v in (report.get("frames") or {}).items() if not v.get("tcp_analysis")}
    ok_echoes = sorted(n for n, f in frames.items() if f["role"] == "echo" and f["echo_ok"])
    second_client = sorted(n for n, f in frames.items() if f["client_no"] == 2)
    requests = sorted(n for n, f in frames.items() if f["role"] == "request")
    assert requests or not report["connections"], "a sample with lab connections must have frames to filter"
    assert summary_frames(sample, ws, "progjar.role == \"echo\" && progjar.echo.ok == 1") == ok_echoes
    assert summary_frames(sample, ws, "progjar.client == 2") == second_client
    assert summary_frames(sample, ws, "progjar.role == \"request\"") == requests
    # the protocol alone as the filter: the plugin must not take "no progjar field referenced" for
    # "nothing referenced" and skip the subtree
    labelled = sorted(n for n, f in frames.items() if f["role"] is not None)  # request, echo, response
    assert summary_frames(sample, ws, "progjar") == labelled
    queued = {c["id"] for c in report["connections"] if (c["echo"]["wait_s"] or 0) > 1}
    long_waits = summary_frames(sample, ws, "progjar.wait > 1")
    assert len(long_waits) == len(queued) and {frames[n]["conn"] for n in long_waits} == queued


def test_info_column_on_summary_lines(ws) -> None:
    cap = SAMPLES / "t4-serial.pcap"
    out = tshark(["-r", str(cap), *LUA, "-Y", "progjar.wait > 1"], ws).stdout
    assert "Echo to #2 [0,32) ok" in out, out
    # no filter at all: nothing refers to progjar, so the frames get no subtree, only their columns
    plain = tshark(["-r", str(cap), *LUA], ws).stdout
    lines = [line for line in plain.splitlines() if " PROGJAR " in line]
    labelled = sorted(int(k) for k, v in reporter_json(cap)["frames"].items() if v.get("role") in ("request", "echo"))
    assert [int(line.split()[0]) for line in lines] == labelled, plain
    assert sum('Client #2 request [0,46) "INI ADALAH ..."' in line for line in lines) == 1, plain
    assert sum("Echo to #2 [0,32) ok" in line for line in lines) == 1, plain


# ---------------------------------------------------------------------------------------------
# a live corrupted echo from the lab server, captured on loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_corrupted_echo_on_loopback_raises_mismatch(tmp_path, ws) -> None:
    require_root()
    require_tool("dumpcap")
    port = _free_port()
    cap = tmp_path / "live.pcapng"
    dump = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", str(cap)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        deadline = time.monotonic() + 10
        line = ""
        while "Capturing on" not in line and time.monotonic() < deadline:
            line = dump.stderr.readline()
            if not line and dump.poll() is not None:
                pytest.fail("dumpcap did not start")
        time.sleep(0.3)
        server = subprocess.Popen([sys.executable, str(ROOT / "servers" / "echo_server.py"), "--bind", "127.0.0.1",
                                   "--port", str(port), "--max-clients", "1", "--corrupt-offset", "40"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = None
        for _ in range(50):
            client = subprocess.run([sys.executable, str(ROOT / "servers" / "echo_client.py"), "--server", "127.0.0.1",
                                     "--port", str(port), "--timeout", "5"], capture_output=True, text=True, timeout=30,
                                    check=False)
            if client.returncode == 0 or "refused" not in (client.stderr + client.stdout).lower():
                break
            time.sleep(0.1)
        server.wait(timeout=15)
        time.sleep(0.5)
        assert client is not None and client.returncode == 1 and "echo mismatch at byte 40" in client.stderr, \
            client.stderr if client else "no client run"
    finally:
        for p in (server, dump):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT if p is dump else signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
    extra = ("-o", f"progjar.ports:{port}")
    lab = labelled(labels(cap, ws, extra=extra))
    bad = [n for n, r in lab.items() if r["progjar.echo.ok"] is False]
    assert len(bad) == 1, f"expected exactly one mismatching echo segment, got {lab}"
    assert int(lab[bad[0]]["progjar.offset"]) <= 40 < int(lab[bad[0]]["progjar.offset"]) + int(lab[bad[0]]["progjar.len"])
    assert frames_matching(cap, ws, "progjar.expert.mismatch", extra=extra) == bad


# ---------------------------------------------------------------------------------------------
# install / uninstall / path, in a private HOME


def _env(home: Path) -> dict:
    return dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))


def _plugins_dir(home: Path) -> Path:
    """Wireshark's personal Lua plugin folder under a private HOME (Linux)."""
    return home / ".local" / "lib" / "wireshark" / "plugins"


def _progjar(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reporter", "dissector", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=_env(home), check=False)


def test_install_puts_plugin_and_profile_where_tshark_finds_them(tmp_path, crafted, ws) -> None:
    require_tool("tshark")  # `progjar dissector install` asks this machine's tshark for its folders
    h = tmp_path / "h"
    h.mkdir()
    assert "not installed" in _progjar(h, "path").stdout
    p = _progjar(h, "install")
    assert p.returncode == 0, p.stderr
    plugin = _plugins_dir(h) / "progjar.lua"
    profile = h / ".config" / "wireshark" / "profiles" / "progjar"
    assert f"plugin:  {plugin}" in p.stdout
    for name in ("colorfilters", "preferences", "recent"):
        assert f"profile: {profile / name}" in p.stdout and (profile / name).is_file()
    assert plugin.read_bytes() == PLUGIN.read_bytes()
    # tshark (each version) loads the installed plugin by itself, and the profile without complaint
    t = tshark(["-r", str(crafted["t2"]), "-C", "progjar", "-T", "fields", "-e", "progjar.role"], ws.with_home(h),
               plugins=True)
    assert t.stdout.split() == ["request", "echo", "echo"]
    assert "warn" not in t.stderr.lower() and "No such preference" not in t.stderr
    assert "(installed)" in _progjar(h, "path").stdout
    # installing again replaces our copy and removes an older copy of ours in a subfolder
    old = plugin.parent / "old" / "progjar.lua"
    old.parent.mkdir()
    old.write_bytes(PLUGIN.read_bytes())
    p = _progjar(h, "install")
    assert p.returncode == 0 and f"removed an older copy: {old}" in p.stdout and not old.exists()
    # uninstall removes only what install wrote
    mine = profile / "mine.txt"
    mine.write_text("the student's own file")
    p = _progjar(h, "uninstall")
    assert p.returncode == 0
    assert not plugin.exists() and not (profile / "colorfilters").exists() and mine.exists()


def test_install_leaves_a_foreign_progjar_lua_alone(tmp_path) -> None:
    h = tmp_path / "h"
    plugins = _plugins_dir(h)
    plugins.mkdir(parents=True)
    foreign = plugins / "progjar.lua"
    foreign.write_text('local p = Proto("progjar", "my own")\n')
    p = _progjar(h, "install")
    assert p.returncode == 1 and "not ours" in p.stderr
    assert foreign.read_text().startswith("local p = Proto")
    p = _progjar(h, "uninstall")
    assert foreign.exists() and "not the progjar-lab plugin" in p.stderr


def test_folders_come_from_tshark() -> None:
    from dissector.install import parse_folders

    text = "Personal configuration:\t/h/.config/wireshark\nPersonal Lua Plugins:\t/h/.local/lib/wireshark/plugins\n"
    f = parse_folders(text)
    assert f["Personal configuration"] == "/h/.config/wireshark"
    assert f["Personal Lua Plugins"] == "/h/.local/lib/wireshark/plugins"


# ---------------------------------------------------------------------------------------------
# robustness: 1,000 damaged captures (tests/mutants.py) plus TCP-header mutants of the edge cases,
# all without a Lua error.
#
# tshark starts in ~0.4 s, so 1,000 tshark runs would take minutes. sharkd (Wireshark's own
# analysis daemon, same dissection engine) loads capture after capture in one process, calling
# the plugin's init() for each file like Wireshark does, so every mutant starts from a clean
# state; two sharkd processes share the work. For each file the display filter `_ws.lua.error`
# forces a full dissection with trees and lists every frame where the plugin raised an error.


def _install_plugin(home: Path, plugin_text: str) -> None:
    d = _plugins_dir(home)
    d.mkdir(parents=True, exist_ok=True)
    (d / "progjar.lua").write_text(plugin_text)


def _sharkd(reqs: list[dict], ws: Wireshark, timeout: float) -> tuple[dict[int, dict], str]:
    """Send JSON-RPC requests to one `sharkd -` of that version with its HOME (the plugin installed
    there, proven loaded); returns {id: answer}, stderr. Files to `load` are copied where it reads them."""
    with ws.stage() as st:
        reqs = [dict(r, params=dict(r["params"], file=st.file(r["params"]["file"])))
                if r["method"] == "load" else r for r in reqs]
        p = st.run("sharkd", ["-"], input="\n".join(json.dumps(r) for r in reqs) + "\n", timeout=timeout,
                   plugins=True)
    answers = {}
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and "id" in msg:
            answers[msg["id"]] = msg
    return answers, p.stderr


def _sharkd_batch(files: list[Path], ws: Wireshark, timeout: float) -> tuple[dict[int, list], dict[int, int], str]:
    """Load each file in one sharkd; return {index: lua-error frames}, {index: labelled frames}, stderr.
    A file whose answers are missing (sharkd died on it) is left out of both dicts."""
    reqs = []
    for i, f in enumerate(files):
        reqs.append({"jsonrpc": "2.0", "id": 3 * i + 1, "method": "load", "params": {"file": str(f)}})
        # sharkd 4.0 caches a filter's matches by the filter text across loads: make each text unique
        never = f"frame.number != {4000000000 - i}"
        reqs.append({"jsonrpc": "2.0", "id": 3 * i + 2, "method": "frames", "params": {"filter": f"_ws.lua.error && {never}"}})
        reqs.append({"jsonrpc": "2.0", "id": 3 * i + 3, "method": "frames", "params": {"filter": f"progjar && {never}"}})
    answers, stderr = _sharkd(reqs, ws, timeout)
    errors, seen = {}, {}
    for i in range(len(files)):
        # a damaged file may get no answer to `load` (sharkd says why on stderr) but still has
        # frames read before the damage; only missing `frames` answers mean sharkd died
        err, lab = answers.get(3 * i + 2), answers.get(3 * i + 3)
        if err is None or lab is None:
            continue
        errors[i] = [fr["num"] for fr in err.get("result", [])]
        seen[i] = len(lab.get("result", []))
    return errors, seen, "\n".join(l for l in stderr.splitlines() if "lua" in l.lower())


def run_sharkd(files: list[Path], ws: Wireshark, workers: int = 2, batch: int = 150) -> tuple[dict[Path, list], int, list[Path], str]:
    """All files through sharkd, `workers` processes at a time; a file that kills sharkd is retried
    alone once and, if it kills it again, reported as crashed (Wireshark's problem, not a Lua error)."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = [files[i:i + batch] for i in range(0, len(files), batch)]
    lua_errors: dict[Path, list] = {}
    labelled_total, crashed, stderr_all = 0, [], []
    todo = chunks
    for attempt in range(3):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda c: (c, *_sharkd_batch(c, ws, timeout=240)), todo))
        todo = []
        for chunk, errors, seen, stderr in results:
            if stderr:
                stderr_all.append(stderr)
            for i, f in enumerate(chunk):
                if i in errors:
                    if errors[i]:
                        lua_errors[f] = errors[i]
                    labelled_total += seen[i]
            missing = [f for i, f in enumerate(chunk) if i not in errors]
            if missing:
                if attempt == 2 or len(missing) == 1 and len(chunk) == 1:
                    crashed += missing
                else:
                    # the first missing file is the one sharkd died on: alone; the rest as a batch
                    todo += [[missing[0]], missing[1:]] if len(missing) > 1 else [[missing[0]]]
        if not todo:
            break
    return lua_errors, labelled_total, crashed, "\n".join(stderr_all)


def tcp_header_mutants(out: Path, n: int, seed: int = 6) -> list[Path]:
    """Edge-case captures with bytes of the IP/TCP headers changed (ports, sequence numbers, flags,
    header length): the fields the plugin's state machine reads, not just file structure."""
    import random

    rng = random.Random(seed)
    (out / "src").mkdir(parents=True, exist_ok=True)
    srcs = build_crafted(out / "src")
    names = sorted(k for k, v in srcs.items() if v.suffix == ".pcap")
    files = []
    for i in range(n):
        name = rng.choice(names)
        data = bytearray(srcs[name].read_bytes())
        recs, pos = [], 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from("<I", data, pos + 8)[0]
            recs.append((pos + 16, incl))
            pos += 16 + incl
        for _ in range(rng.randint(1, 6)):
            start, incl = rng.choice(recs)
            lo = 14 if name != "sll2" else 20  # skip the link header
            lo += 20 if name != "ipv6" else 40
            k = start + rng.randrange(lo - 12, min(incl, lo + 20)) if incl > lo else start
            if k < len(data):
                data[k] = rng.randrange(256)
        p = out / f"{i:04d}-tcp-{name}.pcap"
        p.write_bytes(bytes(data))
        files.append(p)
    return files


@pytest.mark.slow
def test_a_thousand_damaged_captures_raise_no_lua_error(tmp_path, ws) -> None:
    ws.require("sharkd")
    from tests.mutants import make_mutants

    files = make_mutants(tmp_path / "mutants", 1000, 3) + tcp_header_mutants(tmp_path / "tcp", 200)
    home = tmp_path / "home"
    _install_plugin(home, PLUGIN.read_text())
    lua_errors, labelled_total, crashed, stderr = run_sharkd(files, ws.with_home(home))
    assert "Lua" not in stderr and "lua" not in stderr, stderr[:2000]
    assert lua_errors == {}, f"Lua errors in {len(lua_errors)} captures, e.g. {list(lua_errors.items())[:5]}"
    assert labelled_total > 1000, "the plugin must actually have dissected the mutants"
    assert len(crashed) <= len(files) // 100, f"sharkd died on {crashed[:10]}"


def test_the_sharkd_harness_sees_lua_errors(tmp_path, crafted, ws) -> None:
    """The robustness test above would be worthless if a failing plugin went unnoticed."""
    broken = PLUGIN.read_text().replace("    last_shown = num\n",
                                        "    if m[ROLE] == 'echo' then error('boom') end\n    last_shown = num\n", 1)
    assert broken != PLUGIN.read_text()
    broken_home = tmp_path / "broken-home"
    _install_plugin(broken_home, broken)
    ws.require("sharkd")
    lua_errors, _, crashed, _ = run_sharkd([crafted["t2"], crafted["serial"]], ws.with_home(broken_home), workers=1)
    assert not crashed
    echoes = {c: sorted(n for n, r in labelled(labels(c, ws)).items() if r["progjar.role"] == "echo")
              for c in (crafted["t2"], crafted["serial"])}
    assert lua_errors == echoes and echoes[crafted["t2"]] == [5, 6]


# ---------------------------------------------------------------------------------------------
# random-order re-dissection, as in the GUI when the user clicks around


def _frame_facts(node_list: list, out: dict) -> dict:
    for node in node_list:
        f = node.get("f", "")
        if f.startswith("progjar.") and " == " in f:
            key, _, value = f.partition(" == ")
            out.setdefault(key, value.strip('"'))
        _frame_facts(node.get("n", []), out)
    return out


@pytest.mark.parametrize("name", ["serial", "out_of_order", "corrupt"])
def test_clicking_frames_in_random_order_shows_the_same_labels(crafted, ws, tmp_path, name) -> None:
    """sharkd (Wireshark's engine behind a GUI) loads the file, shows the packet list with a filter
    on progjar (in frame order, like the GUI's first pass with the progjar profile), then opens
    frames in a shuffled order: every frame must show what one-pass tshark shows."""
    import random

    ws.require("sharkd")
    cap = crafted[name]
    want = labelled(labels(cap, ws))
    order = list(want) * 2
    random.Random(7).shuffle(order)
    reqs = [{"jsonrpc": "2.0", "id": 1, "method": "load", "params": {"file": str(cap)}},
            {"jsonrpc": "2.0", "id": 2, "method": "frames", "params": {"filter": "progjar"}}]
    reqs += [{"jsonrpc": "2.0", "id": 100 + i, "method": "frame", "params": {"frame": n, "proto": True}}
             for i, n in enumerate(order)]
    shome = tmp_path / "sharkd-home"
    _install_plugin(shome, PLUGIN.read_text())
    answers, _ = _sharkd(reqs, ws.with_home(shome), timeout=120)
    assert [f["num"] for f in answers[2]["result"]] == sorted(want)
    for i, n in enumerate(order):
        facts = _frame_facts(answers[100 + i]["result"]["tree"], {})
        r = want[n]
        got = (facts.get("progjar.role"), facts.get("progjar.client"), facts.get("progjar.offset"),
               facts.get("progjar.len"), as_bool(facts.get("progjar.echo.ok", "")), facts.get("progjar.echo.request_frame", ""),
               float(facts.get("progjar.wait", "-1")))
        assert got == (r["progjar.role"], r["progjar.client"], r["progjar.offset"], r["progjar.len"],
                       r["progjar.echo.ok"], r["progjar.echo.request_frame"],
                       pytest.approx(float(r["progjar.wait"] or "-1"), abs=1e-6)), f"frame {n} (visit {i})"


def test_install_refuses_to_overwrite_a_profile_it_did_not_make(tmp_path) -> None:
    h = tmp_path / "h"
    prof = h / ".config" / "wireshark" / "profiles" / "progjar"
    prof.mkdir(parents=True)
    (prof / "preferences").write_text("# the student's own\n")
    p = _progjar(h, "install")
    assert p.returncode == 1 and "not made by us" in p.stderr
    assert (prof / "preferences").read_text() == "# the student's own\n"
    assert not (_plugins_dir(h) / "progjar.lua").exists()
