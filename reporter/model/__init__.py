"""The report model: plain dataclasses that serialise to the report JSON (docs/report-json.md).

Analyses fill it, rubrics judge it, renderers read it; nothing else crosses that line. Field names
are the public JSON keys ("progjar.report/2"), so renaming one is a schema change: change
``schema/report.schema.json``, docs/report-json.md and every renderer with it. Version 2 keeps
every key of version 1 with its meaning and adds keys (assignment, student, messages, runs, task
reasons, warning severities, ...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Optional

SCHEMA = "progjar.report/2"
# Top-level keys in the order docs/report-json.md lists them (to_dict and the streaming JSON
# writer); "frames" only appears with --frames.
JSON_KEYS = ("schema", "tool", "assignment", "student", "capture", "warnings", "dns", "connections", "runs",
             "ets_table", "tasks", "frames")

# How much a warning asks of the reader: "info" describes the capture (nothing for a student or a
# grader to act on: ordinary ARP, a resolver's retry, a listing cut for length), "warning" may
# change what the report can tell or asks someone to do something (missing bytes, a capture of
# the wrong interface or port), "error" means the input is damaged. Codes not listed are warnings.
SEVERITY = {
    "truncated": "error",
    "malformed": "error",
    "non-ip": "info",
    "other-ip": "info",
    "tcp-capture-duplicate": "info",
    "dns-retransmission": "info",
    "exchanges-truncated": "info",
}


@dataclass(slots=True)
class Tool:
    name: str = "progjar-lab"
    version: str = "0.0.0"


@dataclass(slots=True)
class AssignmentInfo:
    """Which assignment the report judges, and why (--assignment, or what the capture uses)."""

    id: str
    chosen_by: str = "auto"  # "option" | "auto"
    why: str = ""
    services: dict[str, int] = field(default_factory=dict)  # service -> port in effect
    seen: dict[str, int] = field(default_factory=dict)  # service -> connections (or lookups) seen


@dataclass(slots=True)
class StudentInfo:
    name: str
    id: Optional[str] = None


@dataclass(slots=True)
class CaptureInfo:
    path: str
    sha256: str
    format: str  # "pcap" | "pcapng"
    linktypes: list[int] = field(default_factory=list)
    interfaces: int = 0
    packets: int = 0
    start: Optional[str] = None  # ISO 8601 UTC of the first frame
    duration_s: float = 0.0
    truncated: bool = False
    timezone_hint: Optional[str] = None  # UTC offset the capture's own content shows ("+07:00"), if any


_LEADING_COUNT = re.compile(r"\s*(\d+)\b")  # a warning message's own count of what it says


@dataclass(slots=True)
class Warning:
    code: str
    message: str  # English, for the JSON reader; renderers say it from code and facts
    frame: Optional[int] = None
    severity: str = ""  # "info" | "warning" | "error"; filled from SEVERITY when left empty
    facts: dict[str, Any] = field(default_factory=dict)  # the values the message states (plain JSON)

    def __post_init__(self) -> None:
        if not self.severity:
            self.severity = SEVERITY.get(self.code, "warning")

    def counted(self) -> bool:
        """The warning says how many times (facts' n, or a message that starts with a number)."""
        return "n" in self.facts or _LEADING_COUNT.match(self.message) is not None

    def count(self) -> int:
        """How many times the warning's event happened: its facts' n, or the count its message
        starts with ("4 frame(s) carry no IPv4/IPv6 ..."), else once."""
        if isinstance(self.facts.get("n"), int):
            return self.facts["n"]
        m = _LEADING_COUNT.match(self.message)
        return int(m.group(1)) if m else 1


@dataclass(slots=True)
class DnsLookup:
    query_frame: int
    response_frame: Optional[int]
    time_s: float
    client: str
    server: str
    id: int
    name: str
    qtype: str  # "A", "AAAA", ... or "TYPE65" for unknown
    rcode: Optional[str]  # "NOERROR", "NXDOMAIN", ... or None when unanswered
    answers: list[str] = field(default_factory=list)
    latency_ms: Optional[float] = None


@dataclass(slots=True)
class Endpoint:
    ip: str
    port: int


@dataclass(slots=True)
class TcpOptions:
    mss: Optional[int] = None
    wscale: Optional[int] = None
    sack_ok: bool = False
    timestamps: bool = False


@dataclass(slots=True)
class Handshake:
    syn_frame: Optional[int] = None
    synack_frame: Optional[int] = None
    ack_frame: Optional[int] = None
    syn_time_s: Optional[float] = None
    rtt_ms: Optional[float] = None  # SYN -> handshake ACK, as seen at the capture point
    complete: bool = False
    options: TcpOptions = field(default_factory=TcpOptions)
    syn_retransmissions: int = 0  # the client's SYN sent again (same ISN): it waited for an answer
    synack_retransmissions: int = 0  # the server's SYN-ACK sent again (its ACK did not come)
    synack_time_s: Optional[float] = None  # time of synack_frame


@dataclass(slots=True)
class Fin:
    """One side's first FIN: the frame and time a ladder diagram labels its close with."""

    by: str  # "client" | "server"
    frame: int
    time_s: float


@dataclass(slots=True)
class Close:
    first_fin_by: Optional[str] = None  # "client" | "server" | None
    reset: bool = False
    end_time_s: Optional[float] = None
    fins: list[Fin] = field(default_factory=list)  # each side's first FIN, in frame order


@dataclass(slots=True)
class PerDirection:
    """A pair of values, one per direction of a connection."""

    client_to_server: Any = 0
    server_to_client: Any = 0


@dataclass(slots=True)
class Anomalies:
    retransmissions: int = 0
    out_of_order: int = 0
    overlap_conflicts: int = 0
    gaps: int = 0
    capture_duplicates: int = 0

    def network_faults(self) -> int:
        """What went wrong on the network, for ranking and outliers: capture duplicates are an
        artefact of how the capture was taken (-i any, two interfaces), not of the network."""
        return self.retransmissions + self.out_of_order + self.overlap_conflicts + self.gaps


@dataclass(slots=True)
class Echo:
    verified: bool = False
    echoed_bytes: int = 0
    first_mismatch_offset: Optional[int] = None
    first_request_time_s: Optional[float] = None
    first_echo_time_s: Optional[float] = None
    wait_s: Optional[float] = None  # client SYN -> first echoed byte
    queued_behind: Optional[int] = None  # id of the connection whose close preceded service
    first_mismatch_frame: Optional[int] = None  # the echo segment carrying the first differing byte
    # request/echo bytes that could not be compared because one side of them was never captured
    # (a capture gap); verified is False while this is not 0, apart from a mismatch
    unverified_bytes: int = 0


@dataclass(slots=True)
class Exchange:
    request_frames: list[int] = field(default_factory=list)
    echo_frames: list[int] = field(default_factory=list)
    request_time_s: Optional[float] = None
    echo_time_s: Optional[float] = None
    bytes: int = 0


@dataclass(slots=True)
class FileInfo:
    """A file carried in a message (base64 decoded while streaming): never its bytes."""

    name: Optional[str] = None
    bytes: int = 0
    sha256: Optional[str] = None


@dataclass(slots=True)
class Message:
    """One application message reassembled from a direction of the stream (docs/report-json.md)."""

    index: int
    dir: str  # "request" | "response"
    first_frame: int
    last_frame: int
    time_s: float
    bytes: int
    text: str = ""  # printable, bounded
    command: Optional[str] = None
    args: list[str] = field(default_factory=list)
    status: Optional[str] = None
    in_reply_to: Optional[int] = None  # index of the request this response answers
    latency_ms: Optional[float] = None
    file: Optional[FileInfo] = None
    time_value: Optional[str] = None  # the time a time server's reply states
    problems: list[str] = field(default_factory=list)
    utc_offset: Optional[str] = None  # a time reply: the UTC offset ("+07:00") in which its clock is right
    data: Any = None  # a file-server reply's `data`: LIST's names (bounded) or its text (ERROR's reason)
    announced: Optional[FileInfo] = None  # a file-server reply: the file as it says it sent or stored it


@dataclass(slots=True)
class Connection:
    id: int
    client: Endpoint
    server: Endpoint
    service: Optional[str] = None  # "echo" | "file-echo" | "time" | "file" | None
    client_no: int = 1
    handshake: Handshake = field(default_factory=Handshake)
    close: Close = field(default_factory=Close)
    state: str = "OTH"  # Zeek conn_state
    history: str = ""  # Zeek history
    bytes: PerDirection = field(default_factory=PerDirection)
    segments: PerDirection = field(default_factory=PerDirection)
    anomalies: Anomalies = field(default_factory=Anomalies)
    echo: Echo = field(default_factory=Echo)
    exchanges: list[Exchange] = field(default_factory=list)
    sha256: PerDirection = field(default_factory=lambda: PerDirection("", ""))
    preview: PerDirection = field(default_factory=lambda: PerDirection("", ""))
    messages: list[Message] = field(default_factory=list)  # message services only
    service_by: Optional[str] = None  # "port" (the catalogue's port) | "content" (recognised) | None


@dataclass(slots=True)
class Run:
    """One file transfer of a stress test (ets): a row of the assignment's table."""

    connection: int
    operation: str  # "upload" | "download"
    file_bytes: int
    start_s: float
    end_s: Optional[float]
    duration_s: Optional[float]
    throughput_Bps: Optional[float]
    ok: bool
    reason: Optional[str] = None


@dataclass(slots=True)
class EtsRow:
    """One row of the ETS table: the transfers of one operation and file size made by one number of
    clients at once (runs[] grouped; docs/report-json.md says how batches are told apart)."""

    operation: str  # "upload" | "download"
    file_bytes: int
    clients: int  # transfers started together (one batch of the stress test)
    transfers: int
    batches: int  # batches with this operation, size and client count (a rerun adds one)
    time_s: float  # a batch's wall time, first start to last end (mean over the batches)
    mean_duration_s: Optional[float]  # a transfer's mean time (successful ones)
    throughput_Bps: Optional[float]  # per client: file_bytes / mean_duration_s
    total_throughput_Bps: Optional[float]  # bytes moved successfully / wall time
    successes: int
    failures: int
    peak: int  # most of these transfers in progress at one moment on the wire
    runs: list[int] = field(default_factory=list)  # indexes into runs[]


@dataclass(slots=True)
class Task:
    id: str  # "T1".."T4"
    status: str  # "pass" | "partial" | "fail" | "absent"
    verdict: Optional[str] = None  # T4: "serial" | "concurrent" | None
    evidence_frames: list[int] = field(default_factory=list)
    summary: str = ""
    reason: str = ""  # the specific fact behind the status (English; renderers translate by code)
    fix: Optional[str] = None  # what to change, for anything short of pass
    filters: list[str] = field(default_factory=list)  # Wireshark display filters showing the evidence
    code: str = ""  # stable reason code (the rubric's wording table)
    facts: dict[str, Any] = field(default_factory=dict)  # the values the reason states


@dataclass(slots=True)
class FrameNote:
    """One payload-carrying segment on a lab port, as the Wireshark plugin labels it."""

    conn: int
    role: str  # "request" | "echo"
    offset: int
    len: int
    client_no: int
    echo_ok: Optional[bool] = None  # echo segments only
    tcp_analysis: Optional[str] = None  # "retransmission" | "out_of_order" | "duplicate" | None


@dataclass(slots=True)
class MessageFrameNote(FrameNote):
    """A frame of a message service (role "request" | "response"): the messages it completes.

    A subclass, so an echo frame's note keeps exactly its keys; each list is None when the frame
    completes no message of that kind (the plugin's progjar.msg.* fields, one per message). A frame
    without payload that completes a message (an ACK past a hole the capture missed) has role,
    offset and len None."""

    msg: Optional[list[int]] = None  # indexes of the messages this frame completes
    command: Optional[list[str]] = None  # commands of the requests it completes
    status: Optional[list[str]] = None  # statuses of the responses it completes


@dataclass(slots=True)
class Report:
    capture: CaptureInfo
    tool: Tool = field(default_factory=Tool)
    schema: str = SCHEMA
    assignment: Optional[AssignmentInfo] = None
    student: Optional[StudentInfo] = None
    warnings: list[Warning] = field(default_factory=list)
    dns: list[DnsLookup] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    ets_table: list[EtsRow] = field(default_factory=list)  # ets: runs[] grouped (the assignment's table)
    tasks: list[Task] = field(default_factory=list)
    frames: Optional[dict[str, FrameNote]] = None  # only with --frames

    def to_dict(self) -> dict:
        """The report JSON as a dict, keys in the order DESIGN.md lists them (JSON_KEYS)."""
        return {k: _plain(getattr(self, k)) for k in JSON_KEYS if k != "frames" or self.frames is not None}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass -> its field names, looked up once per type
_PLAIN_HOOKS: dict[type, Any] = {}  # a class standing in for a record -> its dict (register_plain)


def register_plain(cls: type, to_plain: Any) -> None:
    """``_plain`` of an object that stands in for a model record without being one (the fast
    path's PlainConnection, whose record is a JSON line): ``to_plain(obj)`` gives its dict."""
    _PLAIN_HOOKS[cls] = to_plain


def _plain(v: Any) -> Any:
    """dataclasses.asdict without its deep copies: a big report (15k connections) converts in a
    fraction of the time. Model values are dataclasses, lists, dicts and immutable scalars."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    hook = _PLAIN_HOOKS.get(type(v))  # before the dataclass path: PlainConnection is a dataclass too
    if hook is not None:
        return hook(v)
    names = _FIELD_NAMES.get(type(v))
    if names is None and is_dataclass(v):
        names = _FIELD_NAMES[type(v)] = tuple(f.name for f in fields(v))
    if names is not None:
        return {n: _plain(getattr(v, n)) for n in names}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def from_dict(d: dict) -> Report:
    """Rebuild a Report from its JSON dict (for renderers and batch reading cached JSON)."""

    def conn(c: dict) -> Connection:
        hs = dict(c["handshake"])
        hs["options"] = TcpOptions(**hs["options"])
        return Connection(
            id=c["id"],
            client=Endpoint(**c["client"]),
            server=Endpoint(**c["server"]),
            service=c.get("service"),
            client_no=c["client_no"],
            handshake=Handshake(**hs),
            close=close(c["close"]),
            state=c["state"],
            history=c["history"],
            bytes=PerDirection(**c["bytes"]),
            segments=PerDirection(**c["segments"]),
            anomalies=Anomalies(**c["anomalies"]),
            echo=Echo(**c["echo"]),
            exchanges=[Exchange(**e) for e in c["exchanges"]],
            sha256=PerDirection(**c["sha256"]),
            preview=PerDirection(**c["preview"]),
            messages=[message(m) for m in c.get("messages", ())],
            service_by=c.get("service_by"),
        )

    def close(cl: dict) -> Close:
        cl = dict(cl)
        cl["fins"] = [Fin(**f) for f in cl.get("fins", ())]
        return Close(**cl)

    def message(m: dict) -> Message:
        m = dict(m)
        for k in ("file", "announced"):
            if m.get(k) is not None:
                m[k] = FileInfo(**m[k])
        return Message(**m)

    frames = d.get("frames")
    a, st = d.get("assignment"), d.get("student")
    return Report(
        schema=d["schema"],
        tool=Tool(**d["tool"]),
        assignment=AssignmentInfo(**a) if a else None,
        student=StudentInfo(**st) if st else None,
        capture=CaptureInfo(**d["capture"]),
        warnings=[Warning(**w) for w in d["warnings"]],
        dns=[DnsLookup(**x) for x in d["dns"]],
        connections=[conn(c) for c in d["connections"]],
        runs=[Run(**r) for r in d.get("runs", ())],
        ets_table=[EtsRow(**r) for r in d.get("ets_table", ())],
        tasks=[Task(**t) for t in d["tasks"]],
        frames=None if frames is None else {k: (MessageFrameNote if "msg" in v else FrameNote)(**v)
                                            for k, v in frames.items()},
    )
