"""The file server's protocol (Tugas 3, ETS; the lecturer's progjar4a): requests and JSON replies
read from a reassembled TCP direction as it is delivered, in bounded memory.

Requests are `LIST`, `GET name`, `UPLOAD name <base64>`, `DELETE name`: a command word (any case:
the lecturer's server lower-cases it, the lab's upper-cases it) and arguments split the way
shlex does (the lecturer's server shlex-splits), ended by `\\r\\n\\r\\n` or, when the client sends no
terminator (the lecturer's file_client_cli.py), by the server's next reply (`RequestReader.cut`).
Replies are a JSON object ended by `\\r\\n\\r\\n`; the keys are the lecturer's (`status`, `data`,
`data_namafile`, `data_file`) plus the lab server's `data_size` and `data_sha256`.

Why streaming: an UPLOAD request and a GET reply carry a whole file as base64 (133 MB for a 100 MB
file). The base64 is decoded as it arrives, in 4-character groups, into a running size and
sha256 (`Base64Stream`); everything else is kept only up to small bounds (a request's head, a
string value, LIST's names). Whatever goes wrong inside a message (not JSON, bad base64, a gap in
the capture, a line that never ends) becomes a problem code on that message, never an exception.

Problem codes (Message.problems): no-terminator, unterminated (the stream ended inside a
message), too-long, bad-quoting, unknown-command, missing-name, not-json, json-invalid,
json-incomplete, json-trailing, too-deep, not-object, no-status, bad-status, bad-base64,
size-mismatch, sha-mismatch, names-cut, gap.
"""
from __future__ import annotations

import binascii
import hashlib
from typing import Any, Optional

from reporter.analyses.jsonstream import JsonScanner, Sink, utf8_text

TERMINATOR = b"\r\n\r\n"
HEAD_LIMIT = 4096  # a request's command and names (the lab server's limit too); an UPLOAD's base64 is not head
TEXT_MAX = 200  # printable text kept per message
VALUE_MAX = 1024  # a reply's string value (status, data, data_namafile, data_sha256) kept up to this
NAMES_MAX = 1000  # LIST's names kept
MAX_ARGS = 8
COMMANDS = ("LIST", "GET", "UPLOAD", "DELETE")
_BLANK = b" \t\r\n"
_PRINTABLE = bytes(b if 32 <= b < 127 else 46 for b in range(256))


def printable(data: bytes) -> str:
    """Printable ASCII kept, CR/LF and every other byte shown as '.' (a message text is one line)."""
    return bytes(data).translate(_PRINTABLE).decode("ascii")


def _partial_terminator(buf: bytes) -> int:
    """How many of buf's last bytes could be the start of a terminator cut by a segment boundary."""
    for k in (3, 2, 1):
        if buf.endswith(TERMINATOR[:k]):
            return k
    return 0


class Base64Stream:
    """Decodes base64 given in pieces of any length: size and sha256 of the bytes, never the bytes.

    Whitespace is skipped (base64.encodebytes puts a newline every 76 characters); anything else
    outside the alphabet, padding in the middle or characters left over at the end is an error,
    after which nothing more is decoded (`sha256` is then None: the file is not known)."""

    __slots__ = ("error", "padded", "pending", "sha", "size")

    def __init__(self) -> None:
        self.pending = b""
        self.size = 0
        self.sha = hashlib.sha256()
        self.padded = False
        self.error: Optional[str] = None

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        data = data.translate(None, _BLANK)
        if self.pending:
            data = self.pending + data
        cut = len(data) & ~3
        if not cut:
            self.pending = data
            return
        group, self.pending = data[:cut], data[cut:]
        if self.padded:
            self.error = "data after the '=' padding"
            return
        try:
            raw = binascii.a2b_base64(group, strict_mode=True)
        except binascii.Error as e:
            self.error = str(e) or "not base64"
            return
        self.padded = group.endswith(b"=")
        self.sha.update(raw)
        self.size += len(raw)

    def finish(self) -> None:
        if self.error is None and self.pending:
            self.error = f"{len(self.pending)} character(s) left over"

    @property
    def sha256(self) -> Optional[str]:
        return None if self.error is not None else self.sha.hexdigest()


