"""The file server's messages (Tugas 3, ETS; the lecturer's progjar4a): what a request asks and
what a JSON reply says, with the base64 file decoded while it streams.

Requests: `LIST`, `GET name`, `UPLOAD name <base64>`, `DELETE name`. The command word is
case-insensitive (the lecturer's server lower-cases it, the lab's upper-cases it; the report says
it upper-cased) and the words are split as shlex splits them (the lecturer's server shlex-splits;
an unbalanced quote is "bad-quoting"). Replies: a JSON object with the lecturer's keys (`status`,
`data`, `data_namafile`, `data_file`) and the lab server's `data_size` and `data_sha256`.
Framing (where each ends) is JsonFramer's; this parser only reads what the framer hands it.

Why streaming (chunk()): an UPLOAD request and a GET reply carry a whole file as base64 (133 MB
of text for a 100 MB file). The request's base64 starts after the name and goes through
Base64Stream as it arrives; a reply is scanned by jsonstream.JsonScanner, which routes
`data_file` to a Base64Stream and keeps other values only up to small bounds. So memory per
connection is a few kilobytes whatever the file size, and only the size and sha256 of a file are
known, never its bytes.

Problem codes (Message.problems), besides the framing's: unknown-command, missing-name,
bad-quoting, empty; replies: not-json, json-invalid, json-incomplete, json-trailing, too-deep,
too-long, not-object, no-status, bad-status, names-cut; files: bad-base64, size-mismatch (the
decoded size differs from the data_size the reply announces, or an UPLOAD reply's from the
uploaded bytes), sha-mismatch (likewise for data_sha256).
"""
from __future__ import annotations

import binascii
import hashlib
import re
from typing import TYPE_CHECKING, Any, Callable, Optional

from reporter.analyses.messages.core import HEAD_MAX, Draft, Parser
from reporter.analyses.messages.jsonstream import JsonScanner, Sink, utf8_text
from reporter.model import FileInfo

if TYPE_CHECKING:
    from reporter.analyses.messages.core import MessageStream

COMMANDS = ("LIST", "GET", "UPLOAD", "DELETE")
MAX_ARGS = 8
NAME_MAX = 255  # characters of a file name kept (the longest name a Linux file system allows in bytes)
VALUE_MAX = 1024  # bytes of a reply's string value read (status, data, data_namafile, data_sha256)
DATA_TEXT_MAX = 200  # characters of a reply's `data` text kept in the report
NAMES_MAX = 1000  # LIST names kept per reply
NAMES_PER_CONNECTION = 5000  # ... and per connection (a hostile capture's thousands of LIST replies)
LOST = "bytes-not-captured"  # the framing's problem for a gap (core.MessageStream.lost)
_BLANK = b" \t\r\n"
_SHA256 = re.compile(r"[0-9a-f]{64}")


# Set by reporter.analyses.fastpath when its compiled module is there: Base64Stream.feed's work for
# pieces of nothing but the alphabet and blanks, in one pass (the same result; None otherwise)
B64_FEED: Optional[Callable[[bytes, bytes], Optional[tuple[bytes, bytes]]]] = None
# ... and the decoded file's hasher: hashlib.sha256, or the compiled module's Sha256, the same
# digest computed on a worker thread beside the analysis
SHA256: Callable[[], Any] = hashlib.sha256


class Base64Stream:
    """Decodes base64 given in pieces of any length: the size and sha256 of the bytes, never the bytes.

    Whole 4-character groups are decoded at a time (binascii, strict), the rest waits for the next
    piece. Whitespace is skipped (base64.encodebytes puts a newline every 76 characters);
    anything else outside the alphabet, data after '=' padding, or characters left over at the
    end is an error, after which nothing more is decoded and `sha256` is None."""

    __slots__ = ("error", "padded", "pending", "sha", "size")

    def __init__(self) -> None:
        self.pending = b""
        self.size = 0
        self.sha = SHA256()
        self.padded = False
        self.error: Optional[str] = None

    def feed(self, data: bytes) -> None:
        if self.error is not None:
            return
        if B64_FEED is not None and not self.padded:  # the common case in C (reporter/analyses/fastpath.py)
            done = B64_FEED(self.pending, data)
            if done is not None:
                raw, self.pending = done
                if raw:
                    self.sha.update(raw)
                    self.size += len(raw)
                return
        data = data.translate(None, _BLANK)
        if self.pending:
            data = self.pending + data
        cut = len(data) & ~3
        if not cut:
            self.pending = data
            return
        group, self.pending = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
        if self.padded:
            self.error = "data after the '=' padding"
            return
        try:
            raw = binascii.a2b_base64(group, strict_mode=True)
        except binascii.Error as e:
            self.error = str(e) or "not base64"
            return
        self.padded = group[-1] == 0x3D
        self.sha.update(raw)
        self.size += len(raw)

    def finish(self) -> None:
        if self.error is None and self.pending:
            self.error = f"{len(self.pending)} character(s) left over"

    @property
    def sha256(self) -> Optional[str]:
        return None if self.error is not None else self.sha.hexdigest()


