"""Capture files: every pcap flavour, pcapng with several interfaces and sections, damaged files.

The reading layer must give Wireshark's frame numbers and exact nanosecond times, and must turn
a damaged file into "everything before the damage + truncated", never an exception.
"""
from __future__ import annotations

import gzip
import os
import struct
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from reporter.reading.capture import NotACapture, iter_packets, iter_records, open_capture
from tests import craft
from tests.conftest import ALL_SAMPLES, require_tool, tshark

T0 = 1_763_900_000_123_456_789  # ns, odd digits so rounding errors show


def _flow(**kw) -> craft.TcpFlow:
    return craft.TcpFlow(**kw).handshake().echo_exchange(craft.LAB_MESSAGE).close()


def _read(path: Path):
    cap = open_capture(path)
    return cap, list(iter_packets(cap))


@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcap_micro_and_nano_both_byte_orders(tmp_path: Path, nano: bool, big_endian: bool) -> None:
    times = [T0 + i * 1_000_001 for i in range(10)]
    flow = _flow()
    recs = [craft.Rec(craft.ethernet(p), t) for t, (_, p) in zip(times, flow.packets)]
    path = craft.write_pcap(tmp_path / "a.pcap", recs, nano=nano, big_endian=big_endian)
    cap, pkts = _read(path)
    assert (cap.format, cap.linktypes, cap.interfaces) == ("pcap", [1], 1)
    assert cap.packets == len(pkts) == 10 and not cap.truncated and cap.problems == []
    expect = times if nano else [t // 1000 * 1000 for t in times]
    assert [p.ts for p in pkts] == expect
    assert (cap.first_ts, cap.last_ts) == (expect[0], expect[-1])
    assert [p.no for p in pkts] == list(range(1, 11))
    assert pkts[3].payload == craft.LAB_MESSAGE and pkts[3].dport == 10000


def test_pcapng_interfaces_with_own_link_types_and_resolutions(tmp_path: Path) -> None:
    a = _flow(cport=40001).recs(craft.EN10MB, iface=0)
    b = _flow(cport=40002, t=1.0005).recs(craft.LINUX_SLL2, iface=1)
    ifaces = [craft.Iface(craft.EN10MB, 6), craft.Iface(craft.LINUX_SLL2, 9)]
    path = craft.write_pcapng(tmp_path / "m.pcapng", craft.merge(a, b), ifaces)
    cap, pkts = _read(path)
    assert (cap.format, cap.linktypes, cap.interfaces, cap.packets) == ("pcapng", [1, 276], 2, 20)
    assert {p.iface for p in pkts if p.sport == 40001 or p.dport == 40001} == {0}
    assert {p.iface for p in pkts if p.sport == 40002 or p.dport == 40002} == {1}
    assert [p.no for p in pkts] == list(range(1, 21))
    assert pkts[0].ts == 1_001_000_000


def test_pcapng_power_of_two_resolution_offset_sections_and_skipped_blocks(tmp_path: Path) -> None:
    """Two sections (big- then little-endian), 2^-20 s units, if_tsoffset, SPB, unknown blocks."""
    ip = craft.ip_packet("10.0.0.1", "10.0.0.2", 6, craft.tcp_segment("10.0.0.1", "10.0.0.2", 1, 2, 7, 0, craft.SYN))
    units = 3 * (1 << 20) + 5  # 3 s + 5 * 2^-20 s
    data = (craft.ng_shb(big_endian=True)
            + craft.ng_idb(craft.RAW, tsresol=0x80 | 20, tsoffset=100, big_endian=True)
            + craft.ng_block(0x0BAD, b"custom stuff", big_endian=True)
            + craft.ng_epb(0, units, ip, big_endian=True)
            + craft.ng_shb()
            + craft.ng_idb(craft.EN10MB, tsresol=9)
            + craft.ng_idb(craft.LINUX_SLL)
            + craft.ng_block(5, b"\0" * 16)  # interface statistics
            + craft.ng_epb(1, 7_000_000_123, craft.sll(ip))
            + craft.ng_epb(0, 7_000_000_456, craft.ethernet(ip))
            + craft.ng_spb(craft.ethernet(ip)))
    path = tmp_path / "s.pcapng"
    path.write_bytes(data)
    cap, pkts = _read(path)
    assert cap.linktypes == [101, 1, 113] and cap.interfaces == 3 and cap.packets == 4
    assert [p.iface for p in pkts] == [0, 2, 1, 1]  # section-local ids map to global interfaces
    assert pkts[0].ts == 100 * 10**9 + (units * 10**9 >> 20)
    assert [p.ts for p in pkts[1:3]] == [7_000_000_123_000, 7_000_000_456]
    assert pkts[3].ts == pkts[2].ts  # a Simple Packet Block has no time: it keeps the previous one
    assert all(p.seq == 7 and p.flags == craft.SYN for p in pkts)
    assert not cap.truncated


@pytest.mark.parametrize("content,why", [
    (b"", "empty"),
    (b"Hello, this is a text file\n" * 5, "a text file that starts with \u201cHello, this is a text file\u201d"),
    (b"\x00\x01\x02\x03" * 5, "unknown file magic 00010203"),
    (struct.pack("<I", 0xA1B2C3D4) + b"\0" * 8, "cut short"),
    (struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x12345678, 1, 0, -1) + struct.pack("<I", 28), "byte-order"),
])
def test_not_a_capture(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(content)
    with pytest.raises(NotACapture, match=why):
        open_capture(path)


def test_gzip_and_directory_are_not_captures(tmp_path: Path) -> None:
    flow = _flow()
    raw = craft.write_pcap(tmp_path / "a.pcap", flow.recs()).read_bytes()
    (tmp_path / "a.pcap.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(NotACapture, match="gzip"):
        open_capture(tmp_path / "a.pcap.gz")
    with pytest.raises(NotACapture):
        open_capture(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_capture(tmp_path / "missing.pcap")


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_file_cut_mid_record_keeps_what_came_before(tmp_path: Path, fmt: str) -> None:
    flow = _flow()
    path = tmp_path / f"a.{fmt}"
    if fmt == "pcap":
        craft.write_pcap(path, flow.recs())
    else:
        craft.write_pcapng(path, flow.recs())
    whole = path.read_bytes()
    _, full = _read(path)
    for cut in (len(whole) - 1, len(whole) - 30, len(whole) - 90, len(whole) // 2):
        path.write_bytes(whole[:cut])
        cap, pkts = _read(path)
        assert cap.truncated, cut
        assert [w.code for w in cap.problems] == ["truncated"]
        assert 0 < cap.packets < 10 and len(pkts) == cap.packets
        assert [(p.no, p.seq, p.payload) for p in pkts] == [(p.no, p.seq, p.payload) for p in full[:len(pkts)]]
        assert f"after frame {cap.packets}" in cap.problems[0].message


def test_garbage_record_length_stops_without_allocating(tmp_path: Path) -> None:
    flow = _flow()
    path = craft.write_pcap(tmp_path / "a.pcap", flow.recs())
    data = bytearray(path.read_bytes())
    # third record's caplen (after 24-byte file header and two records)
    off = 24
    for _ in range(2):
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    struct.pack_into("<I", data, off + 8, 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    t = time.perf_counter()
    cap, pkts = _read(path)
    assert time.perf_counter() - t < 1
    assert cap.truncated and cap.packets == 2 and len(pkts) == 2
    assert "claims" in cap.problems[-1].message


def test_pcapng_garbage_block_length_and_unknown_interface(tmp_path: Path) -> None:
    ip = craft.ip_packet("10.0.0.1", "10.0.0.2", 6, craft.tcp_segment("10.0.0.1", "10.0.0.2", 1, 2, 7, 0, craft.SYN))
    good = craft.ng_shb() + craft.ng_idb(craft.RAW) + craft.ng_epb(0, 1, ip)
    path = tmp_path / "g.pcapng"
    path.write_bytes(good + struct.pack("<II", 6, 0x7FFFFFF0) + b"\0" * 64)
    cap, pkts = _read(path)
    assert cap.truncated and cap.packets == 1 and len(pkts) == 1
    path.write_bytes(good + craft.ng_epb(5, 2, ip) + craft.ng_epb(0, 3, ip))
    cap, pkts = _read(path)
    assert cap.truncated and cap.packets == 1 and "unknown interface 5" in cap.problems[-1].message
    path.write_bytes(good + struct.pack("<II", 6, 13) + b"\0" * 64)
    cap, pkts = _read(path)
    assert cap.truncated and cap.packets == 1 and "impossible length" in cap.problems[-1].message


def test_big_capture_spans_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that straddle the reader's chunk boundary are read whole (small chunk forces it)."""
    import reporter.reading.capture as capture_mod

    monkeypatch.setattr(capture_mod, "CHUNK", 97)
    flows = [_flow(cport=41000 + i, t=1.0 + i * 0.0001) for i in range(20)]
    recs = craft.merge(*[f.recs() for f in flows])
    for fmt in ("pcap", "pcapng"):
        path = tmp_path / f"big.{fmt}"
        if fmt == "pcap":
            craft.write_pcap(path, recs)
        else:
            craft.write_pcapng(path, recs)
        cap, pkts = _read(path)
        assert cap.packets == len(pkts) == 200 and not cap.truncated
        assert sum(len(p.payload) for p in pkts) == 20 * 2 * len(craft.LAB_MESSAGE)


def test_counters_match_tshark_on_multi_interface_pcapng(tmp_path: Path, tshark_home: Path) -> None:
    """Frame count, exact epoch times and TCP payload length per frame, as Wireshark sees them."""
    a = _flow(cport=40001, t=1_763_900_000.000001).recs(craft.EN10MB, iface=0)
    b = _flow(cport=40002, t=1_763_900_000.0000005).recs(craft.LINUX_SLL2, iface=1)
    c = _flow(cport=40003, client="::1", server="::1", t=1_763_900_000.0000007).recs(craft.RAW, iface=2)
    ifaces = [craft.Iface(craft.EN10MB, 6), craft.Iface(craft.LINUX_SLL2, 9), craft.Iface(craft.RAW, 9)]
    recs = craft.merge(a, b, c) + [craft.Rec(craft.arp_frame(), 1_763_900_001.0, 0)]
    path = craft.write_pcapng(tmp_path / "m.pcapng", recs, ifaces)
    cap, pkts = _read(path)
    out = tshark(["-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch",
                  "-e", "tcp.len", "-e", "frame.interface_id"], tshark_home).stdout.splitlines()
    rows = [line.split("\t") for line in out]
    assert cap.packets == len(rows) == 31
    by_no = {p.no: p for p in pkts}
    for no, epoch, tcplen, iface in rows:
        if not tcplen:  # the ARP frame
            assert int(no) not in by_no
            continue
        p = by_no[int(no)]
        assert p.ts == int(Decimal(epoch) * 10**9), no
        assert len(p.payload) == int(tcplen) and p.iface == int(iface)
    assert [w.code for w in cap.problems] == ["non-ip"] and cap.problems[0].frame == 31


def _tshark_frames(path: Path, home: Path) -> tuple[list[list[str]], str]:
    """tshark's view of every frame (it exits non-zero on a cut file, so no rc check here)."""
    require_tool("tshark")
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    p = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch",
                        "-e", "frame.interface_id", "-e", "tcp.len", "-e", "udp.length"],
                       capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL, check=False)
    return [line.split("\t") for line in p.stdout.splitlines()], p.stderr


def test_samples_and_cut_samples_match_tshark(tmp_path: Path, tshark_home: Path) -> None:
    """The lab's real captures (and cut copies of them) read frame for frame as Wireshark reads them."""
    samples = ALL_SAMPLES
    assert samples, "samples/ holds the lab's captures"
    cases = list(samples)
    for s in samples[:4]:
        data = s.read_bytes()
        cut = tmp_path / f"cut-{s.name}"
        cut.write_bytes(data[:len(data) * 2 // 3])
        cases.append(cut)
    for path in cases:
        rows, err = _tshark_frames(path, tshark_home)
        cap, pkts = _read(path)
        assert cap.packets == len(rows), path.name
        assert cap.truncated == ("cut short" in err or "corrupt" in err), (path.name, err)
        by_no = {p.no: p for p in pkts}
        for no, epoch, iface, tcplen, udplen in rows:
            p = by_no.get(int(no))
            if p is None:
                assert not tcplen and not udplen, (path.name, no)
                continue
            assert p.ts == int(Decimal(epoch) * 10**9) and p.iface == int(iface or 0), (path.name, no)
            want = int(tcplen) if tcplen else int(udplen) - 8
            assert len(p.payload) == want, (path.name, no)


def test_empty_captures_have_no_times(tmp_path: Path) -> None:
    """A capture with a header but no frames is valid: zero packets, no times, not truncated."""
    pcap = craft.write_pcap(tmp_path / "e.pcap", [])
    ng = tmp_path / "e.pcapng"
    ng.write_bytes(craft.ng_shb() + craft.ng_idb(craft.EN10MB))
    for path, fmt in ((pcap, "pcap"), (ng, "pcapng")):
        cap, pkts = _read(path)
        assert (cap.format, cap.packets, pkts, cap.first_ts, cap.last_ts, cap.truncated, cap.problems) == \
            (fmt, 0, [], None, None, False, [])
        assert cap.linktypes == [1]


def test_modified_pcap_records_and_unknown_link_type(tmp_path: Path) -> None:
    """Kuznetsov's 'modified' pcap (24-byte records) reads; an unknown link type is counted, not guessed."""
    ip = craft.ip_packet("10.0.0.1", "10.0.0.2", 6, craft.tcp_segment("10.0.0.1", "10.0.0.2", 1, 2, 7, 0, craft.SYN))
    frame = craft.ethernet(ip)
    rec = struct.pack("<IIII", 5, 6, len(frame), len(frame)) + b"\0" * 8 + frame
    path = tmp_path / "m.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1) + rec * 2)
    cap, pkts = _read(path)
    assert cap.packets == 2 and [p.ts for p in pkts] == [5_000_006_000] * 2 and pkts[0].seq == 7
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147) + rec[:16] + frame)
    cap, pkts = _read(path)
    assert cap.packets == 1 and pkts == [] and [(w.code, w.frame) for w in cap.problems] == [("linktype", 1)]


def test_iter_records_gives_every_frame_undecoded_from_the_same_reader(tmp_path: Path) -> None:
    """Raw records (fingerprint's input): link type, global interface, time, bytes of every frame,
    ARP included; times as iter_packets gives them; a cut file ends them the same way."""
    a = _flow(cport=40001, t=1_763_900_000.000001).recs(craft.EN10MB, iface=0)
    b = _flow(cport=40002, t=1_763_900_000.0000005).recs(craft.LINUX_SLL2, iface=1)
    recs = craft.merge(a, b) + [craft.Rec(craft.arp_frame(), 1_763_900_001.0, 0)]
    ifaces = [craft.Iface(craft.EN10MB, 6), craft.Iface(craft.LINUX_SLL2, 9)]
    path = craft.write_pcapng(tmp_path / "r.pcapng", recs, ifaces)
    cap = open_capture(path)
    got = list(iter_records(cap))
    assert [(lt, iface, data) for lt, iface, _ts, data in got] == \
        [(ifaces[r.iface].linktype, r.iface, r.data) for r in recs]
    assert (cap.packets, cap.truncated, cap.problems) == (21, False, [])  # the ARP frame is no problem here
    _, pkts = _read(path)
    assert [ts for _lt, _i, ts, _d in got[:20]] == [p.ts for p in pkts]
    assert (cap.first_ts, cap.last_ts) == (pkts[0].ts, got[-1][2])
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])
    cap = open_capture(path)
    cut = list(iter_records(cap))
    assert cut == got[:cap.packets] and cap.packets == 20 and cap.truncated
    assert [w.code for w in cap.problems] == ["truncated"]
