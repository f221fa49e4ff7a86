"""The ETS (midterm): the Tugas 3 file server on a thread pool and a process pool, stress-tested
with uploads and downloads of 10/50/100 MB by 1/5/50 clients; students tabulate time,
throughput, successes and failures. The catalogue entry; runs.py makes runs[] and the table,
rubric.py judges them. It shares the file service with Tugas 3; `weigh` tells the two apart."""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from reporter.assignments import Assignment, RubricInput, service_ports
from reporter.assignments.ets.rubric import judge
from reporter.assignments.ets.runs import make_runs, peak
from reporter.assignments.ets.wording import TASK_NAMES, TITLE, WORDING
from reporter.assignments.tugas3 import FILE_SERVICE
from reporter.model import Report, Task

REPEATS = 3  # one operation and file size moved at least this often ...
AT_ONCE = 2  # ... with at least this many in progress at one moment: a stress test


def weigh(report: Report) -> tuple[bool, str]:
    """Whether the file transfers look like the ETS's stress test rather than Tugas 3's commands: one
    operation and file size transferred REPEATS times or more, AT_ONCE or more of them at once."""
    runs, _ = make_runs(report)
    if not runs:
        return False, "no UPLOAD or GET transfers"
    counts = Counter((r.operation, r.file_bytes) for r in runs)
    (op, size), n = max(counts.items(), key=lambda kv: (kv[1], kv[0][1]))
    most = peak([(r.start_s, r.end_s if r.end_s is not None else r.start_s) for r in runs
                 if (r.operation, r.file_bytes) == (op, size)])
    said = (f"{len(runs)} transfer(s), most often the same: {op} of {size:,} bytes x{n}, up to {most} at once "
            f"(a stress test: one size >= {REPEATS} times, >= {AT_ONCE} at once)")
    return n >= REPEATS and most >= AT_ONCE, said


ASSIGNMENT = Assignment(
    id="ets",
    title=TITLE,
    services=(FILE_SERVICE,),
    tasks=("T1", "T2", "T3", "T4"),
    task_names=TASK_NAMES,
    task_service={"T1": "file"},
    rubric=judge,
    wording=WORDING,
    weigh=weigh,
)


def judge_tasks(report: Report, opts: Any = None, marks: Optional[Any] = None) -> list[Task]:
    """T1..T4 (and runs[], ets_table) with the options' port overrides (tests, callers outside the pipeline)."""
    ports = service_ports(getattr(opts, "port_overrides", None))
    return judge(report, RubricInput(getattr(opts, "host", "www.its.ac.id"), ports, marks))


__all__ = ["ASSIGNMENT", "judge", "judge_tasks", "weigh"]
