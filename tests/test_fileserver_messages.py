"""The file server's messages (reporter.analyses.messages.fileserver): requests and JSON replies read
from the delivered streams however they are cut, the base64 file decoded while streaming in bounded
memory, and every malformed input said as a problem code, never an exception."""
from __future__ import annotations

import base64
import hashlib
import json
import random
import tracemalloc
from types import SimpleNamespace

import pytest

from reporter.analyses.echo import EchoCheck
from reporter.analyses.messages import open_stream
from reporter.analyses.messages.fileserver import Base64Stream, split_words
from reporter.analyses.messages.jsonstream import MAX_DEPTH, JsonScanner

CRLF2 = b"\r\n\r\n"


def converse(chunks, finish: bool = True):
    """Feed (side, bytes) deliveries (0 client, 1 server) to a file connection's message stream;
    each delivery is its own frame, 1 ms apart. Returns the report's messages."""
    s = open_stream("file", "json", EchoCheck())
    for i, (side, data) in enumerate(chunks):
        pkt = SimpleNamespace(no=i + 1, ts=1_000_000 * (i + 1))
        if data is None:  # a gap of n bytes
            (s.request if side == 0 else s.response)(0, None, i)
        else:
            (s.request if side == 0 else s.response)(0, data, pkt)
    if finish:
        s.finish()
    return s.messages(0)


def reply(**fields) -> bytes:
    return json.dumps(fields).encode() + CRLF2


def get_reply(content: bytes, name: str = "donalbebek.jpg", size: int | None = None) -> bytes:
    return reply(status="OK", data_namafile=name, data_size=len(content) if size is None else size,
                 data_file=base64.b64encode(content).decode())


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def key(msgs):
    """What a message says, without where it was cut (frames, times)."""
    return [(m.index, m.dir, m.bytes, m.command, m.args, m.status, m.in_reply_to, m.file, m.data, m.announced,
             m.problems) for m in msgs]


CONTENT = bytes(range(256)) + b"donal bebek " * 10  # every byte value, and a length not a multiple of 3


# --- requests ---------------------------------------------------------------------------------------


def test_commands_any_case_names_split_like_shlex():
    msgs = converse([(0, b"list\r\n\r\n"), (1, reply(status="OK", data=["a.txt", "b c.txt"])),
                     (0, b"Get 'b c.txt'\r\n\r\n"), (1, get_reply(b"x", "b c.txt")),
                     (0, b'delete "say \\"hi\\".txt"\r\n\r\n'), (1, reply(status="OK", data="deleted"))])
    req = [m for m in msgs if m.dir == "request"]
    assert [(m.command, m.args) for m in req] == [("LIST", []), ("GET", ["b c.txt"]), ("DELETE", ['say "hi".txt'])]
    assert msgs[1].data == ["a.txt", "b c.txt"] and msgs[1].in_reply_to == 0
    assert all(not m.problems for m in msgs)


@pytest.mark.parametrize("line, problem", [
    (b"GET 'unbalanced\r\n\r\n", "bad-quoting"),
    (b"HELLO there\r\n\r\n", "unknown-command"),
    (b"GET\r\n\r\n", "missing-name"),
])
def test_malformed_requests_are_said(line, problem):
    (m, r) = converse([(0, line), (1, reply(status="ERROR", data="request tidak dikenali"))])
    assert problem in m.problems and r.in_reply_to == m.index and r.status == "ERROR"


def test_upload_base64_decoded_at_every_split():
    req = b"UPLOAD laporan.txt " + base64.b64encode(CONTENT) + CRLF2
    want = None
    for k in range(len(req) + 1):
        msgs = converse([(0, req[:k]), (0, req[k:]), (1, reply(status="OK", data="ok"))])
        m = msgs[0]
        assert (m.command, m.args, m.file.name, m.file.bytes, m.file.sha256) == \
            ("UPLOAD", ["laporan.txt"], "laporan.txt", len(CONTENT), sha(CONTENT)), k
        assert m.bytes == len(req) and not m.problems
        want = want or key(msgs)
        assert key(msgs) == want