def split_words(text: str, limit: int) -> tuple[list[str], list[int], bool]:
    """Up to `limit` words as shlex.split (POSIX mode) would cut them, with the index just after
    each word; False when a quote is left open (shlex raises: the lecturer's server then runs no
    command). Bounded by the text, which callers keep short."""
    words: list[str] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n and len(words) < limit:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        word: list[str] = []
        quote = ""
        while i < n:
            ch = text[i]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\" and quote == '"' and i + 1 < n and text[i + 1] in '"\\$`\n':
                    i += 1
                    word.append(text[i])
                else:
                    word.append(ch)
            elif ch in " \t\r\n":
                break
            elif ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < n:
                i += 1
                word.append(text[i])
            else:
                word.append(ch)
            i += 1
        if quote:
            return words, ends, False
        words.append("".join(word))
        ends.append(i)
    return words, ends, True


def _latin(b: bytes) -> str:
    return b.decode("latin-1")


def _name(word: str) -> str:
    """A word of a request (split on latin-1 text, so byte offsets hold) as the UTF-8 name it is."""
    return word.encode("latin-1").decode("utf-8", "replace")[:VALUE_MAX]


class Parsed:
    """One finished request or reply, before the conversation gives it its index and pairing."""

    __slots__ = ("announced_bytes", "announced_sha", "args", "bytes", "command", "data", "dir", "file",
                 "first_frame", "last_frame", "name", "problems", "status", "text", "ts")

    def __init__(self, direction: str) -> None:
        self.dir = direction
        self.first_frame = self.last_frame = 0
        self.ts: Any = 0  # time of the frame that completed it (the caller's clock)
        self.bytes = 0
        self.text = ""
        self.command: Optional[str] = None
        self.args: list[str] = []
        self.status: Optional[str] = None
        self.data: Any = None  # a reply's `data`: LIST's names (bounded) or a short text
        self.name: Optional[str] = None  # the file named: a request's argument, a reply's data_namafile
        self.file: Optional[tuple[Optional[str], int, Optional[str]]] = None  # (name, bytes, sha256) decoded
        self.announced_bytes: Optional[int] = None  # a reply's data_size
        self.announced_sha: Optional[str] = None  # a reply's data_sha256
        self.problems: list[str] = []


class _Framed:
    """What requests and replies share: cutting a direction at CRLF CRLF, frames and bounded text."""

    def __init__(self) -> None:
        self.tail = b""  # held back: maybe the start of a terminator
        self.active = False  # a message has begun (a non-blank byte was taken)
        self._reset()

    def _reset(self) -> None:
        self.active = False
        self.first_frame = self.last_frame = 0
        self.ts: Any = 0
        self.nbytes = 0
        self.text = bytearray()
        self.problems: list[str] = []

    def feed(self, data: bytes, frame: int, ts: Any) -> list[Parsed]:
        """The next delivered bytes of this direction, carried by `frame` at `ts`: the messages they end."""
        out: list[Parsed] = []
        buf = self.tail + data if self.tail else data
        self.tail = b""
        pos = 0
        while pos < len(buf):
            k = buf.find(TERMINATOR, pos)
            if k < 0:
                keep = _partial_terminator(buf)
                end = len(buf) - keep
                if end > pos:
                    self._take(buf[pos:end] if pos or keep else buf, frame, ts)
                self.tail = buf[end:]
                return out
            self._take(buf[pos:k], frame, ts)
            pos = k + len(TERMINATOR)
            if self.active:
                self.nbytes += len(TERMINATOR)
                self.last_frame, self.ts = frame, ts
                out.append(self._end(terminated=True))
        return out

    def gap(self, n: int, frame: int, ts: Any) -> None:
        """n bytes the capture does not hold: the message they fall in cannot be read whole."""
        self.tail = b""
        if not self.active:
            self._begin(frame, ts)
        if "gap" not in self.problems:
            self.problems.append("gap")
        self.nbytes += n
        self._lost()

    def finish(self) -> Optional[Parsed]:
        """The direction ended (FIN, reset or end of capture) inside a message: that message, unterminated."""
        if self.tail:
            tail, self.tail = self.tail, b""
            self._take(tail, self.last_frame, self.ts)
        if not self.active:
            return None
        return self._end(terminated=False)

    def _begin(self, frame: int, ts: Any) -> None:
        self.active = True
        self.first_frame = frame
        self.ts = ts

    def _take(self, piece: bytes, frame: int, ts: Any) -> None:
        if not piece:
            return
        if not self.active:
            piece = piece.lstrip(_BLANK)  # blank bytes between messages belong to none
            if not piece:
                return
            self._begin(frame, ts)
        self.nbytes += len(piece)
        self.last_frame, self.ts = frame, ts
        if len(self.text) < TEXT_MAX:
            self.text += piece[:TEXT_MAX - len(self.text)]
        self._content(piece)

    def _parsed(self, direction: str) -> Parsed:
        p = Parsed(direction)
        p.first_frame, p.last_frame, p.ts, p.bytes = self.first_frame, self.last_frame, self.ts, self.nbytes
        p.text = printable(self.text)
        p.problems = self.problems
        return p

    # filled in by each direction
    def _content(self, piece: bytes) -> None:
        raise NotImplementedError

    def _lost(self) -> None:
        raise NotImplementedError

    def _end(self, terminated: bool) -> Parsed:
        raise NotImplementedError


class RequestReader(_Framed):
    """The client's direction: requests, each a command word and its arguments."""

    def _reset(self) -> None:
        super()._reset()
        self.head = bytearray()
        self.body: Optional[Base64Stream] = None  # an UPLOAD's base64, once its name is known
        self.skipping = False  # the head outgrew HEAD_LIMIT: the rest is counted, not kept

    def cut(self) -> Optional[Parsed]:
        """The server's reply begins: a request sent without terminator ends here (DESIGN.md)."""
        if self.tail:
            tail, self.tail = self.tail, b""
            self._take(tail, self.last_frame, self.ts)
        if not self.active:
            return None
        self.problems.append("no-terminator")
        return self._end(terminated=True)

    def finish(self) -> Optional[Parsed]:
        p = super().finish()
        if p is not None and "unterminated" not in p.problems:
            p.problems.append("unterminated")
        return p

    def _content(self, piece: bytes) -> None:
        if self.body is not None:
            self.body.feed(piece)
            return
        if self.skipping:
            return
        room = HEAD_LIMIT - len(self.head)
        self.head += piece[:room]
        if piece.translate(None, _BLANK) != piece or len(piece) > room:  # a word may have ended
            self._maybe_body()
        if self.body is None and len(piece) > room:
            self.skipping = True
            self.problems.append("too-long")

    def _maybe_body(self) -> None:
        """UPLOAD name <base64>: once the name is complete, the rest is base64 to decode as it comes."""
        head = self.head
        if head[:6].lower() != b"upload" and head.lstrip(_BLANK)[:6].lower() != b"upload":
            return
        words, ends, _ = split_words(_latin(bytes(head)), 2)
        if len(words) == 2 and words[0].lower() == "upload" and ends[1] < len(head):
            self.body = Base64Stream()
            self.body.feed(bytes(head[ends[1]:]))
            del head[ends[1]:]

    def _lost(self) -> None:
        if self.body is not None:
            self.body.error = self.body.error or "gap in the capture"

    def _end(self, terminated: bool) -> Parsed:
        p = self._parsed("request")
        words, _, balanced = split_words(_latin(bytes(self.head)), MAX_ARGS + 1)
        if not balanced:
            p.problems.append("bad-quoting")
            words = _latin(bytes(self.head)).split()[:MAX_ARGS + 1]
        if words:
            p.command = words[0].upper()[:32]
            p.args = [_name(w) for w in words[1:]]
            if p.command not in COMMANDS:
                p.problems.append("unknown-command")
            elif p.command != "LIST":
                if p.args:
                    p.name = p.args[0]
                else:
                    p.problems.append("missing-name")
        body = self.body
        if p.command == "UPLOAD" and body is None and len(words) > 2:  # short: still in the head
            body = Base64Stream()
            body.feed(words[2].encode("latin-1"))
            p.args = p.args[:1]
        if body is not None:
            body.finish()
            if body.error is not None and "gap" not in p.problems:
                p.problems.append("bad-base64")
            p.file = (p.name, body.size, body.sha256)
        self._reset()
        return p


