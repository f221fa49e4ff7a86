"""An incremental JSON scanner for replies that may be hundreds of megabytes long.

Why not json.loads: the file server's GET reply carries the whole file as one base64 JSON string
(133 MB of text for a 100 MB file), split over tens of thousands of TCP segments. The report only
needs a few small values (status, names, sizes) and the decoded file's size and sha256, so the
reply is scanned as it arrives and every string is handed to a sink the caller picks for it: the
base64 decoder for `data_file`, a bounded collector for names, nothing for the rest. Memory is a
few small buffers whatever the reply's size; a reply that is not JSON, nests too deeply or has
absurdly long tokens stops the scan with a problem code (never an exception).

Escapes are decoded (`\\/` -> `/`, `\\u002f` -> `/`, surrogate pairs stay as two code points in
the sink's UTF-8 with 'surrogatepass'; `utf8_text()` joins them), and any token may be cut at any
byte between two feed() calls: the scanner carries the unfinished token (at most MAX_TOKEN bytes)
into the next call. Strings themselves are never carried: their content goes to the sink at once.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Protocol

MAX_DEPTH = 32  # deeper nesting is no file-server reply: the scan stops ("too-deep")
MAX_TOKEN = 64  # a number, literal or escape longer than this stops the scan ("too-long")
MAX_KEY = 64  # top-level keys kept up to this many bytes (longer ones are none of the protocol's)

_WS = re.compile(rb"[ \t\r\n]*")
_CONTROL = bytes(range(32))
# Set by reporter.analyses.fastpath when its compiled module is there: whether bytes hold a control
# character (< 0x20), 16 bytes at a time instead of a translated copy
HAS_CONTROL: Optional[Callable[[bytes], bool]] = None
_NUM_RUN = re.compile(rb"[-+0-9.eE]*")
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_WORD_RUN = re.compile(rb"[a-z]*")
_HEX4 = re.compile(rb"[0-9a-fA-F]{4}")
_ESCAPES = {0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x62: b"\b", 0x66: b"\f", 0x6E: b"\n", 0x72: b"\r", 0x74: b"\t"}

# what the scanner expects next (outside strings)
VALUE, VALUE_OR_END, KEY, KEY_OR_END, COLON, COMMA_OR_END, DONE = range(7)

Sink = Callable[[bytes], None]


class Handler(Protocol):
    """What a caller learns while a value is scanned (depth 1 = inside the top-level container)."""

    def string_start(self, depth: int, key: Optional[str], in_array: bool) -> Optional[Sink]: ...

    def string_end(self) -> None: ...

    def scalar(self, depth: int, key: Optional[str], token: bytes) -> None: ...

    def container(self, depth: int, key: Optional[str], kind: str) -> None: ...


class JsonScanner:
    """Scans one JSON value fed in pieces; `problem` says why it stopped early (None: fine so far)."""

    __slots__ = ("carry", "complete", "expect", "handler", "in_key", "in_string", "key", "keybuf", "problem",
                 "sink", "stack", "started")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.stack: list[int] = []  # open containers: ord('{') or ord('[')
        self.expect = VALUE
        self.in_string = False
        self.in_key = False
        self.sink: Optional[Sink] = None
        self.keybuf: Optional[bytearray] = None  # a top-level key being read (None: deeper or too long)
        self.key: Optional[str] = None  # the top-level key whose value is being read
        self.carry = b""  # an unfinished token from the previous piece
        self.problem: Optional[str] = None
        self.complete = False  # the top-level value is closed
        self.started = False  # a first non-blank byte was seen

    def feed(self, data: bytes) -> None:
        if self.problem is not None or not data:
            return
        if self.carry:
            data = self.carry + data
            self.carry = b""
        i, n = 0, len(data)
        while i < n:
            if self.in_string:
                # the next quote or backslash by memchr (a 100 MB file's base64 is one string: a regex
                # over it costs four times as much); a raw control character before it is no JSON
                q, b = data.find(b'"', i), data.find(b"\\", i)
                j = n if q < 0 and b < 0 else q if b < 0 else b if q < 0 else min(q, b)
                if j > i:
                    piece = data[i:j] if i or j < n else data
                    if (HAS_CONTROL(piece) if HAS_CONTROL is not None
                            else len(piece.translate(None, _CONTROL)) != len(piece)):
                        return self._fail("json-invalid")
                    self._text(piece)
                    i = j
                    if i == n:
                        return
                c = data[i]
                if c == 0x22:
                    i += 1
                    self._string_done()
                elif c == 0x5C:
                    i = self._escape(data, i, n)
                    if i < 0:
                        return
                else:
                    return self._fail("json-invalid")  # a raw control character inside a string
                continue
            i = _WS.match(data, i).end()  # type: ignore[union-attr]
            if i == n:
                return
            c = data[i]
            expect = self.expect
            if not self.started:
                self.started = True
                if c not in b'{["-0123456789tfn':
                    return self._fail("not-json")
            if expect == VALUE or expect == VALUE_OR_END:
                if c == 0x5D and expect == VALUE_OR_END:
                    i += 1
                    self._close()
                elif c == 0x7B or c == 0x5B:
                    if len(self.stack) >= MAX_DEPTH:
                        return self._fail("too-deep")
                    self.handler.container(len(self.stack), self.key, "object" if c == 0x7B else "array")
                    self.stack.append(c)
                    self.expect = KEY_OR_END if c == 0x7B else VALUE_OR_END
                    i += 1
                elif c == 0x22:
                    i += 1
                    self.in_string, self.in_key = True, False
                    depth = len(self.stack)
                    self.sink = self.handler.string_start(depth, self.key, bool(self.stack) and
                                                          self.stack[-1] == 0x5B)
                else:
                    i = self._scalar(data, i, n, c)
                    if i < 0:
                        return
            elif expect == KEY or expect == KEY_OR_END:
                if c == 0x7D and expect == KEY_OR_END:
                    i += 1
                    self._close()
                elif c == 0x22:
                    i += 1
                    self.in_string, self.in_key = True, True
                    self.sink = None
                    self.keybuf = bytearray() if len(self.stack) == 1 else None
                else:
                    return self._fail("json-invalid")
            elif expect == COLON:
                if c != 0x3A:
                    return self._fail("json-invalid")
                i += 1
                self.expect = VALUE
            elif expect == COMMA_OR_END:
                top = self.stack[-1]
                if c == 0x2C:
                    i += 1
                    self.expect = KEY if top == 0x7B else VALUE
                elif (c == 0x7D and top == 0x7B) or (c == 0x5D and top == 0x5B):
                    i += 1
                    self._close()
                else:
                    return self._fail("json-invalid")
            else:  # DONE: something follows the complete value
                return self._fail("json-trailing")

    def finish(self) -> Optional[str]:
        """The value's bytes are all given: the problem, if any ("json-incomplete" when it is cut)."""
        if self.problem is None and self.carry and not self.in_string:
            self.feed(b" ")  # a number or literal at the very end: a blank completes it
        if self.problem is None and not self.complete:
            self.problem = "empty" if not self.started else "json-incomplete"
        return self.problem

    # -- pieces ------------------------------------------------------------------------------

    def _text(self, piece: bytes) -> None:
        if self.in_key:
            kb = self.keybuf
            if kb is not None:
                if len(kb) + len(piece) > MAX_KEY:
                    self.keybuf = None
                else:
                    kb += piece
        elif self.sink is not None:
            self.sink(piece)

    def _escape(self, data: bytes, i: int, n: int) -> int:
        """Decode the escape at data[i] ('\\'); the index after it, or -1 (carried or failed)."""
        if i + 1 >= n:
            self.carry = data[i:]
            return -1
        e = data[i + 1]
        if e == 0x75:  # \uXXXX
            if i + 6 > n:
                self.carry = data[i:]
                return -1
            if not _HEX4.fullmatch(data, i + 2, i + 6):
                self._fail("json-invalid")
                return -1
            self._text(chr(int(data[i + 2:i + 6], 16)).encode("utf-8", "surrogatepass"))
            return i + 6
        out = _ESCAPES.get(e)
        if out is None:
            self._fail("json-invalid")
            return -1
        self._text(out)
        return i + 2

    def _scalar(self, data: bytes, i: int, n: int, c: int) -> int:
        """A number or true/false/null starting at data[i]; the index after it, or -1."""
        run = _NUM_RUN if c == 0x2D or 0x30 <= c <= 0x39 else _WORD_RUN if c in (0x74, 0x66, 0x6E) else None
        if run is None:
            self._fail("json-invalid")
            return -1
        j = run.match(data, i).end()  # type: ignore[union-attr]
        if j - i > MAX_TOKEN:
            self._fail("too-long")
            return -1
        if j == n:  # the token may go on in the next piece
            self.carry = data[i:]
            return -1
        token = data[i:j]
        if run is _NUM_RUN:
            if not _NUMBER.fullmatch(token):
                self._fail("json-invalid")
                return -1
        elif token not in (b"true", b"false", b"null"):
            self._fail("json-invalid")
            return -1
        self.handler.scalar(len(self.stack), self.key, token)
        self._value_done()
        return j

    def _string_done(self) -> None:
        self.in_string = False
        if self.in_key:
            if len(self.stack) == 1:  # a top-level key: the handler is told it with each value
                kb = self.keybuf
                self.key = None if kb is None else kb.decode("utf-8", "replace")
            self.keybuf = None
            self.expect = COLON
            return
        self.sink = None
        self.handler.string_end()
        self._value_done()

    def _close(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.key = None
        self._value_done()

    def _value_done(self) -> None:
        if not self.stack:
            self.expect = DONE
            self.complete = True
        else:
            self.expect = COMMA_OR_END

    def _fail(self, code: str) -> None:
        if code == "json-invalid" and not self.stack and not self.complete:
            code = "not-json"  # not even a first value: the reply is no JSON at all
        self.problem = code
        self.carry = b""
        self.sink = None


def utf8_text(raw: bytes) -> str:
    """Text from a string sink's bytes: UTF-8 with escaped surrogate pairs joined, bad bytes replaced."""
    try:
        text = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
