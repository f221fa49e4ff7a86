"""Framers: where a message ends, whatever the segmentation (one byte per segment from telnet, a
10 MB reply over thousands of segments, a terminator split across two segments).

A framer gets one connection's delivered bytes in capture order, per direction (side 0 = client,
1 = server), and tells its MessageStream (core.py) which bytes belong to the message in progress
(add), which stream bytes are missing (lost) and where a message ends (end, with a problem code
when it ended irregularly). It keeps no message bytes itself: at most the few bytes a terminator
split across deliveries needs. ``limit`` is the longest message the framing allows before the
draft is marked "too-long" (None: no limit, e.g. a base64 file in a JSON reply).

Writing one for a new framing kind: subclass Framer, implement data() (and gap() if the
framing must reset state at a gap), and register it in messages.FRAMERS under the catalogue's
framing name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from reporter.analyses.messages.core import MessageStream

LINE_MAX = 4096  # a line longer than this is "too-long" (it is still framed: bytes counted, not kept)
CRLF2 = b"\r\n\r\n"


def _find_crlf2(data: bytes, pos: int) -> int:
    """data.find(CRLF2, pos), by memchr for each LF: a 100 MB reply's base64 has none, and a
    single-byte search is several times faster than the four-byte one."""
    n = data.find(b"\n", pos + 1)
    while n >= 0:  # the first CRLF2 at or after pos has its first LF first
        if data[n - 1:n + 3] == CRLF2:
            return n - 1
        n = data.find(b"\n", n + 1)
    return -1


class Framer:
    """Base: gaps mark the message in progress, finish() ends what is left without a terminator."""

    limit: Optional[int] = None

    def __init__(self, stream: "MessageStream") -> None:
        self.stream = stream

    def data(self, side: int, data: bytes, pkt: object) -> None:
        raise NotImplementedError

    def gap(self, side: int, n: int) -> None:
        self.stream.lost(side, n)

    def finish(self) -> None:
        """End of capture (or of the connection): a message in progress ends without its terminator.
        The client's first: its bytes came before any reply that is still open."""
        s = self.stream
        order = sorted((0, 1), key=lambda side: (s.drafts[side].last_ts if s.drafts[side] is not None else 0, side))
        for side in order:
            s.end(side, "no-terminator")


class LineFramer(Framer):
    """A message is a line ended by CRLF; a bare LF ends it too, with problem "bare-lf"."""

    limit = LINE_MAX

    def __init__(self, stream: "MessageStream") -> None:
        super().__init__(stream)
        self.cr = [False, False]  # the last byte delivered on that side was CR (a CRLF split across segments)

    def data(self, side: int, data: bytes, pkt: object) -> None:
        s = self.stream
        start, n = 0, len(data)
        while start < n:
            i = data.find(b"\n", start)
            if i < 0:
                d = s.add(side, data[start:] if start else data, pkt)
                self.cr[side] = data[-1] == 13
                d.terminator = 0
                return
            d = s.add(side, data[start:i + 1], pkt)
            crlf = data[i - 1] == 13 if i > 0 else self.cr[side]
            d.terminator = 2 if crlf else 1
            s.end(side, None if crlf else "bare-lf")
            self.cr[side] = False
            start = i + 1

    def gap(self, side: int, n: int) -> None:
        self.cr[side] = False
        self.stream.lost(side, n)


class JsonFramer(Framer):
    """The file server's framing (DESIGN.md "Messages"): a reply ends at CRLF CRLF; a request ends
    at CRLF CRLF when the client sends one, else at the first byte of the server's next reply
    (problem "no-terminator"), as the lecturer's client sends its command without a terminator."""

    def __init__(self, stream: "MessageStream") -> None:
        super().__init__(stream)
        self.tail = [b"", b""]  # the last (up to 3) bytes of the message in progress on each side

    def data(self, side: int, data: bytes, pkt: object) -> None:
        s = self.stream
        if side == 1 and not s.busy(1) and s.busy(0):
            self.tail[0] = b""
            s.end(0, "no-terminator")  # a new reply begins: the request before it is complete
        pos, n = 0, len(data)
        tail = self.tail[side]
        while pos < n:
            end = -1
            if tail:  # a terminator may straddle the previous delivery and this one
                k = (tail + data[pos:pos + 3]).find(CRLF2)
                if k >= 0:
                    end = pos + k + 4 - len(tail)
            if end < 0:
                i = _find_crlf2(data, pos)
                end = i + 4 if i >= 0 else -1
            if end < 0:
                d = s.add(side, data[pos:] if pos else data, pkt)
                tail = (tail + data[pos:])[-3:]
                d.terminator = 0
                break
            d = s.add(side, data[pos:end], pkt)
            d.terminator = 4
            s.end(side)
            tail = b""
            pos = end
        self.tail[side] = tail

    def gap(self, side: int, n: int) -> None:
        self.tail[side] = b""
        self.stream.lost(side, n)
