"""The assignment catalogue and the layout it lives in: services and ports come only from the
catalogue, --assignment/--port/--ports reach the analyses, a rubric's sentences are said in both
languages with numbers written each language's way, and the stages import only backwards."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reporter import assignments
from reporter.assignments.wording import Say, number, say
from reporter.options import ReportOptions, Student
from reporter.pipeline import analyse
from tests.conftest import ROOT
from tests.craft import LAB_MESSAGE, TcpFlow, write_pcap


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reporter", *args], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def echo_capture(tmp_path: Path, port: int, name: str = "c.pcap") -> Path:
    f = TcpFlow(sport=port).handshake()
    f.echo_exchange(LAB_MESSAGE)
    return write_pcap(tmp_path / name, f.close().recs())


# --- the catalogue ------------------------------------------------------------------------------

def test_every_entry_is_complete_and_consistent() -> None:
    cat = assignments.catalogue()
    assert list(cat)[0] == "tugas1"
    for a in cat.values():
        assert a.tasks and set(a.task_names) == set(a.tasks), a.id
        assert set(a.task_service) <= set(a.tasks)
        names = {s.name for s in a.services}
        assert set(a.task_service.values()) <= names
        for s in a.services:
            assert s.framing in ("dns", "echo", "line", "json") and 0 < s.port < 65536
        for code, w in a.wording.items():  # every sentence exists in both languages with the same facts
            for text in (w.reason, w.fix):
                if text is not None:
                    assert text.en and text.id, (a.id, code)
                    assert _fields(text.en) == _fields(text.id), (a.id, code)


def _fields(template: str) -> set[str]:
    import string

    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_service_ports_come_from_the_catalogue_and_overrides_move_one() -> None:
    ports = assignments.service_ports()
    assert ports["echo"] == 10000 and ports["file-echo"] == 32444 and ports["dns"] == 53
    moved = assignments.service_ports({"echo": 5000})
    assert moved["echo"] == 5000 and moved["file-echo"] == 32444
    with pytest.raises(KeyError):
        assignments.service_ports({"gopher": 70})
    assert assignments.tcp_services(moved) == {5000: "echo", 32444: "file-echo"} | {
        p: n for n, p in moved.items() if n not in ("echo", "file-echo", "dns")
        and assignments.all_services()[n].transport == "tcp"}


def test_no_module_outside_the_catalogue_knows_a_lab_port() -> None:
    """Ports 10000 and 32444 appear only in the catalogue (reporter/assignments)."""
    not_ports = {"reporter/analyses/echo.py": {10000}}  # MAX_EXCHANGES happens to be 10000
    offenders = []
    for p in (ROOT / "reporter").rglob("*.py"):
        if "assignments" in p.parts:
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in (10000, 32444, 45000, 6666) \
                    and node.value not in not_ports.get(p.relative_to(ROOT).as_posix(), ()):
                offenders.append(f"{p.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# --- the layout: stages import only backwards ------------------------------------------------

STAGES = ["reading", "analyses", "model", "assignments", "render", "grading"]


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reporter."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("reporter."))
    return out


def test_each_stage_imports_only_earlier_stages_and_the_model() -> None:
    """reading -> analyses -> model -> assignments -> render -> grading; the model is the shared
    vocabulary every stage may use; options is shared by all; cli and pipeline orchestrate."""
    bad = []
    for i, stage in enumerate(STAGES):
        allowed = set(STAGES[:i + 1]) | {"model", "options"}
        for p in (ROOT / "reporter" / stage).rglob("*.py"):
            for dep in _imports(p) - allowed:
                if dep in STAGES or dep in ("cli", "pipeline"):
                    if not (stage == "grading" and dep == "pipeline"):  # batch analyses captures
                        bad.append(f"{p.relative_to(ROOT)} imports reporter.{dep}")
    assert bad == []


def test_options_import_nothing_of_the_stages() -> None:
    assert _imports(ROOT / "reporter" / "options.py") == set()


# --- wording ---------------------------------------------------------------------------------

def test_numbers_are_written_each_languages_way() -> None:
    text = Say("{n:,} bytes, waited {t:.1f} s ({hosts})", "{n:,} byte, menunggu {t:.1f} detik ({hosts})")
    facts = {"n": 4920, "t": 6.04, "hosts": ["172.16.16.102", "172.16.16.103"]}
    assert say(text, facts) == "4,920 bytes, waited 6.0 s (172.16.16.102, 172.16.16.103)"
    assert say(text, facts, "id") == "4.920 byte, menunggu 6,0 detik (172.16.16.102, 172.16.16.103)"
    assert number(1234567.5, ",.1f", "id") == "1.234.567,5"


def test_student_parses_name_and_nrp() -> None:
    assert Student.parse("Ana  Putri / 5025211001") == Student("Ana Putri", "5025211001")
    assert Student.parse("Budi") == Student("Budi", None)
    with pytest.raises(ValueError):
        Student.parse(" / 123")


# --- the options reach the analyses --------------------------------------------------------------

def test_auto_picks_the_assignment_and_says_why(tmp_path: Path) -> None:
    rep, _ = analyse(str(echo_capture(tmp_path, 10000)), ReportOptions())
    assert rep.assignment.id == "tugas1" and rep.assignment.chosen_by == "auto"
    assert rep.assignment.seen == {"echo": 1} and "echo (1)" in rep.assignment.why
    assert rep.assignment.services["echo"] == 10000


def test_port_option_moves_the_echo_service(tmp_path: Path) -> None:
    cap = echo_capture(tmp_path, 5000)
    plain, _ = analyse(str(cap), ReportOptions())
    # on a port no service claims, the echo is recognised by its content and said; T2 is judged on
    # the assignment's port: partial, naming the echo seen on 5000 and the --port that makes it count
    assert plain.connections[0].service == "echo" and plain.connections[0].service_by == "content"
    assert any(w.code == "service-recognised" and "--port echo=5000" in w.message for w in plain.warnings)
    seen = {t.id: t for t in plain.tasks}["T2"]
    assert (seen.status, seen.code, seen.facts["seen_port"]) == ("partial", "echo_other_port", 5000)
    assert "--port echo=5000" in seen.fix
    moved, _ = analyse(str(cap), ReportOptions(port_overrides={"echo": 5000}, assignment="tugas1"))
    assert moved.connections[0].service == "echo"
    t2 = {t.id: t for t in moved.tasks}["T2"]
    assert t2.status == "pass" and t2.facts["port"] == 5000
    assert moved.assignment.chosen_by == "option" and moved.assignment.services["echo"] == 5000


def test_cli_port_and_ports_and_student(tmp_path: Path) -> None:
    cap = echo_capture(tmp_path, 5000)
    for opt in (["--port", "echo=5000"], ["--ports", "5000,32444"]):
        p = run_cli("report", str(cap), "--format", "json", "-o", "-", *opt, "--student", "Ana Putri / 5025211001")
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["connections"][0]["service"] == "echo"
        assert doc["student"] == {"name": "Ana Putri", "id": "5025211001"}
        assert next(t for t in doc["tasks"] if t["id"] == "T2")["status"] == "pass"


@pytest.mark.parametrize("args, says", [
    (["--port", "gopher=70"], "SERVICE=PORT"),
    (["--port", "echo=0"], "between 1 and 65535"),
    (["--port", "echo"], "SERVICE=PORT"),
    (["--assignment", "tugas99"], "invalid choice"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["--student", " / 1"], "needs a name"),
])
def test_bad_options_are_one_line_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    p = run_cli("report", str(echo_capture(tmp_path, 10000)), "-o", str(tmp_path / "out"), *args)
    assert p.returncode == 2 and says in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr
