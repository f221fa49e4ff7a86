"""1,000 damaged captures: reading and the whole analysis never crash or hang.

A student's capture may be cut (Wireshark killed mid-write, a half-copied upload) or corrupted.
The tool must then report what it could read, say the input was damaged (exit 1), and produce a
report that still validates against the JSON schema. Cases run in-process with a per-case time
bound (SIGALRM), so the whole set stays well under a minute.
"""
from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import time
from pathlib import Path

import jsonschema
import pytest

from reporter import pipeline
from reporter.reading.capture import HEADER_PROBLEMS, NotACapture, iter_packets, open_capture
from reporter.options import ReportOptions
from reporter.reading.decode import PROBLEMS
from reporter.reading.packet import Packet
from tests import mutants
from tests.conftest import ROOT

N_CASES = 1000
CASE_SECONDS = 5.0
CASE_MEMORY_MB = 200  # a few-KB damaged file must not make the process grow by more than this


class CaseTimeout(BaseException):
    """Not an Exception: the code under test must not be able to swallow it with `except Exception`."""


def _alarm(signum, frame):
    raise CaseTimeout()


@pytest.fixture(scope="module")
def mutant_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return mutants.make_mutants(tmp_path_factory.mktemp("mutants"), N_CASES, seed=3)


@pytest.fixture(scope="module")
def originals() -> dict[str, list[tuple]]:
    """Each source capture's decoded packets, to check that a cut file reads as a prefix of it."""
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as d:
        for name, data in mutants.sources().items():
            p = Path(d) / name
            p.write_bytes(data)
            cap = open_capture(p)
            out[name] = [_key(pkt) for pkt in iter_packets(cap)]
            assert not cap.truncated, name
    return out


def _key(p: Packet) -> tuple:
    return (p.no, p.ts, p.iface, p.src, p.dst, p.sport, p.dport, p.seq, p.ack, p.flags, p.payload, p.missing)


def _read_checked(path: Path) -> tuple[object | None, list[Packet]]:
    """Read one mutant through the reading layer and check the invariants every consumer relies on."""
    try:
        cap = open_capture(path)
    except NotACapture as e:
        assert str(e)
        return None, []
    pkts = list(iter_packets(cap))
    assert cap.packets >= len(pkts)
    nos = [p.no for p in pkts]
    assert nos == sorted(set(nos)) and (not nos or 1 <= nos[0] and nos[-1] <= cap.packets)
    for p in pkts:
        assert p.version in (4, 6) and len(p.src) == len(p.dst) == (4 if p.version == 4 else 16)
        assert p.proto in (6, 17) and isinstance(p.payload, bytes) and p.missing >= 0
        assert 0 <= p.iface < max(1, cap.interfaces)
    codes = [w.code for w in cap.problems]
    assert len(codes) == len(set(codes)), "one warning per kind"
    assert set(codes) <= set(PROBLEMS) | {"truncated"} | set(HEADER_PROBLEMS)
    assert cap.truncated == ("truncated" in codes)
    if cap.packets:
        assert cap.first_ts is not None and cap.last_ts is not None
    return cap, pkts


def test_mutants_are_reproducible(tmp_path: Path) -> None:
    a = mutants.make_mutants(tmp_path / "a", 30, seed=9)
    b = mutants.make_mutants(tmp_path / "b", 30, seed=9)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert {mutants.kind_of(p) for p in a} == set(mutants.KINDS)


