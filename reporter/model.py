"""The report model: plain dataclasses that serialise to the report JSON of DESIGN.md.

Analyses fill it, renderers read it; nothing else crosses that line. Field names are the
public JSON keys ("progjar.report/1"), so renaming one is a schema change: change
``schema/report.schema.json`` and every renderer with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Optional

SCHEMA = "progjar.report/1"
# Top-level keys in the order DESIGN.md lists them (to_dict and the streaming JSON writer);
# "frames" only appears with --frames.
JSON_KEYS = ("schema", "tool", "capture", "warnings", "dns", "connections", "tasks", "frames")


@dataclass(slots=True)
class Tool:
    name: str = "progjar-lab"
    version: str = "0.0.0"


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


@dataclass(slots=True)
class Warning:
    code: str
    message: str
    frame: Optional[int] = None


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


@dataclass(slots=True)
class Close:
    first_fin_by: Optional[str] = None  # "client" | "server" | None
    reset: bool = False
    end_time_s: Optional[float] = None


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


@dataclass(slots=True)
class Exchange:
    request_frames: list[int] = field(default_factory=list)
    echo_frames: list[int] = field(default_factory=list)
    request_time_s: Optional[float] = None
    echo_time_s: Optional[float] = None
    bytes: int = 0


@dataclass(slots=True)
class Connection:
    id: int
    client: Endpoint
    server: Endpoint
    service: Optional[str] = None  # "echo" | "file-echo" | None
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


@dataclass(slots=True)
class Task:
    id: str  # "T1".."T4"
    status: str  # "pass" | "partial" | "fail" | "absent"
    verdict: Optional[str] = None  # T4: "serial" | "concurrent" | None
    evidence_frames: list[int] = field(default_factory=list)
    summary: str = ""


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
class Report:
    capture: CaptureInfo
    tool: Tool = field(default_factory=Tool)
    schema: str = SCHEMA
    warnings: list[Warning] = field(default_factory=list)
    dns: list[DnsLookup] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    frames: Optional[dict[str, FrameNote]] = None  # only with --frames

    def to_dict(self) -> dict:
        """The report JSON as a dict, keys in the order DESIGN.md lists them (JSON_KEYS)."""
        return {k: _plain(getattr(self, k)) for k in JSON_KEYS if k != "frames" or self.frames is not None}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass -> its field names, looked up once per type


def _plain(v: Any) -> Any:
    """dataclasses.asdict without its deep copies: a big report (15k connections) converts in a
    fraction of the time. Model values are dataclasses, lists, dicts and immutable scalars."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
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
            close=Close(**c["close"]),
            state=c["state"],
            history=c["history"],
            bytes=PerDirection(**c["bytes"]),
            segments=PerDirection(**c["segments"]),
            anomalies=Anomalies(**c["anomalies"]),
            echo=Echo(**c["echo"]),
            exchanges=[Exchange(**e) for e in c["exchanges"]],
            sha256=PerDirection(**c["sha256"]),
            preview=PerDirection(**c["preview"]),
        )

    frames = d.get("frames")
    return Report(
        schema=d["schema"],
        tool=Tool(**d["tool"]),
        capture=CaptureInfo(**d["capture"]),
        warnings=[Warning(**w) for w in d["warnings"]],
        dns=[DnsLookup(**x) for x in d["dns"]],
        connections=[conn(c) for c in d["connections"]],
        tasks=[Task(**t) for t in d["tasks"]],
        frames=None if frames is None else {k: FrameNote(**v) for k, v in frames.items()},
    )
