"""Issue 11, "truth on captures nobody here wrote": each fact found wrong on other projects'
captures, pinned by a crafted capture built here, with tshark 4.0 as the oracle where it is right.

One section per finding: (1) IPv6 atomic fragments, (2) fast retransmissions, (3) handshakes
written out of order or with data on the SYN-ACK, (4) damaged file headers, (5) retransmitted
SYNs, (6) MPLS / PPPoE / LLC-SNAP frames, (7) echoes that cannot be verified, (8) distinct link
types, (9) no absolute folders of this machine in a report.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from reporter.options import ReportOptions
from reporter.pipeline import analyse
from reporter.reading.capture import iter_packets, open_capture
from tests import craft
from tests.conftest import tshark
from tests.test_follow_oracle import assert_follow_equal
from tests.test_pipeline import run, validate
from tests.test_reassembly import analyse as tcp_analyse

C4, S4 = "172.16.16.102", "172.16.16.101"
C6, S6 = "fd00::102", "fd00::101"


def _codes(report) -> dict[str, object]:
    return {w.code: w for w in report.warnings}


def _assert_follow_equal(path: Path, home: Path, n_conns: int = 1):
    """Our connections and streams are tshark's tcp.stream and Follow TCP Stream, byte for byte."""
    res = tcp_analyse(path)
    assert len(res.connections) == n_conns
    ws = assert_follow_equal(res, path, home, path.name)
    assert all(c2s for c2s, _ in ws.values())  # something was compared
    return res


# -- (1) IPv6 atomic fragments (RFC 6946) ----------------------------------------------------------

def _v6_flow() -> craft.TcpFlow:
    f = craft.TcpFlow(client=C6, server=S6)
    return f.handshake().echo_exchange(b"an atomic fragment is a whole packet").close()


def _refragment(f: craft.TcpFlow, **frag) -> list[craft.Rec]:
    """The flow's IPv6 packets with a fragment header (offset/M as given) in front of TCP."""
    recs = []
    for t, p in f.packets:
        src, dst = (C6, S6) if p[8:24] == craft._pack_ip(C6) else (S6, C6)
        recs.append(craft.Rec(craft.ethernet(craft.ipv6_ext(src, dst, 6, p[40:], exts=(44,), **frag)), t))
    return recs


def test_ipv6_atomic_fragment_is_decoded_as_the_whole_packet(tmp_path: Path, tshark_home: Path) -> None:
    path = craft.write_pcap(tmp_path / "atomic.pcap", _refragment(_v6_flow(), more_fragments=False))
    report, damaged = analyse(str(path), ReportOptions())
    assert "fragment" not in _codes(report) and not damaged
    (c,) = report.connections
    assert c.handshake.syn_frame == 1 and c.handshake.complete and c.echo.verified
    assert c.bytes.client_to_server == len(b"an atomic fragment is a whole packet")
    _assert_follow_equal(path, tshark_home)


@pytest.mark.parametrize("frag", [{"more_fragments": True}, {"frag_offset": 2, "more_fragments": False}],
                         ids=["first-of-several", "later"])
def test_ipv6_real_fragments_stay_fragments(tmp_path: Path, frag: dict) -> None:
    path = craft.write_pcap(tmp_path / "frag.pcap", _refragment(_v6_flow(), **frag))
    cap = open_capture(path)
    assert [p for p in iter_packets(cap)] == []
    assert [(w.code, w.frame) for w in cap.problems] == [("fragment", 1)]


# -- (6) MPLS, PPPoE, LLC/SNAP ---------------------------------------------------------------------

