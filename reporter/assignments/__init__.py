"""The course catalogue: one entry per assignment (its services and their default ports, how each
service's messages are framed, its rubric). The pipeline only asks the catalogue.

Why a catalogue (Zeek's `Analyzer::register_for_ports`, see STYLE.md): adding the next assignment
means adding one entry plus its analyser and rubric, never touching the pipeline. Nothing outside
this package knows a lab port number.

Stage order: the catalogue sits after the report model (rubrics judge the model) and before the
renderers (which read a rubric's wording); analyses never import it: the pipeline hands them the
port -> service map as data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from reporter.assignments.wording import Say, Wording

if TYPE_CHECKING:
    from reporter.model import Report, Task


@dataclass(frozen=True)
class Service:
    """One network service an assignment's programs offer.

    framing: how the service's bytes become messages —
      "dns"   DNS over UDP (and TCP), read by the DNS analysis;
      "echo"  raw bytes that come back unchanged (compared byte by byte, no messages);
      "line"  text lines ended by CRLF (time server);
      "json"  requests and JSON replies each ended by CRLF CRLF (file server).
    """

    name: str
    port: int
    framing: str
    transport: str = "tcp"
    title: Say = Say("", "")


@dataclass(frozen=True)
class RubricInput:
    """What a rubric gets besides the report: the options that matter for judging."""

    host: str  # the name T1 of Tugas 1 must look up
    ports: dict[str, int]  # service -> port in effect for this report
    marks: Any = None  # reporter.analyses.conn.EvidenceFrames from the TCP pass (None on cached JSON)


@dataclass(frozen=True)
class Assignment:
    """One catalogue entry."""

    id: str
    title: Say
    services: tuple[Service, ...]
    tasks: tuple[str, ...]  # task ids in checklist order
    task_names: dict[str, Say]  # task id -> name (may use {port} of the task's service)
    task_service: dict[str, str]  # task id -> the service whose port its name shows
    rubric: Callable[["Report", RubricInput], list["Task"]]
    wording: dict[str, Wording] = field(default_factory=dict)  # reason code -> sentences
    complete: bool = True
    # The assignment's own evidence beyond the services it uses, for assignments that share services
    # (tugas3 and ets share the file server): (claims the capture, why in a few words). See choose().
    weigh: Optional[Callable[["Report"], tuple[bool, str]]] = None


def _tugas1() -> Assignment:
    from reporter.assignments import tugas1

    return tugas1.ASSIGNMENT


def _tugas2() -> Assignment:
    from reporter.assignments import tugas2

    return tugas2.ASSIGNMENT


def _tugas3() -> Assignment:
    from reporter.assignments import tugas3

    return tugas3.ASSIGNMENT


def _ets() -> Assignment:
    from reporter.assignments import ets

    return ets.ASSIGNMENT


_LOADERS: tuple[Callable[[], Assignment], ...] = (_tugas1, _tugas2, _tugas3, _ets)
_CATALOGUE: dict[str, Assignment] = {}


def catalogue() -> dict[str, Assignment]:
    """Every assignment by id, in course order (loaded once)."""
    if not _CATALOGUE:
        for load in _LOADERS:
            a = load()
            _CATALOGUE[a.id] = a
    return _CATALOGUE


def assignment_ids() -> tuple[str, ...]:
    return tuple(catalogue())


def get(assignment_id: str) -> Assignment:
    try:
        return catalogue()[assignment_id]
    except KeyError:
        raise KeyError(f"unknown assignment {assignment_id!r} (known: {', '.join(catalogue())})") from None


def find(assignment_id: Optional[str]) -> Optional[Assignment]:
    """The catalogue's entry, or None for no id or an id it does not know (a summary or cache from
    another version): for the class pages, which show what they can of any assignment."""
    return catalogue().get(assignment_id) if assignment_id else None


def all_services() -> dict[str, Service]:
    """Every service of every assignment by name (assignments sharing a service share its entry)."""
    out: dict[str, Service] = {}
    for a in catalogue().values():
        for s in a.services:
            out.setdefault(s.name, s)
    return out


def service_ports(overrides: Optional[dict[str, int]] = None) -> dict[str, int]:
    """Port in effect for each service: the catalogue's default unless the user moved it."""
    ports = {name: s.port for name, s in all_services().items()}
    for name, port in (overrides or {}).items():
        if name not in ports:
            raise KeyError(f"unknown service {name!r} (known: {', '.join(sorted(ports))})")
        ports[name] = port
    return ports


def framings() -> dict[str, str]:
    """service -> framing kind (Service.framing) for every service of the catalogue: the TCP analysis
    opens a message stream for the "line" and "json" ones."""
    return {name: s.framing for name, s in all_services().items()}


