"""What every rubric needs: a task built from a reason code and its facts, evidence frame lists,
and the order of statuses.

Why one constructor: every task must carry the specific fact behind its status (reason), what to
change (fix, for anything short of pass) and the Wireshark filters that show the evidence; a
rubric states the code and the facts once and the English sentences come from its wording table,
the same table the renderers use for the reader's language.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional

from reporter.assignments.wording import Wording, say
from reporter.model import Connection, Task

RANK = {"pass": 3, "partial": 2, "fail": 1, "absent": 0}


def best_ranked(pairs: Iterable[tuple[Any, Mapping[str, Any]]]) -> Optional[tuple[Any, Mapping[str, Any]]]:
    """Of (where, task) pairs, the first whose task's status ranks highest (the earliest wins a tie):
    a student's best result of a task over several captures. None when there is none."""
    best = None
    for pair in pairs:
        if best is None or RANK.get(pair[1]["status"], 0) > RANK.get(best[1]["status"], 0):
            best = pair
    return best


def make_task(task_id: str, status: str, code: str, facts: dict[str, Any], wording: Mapping[str, Wording], *,
              verdict: Optional[str] = None, evidence: Iterable[int] = (), summary: str = "",
              filters: Iterable[str] = ()) -> Task:
    """A task whose reason and fix are the wording of `code` with `facts` (English in the JSON)."""
    w = wording[code]
    reason = say(w.reason, facts)
    fix = say(w.fix, facts) if w.fix is not None and status != "pass" else None
    return Task(task_id, status, verdict, list(evidence), summary or reason, reason, fix, list(filters), code,
                dict(facts))


def frames(*xs: Optional[int] | Iterable[Optional[int]]) -> list[int]:
    """Evidence frame numbers: sorted, unique, without None or 0."""
    out: set[int] = set()
    for x in xs:
        if x is None:
            continue
        if isinstance(x, int):
            out.add(x)
        else:
            out.update(f for f in x if f)
    return sorted(f for f in out if f and f > 0)


def endpoint(ip: str, port: int) -> str:
    """ip:port, with brackets around an IPv6 address (as Wireshark writes it)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def conn_facts(c: Connection) -> dict[str, Any]:
    """How every reason names a connection: the plugin's client number on its server endpoint,
    the two endpoints, and Wireshark's tcp.stream (the connection id), as "Client #2 (a → b,
    tcp.stream 1)" in every assignment's wording."""
    return {"conn": c.id, "client_no": c.client_no, "client": endpoint(c.client.ip, c.client.port),
            "server": endpoint(c.server.ip, c.server.port)}
