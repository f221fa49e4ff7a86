"""Messages of one connection: drafts filled by a framer, completed, parsed and paired.

Why a connection-level object and not one per direction: a message's index is the order in which
messages complete in the connection (both directions together), a response is paired with a
request when it completes, and some framings need the other direction (a file-server request
without a terminator ends where the server's next reply begins). So one MessageStream sees both
directions' deliveries in capture order, exactly as Half.sink hands them out (reassembly.py):
(offset, bytes, packet) for delivered bytes and (offset, None, length) for a gap.

The division of labour (Zeek's, STYLE.md): a *framer* (framing.py) says where a message ends and
calls add()/lost()/end(); a *parser* (one per service, e.g. time.py) says what a complete message
means (command, args, status, time_value, problems) and how responses pair with requests. Neither
keeps a message's bytes: a draft keeps its first HEAD_MAX bytes for parsing and the report's text,
and counts the rest, so memory is bounded by what is outstanding, not by message or stream size.
A parser that must see every byte (a base64 file decoded while streaming) overrides chunk().
"""
from __future__ import annotations

from collections import deque
from typing import Any, Optional

from reporter.model import FileInfo, Message

HEAD_MAX = 4096  # bytes of a message kept for its parser and its text; the rest is only counted
TEXT_MAX = 200  # characters of a message's text in the report
MAX_MESSAGES = 8192  # messages kept per connection (later ones are counted, paired, not listed)
MAX_OUTSTANDING = 8192  # unanswered requests remembered per connection

_PRINTABLE = bytes(b if 32 <= b < 127 else 46 for b in range(256))


class Draft:
    """One message while it is framed, and after it completed (until the report is built)."""

    __slots__ = ("announced", "answers", "args", "bytes", "command", "cut", "data", "done_frame", "done_ts", "file",
                 "first_frame", "head", "in_reply_to", "index",
                 "last_frame", "last_ts", "latency_ns", "problems", "side", "status", "terminator", "text",
                 "time_value", "utc_offset")

    def __init__(self, side: int) -> None:
        self.side = side  # 0 request (client -> server), 1 response
        self.first_frame: Optional[int] = None  # None until a captured byte arrives (a gap may come first)
        self.last_frame: Optional[int] = None
        self.last_ts = 0  # epoch ns of the last frame that carried its bytes
        # the frame whose arrival completed it, and its time: the frame Wireshark's reassembly and the
        # plugin name (for bytes queued out of order, the segment that filled the hole; for a request
        # without terminator, the server's first reply frame); None when only the end of the capture
        # ended it (no frame completed it)
        self.done_frame: Optional[int] = None
        self.done_ts = 0
        self.bytes = 0  # stream bytes, missing ones included
        self.head: Optional[bytearray] = bytearray()  # first HEAD_MAX captured bytes; None once parsed
        self.cut = False  # captured bytes beyond HEAD_MAX were only counted
        self.terminator = 0  # length of the terminator at the end of head (framers set it)
        self.text = ""
        self.problems: list[str] = []
        self.command: Optional[str] = None
        self.args: list[str] = []
        self.status: Optional[str] = None
        self.time_value: Optional[str] = None
        self.utc_offset: Optional[str] = None
        self.file: Optional[FileInfo] = None
        self.data: Any = None  # a reply's data: a list of names (bounded) or a short text
        self.announced: Optional[FileInfo] = None  # the file a reply says it sent or stored (its own size/hash)
        self.index = -1
        self.in_reply_to: Optional[int] = None
        self.latency_ns: Optional[int] = None
        self.answers = 0  # responses paired with this request

    def problem(self, code: str) -> None:
        if code not in self.problems:
            self.problems.append(code)

    def line(self) -> str:
        """The captured head without its terminator, as text (Latin-1: every byte is one character)."""
        head = self.head or b""
        if self.terminator and not self.cut:
            head = head[:len(head) - self.terminator]
        return bytes(head).decode("latin-1")