@pytest.mark.parametrize("encap", ["mpls", "pppoe", "llc-snap"])
@pytest.mark.parametrize("version", [4, 6])
def test_ip_inside_mpls_pppoe_and_llc_snap_is_decoded(tmp_path: Path, tshark_home: Path, encap: str,
                                                       version: int) -> None:
    c, s = (C4, S4) if version == 4 else (C6, S6)
    f = craft.TcpFlow(client=c, server=s).handshake().echo_exchange(f"inside {encap}".encode()).close()
    dns = craft.dns_packet(c, "172.16.16.53" if version == 4 else "fd00::53", 40001,
                           craft.dns_message(7, "www.its.ac.id", 1))
    recs = [craft.Rec(craft.ethernet_encap(dns, encap), 0.5)] + [craft.Rec(craft.ethernet_encap(p, encap), t)
                                                                 for t, p in f.packets]
    path = craft.write_pcap(tmp_path / f"{encap}.pcap", recs)
    report, damaged = analyse(str(path), ReportOptions())
    assert report.warnings == [] and not damaged
    assert [d.name for d in report.dns] == ["www.its.ac.id"]
    (conn,) = report.connections
    assert conn.handshake.complete and conn.echo.verified and conn.echo.echoed_bytes == len(f"inside {encap}")
    _assert_follow_equal(path, tshark_home)


@pytest.mark.parametrize("encap", ["mpls-pw", "pppoe-lcp"])
def test_encapsulations_without_a_readable_ip_packet_are_said_truthfully(tmp_path: Path, encap: str) -> None:
    ip = craft.ip_packet(C4, S4, 6, craft.tcp_segment(C4, S4, 40000, 10000, 1, 0, craft.SYN))
    path = craft.write_pcap(tmp_path / "e.pcap", [craft.Rec(craft.ethernet_encap(ip, encap), 1.0)])
    cap = open_capture(path)
    assert list(iter_packets(cap)) == []
    want = "encapsulation" if encap == "mpls-pw" else "non-ip"  # a pseudowire may hold IP; LCP never does
    assert [(w.code, w.frame) for w in cap.problems] == [(want, 1)]


def test_llc_without_snap_carries_no_ip(tmp_path: Path) -> None:
    stp = b"\x01\x80\xc2\0\0\0" + b"\x02\0\0\0\0\x02" + struct.pack("!H", 38) + b"\x42\x42\x03" + bytes(35)
    cap = open_capture(craft.write_pcap(tmp_path / "stp.pcap", [craft.Rec(stp, 1.0)]))
    assert list(iter_packets(cap)) == [] and [w.code for w in cap.problems] == ["non-ip"]


# -- (4) damaged file headers and record fields ------------------------------------------------------

def _lab_flow(t: float = 1.0) -> craft.TcpFlow:
    return craft.TcpFlow(client=C4, server=S4, t=t).handshake().echo_exchange(b"hello").close()


def _patched_pcap(tmp_path: Path, **kw) -> Path:
    """A pcap of one echo connection with its header fields changed as asked."""
    p = craft.write_pcap(tmp_path / "h.pcap", _lab_flow().recs())
    b = bytearray(p.read_bytes())
    if "version" in kw:
        struct.pack_into("<HH", b, 4, *kw["version"])
    if "linktype_field" in kw:
        struct.pack_into("<I", b, 20, kw["linktype_field"])
    if "usec_of_frame" in kw:  # set frame n's microsecond field (records are laid out back to back)
        n, usec = kw["usec_of_frame"]
        pos = 24
        for _ in range(n - 1):
            pos += 16 + struct.unpack_from("<I", b, pos + 8)[0]
        struct.pack_into("<I", b, pos + 4, usec)
    p.write_bytes(b)
    return p


def _damaged(path: Path, code: str):
    report, damaged = analyse(str(path), ReportOptions())
    w = _codes(report)
    assert damaged and code in w, [(x.code, x.message) for x in report.warnings]
    assert w[code].severity == "warning"
    (c,) = report.connections  # and reading went on
    assert c.echo.verified
    return report, w[code]


@pytest.mark.parametrize("version", [(3, 0), (2, 3), (1, 0)])
def test_pcap_version_other_than_2_4_is_damage(tmp_path: Path, version: tuple[int, int]) -> None:
    _report, w = _damaged(_patched_pcap(tmp_path, version=version), "unsupported-version")
    assert f"{version[0]}.{version[1]}" in w.message


