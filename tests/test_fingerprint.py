"""Copy signals between students' captures (reporter/fingerprint.py), on crafted captures."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reporter.grading.fingerprint import compare, fingerprint
from reporter.reading.capture import iter_records, open_capture
from tests import craft
from tests.classgen import kernel_like_capture, variant
from tests.conftest import require_tool


def _editcap(*args: str) -> None:
    require_tool("editcap")
    p = subprocess.run(["editcap", *args], check=False, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_kernel_like_capture_shows_its_random_values_and_no_crafted_hint(tmp_path: Path) -> None:
    fp = fingerprint(kernel_like_capture(tmp_path / "a.pcap", seed=1))
    assert fp.error is None and fp.frames > 20
    assert len(fp.tokens["isn"]) == 4  # client and server ISN of two connections
    assert sorted(v[:2] for v in fp.tokens["tsval"]) == ["c:", "c:", "s:", "s:"]  # each side's SYN of both
    assert len(fp.tokens["dns"]) == 2 and all("www.its.ac.id" in d for d in fp.tokens["dns"])
    assert sorted(v.split(":")[0] for v in fp.tokens["ports"]) == ["tcp", "tcp", "udp", "udp"]
    assert "mac" not in fp.tokens and not any("172.16.16." in v for vs in fp.tokens.values() for v in vs)
    assert fp.crafted == []


def test_same_frames_survive_pcapng_conversion_and_time_shift(tmp_path: Path) -> None:
    a = kernel_like_capture(tmp_path / "a.pcap", seed=2)
    _editcap("-F", "pcapng", str(a), str(tmp_path / "b.pcapng"))
    _editcap("-t", "3600", str(a), str(tmp_path / "c.pcap"))
    fa, fb, fc = (fingerprint(tmp_path / n) for n in ("a.pcap", "b.pcapng", "c.pcap"))
    assert fa.sha256 != fb.sha256 and fa.sha256 != fc.sha256
    assert fa.content == fb.content == fc.content
    pairs = {(s.student_a, s.student_b): s for s in compare([("ana", "ana/a", fa), ("budi", "budi/b", fb),
                                                             ("cici", "cici/c", fc)])}
    assert set(pairs) == {("ana", "budi"), ("ana", "cici"), ("budi", "cici")}
    assert all("same-content" in s.kinds and "identical-file" not in s.kinds for s in pairs.values())
    assert pairs[("ana", "cici")].start_offset_s == pytest.approx(3600, abs=1e-3)
    assert pairs[("ana", "cici")].describe("en") == (
        "the same frames saved again (another format or shifted times): one capture re-saved "
        "(its start moved by +3,600 s)")
    assert pairs[("ana", "cici")].describe("id").endswith("(awalnya bergeser +3.600 detik)")


def test_identical_files_are_flagged_as_such(tmp_path: Path) -> None:
    a = kernel_like_capture(tmp_path / "a.pcap", seed=3)
    (tmp_path / "b.pcap").write_bytes(a.read_bytes())
    [s] = compare([("ana", "ana/a", fingerprint(a)), ("budi", "budi/b", fingerprint(tmp_path / "b.pcap"))])
    assert s.kinds[0] == "identical-file"
    assert set(s.shared) >= {"isn", "tsval"} and "mac" not in s.shared
    assert s.describe("en") == "the same file, byte for byte: one capture handed in twice"


def test_independent_students_share_nothing(tmp_path: Path) -> None:
    fps = [(f"s{i}", f"s{i}/x", fingerprint(kernel_like_capture(tmp_path / f"{i}.pcap", seed=100 + i)))
           for i in range(10)]
    assert compare(fps) == []


def test_a_trimmed_copy_still_shares_isns_and_mac(tmp_path: Path) -> None:
    """Keep only the echo connection (frames after DNS) of another student's capture, re-timed."""
    a = kernel_like_capture(tmp_path / "a.pcap", seed=4)
    _editcap("-r", str(a), str(tmp_path / "cut.pcap"), "5-12")
    _editcap("-t", "-200", str(tmp_path / "cut.pcap"), str(tmp_path / "b.pcap"))
    [s] = compare([("ana", "ana/a", fingerprint(a)), ("budi", "budi/b", fingerprint(tmp_path / "b.pcap"))])
    assert s.kinds == ["shared-values"]
    assert sorted(v[:2] for v in s.shared["isn"]) == ["c:", "s:"]  # both ISNs of the one connection kept
    # in plain words, both languages: what is shared and what it usually means, never the numbers
    en, id_ = s.describe("en"), s.describe("id")
    assert en.startswith("the same TCP initial sequence numbers in 1 connection(s): a copied capture, "
                         "or a re-saved one; the same TCP timestamps in 1 connection(s)")
    assert id_.startswith("nomor urut awal (ISN) TCP yang sama pada 1 koneksi: berkas tangkapan yang disalin")
    for v in s.shared["isn"] + s.shared["tsval"]:
        assert v.split(":")[1] not in en + id_


def test_a_rewritten_variant_is_another_student(tmp_path: Path) -> None:
    a = kernel_like_capture(tmp_path / "a.pcap", seed=5)
    b = variant(a, tmp_path / "b.pcap", seed=6)
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa.content != fb.content
    assert not set(fa.tokens["isn"]) & set(fb.tokens["isn"])
    assert compare([("ana", "ana/a", fa), ("budi", "budi/b", fb)]) == []


def test_values_the_whole_class_shares_are_environment_not_copying(tmp_path: Path) -> None:
    """Everyone's DNS query carries the same id from a lab image: no pair for that alone."""
    fps = []
    for i in range(8):
        p = kernel_like_capture(tmp_path / f"{i}.pcap", seed=200 + i)
        fp = fingerprint(p)
        fp.tokens["dns"] = ["4242 www.its.ac.id 1"]
        fps.append((f"s{i}", f"s{i}/x", fp))
    assert compare(fps) == []