class Parser:
    """What a service's messages say. Subclass it per service and register it in messages.PARSERS.

    The defaults make a usable parser for a service nobody has written one for yet: a request's
    command is its first word as sent, its args the following words; responses get no status;
    every request expects one response, and responses pair with the oldest unanswered request."""

    def chunk(self, d: Draft, data: bytes) -> None:
        """Every captured byte of a message as it arrives (after the framer's add()); the default
        ignores them. Override to decode a large body while streaming (keep only sizes/hashes)."""

    def request(self, d: Draft, ts: int) -> None:
        """A request completed (ts: epoch ns of its completing frame): fill command, args, problems."""
        words = d.line().split()
        if words:
            d.command = words[0][:64]
            d.args = [w[:200] for w in words[1:9]]

    def response(self, d: Draft, ts: int) -> None:
        """A response completed: fill status, time_value, file, problems."""

    def expects_reply(self, d: Draft) -> bool:
        """Whether a request without any response is a problem ("unanswered")."""
        return True

    def pair(self, stream: "MessageStream", resp: Draft) -> Optional[Draft]:
        """The request a completed response answers, and the pairing problems.

        The oldest unanswered complete request that expects a reply (else the oldest one: a QUIT
        that got a goodbye). With none outstanding: a response that completes while the client's
        request is still incomplete answered part of it ("premature"); else one after an answered
        request is another reply to it ("extra-response"); else nothing asked for it ("unsolicited")."""
        waiting = stream.outstanding
        if waiting:
            for i, req in enumerate(waiting):
                if self.expects_reply(req):
                    del waiting[i]
                    return req
            return waiting.popleft()
        if stream.drafts[0] is not None and stream.drafts[0].first_frame is not None:
            resp.problem("premature")
            return None
        if stream.last_answered is not None:
            resp.problem("extra-response")
            return stream.last_answered
        resp.problem("unsolicited")
        return None