def test_reserved_linktype_bits_are_damage_and_the_low_16_bits_are_used(tmp_path: Path) -> None:
    report, w = _damaged(_patched_pcap(tmp_path, linktype_field=0x00300001), "linktype-reserved-bits")
    assert report.capture.linktypes == [1] and "3145729" in w.message
    p = run(str(_patched_pcap(tmp_path, linktype_field=0x00300001)), "--format", "json", "-o", "-", "-q")
    assert p.returncode == 1 and "reserved bits" in p.stderr, p.stderr


def test_fcs_length_bits_are_not_damage(tmp_path: Path) -> None:
    """P set with an FCS length of 2 16-bit words (bits the pcap draft defines): no warning."""
    report, damaged = analyse(str(_patched_pcap(tmp_path, linktype_field=0x24000001)), ReportOptions())
    assert not damaged and report.warnings == [] and report.capture.linktypes == [1]


def test_sub_second_field_of_a_second_or_more_is_damage(tmp_path: Path) -> None:
    report, w = _damaged(_patched_pcap(tmp_path, usec_of_frame=(3, 1_500_000)), "timestamp-overflow")
    assert w.frame == 3 and w.message.startswith("1 ")
    # taken as is: frame 3 (second 1) says 1.5 s more, the latest time: 2.5 s minus frame 1's 1.001 s
    assert report.capture.duration_s == pytest.approx(2.5 - 1.001, abs=1e-6)


def test_nanosecond_field_of_a_second_or_more_is_damage(tmp_path: Path) -> None:
    recs = _lab_flow().recs()
    p = craft.write_pcap(tmp_path / "ns.pcap", recs, nano=True)
    b = bytearray(p.read_bytes())
    struct.pack_into("<I", b, 24 + 4, 1_000_000_000)
    p.write_bytes(b)
    _report, w = _damaged(p, "timestamp-overflow")
    assert w.frame == 1


def _pcapng(shb: bytes, *blocks: bytes) -> bytes:
    f = _lab_flow()
    return shb + craft.ng_idb(craft.EN10MB) + b"".join(blocks) + b"".join(
        craft.ng_epb(0, round(t * 1e6), r.data) for r, t in ((r, r.t) for r in f.recs()))


def test_pcapng_major_version_other_than_1_is_damage(tmp_path: Path) -> None:
    shb = craft.ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 2, 0, -1))
    p = tmp_path / "v2.pcapng"
    p.write_bytes(_pcapng(shb))
    _report, w = _damaged(p, "unsupported-version")
    assert "2.0" in w.message


def test_pcapng_over_long_section_option_is_damage(tmp_path: Path) -> None:
    opt = struct.pack("<HH", 4, 200) + b"linux\0\0\0"  # shb_os claims 200 bytes, the block holds 8
    shb = craft.ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opt)
    p = tmp_path / "opt.pcapng"
    p.write_bytes(_pcapng(shb))
    _report, w = _damaged(p, "option-overrun")
    assert "200" in w.message


def test_pcapng_well_formed_options_are_not_damage(tmp_path: Path) -> None:
    opt = struct.pack("<HH", 4, 5) + b"linux\0\0\0" + struct.pack("<HH", 0, 0)
    shb = craft.ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opt)
    p = tmp_path / "ok.pcapng"
    p.write_bytes(_pcapng(shb))
    report, damaged = analyse(str(p), ReportOptions())
    assert not damaged and report.warnings == []


# -- (8) each link type once ---------------------------------------------------------------------------

def test_linktypes_are_distinct_and_interfaces_count_each(tmp_path: Path) -> None:
    f = _lab_flow()
    recs = [craft.Rec(r.data, r.t, i) for r in f.recs() for i in (0, 1)]
    p = craft.write_pcapng(tmp_path / "two.pcapng", recs, [craft.Iface(), craft.Iface()])
    report, _ = analyse(str(p), ReportOptions())
    assert (report.capture.linktypes, report.capture.interfaces) == ([1], 2)
    p = craft.write_pcapng(tmp_path / "mixed.pcapng", [craft.Rec(craft.sll(r.data[14:]), r.t, 1) for r in f.recs()],
                           [craft.Iface(), craft.Iface(craft.LINUX_SLL), craft.Iface()])
    report, _ = analyse(str(p), ReportOptions())
    assert (report.capture.linktypes, report.capture.interfaces) == ([1, 113], 3)


