"""The ETS's measurements from the wire: one runs[] row per file transfer, and the assignment's
table (operation x file size x concurrent clients: time, throughput, successes, failures).

A transfer is an UPLOAD request or a GET request on a file connection. It starts when its client
starts it: the connection's SYN for the first request of a connection (the stress client times
from before connect()), else the previous reply; it ends with its (first) reply, or with the
connection when no reply came. It fails, with a reason code, when the reply is ERROR or never
comes, the connection is reset first, the file's base64 does not decode, or the decoded file
differs from what the reply announces (data_size / data_sha256, or for an upload what the server
says it stored) — the ETS's rule (DESIGN.md "Rubrics").

Batches (how the table knows "concurrent clients"): the stress client runs every operation and
size once per client count, starting that many transfers together and the next batch only when
all of them ended. So transfers of one operation and size are sorted by start, and a batch may
only end at an *idle point*, where a transfer starts after every earlier one of the group ended.
Small files finish before the pool's next worker even connects, which makes idle points inside a
batch too; but a boundary of the stress run is idle in every group, so when every group has the
same number of transfers (the stress matrix) only the idle points common to all groups cut, and
those where nothing was in progress for LONG_IDLE_S (no stress client staggers its workers that
much); else each group's own idle points. A batch's clients = its transfers.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Optional

from reporter.assignments.files import Exchange, exchanges
from reporter.model import Connection, EtsRow, Report, Run

FAIL_PROBLEMS = (("bytes-not-captured", "not-captured"), ("bad-base64", "bad-base64"),
                 ("size-mismatch", "size-mismatch"), ("sha-mismatch", "sha-mismatch"))
LONG_IDLE_S = 0.1  # nothing in progress this long: a new batch (a pool's workers connect within milliseconds)
BAD_REPLY = ("not-json", "json-invalid", "json-incomplete", "not-object", "no-status", "bad-status", "empty")


def _end(c: Connection, capture_end: float) -> float:
    return c.close.end_time_s if c.close.end_time_s is not None else capture_end


def _failure(x: Exchange, reset_s: Optional[float]) -> Optional[str]:
    """Why a transfer failed (a reason code), None when it succeeded."""
    r = x.reply
    req = x.request
    if "bytes-not-captured" in req.problems:
        return "not-captured"
    if req.command == "UPLOAD" and req.file is not None and req.file.sha256 is None:
        return "bad-base64"
    if r is None:
        return "reset" if reset_s is not None else "no-reply"
    if reset_s is not None and "no-terminator" in r.problems:
        return "reset"
    for p in r.problems:
        if p in BAD_REPLY or p == "no-terminator":
            return "bad-reply"
    if r.status != "OK":
        return "error"
    for problem, code in FAIL_PROBLEMS:
        if problem in r.problems:
            return code
    if req.command == "GET" and r.file is None:
        return "no-file"
    return None


def transfers(xs: list[Exchange]) -> list[Exchange]:
    return [x for x in xs if x.request.command in ("UPLOAD", "GET")]


def make_runs(report: Report) -> tuple[list[Run], list[Exchange]]:
    """runs[] (in start order) and the exchange behind each run."""
    xs = exchanges(report)
    known: dict[str, int] = {}  # file name -> a size seen for it (a failed GET's size)
    for x in xs:
        f = x.request.file if x.request.command == "UPLOAD" else (x.reply.file if x.reply else None)
        if f is not None and f.sha256 and x.name:
            known.setdefault(x.name, f.bytes)
    end = report.capture.duration_s
    prev_done: dict[int, float] = {}
    rows: list[tuple[Run, Exchange]] = []
    for x in sorted(xs, key=lambda y: (y.conn.id, y.request.index)):
        c = x.conn
        start = prev_done.get(c.id, c.handshake.syn_time_s)
        prev_done[c.id] = x.done_s
        if x.request.command not in ("UPLOAD", "GET"):
            continue
        if start is None:
            start = x.request.time_s
        r = x.reply
        reset = c.close.end_time_s if c.close.reset else None
        reason = _failure(x, reset)
        if x.request.command == "UPLOAD":
            f = x.request.file
            size = f.bytes if f is not None else known.get(x.name or "", 0)
        else:
            # the file's own size: as the reply announces it (a short download is a failure of that size),
            # else as decoded, else as another transfer of that name showed it (an ERROR has none)
            f = r.file if r is not None else None
            said = r.announced if r is not None else None
            size = said.bytes if said is not None else f.bytes if f is not None and f.sha256 else known.get(
                x.name or "", 0)
        stop = r.time_s if r is not None else _end(c, end)
        dur = round(max(0.0, stop - start), 6)
        thr = round(size / dur, 3) if reason is None and dur > 0 else None
        rows.append((Run(c.id, "upload" if x.request.command == "UPLOAD" else "download", size, round(start, 6),
                         round(stop, 6), dur, thr, reason is None, reason), x))
    rows.sort(key=lambda rx: (rx[0].start_s, rx[0].connection))
    return [r for r, _ in rows], [x for _, x in rows]


def _spans(runs: list[Run], report: Report) -> list[tuple[float, float]]:
    """Each run's time on the wire for batching: to its connection's end when it is the
    connection's last run (a client's connection lives until it closes), else to its reply."""
    last: dict[int, int] = {}
    for i, r in enumerate(runs):
        if r.connection not in last or runs[last[r.connection]].start_s <= r.start_s:
            last[r.connection] = i
    by_id = {c.id: c for c in report.connections}
    end = report.capture.duration_s
    out = []
    for i, r in enumerate(runs):
        stop = r.end_s if r.end_s is not None else r.start_s
        if last.get(r.connection) == i and r.connection in by_id:
            stop = max(stop, _end(by_id[r.connection], end))
        out.append((r.start_s, stop))
    return out


def batches(runs: list[Run], report: Report) -> list[list[int]]:
    """Run indexes grouped into batches (module docstring), in start order."""
    spans = _spans(runs, report)
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, r in enumerate(runs):
        groups[(r.operation, r.file_bytes)].append(i)
    idle: dict[tuple[str, int], dict[int, float]] = {}  # position -> idle time before it
    for key, idx in groups.items():
        idx.sort(key=lambda i: (spans[i][0], runs[i].connection))
        points, top = {}, float("-inf")
        for pos, i in enumerate(idx):
            if pos and spans[i][0] >= top:
                points[pos] = spans[i][0] - top
            top = max(top, spans[i][1])
        idle[key] = points
    sizes = {len(idx) for idx in groups.values()}
    common = set.intersection(*(set(p) for p in idle.values())) if len(sizes) == 1 and len(groups) > 1 else None
    out = []
    for key, idx in groups.items():
        cuts = sorted(pos for pos, gap in idle[key].items() if common is None or pos in common or gap >= LONG_IDLE_S)
        bounds = [0, *cuts, len(idx)]
        out += [idx[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    out.sort(key=lambda b: spans[b[0]][0])
    return out


def peak(spans: list[tuple[float, float]]) -> int:
    """Most intervals open at one moment (an end at the same instant as a start does not overlap)."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
    best = cur = 0
    for _, step in events:
        cur += step
        best = max(best, cur)
    return best


