"""Plain connections as the fast path hands them out: a JSON line in a spool file and report objects.

Why: the reference keeps every connection's whole analysis state to the end and then builds its
record; at 70,000 connections that was ~8 KB a connection. The fast path (_fasttcp.c) writes a
plain connection's connections[] record itself, once the connection is closed and quiet, as the
JSON line the report will carry, into an anonymous temporary file (the spool: never visible in the
file system, gone with the process), and gives the rubrics and renderers the record as report
objects (``PlainConnection``, a Connection) made directly by the C side: every field a real value,
but exchanges, digests, previews and FINs, which only a renderer's detailed view reads, are read
back from the JSON line when asked for. Server endpoints, TCP options and empty anomalies are one
object per value, shared by the connections that have it: the model is read-only once built.
The JSON writer copies the line (queued_behind filled in, judged once every connection is known).

The line comes from templates made here from the model's own fields (``templates``), each value
by a code the C side knows, and the objects from the model's classes and slots (``kinds``): a model
field the C side does not know makes the fast path decline every capture (the reference then
writes it), never a wrong record.
"""
from __future__ import annotations

import json
import os
import struct
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Optional

from reporter import model
from reporter.model import (
    Anomalies,
    Close,
    Connection,
    Echo,
    Endpoint,
    Exchange,
    Fin,
    Handshake,
    PerDirection,
    TcpOptions,
)
from reporter.model import jsonenc

# value codes (the enums of _fasttcp.c): model field path -> code
_V = ("id client.ip client.port server.ip server.port service client_no "
      "handshake.syn_frame handshake.synack_frame handshake.ack_frame handshake.syn_time_s handshake.rtt_ms "
      "handshake.complete handshake.options.mss handshake.options.wscale handshake.options.sack_ok "
      "handshake.options.timestamps handshake.syn_retransmissions handshake.synack_retransmissions "
      "handshake.synack_time_s close.first_fin_by close.reset close.end_time_s close.fins state history "
      "bytes.client_to_server bytes.server_to_client segments.client_to_server segments.server_to_client "
      "ZERO echo.verified echo.echoed_bytes echo.first_mismatch_offset echo.first_request_time_s "
      "echo.first_echo_time_s echo.wait_s echo.queued_behind echo.first_mismatch_frame exchanges "
      "sha256.client_to_server sha256.server_to_client preview.client_to_server preview.server_to_client "
      "messages service_by").split()
CONN_CODES = {path: code for code, path in enumerate(_V, 1)}
for _path in ("anomalies.retransmissions", "anomalies.out_of_order", "anomalies.overlap_conflicts", "anomalies.gaps",
              "anomalies.capture_duplicates", "echo.unverified_bytes"):
    CONN_CODES[_path] = CONN_CODES["ZERO"]  # a plain connection has none
EXCHANGE_CODES = {"request_frames": 1, "echo_frames": 2, "request_time_s": 3, "echo_time_s": 4, "bytes": 5}
FIN_CODES = {"by": 1, "frame": 2, "time_s": 3}

# the model's slots the C side fills, per class, in its order (Kind in _fasttcp.c); a class whose
# fields differ from these (a model change) makes the fast path decline until this is updated
KINDS = (
    ("PlainConnection", ("id", "client", "server", "service", "client_no", "handshake", "close", "state", "history",
                         "bytes", "segments", "anomalies", "echo", "messages", "service_by", "_spool", "_raw")),
    ("Endpoint", ("ip", "port")),
    ("Handshake", ("syn_frame", "synack_frame", "ack_frame", "syn_time_s", "rtt_ms", "complete", "options",
                   "syn_retransmissions", "synack_retransmissions", "synack_time_s")),
    ("TcpOptions", ("mss", "wscale", "sack_ok", "timestamps")),
    ("PlainClose", ("first_fin_by", "reset", "end_time_s", "_spool", "_raw")),
    ("Fin", ("by", "frame", "time_s")),
    ("PerDirection", ("client_to_server", "server_to_client")),
    ("Anomalies", ("retransmissions", "out_of_order", "overlap_conflicts", "gaps", "capture_duplicates")),
    ("Echo", ("verified", "echoed_bytes", "first_mismatch_offset", "first_request_time_s", "first_echo_time_s",
              "wait_s", "queued_behind", "first_mismatch_frame", "unverified_bytes")),
)
LAZY = ("exchanges", "sha256", "preview")  # Connection fields read from the JSON line
LAZY_CLOSE = ("fins",)  # ... and Close's
RAW_FIELDS = ("line_off", "line_len", "qb_pos", "close_ts", "first_req_ts", "first_echo_ts", "fin_mark", "request_ack")
RAW = struct.Struct(f"={len(RAW_FIELDS)}q")


class Unsupported(Exception):
    """The model has a field the fast path's templates have no code for."""


def _tokens(cls: type, codes: dict[str, int], prefix: str = "") -> list[Any]:
    hints = typing.get_type_hints(cls, vars(model))
    out: list[Any] = ["{"]
    for i, f in enumerate(fields(cls)):
        if i:
            out.append(",")
        out.append(json.dumps(f.name) + ":")
        path = prefix + f.name
        tp = hints[f.name]
        if path in codes:
            out.append(codes[path])
        elif isinstance(tp, type) and is_dataclass(tp):
            out += _tokens(tp, codes, path + ".")
        else:
            raise Unsupported(f"{cls.__name__}.{path}")
    out.append("}")
    return out


