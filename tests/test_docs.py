"""The project's own documentation stays true to the code.

docs/ describes what the code does (DESIGN.md steers, docs/ reports). These tests fail when the two
drift apart: the report JSON reference against the schema and against a real report, the rubric
reference against the catalogue (it is generated) and against real verdicts, the plugin page
against what progjar.lua registers, and every link and repository path the docs name. Fast (no
tshark, no rendering): they read files and analyse the small bundled samples.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reporter.assignments import catalogue
from reporter.options import ReportOptions
from reporter.pipeline import analyse
from tests.conftest import ALL_SAMPLES, ROOT
from tests.tools import docgen

DOCS = ROOT / "docs"
SCHEMA = ROOT / "reporter" / "schema" / "report.schema.json"
LUA = ROOT / "dissector" / "progjar.lua"

# ---------------------------------------------------------------------------------------------
# docs/report-json.md against reporter/schema/report.schema.json
#
# Convention: a heading that names an object's path in code spans (`$` the top level, `[]` an
# array's items, `.*` a map's values; several paths when the objects share their keys) is followed
# by a table headed `| key | type | unit | since | meaning |` whose rows start with the key in a code
# span; the fourth column is the schema version
# that added the key.

# Every key path of version 1 ("progjar.report/1", commit 35f8f76's schema). Version 1 is published
# and frozen; version 2 keeps all of these, so a key outside this set was added by version 2.
V1_KEYS = {
    "$": ["capture", "connections", "dns", "frames", "schema", "tasks", "tool", "warnings"],
    "$.capture": ["duration_s", "format", "interfaces", "linktypes", "packets", "path", "sha256", "start",
                  "truncated"],
    "$.connections[]": ["anomalies", "bytes", "client", "client_no", "close", "echo", "exchanges", "handshake",
                        "history", "id", "preview", "segments", "server", "service", "sha256", "state"],
    "$.connections[].anomalies": ["capture_duplicates", "gaps", "out_of_order", "overlap_conflicts",
                                  "retransmissions"],
    "$.connections[].bytes": ["client_to_server", "server_to_client"],
    "$.connections[].client": ["ip", "port"],
    "$.connections[].close": ["end_time_s", "first_fin_by", "reset"],
    "$.connections[].echo": ["echoed_bytes", "first_echo_time_s", "first_mismatch_offset", "first_request_time_s",
                             "queued_behind", "verified", "wait_s"],
    "$.connections[].exchanges[]": ["bytes", "echo_frames", "echo_time_s", "request_frames", "request_time_s"],
    "$.connections[].handshake": ["ack_frame", "complete", "options", "rtt_ms", "syn_frame", "syn_time_s",
                                  "synack_frame"],
    "$.connections[].handshake.options": ["mss", "sack_ok", "timestamps", "wscale"],
    "$.connections[].preview": ["client_to_server", "server_to_client"],
    "$.connections[].segments": ["client_to_server", "server_to_client"],
    "$.connections[].server": ["ip", "port"],
    "$.connections[].sha256": ["client_to_server", "server_to_client"],
    "$.dns[]": ["answers", "client", "id", "latency_ms", "name", "qtype", "query_frame", "rcode", "response_frame",
                "server", "time_s"],
    "$.frames.*": ["client_no", "conn", "echo_ok", "len", "offset", "role", "tcp_analysis"],
    "$.tasks[]": ["evidence_frames", "id", "status", "summary", "verdict"],
    "$.tool": ["name", "version"],
    "$.warnings[]": ["code", "frame", "message"],
}


def schema_keys(node: Any, path: str = "$", out: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """object path -> its keys, in schema order, for every object the schema describes."""
    out = {} if out is None else out
    if not isinstance(node, dict):
        return out
    for alt in node.get("oneOf", []) + node.get("anyOf", []):
        schema_keys(alt, path, out)
    props = node.get("properties")
    if props:
        out.setdefault(path, [])
        for key, sub in props.items():
            if key not in out[path]:
                out[path].append(key)
            schema_keys(sub, f"{path}.{key}", out)
    if isinstance(node.get("items"), dict):
        schema_keys(node["items"], f"{path}[]", out)
    if isinstance(node.get("additionalProperties"), dict):
        schema_keys(node["additionalProperties"], f"{path}.*", out)
    return out


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells (a `\\|` inside a cell is no separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def documented_keys(text: str) -> dict[str, dict[str, str]]:
    """object path -> {key: since} from the doc's sections (the convention above)."""
    out: dict[str, dict[str, str]] = {}
    paths: list[str] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("#"):
            paths = re.findall(r"`(\$[^`]*)`", line)
            for p in paths:
                assert p not in out, f"docs/report-json.md: {p} has two sections"
                out[p] = {}
            in_table = False
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if line.startswith("| key | type | unit | since | meaning |"):
            in_table = True
            continue
        m = re.match(r"\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|", line)
        if m and paths and in_table:
            cells = _cells(line)
            for p in paths:
                assert m.group(1) not in out[p], f"docs/report-json.md: {p}.{m.group(1)} listed twice"
                out[p][m.group(1)] = cells[3] if len(cells) > 3 else ""
    return out