def _stop(r: Run) -> float:
    return r.end_s if r.end_s is not None else r.start_s


def table(runs: list[Run], report: Report) -> list[EtsRow]:
    """The assignment's table: one row per operation, file size and client count, in that order
    (uploads first, as the ETS lists them)."""
    rows: dict[tuple[str, int, int], list[list[int]]] = defaultdict(list)
    for b in batches(runs, report):
        r0 = runs[b[0]]
        rows[(r0.operation, r0.file_bytes, len(b))].append(b)
    out = []
    order = {"upload": 0, "download": 1}
    for (op, size, clients), bs in sorted(rows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], kv[0][2])):
        idx = [i for b in bs for i in b]
        good = [runs[i] for i in idx if runs[i].ok]
        # clamped: a capture whose clock jumps back may put a reply before its SYN
        walls = [max(0.0, max(_stop(runs[i]) for i in b) - min(runs[i].start_s for i in b)) for b in bs]
        wall = sum(walls) / len(walls)
        durs = [r.duration_s for r in good if r.duration_s]
        mean = round(sum(durs) / len(durs), 6) if durs else None  # rounded first: the row's numbers agree
        moved = size * len(good)
        out.append(EtsRow(op, size, clients, len(idx), len(bs), round(wall, 6), mean,
                          round(size / mean, 3) if mean else None,
                          round(moved / sum(walls), 3) if good and sum(walls) > 0 else None,
                          len(good), len(idx) - len(good),
                          max(peak([(runs[i].start_s, _stop(runs[i])) for i in b]) for b in bs),
                          sorted(idx)))
    return out


def derive(report: Report) -> None:
    """Fill report.runs and report.ets_table from the file connections' messages."""
    report.runs, _ = make_runs(report)
    report.ets_table = table(report.runs, report)
