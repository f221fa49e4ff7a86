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


def test_a_first_worker_that_cannot_take_its_task_reports_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose pipe breaks before its first task: that task is its error row, once, and the
    other tasks still finish (the start-up used to keep waiting on the dead pipe and report it twice)."""
    real = runner._Worker.give
    calls = {"n": 0}

    def give(self, task: dict) -> bool:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            self.task = task
            return False
        return real(self, task)

    monkeypatch.setattr(runner._Worker, "give", give)
    tasks = [{"key": f"t{i}"} for i in range(6)]
    out = _collect(tasks, jobs=2)  # _collect fails on a task answered twice
    assert out["t0"]["error"] == "worker process could not start"
    assert all("pid" in out[k] for k in out if k != "t0") and len(out) == 6


def test_tasks_no_worker_could_take_are_error_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pipe broken at the start: each task still gets one row, none is lost."""
    def give(self, task: dict) -> bool:  # type: ignore[no-untyped-def]
        self.task = task
        return False

    monkeypatch.setattr(runner._Worker, "give", give)
    out = _collect([{"key": f"t{i}"} for i in range(5)], jobs=2)
    assert len(out) == 5 and all("error" in r for r in out.values())