def test_upload_one_byte_per_segment_like_telnet():
    req = b"upload  tugas.txt\t" + base64.b64encode(CONTENT) + CRLF2
    msgs = converse([(0, req[i:i + 1]) for i in range(len(req))] + [(1, reply(status="OK", data="ok"))])
    assert msgs[0].command == "UPLOAD" and msgs[0].file.sha256 == sha(CONTENT)
    assert msgs[0].first_frame == 1 and msgs[0].last_frame == len(req)


def test_upload_with_newlines_in_base64_and_bad_base64():
    good = base64.encodebytes(CONTENT)  # a newline every 76 characters
    (m, _) = converse([(0, b"UPLOAD a.bin " + good + CRLF2), (1, reply(status="OK"))])
    assert m.file.sha256 == sha(CONTENT) and not m.problems
    (m, _) = converse([(0, b"UPLOAD a.bin QUJD*REVG" + CRLF2), (1, reply(status="ERROR"))])
    assert "bad-base64" in m.problems and m.file.sha256 is None
    (m, _) = converse([(0, b"UPLOAD a.bin QUI=QUJD" + CRLF2), (1, reply(status="ERROR"))])
    assert "bad-base64" in m.problems  # data after the padding
    (m, _) = converse([(0, b"UPLOAD a.bin QUJDRA" + CRLF2), (1, reply(status="ERROR"))])
    assert "bad-base64" in m.problems and m.file.bytes == 3  # two characters left over


def test_request_without_terminator_ends_at_the_reply_and_recv32_replies_are_extra():
    """The lecturer's client sends no terminator; the lecturer's server answers every 32-byte chunk."""
    body = base64.b64encode(b"x" * 300)
    req = b"UPLOAD pesan.txt " + body
    replies = [(1, reply(status="ERROR", data="request tidak dikenali")) for _ in range(14)]
    msgs = converse([(0, req)] + replies)
    m = msgs[0]
    assert (m.command, m.file.bytes, m.file.sha256, m.bytes) == ("UPLOAD", 300, sha(b"x" * 300), len(req))
    assert "no-terminator" in m.problems and "several-responses" in m.problems
    assert [r.in_reply_to for r in msgs[1:]] == [0] * 14
    assert ["extra-response" in r.problems for r in msgs[1:]] == [False] + [True] * 13


# --- replies ----------------------------------------------------------------------------------------


def test_reply_split_at_every_position_and_every_pair_of_positions():
    rep = get_reply(CONTENT[:61], "a.txt")  # a short file: every pair of cuts is cheap
    whole = key(converse([(0, b"GET a.txt\r\n\r\n"), (1, rep)]))
    assert whole[1][5:10] == ("OK", 0, whole[1][7], whole[1][8], whole[1][9])
    for i in range(len(rep) + 1):
        for j in range(i, len(rep) + 1):
            got = key(converse([(0, b"GET a.txt\r\n\r\n"), (1, rep[:i]), (1, rep[i:j]), (1, rep[j:])]))
            assert got == whole, (i, j)


def test_get_reply_file_size_hash_and_announced():
    rep = get_reply(CONTENT)
    for k in range(len(rep) + 1):  # every cut: inside a base64 quad, inside the CRLF CRLF, ...
        (_, r) = converse([(0, b"GET donalbebek.jpg\r\n\r\n"), (1, rep[:k]), (1, rep[k:])])
        assert (r.status, r.file.name, r.file.bytes, r.file.sha256) == ("OK", "donalbebek.jpg", len(CONTENT), sha(CONTENT))
        assert r.announced.bytes == len(CONTENT) and r.bytes == len(rep) and not r.problems, k


def test_json_escapes_in_names_and_in_base64():
    b64 = base64.b64encode(CONTENT).decode()
    escaped = b64.replace("/", "\\/").replace("+", "\\u002b").replace("=", "\\u003D")
    raw = ('{"status": "OK", "data_namafile": "caf\\u00e9 \\ud83d\\ude00.txt", "data_file": "' + escaped + '"}')
    data = raw.encode() + CRLF2
    for k in range(0, len(data) + 1, 7):
        (_, r) = converse([(0, b"GET x\r\n\r\n"), (1, data[:k]), (1, data[k:])])
        assert r.file.name == "café \U0001F600.txt" and r.file.sha256 == sha(CONTENT), k
    (_, r) = converse([(0, b"LIST\r\n\r\n"), (1, b'{"status": "OK", "data": ["a\\/b", "\\u0041\\n"]}\r\n\r\n')])
    assert r.data == ["a/b", "A\n"]


