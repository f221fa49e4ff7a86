"""The file server's conversations as a rubric reads them (Tugas 3 and the ETS share them): each
request with its replies, the transfers, and a ledger per file name.

Why here and not in the analyses: pairing is the message layer's (in_reply_to); what an exchange
*means* for an assignment (a LIST that shows a file, an upload compared with a later download)
is judging, and the renderers show the same ledger the rubric judged, so both call these.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from reporter.model import Connection, FileInfo, Message, Report

SERVICE = "file"


@dataclass
class Exchange:
    """One request and the replies paired with it (the recv(32) bug gives several)."""

    conn: Connection
    request: Message
    replies: list[Message] = field(default_factory=list)

    @property
    def reply(self) -> Optional[Message]:
        return self.replies[0] if self.replies else None

    @property
    def ok(self) -> bool:
        r = self.reply
        return r is not None and r.status == "OK"

    @property
    def name(self) -> Optional[str]:
        return self.request.args[0] if self.request.args else None

    @property
    def done_s(self) -> float:
        """When the exchange was over: its first reply's completion, else the request's."""
        r = self.reply
        return r.time_s if r is not None else self.request.time_s


def file_connections(report: Report) -> list[Connection]:
    """Connections the TCP analysis gave to the file service (by port, or recognised by content)."""
    return [c for c in report.connections if c.service == SERVICE]


def exchanges(report: Report) -> list[Exchange]:
    """Every request of every file connection with its replies, in the order the requests completed."""
    out: list[Exchange] = []
    for c in file_connections(report):
        by_index: dict[int, Exchange] = {}
        for m in c.messages:
            if m.dir == "request":
                by_index[m.index] = x = Exchange(c, m)
                out.append(x)
            elif m.in_reply_to is not None and m.in_reply_to in by_index:
                by_index[m.in_reply_to].replies.append(m)
    out.sort(key=lambda x: (x.request.time_s, x.conn.id, x.request.index))
    return out


def listed_names(x: Exchange) -> Optional[list[str]]:
    """The names a LIST's OK reply shows (None: not a LIST answered OK with a list)."""
    r = x.reply
    if x.request.command != "LIST" or r is None or r.status != "OK" or not isinstance(r.data, list):
        return None
    return [str(n) for n in r.data]


def uploaded_file(x: Exchange) -> Optional[FileInfo]:
    return x.request.file if x.request.command == "UPLOAD" else None


def downloaded_file(x: Exchange) -> Optional[FileInfo]:
    r = x.reply
    return r.file if x.request.command == "GET" and r is not None and r.status == "OK" else None


@dataclass
class FileRow:
    """What the capture shows of one file name: every upload and download, with sizes and hashes."""

    name: str
    uploads: list[FileInfo] = field(default_factory=list)
    downloads: list[FileInfo] = field(default_factory=list)
    listed: int = 0  # LIST replies that show it
    deleted: int = 0  # DELETE requests answered OK

    def hashes(self) -> set[str]:
        return {f.sha256 for f in self.uploads + self.downloads if f.sha256}

    def sizes(self) -> set[int]:
        return {f.bytes for f in self.uploads + self.downloads if f.sha256}

    @property
    def same(self) -> Optional[bool]:
        """Whether every decoded copy of the file has one hash (None: fewer than two copies)."""
        n = sum(1 for f in self.uploads + self.downloads if f.sha256)
        return None if n < 2 else len(self.hashes()) == 1


def ledger(xs: list[Exchange], limit: int = 500) -> list[FileRow]:
    """One row per file name moved, deleted or listed (at most `limit` names, first seen first)."""
    rows: dict[str, FileRow] = {}

    def row(name: str) -> Optional[FileRow]:
        if name not in rows and len(rows) >= limit:
            return None
        return rows.setdefault(name, FileRow(name))

    for x in xs:
        up, down = uploaded_file(x), downloaded_file(x)
        if up is not None and x.ok and x.name and (r := row(x.name)):
            r.uploads.append(up)
        if down is not None and (r := row(down.name or x.name or "?")):
            r.downloads.append(down)
        if x.request.command == "DELETE" and x.ok and x.name and (r := row(x.name)):
            r.deleted += 1
        for name in listed_names(x) or ():
            if name in rows:
                rows[name].listed += 1
    return list(rows.values())