def split_words(text: str, limit: int) -> tuple[list[str], list[int], bool]:
    """Up to `limit` words as shlex.split (POSIX) cuts them, with the index just after each word;
    False when a quote is left open (shlex raises and the lecturer's server runs no command)."""
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


def _name(word: str) -> str:
    """A request word (split on Latin-1 text, one character per byte) as the UTF-8 name it is."""
    return word.encode("latin-1").decode("utf-8", "replace")[:NAME_MAX]


class _Request:
    """One request while it streams: finds where an UPLOAD's base64 starts and decodes it."""

    __slots__ = ("body", "draft", "looking", "seen")

    def __init__(self, d: Draft) -> None:
        self.draft = d
        self.body: Optional[Base64Stream] = None
        self.looking = True  # may still become an UPLOAD whose name is not complete yet
        self.seen = 0  # captured bytes given so far

    def feed(self, d: Draft, data: bytes) -> None:
        self.seen += len(data)
        body = self.body
        if body is not None:
            body.feed(data)
            return
        if not self.looking:
            return
        head = d.head or bytearray()
        start = head.lstrip(_BLANK)[:6]
        if len(start) == 6 and start.lower() != b"upload":
            self.looking = False
            return
        if data.translate(None, _BLANK) == data and len(head) < HEAD_MAX:
            return  # no word has ended in this piece
        words, ends, _ = split_words(head.decode("latin-1"), 2)
        if len(words) == 2 and words[0].lower() == "upload" and ends[1] < len(head):
            body = self.body = Base64Stream()
            body.feed(bytes(head[ends[1]:]))
            beyond = self.seen - len(head)  # captured bytes past the kept head: the end of this piece
            if beyond > 0:
                body.feed(data[-beyond:])
        elif len(head) >= HEAD_MAX:
            self.looking = False