def test_report_json_reference_lists_exactly_the_schemas_keys() -> None:
    schema = schema_keys(json.loads(SCHEMA.read_text(encoding="utf-8")))
    doc = documented_keys((DOCS / "report-json.md").read_text(encoding="utf-8"))
    assert set(doc) == set(schema), (
        f"objects without a section: {sorted(set(schema) - set(doc))}; "
        f"sections the schema lacks: {sorted(set(doc) - set(schema))}")
    for path, keys in schema.items():
        assert list(doc[path]) == keys, f"docs/report-json.md {path}: documents {list(doc[path])}, schema has {keys}"


def test_report_json_reference_says_which_version_added_each_key() -> None:
    schema = schema_keys(json.loads(SCHEMA.read_text(encoding="utf-8")))
    for path, keys in V1_KEYS.items():  # version 2 keeps every key of version 1
        assert set(keys) <= set(schema.get(path, ())), f"{path}: version 1 keys missing from the schema"
    doc = documented_keys((DOCS / "report-json.md").read_text(encoding="utf-8"))
    for path, keys in doc.items():
        for key, since in keys.items():
            want = "1" if key in V1_KEYS.get(path, ()) else "2"
            assert since == want, f"docs/report-json.md {path}.{key}: since {since!r}, should be {want}"


def _shown_in(example: Any, real: Any, where: str) -> None:
    """The example is the real report trimmed: every object keeps all its keys in order (a map keyed
    by frame number may leave notes out), every list is an ordered selection of the real list's
    elements, and every value is the real one."""
    if isinstance(example, dict):
        assert isinstance(real, dict), where
        if example and all(k.isdigit() for k in example):
            assert set(example) <= set(real), f"{where}: {sorted(set(example) - set(real))} not in the report"
        else:
            assert list(example) == list(real), f"{where}: keys {list(example)} differ from the report's {list(real)}"
        for k, v in example.items():
            if where == "$.tool" and k == "version":
                continue  # the release number is the one thing a version bump changes
            _shown_in(v, real[k], f"{where}.{k}")
    elif isinstance(example, list):
        assert isinstance(real, list), where
        i = 0
        for n, item in enumerate(example):
            first: AssertionError | None = None
            while i < len(real):
                try:
                    _shown_in(item, real[i], f"{where}[{i}]")
                    break
                except AssertionError as e:
                    first = first or e
                    i += 1
            else:
                pytest.fail(f"{where}: element {n} of the example is not in the report (or out of order); "
                            f"against the first candidate: {first}")
            i += 1
    else:
        assert example == real, f"{where}: the example says {example!r}, the report {real!r}"


def test_report_json_example_is_a_real_report_trimmed() -> None:
    text = (DOCS / "report-json.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- example: (\S+) (--frames)? ?-->\n```json\n(.*?)\n```", text, re.S)
    assert m, "docs/report-json.md: the example block (<!-- example: CAPTURE [--frames] -->) is missing"
    example = json.loads(m.group(3))
    report, _ = analyse(str(ROOT / m.group(1)), ReportOptions(frames=bool(m.group(2))))
    report.capture.path = m.group(1)  # as given on the command line, relative to the repository
    _shown_in(example, report.to_dict(), "$")
    assert {"messages", "tasks", "frames"} <= set(example) | set(example["connections"][0])


