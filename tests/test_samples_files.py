"""The Tugas 3 and ETS samples (real kernel TCP from `progjar lab`) yield every fact their manifests'
`expected` promise: the assignment chosen automatically, task statuses and verdicts, every request
with its status, the LIST names, the files moved (name, size, sha256 of the decoded base64), the
recv(32) bug's reply count, and the ETS table row by row."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from reporter.assignments.files import exchanges, ledger
from reporter.model import from_dict
from reporter.options import ReportOptions
from reporter.pipeline import analyse
from reporter.render import report_json
from reporter.render.html import render_html
from tests.conftest import SAMPLES_ROOT

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "reporter" / "schema" / "report.schema.json").read_text())


def _entries(folder: str) -> list[tuple[Path, dict]]:
    d = SAMPLES_ROOT / folder
    return [(d / e["file"], e) for e in json.loads((d / "manifest.json").read_text())["captures"]]


TUGAS3 = _entries("tugas3")
ETS = _entries("ets")
_cache: dict[Path, object] = {}


def report_for(path: Path):
    if path not in _cache:
        report, damaged = analyse(str(path), ReportOptions(frames=True))
        assert not damaged
        _cache[path] = report
    return _cache[path]


def _ids(entries):
    return [p.name for p, _ in entries]


@pytest.mark.parametrize("path, entry", TUGAS3 + ETS, ids=_ids(TUGAS3 + ETS))
def test_sample_is_the_manifests_and_the_report_is_valid(path, entry):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], "sample changed without its manifest"
    r = report_for(path)
    exp = entry["expected"]
    assert r.assignment.id == exp["assignment"] and r.assignment.chosen_by == "auto", r.assignment.why
    ip, port = exp["server"].rsplit(":", 1)
    files = [c for c in r.connections if c.service == "file"]
    assert files and all((c.server.ip, c.server.port) == (ip, int(port)) for c in files)
    d = r.to_dict()
    jsonschema.validate(d, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert from_dict(json.loads(report_json(r))).to_dict() == d  # cached JSON reads back whole
    tasks = {t.id: t for t in r.tasks}
    for tid, status in exp.get("tasks", {}).items():
        assert tasks[tid].status == status, tasks[tid].reason
        assert tasks[tid].evidence_frames and all(1 <= f <= r.capture.packets for f in tasks[tid].evidence_frames)
    if "verdict" in exp:
        assert tasks["T6"].verdict == exp["verdict"]
    for t in r.tasks:
        assert t.reason and t.filters and (t.fix is None) == (t.status == "pass"), t


def _req_facts(x) -> dict:
    r = x.reply
    out = {"command": x.request.command, "status": r.status if r else None}
    if isinstance(r.data, list) if r else False:
        out["data"] = r.data
    f = x.request.file or (r.file if r else None)
    if f is not None:
        out["file"] = {"name": f.name, "bytes": f.bytes, "sha256": f.sha256}
    return out


@pytest.mark.parametrize("path, entry", [e for e in TUGAS3 if "requests" in e[1]["expected"]],
                         ids=_ids([e for e in TUGAS3 if "requests" in e[1]["expected"]]))
def test_tugas3_every_request_its_reply_and_files(path, entry):
    r = report_for(path)
    exp = entry["expected"]
    xs = exchanges(r)
    assert len(xs) == len(exp["requests"])
    rows = {row.name: row for row in ledger(xs)}
    for x, want in zip(xs, exp["requests"]):
        got = _req_facts(x)
        assert got["command"] == want["command"] and got["status"] == want["status"]
        if "data" in want:
            assert got["data"] == want["data"]
        if "replies" in want:
            assert len(x.replies) == want["replies"]
        if "bytes" in want:
            assert x.request.bytes == want["bytes"]
        if "file" in want:
            f = want["file"]
            if x.request.command == "DELETE":  # the file it deletes: the one the capture moved under that name
                assert x.name == f["name"] and rows[f["name"]].hashes() == {f["sha256"]}
                assert rows[f["name"]].sizes() == {f["bytes"]} and rows[f["name"]].deleted == 1
            else:
                assert got["file"] == f
    if "files" in exp:
        up = exp["files"]["uploaded"]
        row = rows[up["name"]]
        assert row.same is True and row.hashes() == {up["sha256"]} and len(row.uploads) == len(row.downloads) == 1
        served = exp["files"]["served"]
        lists = [x.reply.data for x in xs if x.request.command == "LIST"]
        assert all(served["name"] in names for names in lists)
    if "client" in exp:
        assert {x.conn.client.ip for x in xs} == {exp["client"]}
    if isinstance(exp.get("connections"), int):
        assert len({x.conn.id for x in xs}) == exp["connections"]


def test_tugas3_concurrent_connections_and_overlap():
    path, entry = next(e for e in TUGAS3 if e[0].name == "tugas3-concurrent.pcap")
    r = report_for(path)
    xs = exchanges(r)
    for want in entry["expected"]["connections"]:
        (x,) = [x for x in xs if x.conn.client.ip == want["client"]]
        assert _req_facts(x) == {k: want[k] for k in ("command", "status", "file")}
    up, get = sorted(xs, key=lambda x: x.request.command != "UPLOAD")
    # mesin3's GET is answered while mesin2's UPLOAD is still arriving
    assert up.conn.handshake.syn_time_s < get.reply.time_s < up.request.time_s


@pytest.mark.parametrize("path, entry", ETS, ids=_ids(ETS))
def test_ets_runs_and_table(path, entry):
    r = report_for(path)
    exp = entry["expected"]
    assert len(r.runs) == exp["transfers"] and all(run.ok for run in r.runs)
    # both operations, two sizes, one and three clients at once, all succeeded: every ETS task passes
    assert [(t.id, t.status) for t in r.tasks] == [("T1", "pass"), ("T2", "pass"), ("T3", "pass"), ("T4", "pass")]
    got = [{"operation": row.operation, "file_size": row.file_bytes, "clients": row.clients,
            "successes": row.successes, "failures": row.failures} for row in r.ets_table]
    assert got == exp["table"]
    for row in r.ets_table:
        runs = [r.runs[i] for i in row.runs]
        assert {(x.operation, x.file_bytes) for x in runs} == {(row.operation, row.file_bytes)}
        assert row.mean_duration_s == pytest.approx(sum(x.duration_s for x in runs) / len(runs), abs=2e-6)
        assert row.throughput_Bps == pytest.approx(row.file_bytes / row.mean_duration_s, rel=1e-4)
    for run in r.runs:
        c = r.connections[run.connection]
        assert run.start_s == c.handshake.syn_time_s and run.end_s <= c.close.end_time_s
        assert run.throughput_Bps == pytest.approx(run.file_bytes / run.duration_s, rel=1e-4)


@pytest.mark.parametrize("path", [p for p, _ in TUGAS3 + ETS], ids=_ids(TUGAS3 + ETS))
@pytest.mark.parametrize("lang", ["en", "id"])
def test_reports_show_the_file_section(path, lang):
    r = report_for(path)
    page = render_html(r, lang)
    assert ("File server: requests, replies and files" if lang == "en" else "Server berkas: permintaan") in page
    if r.runs:
        assert 'class="chart throughput"' in page and 'class="chart concurrency"' in page
        assert ("the stress-test table" if lang == "en" else "tabel uji beban") in page
    if path.name == "tugas3-commands.pcap":
        line = {"en": "GET laporan.txt → OK (3,000 bytes, sha256 b771fddbfe6c…)",
                "id": "GET laporan.txt → OK (3.000 byte, sha256 b771fddbfe6c…)"}[lang]
        assert line in page


def test_assignment_option_overrides_the_choice():
    path = SAMPLES_ROOT / "ets" / "ets-thread.pcap"
    r, _ = analyse(str(path), ReportOptions(assignment="tugas3"))
    assert r.assignment.id == "tugas3" and r.assignment.chosen_by == "option" and not r.runs
    assert [t.id for t in r.tasks] == ["T1", "T2", "T3", "T4", "T5", "T6"]
