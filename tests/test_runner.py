"""Class grading's worker processes: every task gets a result, workers are recycled, a worker that
dies becomes that task's error row, and nothing hangs (every fork happens in the calling thread)."""
from __future__ import annotations

import os

import pytest

from reporter.grading import runner


def _pid_of(task: dict, die_on: str = "") -> dict:
    if task["key"] == die_on:
        os._exit(9)  # as when the OS kills a worker for memory
    return {"key": task["key"], "pid": os.getpid()}


def _collect(tasks: list[dict], jobs: int, die_on: str = "") -> dict[str, dict]:
    out: dict[str, dict] = {}

    def got(res: dict) -> None:
        assert res["key"] not in out, f"{res['key']} answered twice"
        out[res["key"]] = res

    runner.run(tasks, _pid_of, (die_on,), jobs, got, lambda t, why: {"key": t["key"], "error": why}, timeout_s=60)
    return out


def test_every_task_gets_one_result_and_workers_are_recycled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "RECYCLE", 3)
    tasks = [{"key": f"t{i}"} for i in range(20)]
    out = _collect(tasks, jobs=2)
    assert sorted(out) == sorted(t["key"] for t in tasks)
    pids = {r["pid"] for r in out.values()}
    assert os.getpid() not in pids  # run in workers, not here
    assert len(pids) >= 20 // 3, "a worker serves at most RECYCLE tasks, then a fresh one takes over"


def test_a_worker_that_dies_is_its_tasks_error_and_the_rest_finish() -> None:
    tasks = [{"key": f"t{i}"} for i in range(8)]
    out = _collect(tasks, jobs=2, die_on="t3")
    assert out["t3"]["error"].startswith("worker process died")
    assert all("pid" in out[k] for k in out if k != "t3") and len(out) == 8


def test_one_job_runs_here() -> None:
    out = _collect([{"key": "a"}, {"key": "b"}], jobs=1)
    assert {r["pid"] for r in out.values()} == {os.getpid()}