class ReplyReader(_Framed):
    """The server's direction: JSON replies, scanned as they arrive (jsonstream)."""

    def _reset(self) -> None:
        super()._reset()
        self.scanner = JsonScanner(self)
        self.values: dict[str, bytearray] = {}
        self.collect: Optional[bytearray] = None
        self.collect_key = ""
        self.names: Optional[list[str]] = None
        self.names_total = 0
        self.size: Optional[int] = None
        self.b64: Optional[Base64Stream] = None
        self.not_object = False
        self.cut_values = False

    # jsonstream.Handler
    def string_start(self, depth: int, key: Optional[str], in_array: bool) -> Optional[Sink]:
        if depth == 1 and not in_array:
            if key == "data_file":
                self.b64 = Base64Stream()
                return self.b64.feed
            if key in ("status", "data", "data_namafile", "data_sha256"):
                self.collect, self.collect_key = bytearray(), key
                return self._collect
        elif depth == 2 and key == "data" and in_array and self.names is not None:
            self.names_total += 1
            if len(self.names) < NAMES_MAX:
                self.collect, self.collect_key = bytearray(), "\0name"
                return self._collect
        return None

    def _collect(self, piece: bytes) -> None:
        c = self.collect
        if c is not None:
            room = VALUE_MAX - len(c)
            if len(piece) > room:
                self.cut_values = True
            c += piece[:room]

    def string_end(self) -> None:
        c, self.collect = self.collect, None
        if c is None:
            return
        if self.collect_key == "\0name":
            self.names.append(utf8_text(bytes(c)))  # type: ignore[union-attr]
        else:
            self.values[self.collect_key] = c

    def scalar(self, depth: int, key: Optional[str], token: bytes) -> None:
        if depth == 1 and key == "data_size" and token.lstrip(b"-").isdigit():
            self.size = int(token)

    def container(self, depth: int, key: Optional[str], kind: str) -> None:
        if depth == 0 and kind != "object":
            self.not_object = True
        elif depth == 1 and key == "data" and kind == "array":
            self.names, self.names_total = [], 0

    # framing
    def _content(self, piece: bytes) -> None:
        self.scanner.feed(piece)

    def _lost(self) -> None:
        self.scanner.problem = self.scanner.problem or "gap"
        if self.b64 is not None:
            self.b64.error = self.b64.error or "gap in the capture"

    def _end(self, terminated: bool) -> Parsed:
        p = self._parsed("response")
        problem = self.scanner.finish()
        if problem is not None and problem != "gap":
            p.problems.append(problem)
        if not terminated:
            p.problems.append("unterminated")
        if self.not_object:
            p.problems.append("not-object")
        v = {k: utf8_text(bytes(b)) for k, b in self.values.items()}
        p.status = v.get("status")
        if p.status is None:
            if problem is None:
                p.problems.append("no-status")
        elif p.status not in ("OK", "ERROR"):
            p.problems.append("bad-status")
        p.name = v.get("data_namafile")
        p.data = self.names if self.names is not None else v.get("data")
        if self.names is not None and self.names_total > len(self.names):
            p.problems.append("names-cut")
        if self.cut_values:
            p.problems.append("too-long")
        p.announced_bytes, p.announced_sha = self.size, v.get("data_sha256")
        b64 = self.b64
        if b64 is not None:
            if not b64.error:
                b64.finish()
            if b64.error is not None and "gap" not in p.problems:
                p.problems.append("bad-base64")
            p.file = (p.name, b64.size, b64.sha256)
            if self.size is not None and b64.error is None and self.size != b64.size:
                p.problems.append("size-mismatch")
            if p.announced_sha and b64.sha256 and p.announced_sha.lower() != b64.sha256:
                p.problems.append("sha-mismatch")
        self._reset()
        return p