def _template(cls: type, codes: dict[str, int]) -> tuple[tuple[tuple[bytes, int], ...], bytes]:
    parts, lit = [], ""
    for tok in _tokens(cls, codes):
        if isinstance(tok, str):
            lit += tok
        else:
            parts.append((lit.encode(), tok))
            lit = ""
    return tuple(parts), lit.encode()


def templates(services: dict[int, str], spool: Optional["Spool"] = None, deliver: Any = None,
              finish: Any = None) -> tuple:
    """What _fasttcp.analyse needs to write records: the three templates, the service names, the
    model classes to fill (kinds), the spool and its file descriptor, the message layer's two
    callbacks (fastpath.Streams)."""
    return (_template(Connection, CONN_CODES), _template(Exchange, EXCHANGE_CODES), _template(Fin, FIN_CODES),
            {port: json.encoder.encode_basestring(name).encode() for port, name in services.items()},
            kinds(), spool, spool.fileno() if spool is not None else -1, deliver, finish)


class Spool:
    """The JSON lines of one capture's plain connections, in an anonymous temporary file."""

    def __init__(self) -> None:
        import tempfile

        self.f = tempfile.TemporaryFile(buffering=0)  # O_TMPFILE: no name, removed with the process

    def fileno(self) -> int:
        return self.f.fileno()

    def read(self, off: int, n: int) -> bytes:
        return os.pread(self.f.fileno(), n, off)


def _line(spool: "Spool", raw: bytes) -> dict:
    off, n = RAW.unpack_from(raw)[:2]
    return json.loads(spool.read(off, n))


class PlainClose(Close):
    """A plain connection's close: its FINs (a ladder's labels) are read from the JSON line."""

    __slots__ = ("_raw", "_spool")

    @property  # type: ignore[override]
    def fins(self) -> list[Fin]:
        return [Fin(**f) for f in _line(self._spool, self._raw)["close"]["fins"]]


class PlainConnection(Connection):
    """A plain connection's record as the fast path makes it: a Connection whose every field but
    the heavy three is a real value set by _fasttcp.c; exchanges, digests and previews are read
    from its JSON line in the spool (renderers, for the few connections they show in detail).
    Never made by calling the class: the C side fills the slots (KINDS)."""

    __slots__ = ("_raw", "_spool")  # _raw: RAW packed (line offset, length, queued_behind's place, ...)

    def json_text(self) -> str:
        """The connections[] record, exactly as the reference writes it (queued_behind filled in)."""
        off, n, k = RAW.unpack_from(self._raw)[:3]
        line = self._spool.read(off, n)
        qb = self.echo.queued_behind
        if qb is not None:
            line = line[:k] + str(qb).encode() + line[k + 4:]
        return line.decode("utf-8")

    def raw(self, name: str) -> Optional[int]:
        """A value the report does not show: ns times for queued_behind, the evidence marks."""
        v = RAW.unpack_from(self._raw)[RAW_FIELDS.index(name)]
        return None if v < 0 else v

    def to_plain(self) -> dict:
        return json.loads(self.json_text())

    @property  # type: ignore[override]
    def exchanges(self) -> list[Exchange]:
        return [Exchange(**x) for x in self.to_plain()["exchanges"]]

    @property  # type: ignore[override]
    def sha256(self) -> PerDirection:
        return PerDirection(**self.to_plain()["sha256"])

    @property  # type: ignore[override]
    def preview(self) -> PerDirection:
        return PerDirection(**self.to_plain()["preview"])

    def queue_row(self) -> tuple:
        """What queued_behind_of reads: (id, server endpoint, close, first request, first echo), ns."""
        _, _, _, close, req, echo, _, _ = RAW.unpack_from(self._raw)
        return (self.id, (self.server.ip, self.server.port), None if close < 0 else close, None if req < 0 else req,
                None if echo < 0 else echo)


def kinds() -> tuple:
    """(class, (slot descriptor, ...)) per KINDS entry, for _fasttcp.analyse; Unsupported when the
    model's fields are not the ones the C side fills."""
    classes = {"PlainConnection": PlainConnection, "Endpoint": Endpoint, "Handshake": Handshake,
               "TcpOptions": TcpOptions, "PlainClose": PlainClose, "Fin": Fin, "PerDirection": PerDirection,
               "Anomalies": Anomalies, "Echo": Echo}
    out = []
    for name, slots in KINDS:
        cls = classes[name]
        model_fields = {f.name for f in fields(cls)}
        lazy = LAZY if cls is PlainConnection else LAZY_CLOSE if cls is PlainClose else ()
        expected = set(slots) - set(cls.__slots__ if cls in (PlainConnection, PlainClose) else ()) | set(lazy)
        if model_fields != expected:
            raise Unsupported(f"{name}: {sorted(model_fields ^ expected)}")
        descrs = []
        for slot in slots:
            owner = next(c for c in cls.__mro__ if slot in c.__dict__)
            descrs.append(owner.__dict__[slot])
        out.append((cls, tuple(descrs)))
    return tuple(out)


jsonenc.register(PlainConnection, PlainConnection.json_text)
model.register_plain(PlainConnection, PlainConnection.to_plain)