def test_thousand_damaged_captures(mutant_files: list[Path], originals: dict, tmp_path: Path) -> None:
    schema = json.loads((ROOT / "reporter" / "schema" / "report.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    opts = ReportOptions(formats=("json",))
    old = signal.signal(signal.SIGALRM, _alarm)
    stats = {"not-a-capture": 0, "truncated": 0, "clean": 0, "prefix-checked": 0}
    started = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    memory_hogs: list[str] = []
    try:
        for path in mutant_files:
            signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
            try:
                cap, pkts = _read_checked(path)
                if cap is None:
                    stats["not-a-capture"] += 1
                else:
                    stats["truncated" if cap.truncated else "clean"] += 1
                    if mutants.kind_of(path) == "trunc":  # a cut file reads as a prefix of the original
                        orig = originals[mutants.source_of(path)]
                        got = [_key(p) for p in pkts]
                        assert got == orig[:len(got)], path.name
                        stats["prefix-checked"] += 1
                _check_pipeline(path, cap, validator, opts, tmp_path)
            except CaseTimeout:
                pytest.fail(f"{path.name}: took more than {CASE_SECONDS} s (hang?)")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            now_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # high-water mark: jumps show hogs
            if now_kb - peak_kb > CASE_MEMORY_MB * 1024:
                memory_hogs.append(f"{path.name} (+{(now_kb - peak_kb) // 1024} MB)")
            peak_kb = max(peak_kb, now_kb)
    finally:
        signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - started
    print(f"{len(mutant_files)} mutants in {elapsed:.1f} s: {stats}")
    assert not memory_hogs, f"damaged captures that made memory jump: {memory_hogs}"
    # the set must exercise both outcomes, or the mutations have stopped biting
    assert stats["truncated"] > 100 and stats["clean"] > 50 and stats["prefix-checked"] > 50
    assert stats["not-a-capture"] > 0


def _check_pipeline(path: Path, cap, validator, opts, tmp_path: Path) -> None:
    """The whole analysis on one mutant: schema-valid report, damaged iff the reader saw damage."""
    if cap is None:
        with pytest.raises(NotACapture):
            pipeline.analyse(str(path), opts)
        return
    report, damaged = pipeline.analyse(str(path), opts)
    doc = report.to_dict()
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{path.name}: {errors[0].message} at {list(errors[0].path)}"
    assert doc["capture"]["packets"] == cap.packets and doc["capture"]["truncated"] == cap.truncated
    if cap.truncated:
        assert damaged, path.name
    # exit semantics of `progjar report` on the same file: 1 when damaged, else 0; never a crash
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = pipeline.report_command([str(path)], str(tmp_path / "out"), opts, quiet=True)
    assert rc == (1 if damaged else 0), f"{path.name}: exit {rc}: {err.getvalue()}"
    assert "failed" not in err.getvalue(), f"{path.name}: {err.getvalue()}"


def test_damaged_gzip_captures_are_one_line_each_and_leave_nothing(mutant_files: list[Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Damaged captures, gzip-compressed, and the gzip itself cut or corrupted: `progjar report` says
    one line per bad file (never "analysis failed"), writes every report it can, exits 2 at worst,
    and leaves no temporary copy behind."""
    import gzip
    import random
    import tempfile

    from reporter.cli import main

    rng = random.Random(7)
    src = tmp_path / "in"
    src.mkdir()
    for i, p in enumerate(mutant_files[:90]):
        data = gzip.compress(p.read_bytes(), mtime=0)
        if i % 3 == 1:
            data = data[:rng.randrange(2, len(data))]
        elif i % 3 == 2:
            b = bytearray(data)
            b[rng.randrange(10, len(b))] ^= 0xFF
            data = bytes(b)
        (src / f"{i:03d}-{p.name}.gz").write_bytes(data)
    systmp = tmp_path / "systmp"
    systmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["report", *sorted(str(p) for p in src.iterdir()), "-o", str(tmp_path / "out"),
                   "--format", "json", "-q"])
    lines = err.getvalue().splitlines()
    assert rc in (1, 2) and lines
    assert not [l for l in lines if "analysis failed" in l or "rendering failed" in l or "Traceback" in l], lines
    assert all(l.startswith("progjar report: ") for l in lines)
    assert any("not a readable gzip file" in l for l in lines)  # the cut ones
    assert list(systmp.iterdir()) == []
    # an intact gzip of a damaged capture gets exactly the report (or the one line) of the capture itself
    plain = tmp_path / "plain"
    plain.mkdir()
    for i, p in enumerate(mutant_files[:90:3]):
        (plain / f"{3 * i:03d}-{p.name}").write_bytes(p.read_bytes())
    err2 = io.StringIO()
    with contextlib.redirect_stderr(err2):
        main(["report", *sorted(str(p) for p in plain.iterdir()), "-o", str(tmp_path / "out-plain"),
              "--format", "json", "-q"])
    want = {p.name for p in (tmp_path / "out-plain").glob("*.json")}
    assert len(want) >= 20 and want <= {p.name for p in (tmp_path / "out").glob("*.json")}
    for name in want:
        a, b = (json.loads((tmp_path / d / name).read_text()) for d in ("out", "out-plain"))
        a["capture"].pop("path"), b["capture"].pop("path")
        assert a == b, name
    plain_lines = err2.getvalue().splitlines()
    assert plain_lines  # damaged captures: something to compare
    for i in range(30):  # and the same lines on stderr (what follows the file's name)
        got = [line.split(": ", 2)[2] for line in lines if f"/{3 * i:03d}-" in line]
        exp = [line.split(": ", 2)[2] for line in plain_lines if f"/{3 * i:03d}-" in line]
        assert got == exp, (i, got, exp)