class _Reply:
    """One reply while it streams: the JSON scanner's handler (jsonstream.Handler)."""

    __slots__ = ("b64", "b64_open", "collect", "collect_key", "cut", "draft", "names", "names_total", "not_object", "scanner",
                 "size", "tail", "values")

    def __init__(self, d: Draft) -> None:
        self.draft = d
        self.scanner = JsonScanner(self)
        self.values: dict[str, bytearray] = {}
        self.collect: Optional[bytearray] = None
        self.collect_key = ""
        self.names: Optional[list[str]] = None
        self.names_total = 0
        self.size: Optional[int] = None
        self.b64: Optional[Base64Stream] = None
        self.b64_open = False  # data_file's string has begun and not ended yet
        self.not_object = False
        self.cut = False  # a value was longer than VALUE_MAX
        self.tail = b""  # trailing CR/LF bytes held back: maybe the terminator, which is no JSON

    def feed(self, d: Draft, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        n = k = len(data)
        while k and n - k < 4 and data[k - 1] in (10, 13):
            k -= 1
        self.tail = data[k:] if k < n else b""
        if k:
            self.scanner.feed(data[:k] if k < n else data)

    def end(self, terminator: int) -> None:
        """The message is complete: what was held back goes to the scanner, except the terminator."""
        rest = self.tail[:max(0, len(self.tail) - terminator)]
        self.tail = b""
        if rest:
            self.scanner.feed(rest)

    def string_start(self, depth: int, key: Optional[str], in_array: bool) -> Optional[Sink]:
        if depth == 1 and not in_array:
            if key == "data_file":
                self.b64 = Base64Stream()
                self.b64_open = True
                return self.b64.feed
            if key in ("status", "data", "data_namafile", "data_sha256"):
                self.collect, self.collect_key = bytearray(), key
                return self._collect
        elif depth == 2 and key == "data" and in_array and self.names is not None:
            self.names_total += 1
            if len(self.names) < NAMES_MAX:
                self.collect, self.collect_key = bytearray(), ""
                return self._collect
        return None

    def _collect(self, piece: bytes) -> None:
        c = self.collect
        if c is not None:
            room = VALUE_MAX - len(c)
            if len(piece) > room:
                self.cut = True
            c += piece[:room]

    def string_end(self) -> None:
        self.b64_open = False
        c, self.collect = self.collect, None
        if c is None:
            return
        if not self.collect_key:
            self.names.append(utf8_text(bytes(c))[:NAME_MAX])  # type: ignore[union-attr]
        else:
            self.values[self.collect_key] = c

    def scalar(self, depth: int, key: Optional[str], token: bytes) -> None:
        if depth == 1 and key == "data_size" and token.isdigit():
            self.size = int(token)

    def container(self, depth: int, key: Optional[str], kind: str) -> None:
        if depth == 0 and kind != "object":
            self.not_object = True
        elif depth == 1 and key == "data" and kind == "array":
            self.names, self.names_total = [], 0


class FileParser(Parser):
    """Tugas 3's and the ETS's protocol (module docstring). One per connection: the state of the
    message in progress on each side lives here, keyed by its draft."""

    def __init__(self) -> None:
        self.cur: list[Any] = [None, None]  # _Request / _Reply of the draft in progress on each side
        self.names_left = NAMES_PER_CONNECTION

    def _state(self, d: Draft) -> Any:
        st = self.cur[d.side]
        if st is None or st.draft is not d:
            st = self.cur[d.side] = (_Request if d.side == 0 else _Reply)(d)
        return st

    def chunk(self, d: Draft, data: bytes) -> None:
        st = self._state(d)
        if d.problems and LOST in d.problems:  # a gap: the rest of this message cannot be read in step
            _lost(st)
            return
        st.feed(d, data)

    def request(self, d: Draft, ts: int) -> None:
        st: _Request = self._state(d)
        self.cur[0] = None
        if LOST in d.problems:
            _lost(st)
        if st.body is None and d.bytes > HEAD_MAX:
            d.problem("too-long")  # only an UPLOAD's base64 may be this long; the head kept is cut
        line = d.line()  # an UPLOAD's: its command, name and the start of its base64
        words, _, balanced = split_words(line, 2 if st.body is not None else MAX_ARGS + 1)
        if not balanced:
            d.problem("bad-quoting")
            words = line.split()[:MAX_ARGS + 1]
        if not words:
            d.problem("empty")
            return
        d.command = words[0].upper()[:32]
        d.args = [_name(w) for w in words[1:]]
        if d.command not in COMMANDS:
            d.problem("unknown-command")
            return
        if d.command != "LIST" and not d.args:
            d.problem("missing-name")
        if d.command != "UPLOAD":
            return
        body = st.body
        if body is None and len(d.args) > 1:  # a short UPLOAD whose base64 never met a blank: still whole
            body = Base64Stream()
            body.feed(words[2].encode("latin-1"))
        d.args = d.args[:1]
        if body is not None:
            body.finish()
            if body.error is not None and LOST not in d.problems:
                d.problem("bad-base64")
            d.file = FileInfo(d.args[0] if d.args else None, body.size, body.sha256)

    def response(self, d: Draft, ts: int) -> None:
        st: _Reply = self._state(d)
        self.cur[1] = None
        if LOST in d.problems:
            _lost(st)
        st.end(d.terminator)
        problem = st.scanner.finish()
        if problem is not None and problem != LOST:
            d.problem(problem)
        if st.not_object:
            d.problem("not-object")
        v = {k: utf8_text(bytes(b)) for k, b in st.values.items()}
        status = v.get("status")
        if status is None:
            if problem is None:
                d.problem("no-status")
        else:
            d.status = status[:32]
            if status not in ("OK", "ERROR"):
                d.problem("bad-status")
        if st.cut:
            d.problem("too-long")
        name = v["data_namafile"][:NAME_MAX] if "data_namafile" in v else None
        if st.names is not None:
            keep = min(len(st.names), self.names_left)
            self.names_left -= keep
            d.data = st.names[:keep]
            if st.names_total > keep:
                d.problem("names-cut")
        elif "data" in v:
            d.data = v["data"][:DATA_TEXT_MAX]
        sha = v.get("data_sha256", "").lower()
        if st.size is not None:
            d.announced = FileInfo(name, st.size, sha if _SHA256.fullmatch(sha) else None)
        b64 = st.b64
        if b64 is not None:
            cut = st.b64_open  # the reply ends inside data_file: said by json-incomplete, not as bad base64
            if cut and b64.error is None:
                b64.error = "the reply ends inside data_file"
            if b64.error is None:
                b64.finish()
            if b64.error is not None and LOST not in d.problems and not cut:
                d.problem("bad-base64")
            d.file = FileInfo(name, b64.size, b64.sha256)
            _compare(d, d.file, d.announced)
        elif name is not None and d.announced is None:
            d.args = [name]  # a DELETE's (or a short reply's) data_namafile: the file it is about

    def pair(self, stream: "MessageStream", resp: Draft) -> Optional[Draft]:
        req = super().pair(stream, resp)
        if req is not None and req.command == "UPLOAD" and req.file is not None and resp.status == "OK":
            _compare(resp, req.file, resp.announced)  # what the server says it stored vs what was sent
        return req


def _lost(st: Any) -> None:
    """A gap inside the message: its file cannot be decoded in step any more, its JSON not scanned."""
    if isinstance(st, _Request):
        st.looking = False
        if st.body is not None and st.body.error is None:
            st.body.error = "bytes missing from the capture"
    else:
        if st.scanner.problem is None:
            st.scanner.problem = LOST
        if st.b64 is not None and st.b64.error is None:
            st.b64.error = "bytes missing from the capture"


def _compare(d: Draft, got: Optional[FileInfo], said: Optional[FileInfo]) -> None:
    """size-mismatch / sha-mismatch when a file's decoded bytes differ from what the reply announces."""
    if got is None or said is None or got.sha256 is None:
        return
    if got.bytes != said.bytes:
        d.problem("size-mismatch")
    if said.sha256 is not None and said.sha256 != got.sha256:
        d.problem("sha-mismatch")
