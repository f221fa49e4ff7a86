"""DNS analysis: queries paired with responses the way a resolver pairs them, also for messages
dpkt cannot parse, cross-checked against tshark's dns fields on the same crafted captures."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from reporter.analyses.dns import DnsAnalysis, parse_lenient, read_name
from reporter.reading.capture import iter_packets, open_capture
from tests import craft
from tests.conftest import tshark

CLIENT, SERVER = "172.16.16.102", "172.16.16.53"
HOST = "www.its.ac.id"
A, CNAME, AAAA, HTTPS = 1, 5, 28, 65


def q(qid: int, qtype: int = A, name: str = HOST) -> bytes:
    return craft.dns_message(qid, name, qtype)


def r(qid: int, qtype: int = A, name: str = HOST, rcode: int = 0, answers=(), **kw) -> bytes:
    return craft.dns_message(qid, name, qtype, response=True, rcode=rcode, answers=answers, **kw)


def capture(tmp_path: Path, msgs: list[tuple[float, bytes, bool]], client: str = CLIENT, server: str = SERVER,
            cport: int = 40001, name: str = "dns.pcap") -> Path:
    """msgs: (time, DNS message, is_response) between client:cport and server:53, Ethernet pcap."""
    recs = [craft.Rec(craft.ethernet(craft.dns_packet(client, server, cport, m, resp)), t) for t, m, resp in msgs]
    return craft.write_pcap(tmp_path / name, recs)


def lookups(path: Path):
    """Run the DNS analysis over the real capture reader, as the pipeline does."""
    cap = open_capture(path)
    dns = DnsAnalysis(None)
    for pkt in iter_packets(cap):
        if pkt.proto == 17 and 53 in (pkt.sport, pkt.dport):
            dns.feed(pkt)
        elif pkt.proto == 6 and 53 in (pkt.sport, pkt.dport):
            dns.feed_tcp(pkt)
    return dns.finish(cap.first_ts)


def tshark_dns(path: Path, home: Path) -> dict[int, dict[str, str]]:
    fields = ["frame.number", "dns.flags.response", "dns.qry.name", "dns.qry.type", "dns.flags.rcode", "dns.a",
              "dns.aaaa", "dns.cname", "dns.time", "dns.response_to", "dns.id"]
    args = ["-r", str(path), "-Y", "dns", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
            "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    out = tshark(args, home).stdout
    rows = {}
    for line in out.splitlines():
        vals = dict(zip(fields, line.split("|"), strict=True))
        rows[int(vals["frame.number"])] = vals
    return rows


def assert_matches_tshark(rows, path: Path, home: Path) -> None:
    """Every row agrees with tshark: name, type number, rcode, addresses, latency, which query answered."""
    ts = tshark_dns(path, home)
    qtype_no = {"A": "1", "AAAA": "28", "CNAME": "5", "HTTPS": "65"}
    rcode_no = {"NOERROR": "0", "FORMERR": "1", "SERVFAIL": "2", "NXDOMAIN": "3", "REFUSED": "5"}
    for row in rows:
        tq = ts[row.query_frame]
        assert tq["dns.qry.name"] == row.name
        assert tq["dns.qry.type"] == qtype_no[row.qtype]
        assert int(tq["dns.id"], 16) == row.id
        if row.response_frame is None:
            continue
        tr = ts[row.response_frame]
        assert tr["dns.response_to"] == str(row.query_frame)
        assert tr["dns.flags.rcode"] == rcode_no[row.rcode]
        addrs = [x for x in (tr["dns.cname"].split(",") + tr["dns.a"].split(",") + tr["dns.aaaa"].split(",")) if x]
        assert sorted(addrs) == sorted(row.answers)
        assert abs(float(tr["dns.time"]) * 1000 - row.latency_ms) < 1e-3


def test_a_and_aaaa_lookup_as_getaddrinfo_sends_it(tmp_path, tshark_home):
    path = capture(tmp_path, [
        (10.0, q(0x1A2B, A), False),
        (10.0001, q(0x3C4D, AAAA), False),
        (10.0123, r(0x1A2B, A, answers=[(A, "103.94.189.5")]), True),
        (10.0150, r(0x3C4D, AAAA, answers=[(AAAA, "2001:db8::5")]), True),
    ])
    rows, warnings = lookups(path)
    assert warnings == []
    assert [(x.qtype, x.query_frame, x.response_frame, x.rcode, x.answers) for x in rows] == [
        ("A", 1, 3, "NOERROR", ["103.94.189.5"]),
        ("AAAA", 2, 4, "NOERROR", ["2001:db8::5"]),
    ]
    a = rows[0]
    assert (a.client, a.server, a.id, a.name) == (CLIENT, SERVER, 0x1A2B, HOST)
    assert a.latency_ms == pytest.approx(12.3, abs=1e-6)
    assert rows[1].time_s == pytest.approx(0.0001, abs=1e-9)
    assert_matches_tshark(rows, path, tshark_home)


def test_rcodes_and_noerror_without_data(tmp_path, tshark_home):
    path = capture(tmp_path, [
        (1.0, q(1, AAAA), False), (1.01, r(1, AAAA), True),  # NOERROR, no AAAA record
        (2.0, q(2, A, "nope.its.ac.id"), False), (2.02, r(2, A, "nope.its.ac.id", rcode=3), True),
        (3.0, q(3, A, "example.org"), False), (3.03, r(3, A, "example.org", rcode=5), True),
        (4.0, q(4, A, "broken.example"), False), (4.04, r(4, A, "broken.example", rcode=2), True),
    ])
    rows, warnings = lookups(path)
    assert warnings == []
    assert [(x.name, x.rcode, x.answers) for x in rows] == [
        (HOST, "NOERROR", []), ("nope.its.ac.id", "NXDOMAIN", []), ("example.org", "REFUSED", []),
        ("broken.example", "SERVFAIL", []),
    ]
    assert [x.latency_ms for x in rows] == pytest.approx([10, 20, 30, 40])
    assert_matches_tshark(rows, path, tshark_home)


def test_cname_chain_answers_in_order(tmp_path, tshark_home):
    path = capture(tmp_path, [
        (1.0, q(9, A), False),
        (1.005, r(9, A, answers=[(CNAME, "its.ac.id"), (A, "103.94.189.5"), (A, "103.94.189.6")]), True),
    ])
    rows, _ = lookups(path)
    assert rows[0].answers == ["its.ac.id", "103.94.189.5", "103.94.189.6"]
    assert_matches_tshark(rows, path, tshark_home)


def test_unanswered_query_has_no_response_and_no_rcode(tmp_path):
    path = capture(tmp_path, [(1.0, q(5, A), False), (1.0002, q(6, AAAA), False), (1.01, r(6, AAAA), True)])
    rows, _ = lookups(path)
    a, aaaa = rows
    assert (a.response_frame, a.rcode, a.latency_ms, a.answers) == (None, None, None, [])
    assert aaaa.response_frame == 3


def test_retransmitted_query_keeps_its_row_and_the_response_answers_the_first(tmp_path):
    """The program waited since its first query, so that row gets the response and the latency.
    (Wireshark's dns.response_to points at the latest copy instead; the warning names both frames.)"""
    path = capture(tmp_path, [
        (1.0, q(0x77, A), False),
        (6.0, q(0x77, A), False),  # resolver timeout: the same id and question again
        (6.004, r(0x77, A, answers=[(A, "103.94.189.5")]), True),
    ])
    rows, warnings = lookups(path)
    assert [(x.query_frame, x.response_frame) for x in rows] == [(1, 3), (2, None)]
    assert rows[0].latency_ms == pytest.approx(5004.0)
    assert [(w.code, w.frame) for w in warnings] == [("dns-retransmission", 2)]
    assert "frame 1" in warnings[0].message


def test_second_response_answers_the_retransmission(tmp_path):
    path = capture(tmp_path, [(1.0, q(8, A), False), (2.0, q(8, A), False),
                              (2.001, r(8, A), True), (2.002, r(8, A), True)])
    rows, _ = lookups(path)
    assert [(x.query_frame, x.response_frame) for x in rows] == [(1, 3), (2, 4)]


def test_response_without_query_is_a_warning_not_a_row(tmp_path):
    path = capture(tmp_path, [(1.0, r(0x55, A, answers=[(A, "10.0.0.1")]), True)])
    rows, warnings = lookups(path)
    assert rows == []
    assert [(w.code, w.frame) for w in warnings] == [("dns-unmatched-response", 1)]


def test_response_must_match_id_port_and_question(tmp_path):
    path = capture(tmp_path, [
        (1.0, q(10, A), False),
        (1.01, r(11, A), True),  # other id
        (1.02, r(10, AAAA), True),  # other question type
        (1.03, r(10, A, name="WWW.ITS.AC.ID"), True),  # 0x20 case randomisation is the same question
    ])
    rows, warnings = lookups(path)
    assert [(x.query_frame, x.response_frame) for x in rows] == [(1, 4)]
    assert [w.frame for w in warnings if w.code == "dns-unmatched-response"] == [2, 3]


def https_record(priority: int = 1) -> bytes:
    """An HTTPS (type 65) answer: name pointer to the question, target '.', alpn=h2 (dpkt cannot parse it)."""
    rdata = struct.pack("!H", priority) + b"\x00" + struct.pack("!HH", 1, 3) + b"\x02h2"
    return b"\xc0\x0c" + struct.pack("!HHIH", HTTPS, 1, 300, len(rdata)) + rdata


def test_https_svcb_record_dpkt_cannot_parse_keeps_header_question_and_addresses(tmp_path, tshark_home):
    import dpkt

    resp = r(0x99, HTTPS, raw_answers=https_record(), raw_count=1)
    with pytest.raises(dpkt.UnpackError):
        dpkt.dns.DNS(resp)  # the gap this analysis covers
    mixed = r(0x9A, A, answers=[(A, "103.94.189.5")], raw_answers=https_record(), raw_count=1)
    path = capture(tmp_path, [(1.0, q(0x99, HTTPS), False), (1.002, resp, True),
                              (1.003, q(0x9A, A), False), (1.004, mixed, True)])
    rows, warnings = lookups(path)
    assert warnings == []
    assert [(x.qtype, x.rcode, x.response_frame, x.answers) for x in rows] == [
        ("HTTPS", "NOERROR", 2, []), ("A", "NOERROR", 4, ["103.94.189.5"])]
    assert_matches_tshark(rows, path, tshark_home)


def test_cut_response_keeps_header_and_question(tmp_path):
    whole = r(0x42, A, answers=[(A, "103.94.189.5")])
    path = capture(tmp_path, [(1.0, q(0x42, A), False), (1.01, whole[:-3], True)])
    rows, warnings = lookups(path)
    assert [(x.name, x.qtype, x.rcode, x.response_frame, x.answers) for x in rows] == [
        (HOST, "A", "NOERROR", 2, [])]
    assert [(w.code, w.frame) for w in warnings] == [("dns-partly-parsed", 2)]


def test_garbage_on_port_53_is_a_warning(tmp_path):
    recs = [craft.Rec(craft.ethernet(craft.ip_packet(CLIENT, SERVER, 17, craft.udp_datagram(CLIENT, SERVER, 5000, 53,
                                                                                           b"hello"))), 1.0)]
    path = craft.write_pcap(tmp_path / "junk.pcap", recs)
    rows, warnings = lookups(path)
    assert rows == [] and [(w.code, w.frame) for w in warnings] == [("dns-malformed", 1)]


def test_ipv6_transport_and_nanosecond_pcapng(tmp_path, tshark_home):
    c6, s6 = "2001:db8::102", "2001:db8::53"
    recs = [craft.Rec(craft.ethernet(craft.dns_packet(c6, s6, 5353, m, resp)), t) for t, m, resp in [
        (1_000_000_000, q(1, AAAA), False),
        (1_000_123_457, r(1, AAAA, answers=[(AAAA, "2001:db8::5")]), True)]]
    path = craft.write_pcapng(tmp_path / "v6.pcapng", recs, [craft.Iface(tsresol=9)])
    rows, _ = lookups(path)
    (row,) = rows
    assert (row.client, row.server, row.answers) == (c6, s6, ["2001:db8::5"])
    assert row.latency_ms == pytest.approx(0.123457, abs=1e-9)
    assert_matches_tshark(rows, path, tshark_home)


def test_many_malformed_messages_are_summarised(tmp_path):
    recs = [craft.Rec(craft.ethernet(craft.ip_packet(CLIENT, SERVER, 17, craft.udp_datagram(CLIENT, SERVER, 5000, 53,
                                                                                           b"x"))), 1.0 + i)
            for i in range(50)]
    rows, warnings = lookups(craft.write_pcap(tmp_path / "junk.pcap", recs))
    assert len(warnings) == 21 and "30 more" in warnings[-1].message


# --- the fallback parser on its own: compression pointers and hostile names


def test_read_name_follows_compression_pointers():
    msg = craft.dns_message(1, HOST, A, response=True, answers=[(A, "10.0.0.1")])
    name, end = read_name(msg, 12)
    assert name == HOST and end == 12 + len(HOST) + 2
    answer_name, end2 = read_name(msg, end + 4)  # the answer's name is a pointer to the question
    assert answer_name == HOST and end2 == end + 4 + 2
    assert msg[end + 4] & 0xC0 == 0xC0


@pytest.mark.parametrize("body", [
    b"\xc0\x0c",  # pointer to itself
    b"\x03www\xc0\x0c",  # pointer back to its own start: a loop
    b"\xc0\x20",  # pointer forward
    b"\x05ab",  # label past the end
    b"\x80abc",  # reserved label bits
    b"\x01a" * 130 + b"\x00",  # too many labels
])
def test_hostile_names_end_with_an_error_not_a_loop(body):
    msg = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + body
    with pytest.raises(ValueError):
        read_name(msg, 12)
    parsed = parse_lenient(msg + b"\x00\x01\x00\x01")
    assert parsed is not None and parsed.id == 1 and parsed.name is None


def test_lenient_parser_reads_what_dpkt_reads():
    msg = craft.dns_message(0xBEEF, HOST, A, response=True, rcode=0,
                            answers=[(CNAME, "its.ac.id"), (A, "103.94.189.5"), (AAAA, "2001:db8::1")])
    m = parse_lenient(msg)
    assert (m.id, m.response, m.rcode, m.name, m.qtype, m.complete) == (0xBEEF, True, 0, HOST, A, True)
    assert m.answers == ["its.ac.id", "103.94.189.5", "2001:db8::1"]


def test_mutated_messages_never_raise():
    """Students' captures hold all kinds of traffic on port 53: parsing must never throw."""
    import random

    from reporter.analyses.dns import parse_message

    rng = random.Random(53)
    seeds = [craft.dns_message(1, HOST, A, response=True, answers=[(CNAME, "its.ac.id"), (A, "103.94.189.5")]),
             r(2, HTTPS, raw_answers=https_record(), raw_count=1), q(3, AAAA)]
    for i in range(3000):
        buf = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            if not buf:
                break
            op = rng.random()
            pos = rng.randrange(len(buf))
            if op < 0.6:
                buf[pos] = rng.randrange(256)
            elif op < 0.8:
                del buf[pos:]
            else:
                buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        m = parse_message(bytes(buf))
        assert m is None or (0 <= m.id < 65536 and isinstance(m.answers, list)), i


def test_dns_over_tcp_with_a_response_split_over_segments(tmp_path, tshark_home):
    def framed(m: bytes) -> bytes:
        return struct.pack("!H", len(m)) + m

    qa, qaaaa = framed(q(0x10, A)), framed(q(0x11, AAAA))
    ra = framed(r(0x10, A, answers=[(A, "103.94.189.5")]))
    raaaa = framed(r(0x11, AAAA, answers=[(AAAA, "2001:db8::5")]))
    flow = craft.TcpFlow(client=CLIENT, server=SERVER, cport=41000, sport=53, t=1.0)
    flow.handshake()
    flow.data("c", 0, qa + qaaaa)  # two queries in one segment
    flow.data("s", 0, ra[:7])  # the first response cut over two segments
    flow.data("c", len(qa + qaaaa), b"", flags=craft.ACK)
    flow.data("s", 7, ra[7:] + raaaa[:3])
    flow.data("s", 7, ra[7:] + raaaa[:3])  # a retransmission adds nothing
    flow.data("s", len(ra) + 3, raaaa[3:])
    flow.close()
    path = craft.write_pcap(tmp_path / "tcp53.pcap", flow.recs())
    rows, warnings = lookups(path)
    assert warnings == []
    assert [(x.qtype, x.query_frame, x.response_frame, x.answers) for x in rows] == [
        ("A", 4, 4 + 3, ["103.94.189.5"]), ("AAAA", 4, 4 + 5, ["2001:db8::5"])]
    ts = tshark(["-r", str(path), "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "frame.number",
                 "-e", "dns.a", "-e", "dns.aaaa"], tshark_home).stdout.split()
    assert ts == ["7", "103.94.189.5", "9", "2001:db8::5"]
