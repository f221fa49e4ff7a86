"""Worker processes for class grading: bounded, recycled, and never hung by a worker that died.

Why recycled workers: analysis is CPU bound and PDF layout keeps memory it never gives back, so a
fresh process every RECYCLE tasks keeps the peak flat over a class of 40. Why the bookkeeping: a
worker killed by the OS (out of memory) loses its task silently in a ``multiprocessing.Pool``; each
task says which process took it, so a task whose process is gone becomes an error row instead of
a wait forever, and a global timeout bounds the rest.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

RECYCLE = 10  # tasks per worker before it is replaced: PDF layout keeps ~1.5 MiB a report
TIMEOUT_S = 600.0  # longest wait for any next result before the rest are given up as timed out

_started = None  # in a worker: where to say which task it is working on


def _init_worker(started: Any) -> None:
    global _started
    _started = started
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's "clean up, then stop" is not ours


def announce(key: str) -> None:
    """Called by a task when it starts: the parent learns which process holds it."""
    if _started is not None:
        _started.put((key, os.getpid()))


def _alive(pid: int) -> bool:
    """Is the process running (not gone, not a zombie)?"""
    if not os.path.isdir("/proc/self"):  # no procfs: a zombie passes for alive, the timeout still bounds it
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


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
    done: queue.Queue = queue.Queue()
    started = ctx.SimpleQueue()  # (task key, worker pid) as each task starts
    pool = ctx.Pool(processes=min(jobs, len(tasks)), maxtasksperchild=RECYCLE, initializer=_init_worker,
                    initargs=(started,))
    by_key = {t["key"]: t for t in tasks}
    try:
        for t in tasks:
            pool.apply_async(func, (t, *args), callback=done.put,
                             error_callback=lambda e, t=t: done.put(fail(t, f"worker failed: {e}")))
        pending, running, suspect = set(by_key), {}, set()
        last = time.monotonic()
        while pending:
            try:
                res = done.get(timeout=1.0)
            except queue.Empty:
                while not started.empty():
                    key, pid = started.get()
                    running[key] = pid
                # dead twice in a row (results of a worker that just exited have had a second)
                dead = {k for k in pending if k in running and not _alive(running[k])}
                for k in sorted(dead & suspect):
                    pending.discard(k)
                    on_result(fail(by_key[k], "worker process died while working on it (out of memory?)"))
                suspect = dead - suspect
                if time.monotonic() - last > timeout_s:
                    for k in sorted(pending):
                        on_result(fail(by_key[k], f"timed out after {timeout_s:.0f} s"))
                    break
                continue
            last = time.monotonic()
            if res["key"] in pending:
                pending.discard(res["key"])
                on_result(res)
        pool.close()
    finally:
        pool.terminate()
        with contextlib.suppress(Exception):
            pool.join()


class Progress:
    """A rich bar on a terminal; plain lines when piped or in CI (logs stay readable)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.bar = None
        if sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("grading", total=total)

    def step(self, res: dict, cached: bool = False) -> None:
        self.done += 1
        what = "up to date" if cached else ("ERROR " + res["error"] if res.get("error") and not res.get("digest")
                                             else "damaged" if res.get("damaged") else "ok")
        line = f"[{self.done}/{self.total}] {res['file'] or res['student'] + '/'}: {what}"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=res["student"][:30])
            if res.get("error"):
                self.bar.console.print(line, markup=False, highlight=False)
        else:
            print(f"progjar batch: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
