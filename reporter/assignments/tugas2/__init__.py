"""Tugas 2: a multithreaded time server on 45000 (TIME -> JAM hh:mm:ss, QUIT ends the session),
clients on mesin-2 and mesin-3 at once, often telnet. The catalogue entry; the rubric is rubric.py."""
from __future__ import annotations

from typing import Any, Optional

from reporter.assignments import Assignment, RubricInput, Service, service_ports
from reporter.assignments.tugas2.rubric import judge, judge_t1, judge_t2, judge_t3, judge_t4, time_connections
from reporter.assignments.tugas2.wording import TASK_NAMES, TITLE, WORDING
from reporter.assignments.wording import Say
from reporter.model import Report, Task

ASSIGNMENT = Assignment(
    id="tugas2",
    title=TITLE,
    services=(Service("time", 45000, "line", "tcp", Say("time server", "server waktu")),),
    tasks=("T1", "T2", "T3", "T4"),
    task_names=TASK_NAMES,
    task_service={"T1": "time"},
    rubric=judge,
    wording=WORDING,
)


def judge_tasks(report: Report, opts: Any = None, marks: Optional[Any] = None) -> list[Task]:
    """T1..T4 with the options' port overrides (tests and callers outside the pipeline)."""
    ports = service_ports(getattr(opts, "port_overrides", None))
    return judge(report, RubricInput(getattr(opts, "host", "www.its.ac.id"), ports, marks))


__all__ = ["ASSIGNMENT", "judge", "judge_t1", "judge_t2", "judge_t3", "judge_t4", "judge_tasks", "time_connections"]