def test_report_json_reference_names_every_warning_code_the_code_writes() -> None:
    """Every code passed to Warning(...) (or through a reader's problem table) has a row."""
    text = (DOCS / "report-json.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \| (?:info|warning|error) \|", text, re.M))
    from reporter.analyses.tcp import EVENT_TEXT
    from reporter.assignments.diagnosis import CODE
    from reporter.model import SEVERITY
    from reporter.reading.capture import HEADER_PROBLEMS
    from reporter.reading.decode import PROBLEMS

    written = set(SEVERITY) | set(PROBLEMS) | set(HEADER_PROBLEMS) | set(EVENT_TEXT) | {CODE, "truncated"}
    for path in (ROOT / "reporter").rglob("*.py"):  # literal codes: Warning("code", ...), _warn("code", ...)
        written |= set(re.findall(r"(?:Warning|_warn)\(\s*\"([a-z0-9-]+)\"", path.read_text(encoding="utf-8")))
    assert written - rows == set(), f"warning codes without a row in docs/report-json.md: {sorted(written - rows)}"
    assert rows - written == set(), f"docs/report-json.md names warning codes the code never writes: {sorted(rows - written)}"
    for code, severity in SEVERITY.items():
        assert re.search(rf"^\| `{code}` \| {severity} \|", text, re.M), f"{code}: severity is {severity}"


# ---------------------------------------------------------------------------------------------
# docs/rubrics.md: generated from the catalogue


def test_rubrics_reference_is_generated_from_the_catalogue() -> None:
    committed = (DOCS / "rubrics.md").read_text(encoding="utf-8")
    fresh = docgen.rubrics()
    if committed != fresh:
        diff = next((i for i, (a, b) in enumerate(zip(committed.splitlines(), fresh.splitlines())) if a != b), None)
        pytest.fail(f"docs/rubrics.md is stale (first difference at line {diff and diff + 1}): "
                    f"run `{docgen.REGENERATE}`")


def test_rubrics_reference_lists_every_reason_code_of_every_task() -> None:
    text = (DOCS / "rubrics.md").read_text(encoding="utf-8")
    for aid, a in catalogue().items():
        codes = docgen.task_codes(aid)
        assert set(codes) == set(a.tasks)
        for code, w in a.wording.items():
            assert f"`{code}`" in text, f"{aid} {code} is not in docs/rubrics.md"
            # Tugas 2's T2 sentences are shown as their two halves (the generator checks they compose)
            parts = [w.reason, w.fix] if not (aid == "tugas2" and code.startswith("t2_quit_")) else []
            for say in parts:
                if say is not None:
                    assert docgen.template(say.en) in text and docgen.template(say.id) in text, \
                        f"{aid} {code}: its sentences are not all in docs/rubrics.md"


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=[p.name for p in ALL_SAMPLES])
def test_each_verdict_on_the_samples_is_one_the_rubric_reference_allows(sample: Path) -> None:
    """Every bundled capture judged as every assignment: each task's (code, status) is one
    docs/rubrics.md lists for that task, so the statuses the generator prints are the rubric's."""
    for aid in catalogue():
        report, _ = analyse(str(sample), ReportOptions(assignment=aid))
        allowed = docgen.allowed_statuses(aid)
        assert [t.id for t in report.tasks] == list(catalogue()[aid].tasks)
        for t in report.tasks:
            assert (t.id, t.code) in allowed, f"{sample.name} as {aid}: {t.id} gave {t.code}, which docs/rubrics.md does not list"
            assert t.status in allowed[(t.id, t.code)], \
                f"{sample.name} as {aid}: {t.id} {t.code} is {t.status}; docs/rubrics.md says {allowed[(t.id, t.code)]}"


