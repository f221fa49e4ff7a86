"""Content recognition: which lab service a connection on a port no service claims carries.

Why: students move servers to other ports (the lecturer's own time server listens on 51000), and
a report that ignores such a connection grades a working server as absent. So a connection on an
unclaimed port is recognised by what it carries — time-server lines (TIME / JAM ...), a file
server's JSON replies, bytes echoed back unchanged — analysed as that service, and the report says
so (warning "service-recognised", with the --port option that makes it explicit).

Streaming, bounded: a Sniffer sits between the two Half.sink callbacks and the connection's echo
check. It passes every delivery on to the echo check (so what the report says about an
unrecognised connection is exactly what it said before recognition existed) and keeps the
deliveries of the first PREFIX bytes of each direction. As soon as the prefix decides, a message
service's stream is opened and the kept deliveries are replayed into it (framing from the first
byte, in the original order), after which deliveries go straight to it; "echo" and "not ours"
just stop keeping. Undecided at the end of the capture: decided on what was kept.
The common case pays nothing: connections on a lab port never meet a Sniffer.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Optional

PREFIX = 2048  # bytes per direction kept until a connection is recognised
MAX_EVENTS = 4 * PREFIX  # deliveries kept (a telnet client sends one byte per segment)
ECHO_MIN = 8  # the server must have sent back at least this many of the client's first bytes
LINE_ENOUGH = 64  # without a line end, this many bytes are enough to judge a direction
RECOGNISED = ("echo", "time", "file")
TIME_COMMANDS = (b"TIME", b"QUIT")
FILE_COMMANDS = (b"LIST", b"GET", b"UPLOAD", b"DELETE")


def _first_word(data: bytes) -> bytes:
    words = data.split(None, 1)
    return words[0].upper() if words else b""


def _http_request(c: bytes) -> bool:
    """The client's first line is an HTTP request line (METHOD target HTTP/1.x)."""
    line = c.split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ")
    return len(parts) == 3 and parts[2].startswith(b"HTTP/") and parts[0].isalpha()


def recognise(c: bytes, s: bytes, allowed: Collection[str], final: bool = False) -> Optional[str]:
    """The service the first bytes of each direction show: a RECOGNISED name, "" for none of
    them, None while undecided (more bytes could tell). `final`: no more bytes will come."""
    full = final or len(c) >= PREFIX or len(s) >= PREFIX
    if _http_request(c):  # "GET / HTTP/1.1": a web client, whatever the server answers (Tugas 4 is HTTP)
        return ""
    if s:
        if c.startswith(s):  # so far the server sent back the client's first bytes
            if len(s) >= ECHO_MIN or (len(s) == len(c) and (full or b"\n" in s)):  # a whole line back
                return "echo" if "echo" in allowed else ""
            if not full:
                return None
        elif s.startswith(b"JAM") or b"\nJAM " in s:
            return "time" if "time" in allowed else ""
        elif s.lstrip()[:1] == b"{":
            return "file" if "file" in allowed else ""
    c_done = b"\n" in c or len(c) >= LINE_ENOUGH or full
    s_done = b"\n" in s or len(s) >= LINE_ENOUGH or full
    if c_done and (s_done or full):
        word = _first_word(c.split(b"\n", 1)[0])
        if word in TIME_COMMANDS and "time" in allowed:
            return "time"
        if word in FILE_COMMANDS and "file" in allowed and not s and full:  # a file server that never replied
            return "file"                                                    # (its replies are JSON: rule above)
        return ""
    return None


class Sniffer:
    """The delivery callbacks of one unclaimed connection until its content decides (module doc).

    `decide(service)` is called once with the recognised service ("" for none) and returns the
    (request, response) callbacks that deliveries go to from then on; the kept deliveries are
    replayed into them when they are not the echo check's (which has seen them already)."""

    __slots__ = ("allowed", "decide", "events", "heads", "service", "targets")

    def __init__(self, allowed: Collection[str], echo_targets: tuple[Callable, Callable],
                 decide: Callable[[str], tuple[Callable, Callable]]) -> None:
        self.allowed = allowed
        self.decide = decide
        self.targets = echo_targets  # the echo check's request/answer, fed while undecided
        self.events: Optional[list] = []  # (side, offset, bytes | None, packet | gap length)
        self.heads = (bytearray(), bytearray())
        self.service: Optional[str] = None  # set once decided ("" = none)

    def request(self, off: int, data: Optional[bytes], pkt: object) -> None:
        self.targets[0](off, data, pkt)
        if self.events is not None:
            self._keep(0, off, data, pkt)

    def response(self, off: int, data: Optional[bytes], pkt: object) -> None:
        self.targets[1](off, data, pkt)
        if self.events is not None:
            self._keep(1, off, data, pkt)

    def _keep(self, side: int, off: int, data: Optional[bytes], pkt: object) -> None:
        events = self.events
        events.append((side, off, data, pkt))  # type: ignore[union-attr]
        head = self.heads[side]
        if data is not None and len(head) < PREFIX:
            head += data[:PREFIX - len(head)]
        verdict = recognise(bytes(self.heads[0]), bytes(self.heads[1]), self.allowed,
                            len(events) >= MAX_EVENTS)  # type: ignore[arg-type]
        if verdict is not None:
            self._decided(verdict)

    def _decided(self, service: str) -> None:
        events, self.events = self.events or [], None
        self.heads = (bytearray(), bytearray())
        self.service = service
        echo = self.targets
        self.targets = self.decide(service)
        if self.targets is not echo:
            for side, off, data, pkt in events:
                self.targets[side](off, data, pkt)

    def finish(self) -> None:
        """End of capture: decide on what was kept, if nothing did before."""
        if self.events is not None:
            self._decided(recognise(bytes(self.heads[0]), bytes(self.heads[1]), self.allowed, True) or "")
