"""Tugas 1: socket_info.py's DNS lookups, the echo server on 10000, a file echoed on 32444, and two
clients against one server (serial or concurrent). The catalogue entry; the rubric is rubric.py."""
from __future__ import annotations

from typing import Any, Optional

from reporter.assignments import Assignment, RubricInput, Service, service_ports
from reporter.assignments.tugas1.rubric import LAB_MESSAGE_LEN, judge, judge_echo, judge_t1, judge_t4
from reporter.assignments.tugas1.wording import TASK_NAMES, TITLE, WORDING
from reporter.assignments.wording import Say
from reporter.model import Report, Task

ASSIGNMENT = Assignment(
    id="tugas1",
    title=TITLE,
    services=(
        Service("dns", 53, "dns", "udp", Say("DNS", "DNS")),
        Service("echo", 10000, "echo", "tcp", Say("echo", "echo")),
        Service("file-echo", 32444, "echo", "tcp", Say("file echo", "echo berkas")),
    ),
    tasks=("T1", "T2", "T3", "T4"),
    task_names=TASK_NAMES,
    task_service={"T2": "echo", "T3": "file-echo"},
    rubric=judge,
    wording=WORDING,
)


def judge_tasks(report: Report, opts: Any = None, marks: Optional[Any] = None) -> list[Task]:
    """T1..T4 with the options' host and port overrides (tests and callers outside the pipeline)."""
    ports = service_ports(getattr(opts, "port_overrides", None))
    return judge(report, RubricInput(getattr(opts, "host", "www.its.ac.id"), ports, marks))


__all__ = ["ASSIGNMENT", "LAB_MESSAGE_LEN", "judge", "judge_echo", "judge_t1", "judge_t4", "judge_tasks"]