@pytest.mark.parametrize("data, problem", [
    (b"hello, not json" + CRLF2, "not-json"),
    (b"ERROR" + CRLF2, "not-json"),
    (b'{"status": "OK", "data": [1, 2,]}' + CRLF2, "json-invalid"),
    (b'{"status": "OK", "data": "a\x01b"}' + CRLF2, "json-invalid"),
    (b'{"status": "OK", "data": "abc' + CRLF2, "json-incomplete"),
    (b'{"status": "OK"} {"status": "OK"}' + CRLF2, "json-trailing"),
    (b"[" * 10000 + CRLF2, "too-deep"),
    (b'{"status": "OK", "data_size": ' + b"9" * 100 + b"}" + CRLF2, "too-long"),
    (b'["OK"]' + CRLF2, "not-object"),
    (b'{"data": "no status"}' + CRLF2, "no-status"),
    (b'{"status": "MAYBE"}' + CRLF2, "bad-status"),
    (b'{"status": "OK", "data_file": "QUJD!"}' + CRLF2, "bad-base64"),
    (b'{"status": "OK", "data_file": "QUJDRA"}' + CRLF2, "bad-base64"),
    (b'{"status": "OK", "data_size": 4, "data_file": "QUJD"}' + CRLF2, "size-mismatch"),
    (b'{"status": "OK", "data_size": 3, "data_sha256": "' + b"0" * 64 + b'", "data_file": "QUJD"}' + CRLF2,
     "sha-mismatch"),
    (CRLF2, "empty"),
])
def test_bad_replies_are_problems_not_crashes(data, problem):
    for cut in {0, 1, len(data) // 2, len(data) - 2, len(data)}:
        msgs = converse([(0, b"GET a\r\n\r\n"), (1, data[:cut]), (1, data[cut:])])
        (r,) = [m for m in msgs if m.dir == "response"]
        assert problem in r.problems, (cut, r.problems)


def test_reply_that_never_ends_and_a_gap():
    rep = get_reply(CONTENT)
    (_, r) = converse([(0, b"GET a\r\n\r\n"), (1, rep[:300])])
    assert {"no-terminator", "json-incomplete"} <= set(r.problems) and r.file.sha256 is None
    (_, r) = converse([(0, b"GET a\r\n\r\n"), (1, rep[:100]), (1, None), (1, rep[120:])])
    assert "bytes-not-captured" in r.problems and r.file.sha256 is None and r.status == "OK"


def test_huge_other_values_are_bounded_and_lists_cut():
    names = [f"f{i:05d}.txt" for i in range(3000)]
    (_, r) = converse([(0, b"LIST\r\n\r\n"), (1, reply(status="OK", data=names))])
    assert r.data == names[:1000] and "names-cut" in r.problems
    (_, r) = converse([(0, b"LIST\r\n\r\n"), (1, reply(status="ERROR", data="x" * 5_000_000, other={"a": ["y" * 10]}))])
    assert r.status == "ERROR" and len(r.data) <= 200 and "too-long" in r.problems and len(r.text) <= 200


def test_garbage_never_raises():
    rng = random.Random(14)
    alphabet = b'{}[]":,\\ u0123456789abcdeftrunlsOKERROR\r\n\x00\xff'
    for _ in range(300):
        junk = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
        parts, pos = [], 0
        while pos < len(junk):
            n = rng.randrange(1, 40)
            parts.append((rng.randrange(2), junk[pos:pos + n]))
            pos += n
        msgs = converse(parts)
        assert all(m.bytes >= 0 and isinstance(m.problems, list) for m in msgs)


# --- the building blocks ------------------------------------------------------------------------------


def test_base64_stream_matches_b64decode_for_random_cuts():
    rng = random.Random(3)
    for n in range(0, 200, 7):
        data = rng.randbytes(n)
        text = base64.b64encode(data)
        b = Base64Stream()
        pos = 0
        while pos < len(text):
            step = rng.randrange(1, 9)
            b.feed(text[pos:pos + step])
            pos += step
        b.finish()
        assert (b.size, b.sha256) == (n, sha(data))


def test_split_words_like_shlex():
    import shlex
    for text in ["get a.txt", "  UPLOAD   'a b'  xyz ", 'x "a\\"b" c\\ d', "a'b'c", ""]:
        words, ends, ok = split_words(text, 10)
        assert ok and words == shlex.split(text)
        assert all(text[e:e + 1] in ("", " ") for e in ends)
    assert split_words("GET 'a", 5)[2] is False


class _Keys:
    def __init__(self):
        self.seen = {}
        self.cur = None

    def string_start(self, depth, key, in_array):
        if depth == 1 and not in_array:
            self.cur = key
            self.seen[key] = b""
            return lambda piece: self.seen.__setitem__(key, self.seen[key] + piece)
        return None

    def string_end(self):
        pass

    def scalar(self, depth, key, token):
        if depth == 1:
            self.seen[key] = json.loads(token)

    def container(self, depth, key, kind):
        pass


def test_json_scanner_agrees_with_json_loads_at_every_cut():
    doc = {"status": "OK", "data": "tab\there \u00e9 \U0001F600 \"q\" \\ /", "n": -12.5e3, "t": True, "z": None,
           "deep": [{"a": [1, [2, {"b": "c"}]]}], "data_size": 12345}
    text = json.dumps(doc).encode()
    for k in range(len(text) + 1):
        h = _Keys()
        s = JsonScanner(h)
        s.feed(text[:k])
        s.feed(text[k:])
        assert s.finish() is None and s.complete
        from reporter.analyses.messages.jsonstream import utf8_text
        assert utf8_text(h.seen["data"]) == doc["data"] and h.seen["n"] == doc["n"] and h.seen["t"] is True
    h = _Keys()
    s = JsonScanner(h)
    s.feed(b"[" * (MAX_DEPTH + 1))
    assert s.finish() == "too-deep"


# --- memory -------------------------------------------------------------------------------------------


def _stream_of(n: int, piece: int = 1 << 16):
    """n deterministic file bytes in pieces (never all of them at once) and their base64, 3-aligned."""
    rng = random.Random(n)
    block = rng.randbytes(3 * 21845)  # 65,535 bytes: pieces encode without padding
    left = n
    while left:
        chunk = block[:min(left, len(block))]
        left -= len(chunk)
        yield chunk


def test_a_64_mib_download_and_upload_stay_in_bounded_memory():
    n = 64 << 20
    digest = hashlib.sha256()
    for chunk in _stream_of(n):
        digest.update(chunk)
    s = open_stream("file", "json", EchoCheck())
    tracemalloc.start()
    try:
        pkt = SimpleNamespace(no=1, ts=1)
        s.request(0, b"GET big.bin\r\n\r\n", pkt)
        s.response(0, b'{"status": "OK", "data_namafile": "big.bin", "data_size": %d, "data_file": "' % n, pkt)
        for i, chunk in enumerate(_stream_of(n)):
            s.response(0, base64.b64encode(chunk), SimpleNamespace(no=i + 2, ts=i + 2))
        s.response(0, b'"}' + CRLF2, SimpleNamespace(no=10**6, ts=10**6))
        s.request(0, b"UPLOAD big.bin ", pkt)
        for i, chunk in enumerate(_stream_of(n)):
            s.request(0, base64.b64encode(chunk), SimpleNamespace(no=i + 2, ts=i + 2))
        s.request(0, CRLF2, pkt)
        s.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msgs = s.messages(0)
    assert (msgs[1].file.bytes, msgs[1].file.sha256) == (n, digest.hexdigest())
    assert (msgs[2].file.bytes, msgs[2].file.sha256) == (n, digest.hexdigest())
    assert msgs[1].bytes > 4 * n // 3
    assert peak < 2 << 20, f"peak {peak:,} bytes while 2 x {n:,} bytes of base64 streamed"


def test_names_kept_per_connection_are_bounded():
    names = [f"f{i:04d}" for i in range(900)]
    chunks = []
    for _ in range(8):
        chunks += [(0, b"LIST\r\n\r\n"), (1, reply(status="OK", data=names))]
    msgs = [m for m in converse(chunks) if m.dir == "response"]
    kept = [len(m.data) for m in msgs]
    assert sum(kept) == 5000 and kept[:5] == [900] * 5 and kept[5] == 500 and kept[6:] == [0, 0]
    assert ["names-cut" in m.problems for m in msgs] == [False] * 5 + [True] * 3