class MessageStream:
    """Both directions of one connection of a message service: the Half.sink callbacks
    (request/response), the drafts in progress, the completed messages and their pairing."""

    __slots__ = ("count", "done", "drafts", "echo", "framer", "last_answered", "now", "outstanding", "parser",
                 "service", "truncated")

    def __init__(self, service: str, framer_cls: type, parser: Parser, echo: object) -> None:
        self.service = service
        self.parser = parser
        self.echo = echo  # the connection's EchoCheck: only its first-byte times are set (queued_behind, wait_s)
        self.drafts: list[Optional[Draft]] = [None, None]
        self.done: list[Draft] = []
        self.count = 0
        self.outstanding: deque[Draft] = deque()
        self.last_answered: Optional[Draft] = None
        self.truncated = False
        self.now: Any = None  # the packet TcpAnalysis is processing (set per packet of this connection)
        self.framer = framer_cls(self)

    # -- Half.sink callbacks --------------------------------------------------------------------

    def request(self, off: int, data: Optional[bytes], pkt: object) -> None:
        """Client bytes delivered at off (data None: a gap of length pkt)."""
        if data is None:
            self.framer.gap(0, pkt)
            return
        self.framer.data(0, data, pkt)

    def response(self, off: int, data: Optional[bytes], pkt: object) -> None:
        """Server bytes delivered at off (data None: a gap of length pkt)."""
        if data is None:
            self.framer.gap(1, pkt)
            return
        e = self.echo
        if e.first_echo_ts is None:  # type: ignore[attr-defined]
            e.first_echo_ts = pkt.ts  # type: ignore[attr-defined]
        self.framer.data(1, data, pkt)

    # -- called by framers -------------------------------------------------------------------------

    def add(self, side: int, data: bytes, pkt: object) -> Draft:
        """Captured bytes of the message in progress on `side` (a new one starts if none is)."""
        d = self.drafts[side]
        if d is None:
            d = self.drafts[side] = Draft(side)
        if d.first_frame is None:
            d.first_frame = pkt.no  # type: ignore[attr-defined]
        d.last_frame = pkt.no  # type: ignore[attr-defined]
        d.last_ts = pkt.ts  # type: ignore[attr-defined]
        head = d.head
        if head is not None and not d.cut:
            if len(head) + len(data) > HEAD_MAX:
                d.cut = True
            head += data[:HEAD_MAX - len(head)]
        d.bytes += len(data)
        limit = self.framer.limit
        if limit is not None and d.bytes > limit:
            d.problem("too-long")
        self.parser.chunk(d, data)
        return d

    def lost(self, side: int, n: int) -> None:
        """A gap of n bytes the capture does not hold, inside (or starting) the message on `side`."""
        d = self.drafts[side]
        if d is None:
            d = self.drafts[side] = Draft(side)
        d.bytes += n
        d.problem("bytes-not-captured")

    def busy(self, side: int) -> bool:
        """A message is in progress on `side` (some of its bytes, captured or not, have arrived)."""
        return self.drafts[side] is not None

    def end(self, side: int, problem: Optional[str] = None) -> None:
        """The message in progress on `side` is complete: parse it, pair it, keep it."""
        d = self.drafts[side]
        if d is None:
            return
        self.drafts[side] = None
        if d.first_frame is None:  # nothing of it was captured: no frame to name, nothing to say
            return
        if problem:
            d.problem(problem)
        now = self.now
        if now is not None:
            d.done_frame, d.done_ts = now.no, now.ts
        else:
            d.done_ts = d.last_ts
        d.index = self.count
        self.count += 1
        d.text = _text(d)
        if side == 0:
            e = self.echo
            if e.first_req_ts is None:  # type: ignore[attr-defined]
                # the first *complete* request: a server cannot answer before it (an upload's first
                # byte may come seconds earlier), which is what queued_behind compares with a close
                e.first_req_ts = d.last_ts  # type: ignore[attr-defined]
            self.parser.request(d, d.last_ts)
            self.outstanding.append(d)
            if len(self.outstanding) > MAX_OUTSTANDING:
                self.outstanding.popleft()
        else:
            self.parser.response(d, d.last_ts)
            req = self.parser.pair(self, d)
            if req is not None:
                d.in_reply_to = req.index
                d.latency_ns = d.done_ts - req.last_ts  # the request's last byte -> the reply complete
                req.answers += 1
                self.last_answered = req
        d.head = None  # parsed: only the bounded text stays
        if len(self.done) < MAX_MESSAGES:
            self.done.append(d)
        else:
            self.truncated = True

    # -- end of capture ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Complete what is in progress (the framer says how) and mark requests left unanswered."""
        self.now = None  # what ends now was completed by no frame: only the capture ended
        self.framer.finish()
        for d in self.done:
            if d.side == 0:
                if d.answers == 0 and self.parser.expects_reply(d):
                    d.problem("unanswered")
                elif d.answers > 1:
                    d.problem("several-responses")

    def messages(self, t0: int) -> list[Message]:
        """The report's messages (times relative to t0, the capture's first frame)."""
        return [Message(d.index, "request" if d.side == 0 else "response", d.first_frame,
                        d.done_frame if d.done_frame is not None else d.last_frame,
                        round((d.done_ts - t0) / 1e9, 6), d.bytes, d.text, d.command, list(d.args), d.status,
                        d.in_reply_to, None if d.latency_ns is None else round(d.latency_ns / 1e6, 3), d.file,
                        d.time_value, list(d.problems), d.utc_offset, data=_copy(d.data), announced=d.announced)
                for d in self.done]


def _copy(data: Any) -> Any:
    return list(data) if isinstance(data, list) else data


def _text(d: Draft) -> str:
    """Printable text of a message: its first TEXT_MAX bytes without the terminator, every byte
    that is not printable ASCII shown as '.' (payloads are untrusted: never markup, never bidi)."""
    head = d.head or b""
    if d.terminator and not d.cut:
        head = head[:len(head) - d.terminator]
    return bytes(head[:TEXT_MAX]).translate(_PRINTABLE).decode("ascii")