def recognisable(wanted: Optional[Assignment]) -> Optional[set[str]]:
    """The services content recognition may find on unclaimed ports: the chosen assignment's, or
    (None) every one the analysis knows when the assignment is chosen automatically."""
    return None if wanted is None else {s.name for s in wanted.services}


def tcp_services(ports: dict[str, int], only: Optional[Assignment] = None) -> dict[int, str]:
    """port -> service name for the TCP services the TCP analysis labels (all, or one assignment's)."""
    names = {s.name for s in only.services} if only is not None else set(ports)
    services = all_services()
    out: dict[int, str] = {}
    for name, port in ports.items():
        if name in names and services[name].transport == "tcp":
            out.setdefault(port, name)
    return out


def choose(report: "Report", wanted: str, ports: dict[str, int]) -> tuple[Assignment, str, str, dict[str, int]]:
    """(assignment, chosen_by, why, seen): the assignment named by --assignment, or the one whose
    services the capture uses most (connections carrying data to the service's port; DNS counts
    for the assignment that has a DNS service when a lookup was made). Among assignments tied on
    that count (Tugas 3 and the ETS use the same file server), the first whose `weigh` claims the
    capture wins (the ETS: a stress test's repeated, simultaneous transfers), else course order.

    `seen` is service -> count of connections (or lookups) that decided it."""
    seen: dict[str, int] = {}
    by_port = {p: n for n, p in ports.items()}
    for c in report.connections:
        name = c.service or by_port.get(c.server.port)
        if name and (c.bytes.client_to_server or c.bytes.server_to_client):
            seen[name] = seen.get(name, 0) + 1
    if report.dns:
        seen["dns"] = len(report.dns)
    if wanted != "auto":
        a = get(wanted)
        return a, "option", f"--assignment {wanted}", {s.name: seen[s.name] for s in a.services if s.name in seen}
    best, best_score = None, 0
    tied: list[Assignment] = []
    for a in catalogue().values():
        tcp = sum(seen.get(s.name, 0) for s in a.services if s.transport == "tcp")
        score = tcp * 2 + (1 if any(s.name in seen for s in a.services if s.transport == "udp") else 0)
        if score > best_score:
            best, best_score, tied = a, score, [a]
        elif score == best_score and score > 0:
            tied.append(a)
    if best is None:
        first = next(iter(catalogue().values()))
        return first, "auto", f"no service of any assignment in the capture; {first.id} by default", {}
    best, weighed = _weigh(report, tied)
    used = {s.name: seen[s.name] for s in best.services if s.name in seen}
    content: dict[str, set[int]] = {}
    for c in report.connections:
        if c.service_by == "content" and c.service in used:
            content.setdefault(c.service, set()).add(c.server.port)
    why = "the capture uses " + ", ".join(
        f"{n} ({k}" + (f"; recognised by content on port {', '.join(map(str, sorted(content[n])))}" if n in content
                       else "") + ")" for n, k in used.items()) + weighed
    return best, "auto", why, used


def _weigh(report: "Report", tied: list[Assignment]) -> tuple[Assignment, str]:
    """Among assignments that use the capture's services equally (tugas3 and ets: the same file
    server), the first whose own evidence claims the capture; else the first in course order.
    The why says what decided it (", ets: ..." or ", not ets: ...")."""
    if len(tied) < 2:
        return tied[0], ""
    said = []
    for a in tied:
        if a.weigh is None:
            continue
        claims, why = a.weigh(report)
        if claims:
            return a, f"; {a.id}: {why}"
        said.append(f"not {a.id}: {why}")
    return tied[0], ("; " + "; ".join(said)) if said else ""


def task_name(a: Assignment, task_id: str, ports: dict[str, int], lang: str) -> str:
    """The checklist name of a task in the reader's language, with its service's port."""
    from reporter.assignments.wording import say

    text = a.task_names.get(task_id)
    if text is None:
        return task_id
    svc = a.task_service.get(task_id)
    return f"{task_id} · " + say(text, {"port": ports.get(svc, "") if svc else ""}, lang)


def reason_text(a: Optional[Assignment], task: "Task", lang: str) -> tuple[str, Optional[str]]:
    """(reason, fix) of a task in the reader's language; unknown codes fall back to the English text."""
    from reporter.assignments.wording import say

    w = a.wording.get(task.code) if a is not None else None
    if w is None:
        return task.reason, task.fix
    try:
        return say(w.reason, task.facts, lang), (say(w.fix, task.facts, lang) if w.fix else None)
    except (KeyError, IndexError, ValueError):  # cached JSON from another version: keep its English text
        return task.reason, task.fix