def _same_macs(src: Path, like: Path, dst: Path) -> Path:
    """`src` with the Ethernet addresses of `like`: the lab's containers give everyone the same MACs."""
    from reporter.reading.capture import iter_records, open_capture

    macs = next(iter_records(open_capture(like)))[3][:12]
    first = next(iter_records(open_capture(src)))[3][:12]
    recs = []
    for _lt, _if, ts, data in iter_records(open_capture(src)):
        head = macs if data[:12] == first else macs[6:12] + macs[:6]
        recs.append(craft.Rec(head + data[12:], ts))
    return craft.write_pcap(dst, recs, craft.EN10MB, nano=True)


def test_two_students_of_the_same_lab_image_are_not_a_pair(tmp_path: Path) -> None:
    """Two honest students: the same client and server MAC and IP addresses (the lab's containers),
    their own ISNs, ports, timestamps and DNS ids. Sharing the environment is never a copy signal."""
    a = kernel_like_capture(tmp_path / "a.pcap", seed=21)
    b = _same_macs(kernel_like_capture(tmp_path / "b0.pcap", seed=22), a, tmp_path / "b.pcap")
    assert next(iter_records(open_capture(a)))[3][:12] == next(iter_records(open_capture(b)))[3][:12]
    assert compare([("ana", "ana/a", fingerprint(a)), ("budi", "budi/b", fingerprint(b))]) == []


def test_crafted_packets_are_named(tmp_path: Path) -> None:
    """craft.TcpFlow's defaults are what a packet tool makes: round ISNs, 1 ms steps, ids 1, 2, 3."""
    f1 = craft.TcpFlow(client="10.0.0.2", server="10.0.0.1", cport=40000, isn_c=1000, isn_s=1000)
    f1.handshake().echo_exchange(craft.LAB_MESSAGE).close()
    recs = f1.recs()
    p = craft.write_pcap(tmp_path / "c.pcap", recs)
    fp = fingerprint(p)
    codes = {h["code"]: h for h in fp.crafted}
    assert codes["h_round_isn"]["isn"] == [1000]
    assert codes["h_regular"]["ms"] == 1.0
    raw = craft.write_pcap(tmp_path / "z.pcap", [craft.Rec(craft.ethernet(craft.ip_packet(
        "10.0.0.2", "10.0.0.1", 6, craft.tcp_segment("10.0.0.2", "10.0.0.1", 40000 + i, 10000, 7, 0, craft.SYN)[:16]
        + b"\0\0\0\0", ip_id=0, ttl=17)), 1.0 + i * 0.37) for i in range(10)])
    fz = fingerprint(raw)
    codes = {h["code"]: h for h in fz.crafted}
    assert codes["h_ipid_zero"]["n"] == 10 and codes["h_csum_zero"]["n"] == 10
    assert codes["h_odd_ttl"]["ttl"] == [17] and codes["h_same_isn"]["isn"] == 7
    # worded for the class page in both languages
    from reporter.grading.classsummary import outlier_text

    en = outlier_text({"code": "crafted", "hints": fz.crafted}, "en")
    id_ = outlier_text({"code": "crafted", "hints": fz.crafted}, "id")
    assert "the IPv4 id is 0 in all 10 packets" in en and "an unusual IP TTL or hop limit (17)" in en
    assert "ID IPv4 bernilai 0 pada semua 10 paket" in id_ and "checksum TCP bernilai nol pada semua 10 segmen" in id_


def test_a_retransmitted_syn_is_not_a_repeated_isn(tmp_path: Path) -> None:
    f = craft.TcpFlow(client="10.0.0.2", server="10.0.0.1", isn_c=3_141_592_653, isn_s=2_718_281_828)
    f.handshake()
    f.packets.insert(1, (f.packets[0][0] + 1.0, f.packets[0][1]))  # the SYN again, a second later
    fp = fingerprint(craft.write_pcap(tmp_path / "r.pcap", [craft.Rec(craft.ethernet(p), t) for t, p in f.packets]))
    assert not any(h["code"] in ("h_same_isn", "h_round_isn") for h in fp.crafted)


def test_damaged_and_foreign_files_give_a_reason_not_an_exception(tmp_path: Path) -> None:
    a = kernel_like_capture(tmp_path / "a.pcap", seed=7)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(a.read_bytes()[:-7])
    fc = fingerprint(cut)
    assert fc.error and "cut short" in fc.error and fc.frames > 10
    (tmp_path / "x.pcap").write_text("hello, not a capture")
    fx = fingerprint(tmp_path / "x.pcap")
    assert fx.error == "not a pcap or pcapng file" and fx.frames == 0
    assert compare([("a", "a/x", fx), ("b", "b/x", fx)]) == []  # unreadable files are error rows, not pairs
    assert fingerprint(tmp_path / "missing.pcap").error.startswith("cannot read")


def test_the_callers_hash_is_taken_not_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """batch hashes every capture for its cache; the fingerprint must not read the file for it again."""
    import reporter.grading.fingerprint as fingerprint_mod
    from reporter.reading.capture import file_sha256

    a = kernel_like_capture(tmp_path / "a.pcap", seed=8)
    own = fingerprint(a)
    assert own.sha256 == file_sha256(str(a))

    def no_rehash(path: str) -> str:
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(fingerprint_mod, "file_sha256", no_rehash)
    given = fingerprint(a, sha256=own.sha256)
    assert given.to_dict() == own.to_dict()