def test_tugas2_t2_status_rule_matches_the_rubric() -> None:
    """The QUIT x unknown matrix the generator prints, against judge_t2 on small reports."""
    from reporter.assignments.tugas2.rubric import judge_t2
    from reporter.model import CaptureInfo, Close, Connection, Endpoint, Message, Report

    def conn(cid: int, msgs: list[Message], fin_by: str | None = None, reset: bool = False) -> Connection:
        return Connection(cid, Endpoint("172.16.16.102", 40000 + cid), Endpoint("172.16.16.101", 45000), "time",
                          cid + 1, close=Close(fin_by, reset, 1.0), history="ShADadFf" if not reset else "ShADadr",
                          messages=msgs)

    def req(i: int, cmd: str, problems: tuple = ()) -> Message:
        return Message(i, "request", 10 + i, 10 + i, 0.1 * i, 6, cmd, cmd, problems=list(problems))

    def rsp(i: int, to: int, text: str = "ERROR") -> Message:
        return Message(i, "response", 10 + i, 10 + i, 0.1 * i, 7, text, status="ERROR", in_reply_to=to)

    quit_cases = {"closed": conn(0, [req(0, "QUIT")], "server"), "client_closed": conn(0, [req(0, "QUIT")], "client"),
                  "open": conn(0, [req(0, "QUIT")]), "reset": conn(0, [req(0, "QUIT")], None, True),
                  "answered_after": conn(0, [req(0, "QUIT"), req(1, "TIME"), rsp(2, 1, "JAM 10:00:00")], "client"),
                  "none": None}
    unknown_cases = {"answered": conn(1, [req(0, "HELLO", ("unknown-command",)), rsp(1, 0)], "client"),
                     "silent": conn(1, [req(0, "HELLO", ("unknown-command",))], "client"),
                     "closed": conn(1, [req(0, "HELLO", ("unknown-command",))], "server"), "none": None}
    for q, qc in quit_cases.items():
        for u, uc in unknown_cases.items():
            r = Report(CaptureInfo("x.pcap", "0" * 64, "pcap"), connections=[c for c in (qc, uc) if c is not None])
            task = judge_t2(r)
            assert task.code == f"t2_quit_{q}__unknown_{u}", (q, u, task.code)
            assert task.status == docgen.t2_status(q, u), (q, u, task.status)


# ---------------------------------------------------------------------------------------------
# docs/plugin.md against dissector/progjar.lua

_FT = {"string": "FT_STRING", "uint32": "FT_UINT32", "uint64": "FT_UINT64", "bool": "FT_BOOLEAN",
       "framenum": "FT_FRAMENUM", "relative_time": "FT_RELATIVE_TIME"}
_SEVERITY = {"ERROR": "error", "WARN": "warning", "NOTE": "note", "CHAT": "chat", "COMMENT": "comment"}


def lua_registrations() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(field -> FT type, expert -> severity, preference -> default) as progjar.lua registers them.
    Every ProtoField/ProtoExpert call must be matched: a field written another way fails here."""
    src = LUA.read_text(encoding="utf-8")
    fields = {name: _FT[kind] for kind, name in re.findall(r'ProtoField\.(\w+)\(\s*"(progjar\.[a-z_.]+)"', src)}
    assert len(fields) == len(re.findall(r"ProtoField\.\w+\(", src)), "a ProtoField this test cannot read"
    experts = {name: _SEVERITY[sev] for name, sev in
               re.findall(r'ProtoExpert\.new\(\s*"(progjar\.expert\.[a-z_]+)".*?expert\.severity\.(\w+)\)', src, re.S)}
    assert len(experts) == len(re.findall(r"ProtoExpert\.new\(", src)), "a ProtoExpert this test cannot read"
    defaults = dict(zip(re.findall(r"local (DEFAULT_\w+), (DEFAULT_\w+), (DEFAULT_\w+) =", src)[0],
                        re.findall(r'"([0-9,]+)"', re.search(r"local DEFAULT_\w+, DEFAULT_\w+, DEFAULT_\w+ = (.*)", src)
                                   .group(1))))
    prefs = {f"progjar.{name}": defaults[default] for name, default in
             re.findall(r"progjar\.prefs\.(\w+) = Pref\.\w+\([^,]+, (DEFAULT_\w+)", src)}
    assert len(prefs) == len(re.findall(r"progjar\.prefs\.\w+ = Pref\.", src)), "a preference this test cannot read"
    return fields, experts, prefs


def _rows(text: str, prefix: str) -> dict[str, list[str]]:
    """Table rows whose first cell is a code span starting with `prefix`: name -> the other cells."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf"\|\s*`({re.escape(prefix)}[a-z_.]*)`\s*\|", line)
        if m:
            out[m.group(1)] = _cells(line)[1:]
    return out


