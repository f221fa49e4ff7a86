"""Worker processes for class grading: bounded, recycled, and never hung by a worker that died.

Why recycled workers: analysis is CPU bound and PDF layout keeps memory it never gives back, so a
fresh process every RECYCLE tasks keeps the peak flat over a class of 40.

Why not multiprocessing.Pool: a Pool forks replacement workers from its helper threads (after
RECYCLE tasks, or when a worker dies) while its other threads may hold locks, and a child forked
then can wait forever on a lock nobody will release (seen here: a batch hung with every capture
done). Here every worker is forked by the calling thread itself, with no helper thread in this
process: each worker has a pipe of its own; the parent sends it one task at a time, waits on all
pipes at once, and sees a worker that died (killed by the OS for memory) as its pipe closing, so
that task becomes an error row instead of a wait forever; a global timeout bounds the rest.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any, Optional

RECYCLE = 10  # tasks per worker before it is replaced: PDF layout keeps ~1.5 MiB a report
TIMEOUT_S = 600.0  # longest wait for any next result before the rest are given up as timed out


def _worker(conn: Connection, func: Callable[..., dict], args: tuple) -> None:
    """A worker: run the tasks the parent sends until it sends None (or goes away)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's "clean up, then stop" is not ours
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(func(task, *args))


class _Worker:
    __slots__ = ("conn", "done", "proc", "task")

    def __init__(self, ctx: Any, func: Callable[..., dict], args: tuple) -> None:
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, func, args), daemon=True)
        self.proc.start()
        child.close()
        self.conn: Connection = parent
        self.task: Optional[dict] = None
        self.done = 0

    def give(self, task: dict) -> bool:
        self.task = task
        try:
            self.conn.send(task)
            return True
        except (OSError, EOFError):
            return False

    def stop(self, force: bool = False) -> None:
        with contextlib.suppress(OSError, EOFError):
            if not force:
                self.conn.send(None)
        self.conn.close()
        if force and self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def run(tasks: list[dict], func: Callable[..., dict], args: tuple, jobs: int, on_result: Callable[[dict], None],
        fail: Callable[[dict, str], dict], timeout_s: float = TIMEOUT_S) -> None:
    """Run ``func(task, *args)`` for every task (each a dict with a unique "key") in worker processes.

    ``on_result`` gets every result in completion order; a task whose worker died or that timed
    out gets ``fail(task, why)`` instead. One task or one job runs in this process."""
    if len(tasks) <= 1 or jobs <= 1:
        for t in tasks:
            on_result(func(t, *args))
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    todo = deque(tasks)
    workers: list[_Worker] = []
    try:
        while todo and len(workers) < min(jobs, len(tasks)):
            workers.append(_next(ctx, func, args, todo, on_result, fail))
        last = time.monotonic()
        while any(w.task is not None for w in workers):
            ready = wait([w.conn for w in workers if w.task is not None], timeout=1.0)
            if not ready:
                if time.monotonic() - last > timeout_s:
                    for w in workers:
                        if w.task is not None:
                            on_result(fail(w.task, f"timed out after {timeout_s:.0f} s"))
                            w.task = None
                    for t in todo:
                        on_result(fail(t, f"timed out after {timeout_s:.0f} s"))
                    todo.clear()
                    break
                continue
            last = time.monotonic()
            for w in [w for w in workers if w.conn in ready]:
                task = w.task
                try:
                    res = w.conn.recv()
                except (EOFError, OSError):  # the worker is gone (killed by the OS, out of memory?)
                    w.task = None
                    w.stop(force=True)
                    workers.remove(w)
                    on_result(fail(task, "worker process died while working on it (out of memory?)"))  # type: ignore[arg-type]
                    if todo:
                        workers.append(_next(ctx, func, args, todo, on_result, fail))
                    continue
                w.task = None
                w.done += 1
                on_result(res)
                if not todo:
                    continue
                if w.done >= RECYCLE:  # a fresh process: PDF layout's memory goes with the old one
                    w.stop()
                    workers.remove(w)
                    workers.append(_next(ctx, func, args, todo, on_result, fail))
                elif not w.give(todo.popleft()):
                    on_result(fail(w.task, "worker process died before its task"))  # type: ignore[arg-type]
                    w.task = None
        for t in todo:  # every worker failed to take a task: nothing left to run them
            on_result(fail(t, "no worker process could take it"))
        todo.clear()
    finally:
        for w in workers:
            w.stop(force=w.task is not None)


def _next(ctx: Any, func: Callable[..., dict], args: tuple, todo: deque, on_result: Callable[[dict], None],
          fail: Callable[[dict, str], dict]) -> _Worker:
    w = _Worker(ctx, func, args)
    if not w.give(todo.popleft()):
        on_result(fail(w.task, "worker process could not start"))  # type: ignore[arg-type]
        w.task = None
    return w


class Progress:
    """A rich bar on a terminal; plain lines when piped or in CI (logs stay readable)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.bar = None
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            # no auto-refresh: its thread would be in this process when workers are forked
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True,
                                auto_refresh=False)
            self.bar.start()
            self.task = self.bar.add_task("grading", total=total)

    def step(self, res: dict, cached: bool = False) -> None:
        self.done += 1
        what = "up to date" if cached else ("ERROR " + res["error"] if res.get("error") and not res.get("digest")
                                             else "damaged" if res.get("damaged") else "ok")
        line = f"[{self.done}/{self.total}] {res['file'] or res['student'] + '/'}: {what}"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=res["student"][:30], refresh=True)
            if res.get("error"):
                self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(f"progjar batch: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