# -- (2) fast retransmissions ------------------------------------------------------------------------

def _ws_flags(path: Path, home: Path) -> dict[int, dict[str, str]]:
    fields = ["frame.number", "tcp.stream", "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission",
              "tcp.analysis.out_of_order", "tcp.analysis.initial_rtt", "tcp.flags.syn", "tcp.flags.ack"]
    args = ["-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    rows = [dict(zip(fields, line.split("|"))) for line in tshark(args, home).stdout.splitlines()]
    return {int(r["frame.number"]): r for r in rows}


def test_segment_resent_after_two_duplicate_acks_is_a_retransmission(tmp_path: Path, tshark_home: Path) -> None:
    from tests.test_reassembly import case_fast_retransmission

    path = case_fast_retransmission(tmp_path)
    res = tcp_analyse(path)
    (c,) = res.connections
    ws = _ws_flags(path, tshark_home)
    (fast,) = [n for n, r in ws.items() if r["tcp.analysis.fast_retransmission"]]
    assert res.frames[str(fast)].tcp_analysis == "retransmission"
    assert (c.anomalies.retransmissions, c.anomalies.out_of_order) == (1, 0)
    assert "T" in c.history
    assert res.streams[0][0] == b"A" * 10 + b"B" * 10 + b"C" * 10 + b"D" * 10


@pytest.mark.parametrize("case", ["one_dup_ack", "fast_retransmission_too_late"])
def test_without_two_fresh_duplicate_acks_it_stays_out_of_order(tmp_path: Path, tshark_home: Path,
                                                                 case: str) -> None:
    from tests.test_reassembly import CASES

    path = CASES[case](tmp_path)
    res = tcp_analyse(path)
    ws = _ws_flags(path, tshark_home)
    (ooo,) = [n for n, r in ws.items() if r["tcp.analysis.out_of_order"]]
    assert not any(r["tcp.analysis.fast_retransmission"] for r in ws.values())
    assert res.frames[str(ooo)].tcp_analysis == "out_of_order"
    assert (res.connections[0].anomalies.retransmissions, res.connections[0].anomalies.out_of_order) == (0, 1)


# -- (3) handshakes written out of order, or with data on the SYN-ACK -----------------------------------

@pytest.mark.parametrize("case", ["synack_written_first", "synack_with_data"])
def test_three_packets_make_a_complete_handshake_with_wiresharks_irtt(tmp_path: Path, tshark_home: Path,
                                                                      case: str) -> None:
    from tests.test_reassembly import CASES

    path = CASES[case](tmp_path)
    (c,) = tcp_analyse(path).connections
    ws = _ws_flags(path, tshark_home)
    syn = next(n for n, r in ws.items() if r["tcp.flags.syn"] in ("1", "True") and r["tcp.flags.ack"] in ("0", "False"))
    synack = next(n for n, r in ws.items() if r["tcp.flags.syn"] in ("1", "True") and r["tcp.flags.ack"] in ("1", "True"))
    hs = c.handshake
    assert (hs.syn_frame, hs.synack_frame, hs.ack_frame, hs.complete) == (syn, synack, 3, True)
    irtt = next(float(r["tcp.analysis.initial_rtt"]) for r in ws.values() if r["tcp.analysis.initial_rtt"])
    assert hs.rtt_ms == pytest.approx(irtt * 1000, abs=1e-3)
    assert c.state == "SF"


def test_synack_data_is_the_start_of_the_servers_stream(tmp_path: Path, tshark_home: Path) -> None:
    from tests.test_reassembly import case_synack_with_data

    res = _assert_follow_equal(case_synack_with_data(tmp_path), tshark_home)
    assert res.streams[0] == (b"hello", b"220 ready\r\nhello")


# -- (5) retransmitted SYNs and SYN-ACKs --------------------------------------------------------------

def _backlog_capture(tmp_path: Path) -> Path:
    """A client whose SYN the server's full backlog dropped twice (Linux retries after 1 s and 2 s
    more), then a SYN-ACK the server sent again because the client's ACK did not come."""
    f = craft.TcpFlow(client=C4, server=S4)
    opts = craft.tcp_options()
    f._emit("c", f.isn_c, craft.SYN, options=opts)
    f._emit("c", f.isn_c, craft.SYN, options=opts, dt=1.0)
    f._emit("c", f.isn_c, craft.SYN, options=opts, dt=2.0)
    f._emit("s", f.isn_s, craft.SYN | craft.ACK, options=opts, ack=f.isn_c + 1)
    f._emit("s", f.isn_s, craft.SYN | craft.ACK, options=opts, ack=f.isn_c + 1, dt=1.0)
    f._emit("c", f.isn_c + 1, craft.ACK)
    f.echo_exchange(b"at last").close()
    return craft.write_pcap(tmp_path / "backlog.pcap", f.recs())


def test_retransmitted_syns_and_synacks_are_counted(tmp_path: Path, tshark_home: Path) -> None:
    path = _backlog_capture(tmp_path)
    report, _ = analyse(str(path), ReportOptions())
    (c,) = report.connections
    hs = c.handshake
    assert (hs.syn_frame, hs.synack_frame, hs.ack_frame) == (1, 4, 6)
    assert (hs.syn_retransmissions, hs.synack_retransmissions) == (2, 1)
    assert hs.rtt_ms == pytest.approx(1002.0, abs=1e-3)  # from the last SYN (Wireshark's iRTT), not the first
    ws = _ws_flags(path, tshark_home)
    rexmit_syns = [n for n, r in ws.items() if r["tcp.flags.syn"] in ("1", "True") and r["tcp.analysis.retransmission"]]
    assert rexmit_syns == [2, 3, 5]  # tshark flags the same frames as retransmissions
    irtt = next(float(r["tcp.analysis.initial_rtt"]) for r in ws.values() if r["tcp.analysis.initial_rtt"])
    assert hs.rtt_ms == pytest.approx(irtt * 1000, abs=1e-3)
    doc = json.loads(json.dumps(report.to_dict()))
    validate(doc)
    assert doc["connections"][0]["handshake"]["syn_retransmissions"] == 2


@pytest.mark.parametrize("case", ["two_interfaces", "any_sll2", "port_reuse", "retransmission"])
def test_capture_duplicates_and_new_isns_are_no_syn_retransmissions(tmp_path: Path, case: str) -> None:
    from tests.test_reassembly import CASES

    for c in tcp_analyse(CASES[case](tmp_path)).connections:
        assert (c.handshake.syn_retransmissions, c.handshake.synack_retransmissions) == (0, 0)


@pytest.mark.parametrize("lang,words", [("en", ("Sent again", "2 more time(s)", "(+2 again)", "(+1 again)")),
                                        ("id", ("Dikirim ulang", "2 kali", "(+2 kali ulang)", "(+1 kali ulang)"))])
def test_syn_retransmissions_are_shown_in_the_connection_section_and_ladder(tmp_path: Path, lang: str,
                                                                            words: tuple[str, ...]) -> None:
    from reporter.render.html import render_html

    report, _ = analyse(str(_backlog_capture(tmp_path)), ReportOptions())
    page = render_html(report, lang)
    for w in words:
        assert w in page, w
    report.connections[0].handshake.syn_retransmissions = 0
    report.connections[0].handshake.synack_retransmissions = 0
    assert words[0] not in render_html(report, lang)  # shown only when it happened


# -- (7) an echo that cannot be verified ----------------------------------------------------------

def _gap_echo(tmp_path: Path, side: str) -> Path:
    """The lab message sent in three segments and echoed in three; on `side` ("c" request, "s"
    echo) the middle segment was never captured, although the receiver ACKed it."""
    m = craft.LAB_MESSAGE
    parts = [(0, m[:16]), (16, m[16:32]), (32, m[32:])]
    f = craft.TcpFlow(client=C4, server=S4).handshake()
    for who in ("c", "s"):
        for i, (off, chunk) in enumerate(parts):
            f.data(who, off, chunk)
            if who == side and i == 1:
                f.packets.pop()  # lost from the capture
        f.ack("s" if who == "c" else "c")
    f.close()
    return craft.write_pcap(tmp_path / f"gap-{side}.pcap", f.recs())


@pytest.mark.parametrize("side", ["c", "s"])
def test_bytes_never_captured_make_the_echo_unverifiable_not_verified(tmp_path: Path, tshark_home: Path,
                                                                       side: str) -> None:
    path = _gap_echo(tmp_path, side)
    report, _ = analyse(str(path), ReportOptions())
    (c,) = report.connections
    assert c.anomalies.gaps == 1
    assert c.echo.verified is False and c.echo.unverified_bytes == 16
    assert c.echo.first_mismatch_offset is None and c.echo.echoed_bytes == 46 - 16
    t2 = {t.id: t for t in report.tasks}["T2"]
    assert (t2.status, t2.code, t2.facts["missing"]) == ("partial", "echo_unverifiable", 16)
    assert "cannot be verified" in t2.reason
    # the capture really lacks those bytes: Wireshark's Follow TCP Stream says so too
    out = tshark(["-r", str(path), "-q", "-z", "follow,tcp,ascii,0"], tshark_home).stdout
    assert "[16 bytes missing in capture file]" in out


def test_a_mismatch_outranks_bytes_not_captured(tmp_path: Path) -> None:
    m = craft.LAB_MESSAGE
    f = craft.TcpFlow(client=C4, server=S4).handshake()
    f.data("c", 0, m[:16]).data("c", 16, m[16:32]).data("c", 32, m[32:]).ack("s")
    f.packets.pop(-3)  # request bytes [16,32) lost from the capture
    f.data("s", 0, m[:16]).data("s", 16, m[16:32]).data("s", 32, b"X" + m[33:]).ack("c").close()
    report, _ = analyse(str(craft.write_pcap(tmp_path / "both.pcap", f.recs())), ReportOptions())
    (c,) = report.connections
    assert (c.echo.verified, c.echo.first_mismatch_offset, c.echo.unverified_bytes) == (False, 32, 16)
    assert {t.id: t for t in report.tasks}["T2"].code == "echo_differs"


def test_unverifiable_echo_is_said_in_the_report(tmp_path: Path) -> None:
    from reporter.render.html import render_html

    report, _ = analyse(str(_gap_echo(tmp_path, "c")), ReportOptions())
    assert "16 bytes of the request or the echo were not captured" in render_html(report, "en")
    assert "16 byte permintaan atau echo tidak terekam" in render_html(report, "id")


# -- (9) no absolute folders of this machine in a report ----------------------------------------------

def test_a_read_error_does_not_name_the_capture_by_its_full_path(tmp_path: Path) -> None:
    path = craft.write_pcap(tmp_path / "gone.pcap", _lab_flow().recs())
    cap = open_capture(path)
    path.unlink()  # the file vanishes between opening and reading
    assert list(iter_packets(cap)) == [] and cap.truncated
    (w,) = cap.problems
    assert w.code == "truncated" and str(tmp_path) not in w.message and "No such file" in w.message


def test_batch_outputs_hold_no_absolute_folder(tmp_path: Path) -> None:
    from reporter.cli import main
    from reporter.grading.batch import safe_name

    cls, out = tmp_path / "kelas", tmp_path / "hasil"
    (cls / "Siti").mkdir(parents=True)
    craft.write_pcap(cls / "Siti" / "t2.pcap", _lab_flow().recs())
    craft.write_pcap(cls / "Dewi.pcap", _lab_flow().recs())
    out.mkdir()
    (out / safe_name("Dewi")).write_text("a file where Dewi's report folder should go\n")
    assert main(["batch", str(cls), "-o", str(out), "--format", "json,html", "--jobs", "1"]) == 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    errors = [c["error"] for s in summary["students"] for c in s["captures"] if c.get("error")]
    assert len(errors) == 1 and "OUTDIR" in errors[0], errors
    for p in out.rglob("*"):
        if p.is_file():
            text = p.read_text(encoding="utf-8", errors="replace")
            assert str(tmp_path) not in text, f"{p.relative_to(out)} names {tmp_path}"