def test_plugin_page_documents_every_field_with_its_type() -> None:
    fields, experts, _ = lua_registrations()
    assert len(fields) >= 17 and len(experts) >= 9  # the parse found the plugin's registrations
    rows = {k: v for k, v in _rows((DOCS / "plugin.md").read_text(encoding="utf-8"), "progjar.").items()
            if not k.startswith("progjar.expert.") and k not in ("progjar.ports", "progjar.time_ports",
                                                                 "progjar.file_ports")}
    assert set(rows) == set(fields), (f"fields not in docs/plugin.md: {sorted(set(fields) - set(rows))}; "
                                      f"documented but not registered: {sorted(set(rows) - set(fields))}")
    for name, cells in rows.items():
        assert cells[0] == fields[name], f"docs/plugin.md {name}: type {cells[0]}, progjar.lua registers {fields[name]}"


def test_plugin_page_documents_every_expert_info_with_its_severity() -> None:
    _, experts, _ = lua_registrations()
    rows = _rows((DOCS / "plugin.md").read_text(encoding="utf-8"), "progjar.expert.")
    assert set(rows) == set(experts), (f"expert infos not in docs/plugin.md: {sorted(set(experts) - set(rows))}; "
                                       f"documented but not registered: {sorted(set(rows) - set(experts))}")
    for name, cells in rows.items():
        assert cells[0] == experts[name], f"docs/plugin.md {name}: severity {cells[0]}, progjar.lua: {experts[name]}"


def test_plugin_page_documents_every_preference_with_its_default() -> None:
    _, _, prefs = lua_registrations()
    assert set(prefs) == {"progjar.ports", "progjar.time_ports", "progjar.file_ports"}
    text = (DOCS / "plugin.md").read_text(encoding="utf-8")
    rows = {k: v for k, v in _rows(text, "progjar.").items() if k in prefs}
    assert set(rows) == set(prefs)
    for name, cells in rows.items():
        assert cells[0] == f"`{prefs[name]}`", f"docs/plugin.md {name}: default {cells[0]}, progjar.lua: {prefs[name]}"
    profile = (ROOT / "dissector" / "profile" / "preferences").read_text(encoding="utf-8")
    for name, default in prefs.items():  # the profile installs the same defaults
        assert f"{name}: {default}" in profile


def test_every_progjar_name_in_the_docs_exists() -> None:
    """No doc (nor the README) names a field, expert info or preference the plugin does not register."""
    fields, experts, prefs = lua_registrations()
    known = set(fields) | set(experts) | set(prefs) | {"progjar.prefs"}  # the Lua table of preferences
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        named = set(re.findall(r"(?<![\w/])progjar\.(?:[a-z_]+\.)*[a-z_]+(?![\w/])", text))
        named = {n for n in named if not n.endswith((".lua", ".report", ".batch", ".lab"))}
        unknown = {n for n in named if n not in known and not any(k.startswith(n + ".") for k in known)}
        assert unknown == set(), f"{path.relative_to(ROOT)} names {sorted(unknown)}, which progjar.lua does not register"


# ---------------------------------------------------------------------------------------------
# links and paths

_LINK = re.compile(r"\]\(([^)\s]+)\)")
# paths the how-to names as files a reader creates (the made-up "daytime" assignment)
_EXAMPLES = ("daytime",)


def test_readme_and_docs_link_only_to_files_in_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in _LINK.findall(path.read_text(encoding="utf-8")):
            if target.startswith("#"):
                continue
            assert "://" not in target and not target.startswith("mailto:"), f"{path.name} links outside: {target}"
            dest = (path.parent / target.split("#", 1)[0]).resolve()
            assert dest.is_relative_to(ROOT), f"{path.relative_to(ROOT)} links outside the repository: {target}"
            assert dest.exists(), f"{path.relative_to(ROOT)} links to a missing file: {target}"


def test_docs_name_only_repository_paths_that_exist() -> None:
    """A code span that looks like a path of this repository (reporter/..., tests/...) exists."""
    tops = ("reporter/", "dissector/", "servers/", "tests/", "samples/", "docs/", ".ci/")
    for path in sorted(DOCS.glob("*.md")):
        for span in re.findall(r"`([^`\s]+)`", path.read_text(encoding="utf-8")):
            span = span.split(":", 1)[0].rstrip(",.")
            if not span.startswith(tops) or any(ch in span for ch in "<>*{}") or any(e in span for e in _EXAMPLES):
                continue
            assert (ROOT / span).exists(), f"docs/{path.name} names {span}, which does not exist"


def test_docs_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {t.split("#", 1)[0] for t in _LINK.findall(index)}
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    assert pages <= linked, f"docs/README.md does not list {sorted(pages - linked)}"
