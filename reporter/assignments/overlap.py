"""Two clients at once: the concurrency task every assignment has (Tugas 1 T4, Tugas 2 T4, Tugas 3
T6), judged one way: connections to one server endpoint that overlap in time, from two hosts,
each served; verdict "serial" when a later client was served only after an earlier client's
close although its request had been ACKed long before, else "concurrent".

What differs per assignment is passed in: which connections count (a service), what "served"
means (echoed / answered), which frames show a client's first request and first reply, the
rubric's wording table and the word its English summary uses. The sentences stay the rubric's.

Linear after a sort: a class capture or the 1M-packet bench holds thousands of connections per
server endpoint, so overlaps are found by a sweep over SYN times, never by comparing all pairs.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

from reporter.analyses.conn import EvidenceFrames
from reporter.assignments.judging import RANK, endpoint, frames, make_task
from reporter.assignments.wording import Wording
from reporter.model import Connection, Report, Task

SERIAL_MIN_WAIT_S = 0.5  # "ACKed long before": request ACKed, reply this much later, after another close


def _end(c: Connection, capture_end: float) -> float:
    return c.close.end_time_s if c.close.end_time_s is not None else capture_end


class Group:
    """Connections to one server endpoint, sorted by SYN time, with what the verdict needs."""

    def __init__(self, conns: list[Connection], capture_end: float) -> None:
        self.conns = sorted(conns, key=lambda c: (c.handshake.syn_time_s, c.id))
        self.by_id = {c.id: c for c in self.conns}
        ends = sorted((_end(c, capture_end), c.id) for c in self.conns if c.close.end_time_s is not None)
        self.end_times = [e for e, _ in ends]
        self.end_ids = [i for _, i in ends]
        self.overlapping: list[Connection] = []
        self.cross: Optional[tuple[Connection, Connection]] = None  # first overlapping pair of two hosts
        self.first_pair: Optional[tuple[Connection, Connection]] = None
        self._sweep(capture_end)

    def _sweep(self, capture_end: float) -> None:
        best: list[tuple[float, str, Connection]] = []  # latest end per host, top two hosts
        marked: set[int] = set()
        prev: Optional[Connection] = None
        prev_end = float("-inf")  # latest end among earlier connections
        for c in self.conns:
            start = c.handshake.syn_time_s
            if start < prev_end and prev is not None:
                marked.add(c.id)
                marked.add(prev.id)
                if self.first_pair is None:
                    self.first_pair = (prev, c)
            if self.cross is None:
                other = next((x for x in best if x[1] != c.client.ip), None)
                if other is not None and start < other[0]:
                    self.cross = (other[2], c)
            end = _end(c, capture_end)
            if end > prev_end:
                prev_end, prev = end, c
            same = [x for x in best if x[1] == c.client.ip]
            if same and same[0][0] >= end:
                continue
            best = sorted([x for x in best if x[1] != c.client.ip] + [(end, c.client.ip, c)],
                          key=lambda x: -x[0])[:2]
        self.overlapping = [c for c in self.conns if c.id in marked]

    def queued_behind(self, later: Connection) -> Optional[Connection]:
        """The earlier connection `later` was served after, if its first reply waited for that close.

        The TCP analysis names it (echo.queued_behind: first client byte and first server byte
        around another client's first FIN or RST, for echo and message services alike); the
        fallback, for reports that lack it, is the last close between request and reply."""
        if later.echo.queued_behind is not None and later.echo.queued_behind in self.by_id:
            return self.by_id[later.echo.queued_behind]
        e = later.echo
        if e.first_echo_time_s is None or e.first_request_time_s is None:
            return None
        if e.first_echo_time_s - e.first_request_time_s < SERIAL_MIN_WAIT_S:
            return None
        i = bisect.bisect_right(self.end_times, e.first_echo_time_s) - 1
        while i >= 0 and self.end_times[i] > e.first_request_time_s:
            c = self.by_id[self.end_ids[i]]
            if c is not later:
                return c
            i -= 1
        return None


def judge_overlap(report: Report, task_id: str, wording: Mapping[str, Wording], *,
                  served: Callable[[Connection], bool],
                  first_frames: Callable[[Connection], tuple[Iterable[int], Iterable[int]]],
                  marks: Optional[EvidenceFrames], eligible: Callable[[Connection], bool] = lambda c: True,
                  verb: str = "echoed", unserved_key: str = "unechoed",
                  extra_filters: Iterable[str] = (), serial_filters: Iterable[str] = (),
                  serial_passes: bool = True) -> Task:
    """The concurrency task over the report's eligible connections (module docstring); reason codes
    t4_no_overlap, t4_serial, t4_concurrent, t4_same_host, t4_not_all_echoed,
    t4_same_host_not_all_echoed from `wording`."""
    end = report.capture.duration_s
    by_server: dict[tuple[str, int], list[Connection]] = {}
    for c in report.connections:
        if c.handshake.syn_frame is not None and c.handshake.syn_time_s is not None and eligible(c):
            by_server.setdefault((c.server.ip, c.server.port), []).append(c)
    best: Optional[Task] = None
    for (sip, sport), conns in by_server.items():
        if len(conns) < 2:
            continue
        g = Group(conns, end)
        if not g.overlapping:
            continue
        task = _task(g, sip, sport, task_id, wording, served, first_frames, marks, verb, unserved_key,
                     list(extra_filters), list(serial_filters), serial_passes)
        if best is None or RANK[task.status] > RANK[best.status]:
            best = task
    if best is None:
        return make_task(task_id, "absent", "t4_no_overlap", {}, wording,
                         summary="no two connections to one server endpoint overlap in time",
                         filters=["tcp.flags.syn == 1 && tcp.flags.ack == 0"])
    return best


def _task(g: Group, sip: str, sport: int, task_id: str, wording: Mapping[str, Wording],
          served: Callable[[Connection], bool],
          first_frames: Callable[[Connection], tuple[Iterable[int], Iterable[int]]],
          marks: Optional[EvidenceFrames], verb: str, unserved_key: str, extra_filters: list[str],
          serial_filters: list[str], serial_passes: bool = True) -> Task:
    hosts = sorted({c.client.ip for c in g.overlapping})
    all_served = all(served(c) for c in g.overlapping)
    served_ok = g.cross is not None and all_served
    status = "pass" if served_ok else "partial"
    queued = next(((c, q) for c in g.overlapping if (q := g.queued_behind(c)) is not None), None)
    verdict = "serial" if queued else "concurrent"
    if verdict == "serial" and not serial_passes:  # the assignment asks for clients served at once
        status = "partial"
    if queued:
        later, earlier = queued
    else:
        earlier, later = g.cross or g.first_pair  # type: ignore[misc]
    req, reply = first_frames(later)
    evidence = frames(earlier.handshake.syn_frame, later.handshake.syn_frame, req, reply,
                      marks.request_ack_frame(later.id) if marks else None,
                      marks.fin_frame(earlier.id) if marks else None)
    shown = ", ".join(hosts[:4]) + (f", ... ({len(hosts) - 4} more)" if len(hosts) > 4 else "")
    head = f"{len(g.overlapping)} overlapping connections to {sip}:{sport} from {len(hosts)} host(s) ({shown})"
    if verdict == "serial":
        wait = later.echo.wait_s
        waited = f"waited {wait:.2f} s, " if wait is not None else ""
        tail = (f"client #{later.client_no} ({later.client.ip}) {waited}served after client "
                f"#{earlier.client_no} closed")
    else:
        tail = f"each client was {verb} while another was connected (concurrent service)"
    facts: dict[str, Any] = {"n": len(g.overlapping), "server": endpoint(sip, sport), "hosts_n": len(hosts),
                             "hosts": hosts[:4]}
    if verdict == "serial":
        facts.update(later=later.client_no, later_ip=later.client.ip, earlier=earlier.client_no,
                     wait=later.echo.wait_s if later.echo.wait_s is not None else 0.0)
    code = "t4_serial" if verdict == "serial" else "t4_concurrent"
    if not served_ok:
        reasons = []
        if g.cross is None:
            reasons.append("all from the same host")
        if not all_served:
            reasons.append(f"not every connection was {verb}")
        tail += "; " + ", ".join(reasons)
        unserved = [f"#{c.client_no}" for c in g.overlapping if not served(c)]
        code = ("t4_same_host_not_all_echoed" if g.cross is None and not all_served
                else "t4_same_host" if g.cross is None else "t4_not_all_echoed")
        facts.update({"host": hosts[0], unserved_key: unserved})
    streams = " ".join(str(i) for i in sorted({earlier.id, later.id}))
    filters = [f"tcp.port == {sport} && tcp.flags.syn == 1 && tcp.flags.ack == 0", f"tcp.stream in {{{streams}}}"]
    if verdict == "serial":
        filters += [*serial_filters, "progjar.expert.queued"]
    filters += extra_filters
    return make_task(task_id, status, code, facts, wording, verdict=verdict, evidence=evidence,
                     summary=f"{head}; {tail}", filters=filters)
