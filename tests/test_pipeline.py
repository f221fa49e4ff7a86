"""`progjar report` as a user runs it: exit codes, one-line errors, JSON on stdout, partial reports
for damaged captures, --frames, and every report valid against the published JSON schema."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from reporter.options import ReportOptions
from reporter.pipeline import analyse, iso_utc, report_command
from tests import craft
from tests.conftest import ALL_SAMPLES

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "reporter" / "schema" / "report.schema.json").read_text())
SRV, M2, M3 = "172.16.16.101", "172.16.16.102", "172.16.16.103"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "reporter", "report", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, stdin=subprocess.DEVNULL)


def validate(doc: dict) -> None:
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


def one_line_error(p: subprocess.CompletedProcess) -> str:
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert "Traceback" not in p.stderr
    assert len(lines) == 1, p.stderr
    return lines[0]


def lab_records() -> list[craft.Rec]:
    """DNS A+AAAA, then an echo on 10000 and a file echo on 32444 from mesin2: T1, T2 and T3 in one file."""
    dns = []
    for t, m, resp in [(1.0, craft.dns_message(1, "www.its.ac.id", 1), False),
                       (1.0001, craft.dns_message(2, "www.its.ac.id", 28), False),
                       (1.001, craft.dns_message(1, "www.its.ac.id", 1, True, answers=[(1, "103.94.189.5")]), True),
                       (1.0012, craft.dns_message(2, "www.its.ac.id", 28, True), True)]:
        dns.append(craft.Rec(craft.ethernet(craft.dns_packet(M2, "172.16.16.53", 40001, m, resp)), t))
    echo = craft.TcpFlow(client=M2, server=SRV, cport=44464, sport=10000, t=2.0)
    echo.handshake().echo_exchange(craft.LAB_MESSAGE).close()
    data = bytes(range(32, 127)) * 4
    file = craft.TcpFlow(client=M2, server=SRV, cport=47634, sport=32444, t=3.0)
    file.handshake().echo_exchange(data).close()
    return craft.merge(dns, echo.recs(), file.recs())


def lab_capture(tmp_path: Path, name: str = "lab.pcap") -> Path:
    return craft.write_pcap(tmp_path / name, lab_records())


def test_json_report_validates_and_describes_the_capture(tmp_path):
    cap = lab_capture(tmp_path)
    p = run(str(cap), "--format", "json", "-o", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads((tmp_path / "out" / "lab.json").read_text())
    validate(doc)
    c = doc["capture"]
    assert c["sha256"] == hashlib.sha256(cap.read_bytes()).hexdigest()
    assert (c["format"], c["linktypes"], c["interfaces"], c["truncated"]) == ("pcap", [1], 1, False)
    assert c["packets"] == len(lab_records())
    assert c["start"] == "1970-01-01T00:00:01.000000Z"
    assert doc["tool"]["version"] and doc["schema"] == "progjar.report/2"
    tasks = {t["id"]: t for t in doc["tasks"]}
    assert tasks["T1"]["status"] == "pass"
    assert "frames" not in doc


def test_packet_count_and_duration_match_the_file(tmp_path):
    recs = lab_records()
    report, damaged = analyse(str(lab_capture(tmp_path)), ReportOptions())
    assert not damaged
    assert report.capture.packets == len(recs) == 4 + (3 + 1 + 2 + 1 + 3) + (3 + 1 + 12 + 1 + 3)
    assert report.capture.duration_s == pytest.approx(recs[-1].t - recs[0].t, abs=1e-6)


def test_dash_o_writes_json_to_stdout_only(tmp_path):
    cap = lab_capture(tmp_path)
    p = run(str(cap), "--format", "json", "-o", "-", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    validate(doc)
    assert doc["capture"]["path"] == str(cap)
    assert not any(tmp_path.glob("*.json")) and not (tmp_path / "reports").exists()


def test_dash_o_needs_json_and_one_capture(tmp_path):
    cap = lab_capture(tmp_path)
    p = run(str(cap), "-o", "-")
    assert p.returncode == 2 and "'-o -'" in one_line_error(p)
    p = run(str(cap), str(cap), "--format", "json", "-o", "-")
    assert p.returncode == 2 and "exactly one capture" in one_line_error(p)


@pytest.mark.parametrize("args, words", [
    (["--format", "docx"], "unknown format"),
    (["--ports", "abc"], "ports"),
    (["--lang", "fr"], "invalid choice"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_bad_option_is_one_line_exit_2(tmp_path, args, words):
    p = run(str(lab_capture(tmp_path)), *args, "-o", str(tmp_path / "out"))
    assert p.returncode == 2
    assert words in one_line_error(p)
    assert not (tmp_path / "out").exists()


def test_outdir_that_is_a_file_is_exit_2(tmp_path):
    (tmp_path / "taken").write_text("x")
    p = run(str(lab_capture(tmp_path)), "--format", "json", "-o", str(tmp_path / "taken"))
    assert p.returncode == 2 and "is not a folder" in one_line_error(p)


def test_missing_file_is_exit_2(tmp_path):
    p = run(str(tmp_path / "nope.pcap"), "-o", str(tmp_path / "out"))
    assert p.returncode == 2
    assert "nope.pcap: no such file" in one_line_error(p)


def test_a_folder_is_exit_2_and_points_to_batch(tmp_path):
    p = run(str(tmp_path), "-o", str(tmp_path / "out"))
    assert p.returncode == 2
    assert "is a folder" in one_line_error(p) and "progjar batch" in one_line_error(p)


def test_text_file_is_one_line_exit_2_and_other_captures_still_get_reports(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("this is not a capture\n")
    p = run(str(txt), "--format", "json", "-o", str(tmp_path / "out"))
    assert p.returncode == 2
    assert one_line_error(p).startswith(f"progjar report: {txt}: not a pcap or pcapng capture: ")
    cap = lab_capture(tmp_path)
    p = run(str(txt), str(cap), "--format", "json", "-o", str(tmp_path / "out"), "-q")
    assert p.returncode == 2
    assert "not a pcap or pcapng" in one_line_error(p)
    validate(json.loads((tmp_path / "out" / "lab.json").read_text()))


def test_truncated_capture_is_exit_1_with_a_partial_report(tmp_path):
    cap = lab_capture(tmp_path)
    whole = cap.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[:len(whole) - 30])  # the last record loses its tail
    p = run(str(cut), "--format", "json", "-o", str(tmp_path / "out"), "-q")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert lines and all(x.startswith(f"progjar report: {cut}: ") for x in lines)
    doc = json.loads((tmp_path / "out" / "cut.json").read_text())
    validate(doc)
    assert doc["capture"]["truncated"] is True
    assert doc["capture"]["packets"] >= 4
    assert {t["id"]: t for t in doc["tasks"]}["T1"]["status"] == "pass"  # what was read is still judged
    assert any(w["code"] == "truncated" for w in doc["warnings"])


def test_frames_option_adds_frame_notes(tmp_path):
    cap = lab_capture(tmp_path)
    p = run(str(cap), "--format", "json", "-o", "-", "--frames")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    validate(doc)
    frames = doc["frames"]
    assert frames, "an echo capture has request and echo segments to label"
    roles = {n["role"] for n in frames.values()}
    assert roles == {"request", "echo"}
    conn_ids = {c["id"] for c in doc["connections"]}
    assert {n["conn"] for n in frames.values()} <= conn_ids
    assert "frames" not in json.loads(run(str(cap), "--format", "json", "-o", "-").stdout)


def test_lab_capture_tasks_end_to_end(tmp_path):
    report, damaged = analyse(str(lab_capture(tmp_path)), ReportOptions())
    tasks = {t.id: t for t in report.tasks}
    assert not damaged
    assert [tasks[t].status for t in ("T1", "T2", "T3", "T4")] == ["pass", "pass", "pass", "absent"]
    echo = next(c for c in report.connections if c.server.port == 10000)
    assert set(tasks["T2"].evidence_frames) >= {echo.handshake.syn_frame, echo.handshake.ack_frame}
    assert len(tasks["T2"].evidence_frames) == 6  # SYN, SYN-ACK, ACK, request, first echo, FIN


def test_same_stem_twice_gets_two_reports(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = lab_capture(tmp_path / "a", "x.pcap")
    two = lab_capture(tmp_path / "b", "x.pcap")
    p = run(str(one), str(two), "--format", "json", "-o", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["x-2.json", "x.json"]
    assert len([x for x in p.stderr.splitlines() if x.strip()]) == 2  # one progress line per capture


def test_unexpected_failure_is_one_line_exit_1_and_the_rest_go_on(tmp_path, capsys, monkeypatch):
    import reporter.pipeline as pipeline

    cap = lab_capture(tmp_path)
    real = pipeline.analyse

    def flaky(path, opts):
        if "boom" in str(path):
            raise KeyError("unexpected")
        return real(path, opts)

    boom = tmp_path / "boom.pcap"
    boom.write_bytes(cap.read_bytes())
    monkeypatch.setattr(pipeline, "analyse", flaky)
    code = report_command([str(boom), str(cap)], str(tmp_path / "out"), ReportOptions(formats=("json",)), quiet=True)
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "boom.pcap: analysis failed: KeyError" in err[0] and "report this bug" in err[0]
    assert (tmp_path / "out" / "lab.json").exists()


def test_start_time_keeps_nanoseconds_when_the_file_has_them():
    assert iso_utc(1_700_000_000_123_456_000) == "2023-11-14T22:13:20.123456Z"
    assert iso_utc(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert iso_utc(None) is None
    assert iso_utc(2**64 * 10**9) is None  # a damaged pcapng timestamp: no date, no crash


def test_empty_capture_is_a_valid_report(tmp_path):
    cap = craft.write_pcap(tmp_path / "empty.pcap", [])
    p = run(str(cap), "--format", "json", "-o", "-")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    validate(doc)
    assert (doc["capture"]["packets"], doc["capture"]["start"], doc["capture"]["duration_s"]) == (0, None, 0)
    assert [t["status"] for t in doc["tasks"]] == ["absent"] * 4


def test_mutated_samples_never_raise_and_stay_valid(tmp_path):
    """Flipped, cut and inserted bytes in real captures: every analysis ends with a schema-valid report."""
    import random

    rng = random.Random(7)
    sources = [p.read_bytes() for p in ALL_SAMPLES]
    assert sources, "samples/ has captures"
    validator = jsonschema.Draft202012Validator(SCHEMA)
    path = tmp_path / "m.pcap"
    for i in range(300):
        buf = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(24, len(buf))
            op = rng.random()
            if op < 0.7:
                buf[pos] = rng.randrange(256)
            elif op < 0.85:
                del buf[pos:pos + rng.randint(1, 64)]
            else:
                buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        path.write_bytes(bytes(buf))
        try:
            report, _ = analyse(str(path), ReportOptions(frames=bool(i % 2)))
        except Exception as e:  # NotACapture is fine: the header itself may be hit
            from reporter.reading.capture import NotACapture

            assert isinstance(e, NotACapture), f"mutation {i}: {type(e).__name__}: {e}"
            continue
        errors = list(validator.iter_errors(report.to_dict()))
        assert not errors, f"mutation {i}: {errors[0].message}"


def t4_records(serial: bool) -> list[craft.Rec]:
    """Two clients, three requests each, 3 s apart; a single-threaded server serves #2 only after #1 closes."""
    one = craft.TcpFlow(client=M2, server=SRV, cport=37574, t=1.0)
    two = craft.TcpFlow(client=M3, server=SRV, cport=38568, t=1.0005)
    one.handshake()
    two.handshake()
    for k in range(3):
        base = 46 * k
        one.t = 1.01 + 3 * k
        one.data("c", base, craft.LAB_MESSAGE).data("s", base, craft.LAB_MESSAGE[:32])
        one.data("s", base + 32, craft.LAB_MESSAGE[32:]).ack("c")
        if not serial:
            two.t = 1.02 + 3 * k
            two.data("c", base, craft.LAB_MESSAGE).data("s", base, craft.LAB_MESSAGE[:32])
            two.data("s", base + 32, craft.LAB_MESSAGE[32:]).ack("c")
    if serial:  # #2's first request is ACKed by the kernel at once, echoed after #1's close
        two.t = 1.02
        two.data("c", 0, craft.LAB_MESSAGE).ack("s")
    one.t = 7.1
    one.close()
    if serial:
        two.t = 7.2
        two.data("s", 0, craft.LAB_MESSAGE[:32]).data("s", 32, craft.LAB_MESSAGE[32:]).ack("c")
        for k in (1, 2):
            two.t = 7.2 + 3 * k
            two.data("c", 46 * k, craft.LAB_MESSAGE).data("s", 46 * k, craft.LAB_MESSAGE[:32])
            two.data("s", 46 * k + 32, craft.LAB_MESSAGE[32:]).ack("c")
    two.t = 14.0 if serial else 8.0
    two.close()
    return craft.merge(one.recs(), two.recs())


