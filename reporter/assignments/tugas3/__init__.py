"""Tugas 3: a multithreaded file server (the lecturer's progjar4a protocol: LIST, GET, UPLOAD,
DELETE; JSON replies ended by CRLF CRLF) on 6666, which students often move (e.g. 46666:
`--port file=46666`, or found by content). The catalogue entry; the rubric is rubric.py."""
from __future__ import annotations

from typing import Any, Optional

from reporter.assignments import Assignment, RubricInput, Service, service_ports
from reporter.assignments.tugas3.rubric import judge
from reporter.assignments.tugas3.wording import TASK_NAMES, TITLE, WORDING
from reporter.assignments.wording import Say
from reporter.model import Report, Task

FILE_SERVICE = Service("file", 6666, "json", "tcp", Say("file server", "server berkas"))

ASSIGNMENT = Assignment(
    id="tugas3",
    title=TITLE,
    services=(FILE_SERVICE,),
    tasks=("T1", "T2", "T3", "T4", "T5", "T6"),
    task_names=TASK_NAMES,
    task_service={"T1": "file"},
    rubric=judge,
    wording=WORDING,
)


def judge_tasks(report: Report, opts: Any = None, marks: Optional[Any] = None) -> list[Task]:
    """T1..T6 with the options' port overrides (tests and callers outside the pipeline)."""
    ports = service_ports(getattr(opts, "port_overrides", None))
    return judge(report, RubricInput(getattr(opts, "host", "www.its.ac.id"), ports, marks))


__all__ = ["ASSIGNMENT", "FILE_SERVICE", "judge", "judge_tasks"]