@pytest.mark.parametrize("serial", [True, False], ids=["serial", "concurrent"])
def test_t4_end_to_end_verdict_and_evidence(tmp_path, serial):
    recs = t4_records(serial)
    path = craft.write_pcap(tmp_path / "t4.pcap", recs)
    report, damaged = analyse(str(path), ReportOptions())
    assert not damaged
    t4 = {t.id: t for t in report.tasks}["T4"]
    assert (t4.status, t4.verdict) == ("pass", "serial" if serial else "concurrent"), t4.summary
    first, second = sorted(report.connections, key=lambda c: c.handshake.syn_frame)
    assert {first.handshake.syn_frame, second.handshake.syn_frame} <= set(t4.evidence_frames)
    if serial:
        from reporter.reading.capture import iter_packets, open_capture

        pk = {p.no: p for p in iter_packets(open_capture(path))}
        fin = next(n for n, p in sorted(pk.items()) if p.sport == 37574 and p.flags & craft.FIN)
        ack = next(n for n, p in sorted(pk.items()) if p.sport == 10000 and p.dport == 38568 and not p.payload
                   and p.ack > two_isn(pk, 38568) + 1)
        echo = next(n for n, p in sorted(pk.items()) if p.sport == 10000 and p.dport == 38568 and p.payload)
        assert {fin, ack, echo} <= set(t4.evidence_frames)
        assert ack < fin < echo
        assert second.echo.wait_s == pytest.approx(7.2 + 0.001 - (1.0005 + 0.001), abs=1e-6)
        assert f"waited {second.echo.wait_s:.2f} s, served after client #1 closed" in t4.summary


def two_isn(pk: dict, cport: int) -> int:
    return next(p.seq for p in pk.values() if p.sport == cport and p.flags == craft.SYN)


def test_a_known_sha256_is_used_and_the_file_not_hashed_again(tmp_path, monkeypatch):
    """batch already hashed the capture for its cache: analyse takes that hash instead of reading the file again."""
    import reporter.pipeline as pipeline

    cap = lab_capture(tmp_path)
    known = hashlib.sha256(cap.read_bytes()).hexdigest()
    assert analyse(str(cap), ReportOptions())[0].capture.sha256 == known  # hashed here when not given

    def no_second_read(path):
        raise AssertionError("file hashed again")

    monkeypatch.setattr(pipeline, "BackgroundSha256", no_second_read)
    report, damaged = analyse(str(cap), ReportOptions(), sha256=known)
    assert report.capture.sha256 == known and not damaged


def test_the_background_hash_is_the_files_and_says_why_it_failed(tmp_path):
    """The capture's hash runs on a second thread beside the analysis: same digest as a plain read,
    and a file it cannot read raises in the caller's thread, as file_sha256 would."""
    from reporter.reading.capture import BackgroundSha256, file_sha256

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20) + b"tail")  # several of the hasher's 1 MiB chunks
    assert BackgroundSha256(big).result() == file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    with pytest.raises(FileNotFoundError):
        BackgroundSha256(tmp_path / "gone.pcap").result()


def test_an_analysis_that_fails_leaves_no_hashing_thread(tmp_path, monkeypatch):
    """A failure after the hash started waits for its thread: nothing keeps reading a file the caller
    is about to delete (a zip's member in a temporary folder)."""
    import threading
    import time

    import reporter.pipeline as pipeline
    import reporter.reading.capture as capture_module

    cap = lab_capture(tmp_path)

    def boom(*a, **kw):
        raise RuntimeError("analysis failed")

    def slow_hash(path):
        time.sleep(0.3)  # still hashing when the analysis fails
        return "0" * 64

    monkeypatch.setattr(capture_module, "file_sha256", slow_hash)
    monkeypatch.setattr(capture_module, "FILE_SHA256", None)  # the compiled hash would finish at once
    monkeypatch.setattr(pipeline, "_analyse_opened", boom)
    with pytest.raises(RuntimeError, match="analysis failed"):
        analyse(str(cap), ReportOptions())
    assert not [t for t in threading.enumerate() if t.name == "progjar-sha256"]
