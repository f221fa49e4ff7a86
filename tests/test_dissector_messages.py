"""The plugin on the time server (Tugas 2) and the file server (Tugas 3, ETS) in real tshark: every
message is labelled on the frame that completes it (progjar.msg.*), in one pass, in `tshark -2` and
when frames are re-dissected in any order; the Info column reads like the lab; the expert infos
name what went wrong. Captures are crafted here (tests/craft.py), each pinning one way a message can
be cut, answered or not answered; the expected labels come from their construction.

The frame-note contract (CONTRACTS.md, "Message layer"): the reporter's `--frames` notes give per
frame `msg`, `command`, `status`; the plugin's fields carry the same values on the same frames.
test_message_frames_agree_with_the_report checks that once the reporter has the message layer.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, tshark
from tests.wireshark import Wireshark
from tests.craft import TcpFlow, write_pcap
from tests.test_dissector_logic import LUAS, run_lua

PLUGIN = ROOT / "dissector" / "progjar.lua"
LUA = ["-X", f"lua_script:{PLUGIN}"]
MSG_FIELDS = ["progjar.msg.index", "progjar.msg.command", "progjar.msg.status", "progjar.msg.reply_to",
              "progjar.msg.file", "progjar.msg.file_len"]
FIELDS = ["frame.number", "progjar.service", "progjar.role", "progjar.client", "progjar.stream", "progjar.offset",
          "progjar.len", *MSG_FIELDS, "_ws.expert.message", "_ws.lua.error", "tcp.analysis.retransmission",
          "tcp.analysis.out_of_order", "_ws.col.Protocol", "_ws.col.Info"]
TIME_PORT, FILE_PORT = 45000, 6666


# ---------------------------------------------------------------------------------------------
# crafted captures: the frames each message completes on are noted while the capture is built


@dataclass
class Cap:
    """A crafted capture: its flows (played one after the other) and what must be labelled.

    notes: frame -> (indexes, commands, statuses) of the messages that frame completes, the same
    triple the reporter's frame notes give (msg, command, status)."""

    flows: list[TcpFlow] = field(default_factory=list)
    notes: dict[int, tuple[list[int], list[str], list[str]]] = field(default_factory=dict)
    extra: tuple = ()  # tshark options the capture needs (a moved port)
    report_args: tuple = ()  # the same for `progjar report`

    def flow(self, sport: int, **kw) -> TcpFlow:
        t = max((f.t for f in self.flows), default=1.0) + 1.0
        f = TcpFlow(sport=sport, cport=40000 + len(self.flows), t=t, **kw).handshake()
        self.flows.append(f)
        return f

    def frame(self) -> int:
        """The number of the frame just emitted (flows are played in order, never interleaved)."""
        return sum(len(f.packets) for f in self.flows)

    def note(self, idx: list[int], cmds: list[str] = (), sts: list[str] = ()) -> int:
        n = self.frame()
        self.notes[n] = (list(idx), list(cmds), list(sts))
        return n

    def write(self, path: Path) -> Path:
        recs = [r for f in self.flows for r in f.recs()]
        return write_pcap(path, recs)


def reply(status: str, **kw) -> bytes:
    """A file-server reply as the lecturer's server writes it (json.dumps, then CRLF CRLF)."""
    return json.dumps({"status": status, **kw}).encode() + b"\r\n\r\n"


def raw_file(n: int, seed: int = 7) -> bytes:
    return bytes((i * 31 + seed) % 256 for i in range(n))


def get_reply(name: str, size: int) -> bytes:
    return reply("OK", data_namafile=name, data_file=base64.b64encode(raw_file(size)).decode())


UPLOAD = b"UPLOAD kucing.jpg " + base64.b64encode(raw_file(12000)) + b"\r\n\r\n"


def build(d: Path) -> dict[str, tuple[Path, Cap]]:
    caps: dict[str, Cap] = {}

    # --- time server -------------------------------------------------------------------------
    c = caps["time_lines"] = Cap()
    f = c.flow(TIME_PORT)
    f.data("c", 0, b"TIME\r\n"); c.note([0], ["TIME"])
    f.data("s", 0, b"JAM 14:03:07\r\n"); c.note([1], [], ["14:03:07"])
    f.ack("c")
    f.data("c", 6, b"QUIT\r\n"); c.note([2], ["QUIT"])
    f.fin("s").fin("c").ack("s")

    c = caps["time_telnet"] = Cap()  # telnet in character mode: one byte per segment, each ACKed
    f = c.flow(TIME_PORT)
    for i, b in enumerate(b"TIME\r\n"):
        f.data("c", i, bytes([b])).ack("s")
    c.notes[c.frame() - 1] = ([0], ["TIME"], [])
    f.data("s", 0, b"JAM 09:00:01\r\n"); c.note([1], [], ["09:00:01"])
    for i, b in enumerate(b"QUIT\r\n"):
        f.data("c", 6 + i, bytes([b])).ack("s")
    c.notes[c.frame() - 1] = ([2], ["QUIT"], [])
    f.fin("s").fin("c").ack("s")

    c = caps["time_retransmission"] = Cap()  # the line's end comes only in a retransmission
    f = c.flow(TIME_PORT)
    f.data("c", 0, b"TI").data("c", 2, b"ME\r")
    f.data("c", 2, b"ME\r\n", dt=0.3); c.note([0], ["TIME"])
    f.data("s", 0, b"JAM 14:03:07\r\n"); c.note([1], [], ["14:03:07"])
    f.close()

    c = caps["time_early_reply"] = Cap()  # a server that answers each recv(): ERROR to "TI"
    f = c.flow(TIME_PORT)
    f.data("c", 0, b"TI")
    f.data("s", 0, b"ERROR\r\n"); c.note([0], [], ["ERROR"])
    f.data("c", 2, b"ME\r\n"); c.note([1], ["TIME"])
    f.data("s", 7, b"JAM 14:03:07\r\n"); c.note([2], [], ["14:03:07"])
    f.close()

    c = caps["time_quit_then_data"] = Cap()  # QUIT and a request after it in one segment
    f = c.flow(TIME_PORT)
    f.data("c", 0, b"QUIT\r\nTIME\r\n"); c.note([0, 1], ["QUIT", "TIME"])
    f.fin("s").fin("c").ack("s")

    c = caps["time_lecturer"] = Cap(extra=("-o", f"progjar.time_ports:{TIME_PORT},51000"),
                                    report_args=("--port", "time=51000"))
    f = c.flow(51000)  # the lecturer's time server, on its own port
    f.data("c", 0, b"TIME\r\n"); c.note([0], ["TIME"])
    f.data("s", 0, b"JAM 30-11-2025 14:03:07\r\n"); c.note([1], [], ["30-11-2025 14:03:07"])
    f.data("c", 6, b"HELLO\r\n"); c.note([2], ["HELLO"])
    f.data("s", 25, b"ERROR\r\n"); c.note([3], [], ["ERROR"])
    f.close()

    c = caps["time_bad_reply"] = Cap()
    f = c.flow(TIME_PORT)
    f.data("c", 0, b"TIME\r\n"); c.note([0], ["TIME"])
    f.data("s", 0, b"It is 14:03\r\n"); c.note([1])  # no status: not JAM, not ERROR
    f.data("c", 6, b"TIME\n"); c.note([2], ["TIME"])  # a bare LF ends a line too
    f.data("s", 13, b"JAM 25:00:00\r\n"); c.note([3], [], ["25:00:00"])
    f.close()

    # --- file server -------------------------------------------------------------------------
    c = caps["file_list"] = Cap()
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"LIST\r\n\r\n"); c.note([0], ["LIST"])
    r1 = reply("OK", data=["donalbebek.jpg", "kucing.jpg"])
    f.data("s", 0, r1); c.note([1], [], ["OK"])
    f.data("c", 8, b"list")  # the lecturer's client, lower case: no terminator, the reply ends the request
    f.data("s", len(r1), r1); c.note([2, 3], ["LIST"], ["OK"])
    f.close()

    c = caps["file_get_split"] = Cap()  # the reply's CRLF CRLF cut at every position
    for k in (0, 1, 2, 3, 4, 5):
        f = c.flow(FILE_PORT)
        f.data("c", 0, b"GET donalbebek.jpg")
        r = get_reply("donalbebek.jpg", 300)
        if k == 0:
            f.data("s", 0, r); c.note([0, 1], ["GET"], ["OK"])
        else:
            f.data("s", 0, r[:-k]); c.note([0], ["GET"])
            f.data("s", len(r) - k, r[-k:]); c.note([1], [], ["OK"])
        f.close()

    c = caps["file_base64_segments"] = Cap()  # base64, its padding and its closing quote cut across segments
    f = c.flow(FILE_PORT)
    off_c = off_s = 0
    for k, size in enumerate((5002, 5003, 5004)):  # padding "==", "=", none
        req = b"GET foto%d.jpg\r\n\r\n" % size
        f.data("c", off_c, req); c.note([2 * k], ["GET"])
        off_c += len(req)
        r = get_reply("foto%d.jpg" % size, size)
        end_b64 = r.index(b'"}')
        cuts = sorted({1448, 2896, end_b64 - 1, end_b64, end_b64 + 1, len(r) - 2})
        pieces = [r[a:b] for a, b in zip([0, *cuts], [*cuts, len(r)])]
        pos = 0
        for p in pieces[:-1]:
            f.data("s", off_s + pos, p)
            pos += len(p)
        f.data("s", off_s + pos, pieces[-1]); c.note([2 * k + 1], [], ["OK"])
        off_s += len(r)
    f.close()

    c = caps["file_upload"] = Cap()
    f = c.flow(FILE_PORT)
    for i in range(0, len(UPLOAD), 1448):
        f.data("c", i, UPLOAD[i:i + 1448])
    c.note([0], ["UPLOAD"])
    f.data("s", 0, reply("OK", data="kucing.jpg disimpan")); c.note([1], [], ["OK"])
    f.close()
    f = c.flow(FILE_PORT)  # the lecturer's client: no terminator
    f.data("c", 0, b"UPLOAD catatan.txt " + base64.b64encode(raw_file(100)))
    f.data("s", 0, reply("OK", data="catatan.txt disimpan")); c.note([0, 1], ["UPLOAD"], ["OK"])
    f.close()

    c = caps["file_delete"] = Cap()
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"DELETE kucing.jpg\r\n\r\n"); c.note([0], ["DELETE"])
    r1 = reply("OK", data="kucing.jpg dihapus")
    f.data("s", 0, r1); c.note([1], [], ["OK"])
    f.data("c", 21, b"GET kucing.jpg\r\n\r\n"); c.note([2], ["GET"])
    f.data("s", len(r1), reply("ERROR", data="file tidak ditemukan")); c.note([3], [], ["ERROR"])
    f.close()

    c = caps["file_recv32"] = Cap()  # the lecturer's recv(32) loop: every 32-byte chunk is a command
    f = c.flow(FILE_PORT)
    req = b"UPLOAD kucing.jpg " + base64.b64encode(raw_file(306))[:403]
    assert len(req) == 421
    f.data("c", 0, req)
    err = reply("ERROR", data="request tidak dikenali")
    n_replies = (len(req) + 31) // 32
    off = 0
    f.data("s", off, err); c.note([0, 1], ["UPLOAD"], ["ERROR"])
    off += len(err)
    i = 2
    while i <= n_replies:
        if i == 7:  # two replies in one segment
            f.data("s", off, err + err); c.note([i, i + 1], [], ["ERROR", "ERROR"])
            off += 2 * len(err)
            i += 2
        else:
            f.data("s", off, err); c.note([i], [], ["ERROR"])
            off += len(err)
            i += 1
    f.close()

    c = caps["file_not_json"] = Cap()
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"LIST\r\n\r\n"); c.note([0], ["LIST"])
    t1 = b"ERROR: perintah tidak dikenal\r\n\r\n"
    f.data("s", 0, t1); c.note([1])
    f.data("c", 8, b"LIST\r\n\r\n"); c.note([2], ["LIST"])
    f.data("s", len(t1), b"{'status': 'OK', 'data': []}\r\n\r\n"); c.note([3])
    f.close()

    c = caps["file_truncated"] = Cap()  # the server closes in the middle of its reply
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"GET donalbebek.jpg\r\n\r\n"); c.note([0], ["GET"])
    f.data("s", 0, get_reply("donalbebek.jpg", 3000)[:2000])
    f.fin("s").fin("c").ack("s")

    c = caps["file_out_of_order"] = Cap()  # the reply's middle arrives last: it completes the reply
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"LIST\r\n\r\n"); c.note([0], ["LIST"])
    r = reply("OK", data=["a.txt", "b.txt", "c.txt"])
    f.data("s", 0, r[:10]).data("s", 20, r[20:]).data("s", 10, r[10:20]); c.note([1], [], ["OK"])
    f.ack("c").close()

    c = caps["file_lost_segment"] = Cap()  # the capture missed a reply segment; the client ACKs past it
    f = c.flow(FILE_PORT)
    f.data("c", 0, b"GET donalbebek.jpg\r\n\r\n"); c.note([0], ["GET"])
    r = get_reply("donalbebek.jpg", 3000)
    f.data("s", 0, r[:1000]).data("s", 2000, r[2000:])
    f.ack("c"); c.note([1], [], ["OK"])
    f.close()

    out = {}
    for name, cap in caps.items():
        out[name] = (cap.write(d / f"{name}.pcap"), cap)
    return out


NAMES = ["time_lines", "time_telnet", "time_retransmission", "time_early_reply", "time_quit_then_data",
         "time_lecturer", "time_bad_reply", "file_list", "file_get_split", "file_base64_segments", "file_upload",
         "file_delete", "file_recv32", "file_not_json", "file_truncated", "file_out_of_order", "file_lost_segment"]


@pytest.fixture(scope="module")
def caps(tmp_path_factory) -> dict[str, tuple[Path, Cap]]:
    return build(tmp_path_factory.mktemp("messages"))


# ---------------------------------------------------------------------------------------------
# running tshark: -T json keeps every occurrence of a repeated field, and empty strings


_cache: dict[tuple, dict[int, dict[str, list[str]]]] = {}


def frames(path: Path, ws: Wireshark, extra: tuple = (), two_pass: bool = False) -> dict[int, dict[str, list[str]]]:
    """frame number -> {field: [values]} for FIELDS (absent fields left out)."""
    key = (ws.id, str(path), str(ws.home), extra, two_pass)
    if key not in _cache:
        args = (["-2"] if two_pass else []) + ["-r", str(path), *LUA, *extra, "-T", "json"]
        for f in FIELDS:
            args += ["-e", f]
        out = tshark(args, ws).stdout
        names = {f.lower(): f for f in FIELDS}  # Wireshark 4.6 writes _ws.col.info for _ws.col.Info
        rows = {}
        for pkt in json.loads(out):
            layers = pkt["_source"]["layers"]
            rows[int(layers["frame.number"][0])] = {names.get(k.lower(), k): v for k, v in layers.items()
                                                    if k != "frame.number"}
        errors = {n: r["_ws.lua.error"] for n, r in rows.items() if "_ws.lua.error" in r}
        assert errors == {}, f"Lua errors in {path.name}: {errors}"
        _cache[key] = rows
    return _cache[key]


def notes(rows: dict[int, dict[str, list[str]]]) -> dict[int, tuple[list[int], list[str], list[str]]]:
    """The plugin's (msg, command, status) per frame that completes a message."""
    return {n: ([int(x) for x in r["progjar.msg.index"]], r.get("progjar.msg.command", []),
                r.get("progjar.msg.status", []))
            for n, r in rows.items() if "progjar.msg.index" in r}


def one(rows, n: int, key: str) -> str | None:
    v = rows[n].get(key)
    return v[0] if v else None


def experts(rows, n: int) -> list[str]:
    return rows[n].get("_ws.expert.message", [])


def summary_lines(path: Path, ws: Wireshark) -> dict[int, str]:
    """tshark's summary lines by frame number. The Info a post-dissector appends (to a frame TCP did
    not hand on) shows here and in the GUI; Wireshark 4.4+ fills `-T fields` columns before it."""
    out = tshark(["-r", str(path), *LUA], ws).stdout
    return {int(line.split()[0]): line for line in out.splitlines() if line.strip()}


def filtered(path: Path, ws: Wireshark, dfilter: str, extra: tuple = ()) -> list[int]:
    """Frames of the summary lines matching a filter: the invisible-tree path (packet list, colouring)."""
    out = tshark(["-r", str(path), *LUA, *extra, "-Y", dfilter], ws).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# every capture: loads, labels each message on its completing frame, one pass == two passes


@pytest.mark.parametrize("name", NAMES)
def test_messages_are_labelled_on_the_frames_that_complete_them(caps, ws, name) -> None:
    path, cap = caps[name]
    rows = frames(path, ws, cap.extra)
    assert notes(rows) == cap.notes
    # every payload frame of the connection is labelled (request or response), except the ones
    # TCP itself does not hand on (retransmissions, out-of-order segments)
    for n, r in rows.items():
        if "progjar.role" in r:
            assert r["progjar.role"][0] in ("request", "response")
            assert r["progjar.service"] == ["time" if name.startswith("time") else "file"]
            assert r["_ws.col.Protocol"] == ["PROGJAR"]


@pytest.mark.parametrize("name", NAMES)
def test_two_passes_show_what_one_pass_shows(caps, ws, name) -> None:
    path, cap = caps[name]
    one_pass = frames(path, ws, cap.extra)
    two = frames(path, ws, cap.extra, two_pass=True)
    assert one_pass == two


# ---------------------------------------------------------------------------------------------
# time server


def test_time_lines_info_and_reply_frame(caps, ws) -> None:
    path, _ = caps["time_lines"]
    rows = frames(path, ws)
    assert rows[4]["_ws.col.Info"] == ["Client #1 TIME"]
    assert rows[5]["_ws.col.Info"] == ["JAM 14:03:07 to #1"]
    assert one(rows, 5, "progjar.msg.reply_to") == "4"
    assert rows[7]["_ws.col.Info"] == ["Client #1 QUIT"]
    # QUIT needs no answer: the server's FIN raises no warning
    assert not any("never answered" in m for r in rows.values() for m in r.get("_ws.expert.message", []))
    assert [one(rows, n, "progjar.role") for n in (4, 5, 7)] == ["request", "response", "request"]


def test_telnet_bytes_are_labelled_one_by_one_and_the_line_on_its_last_byte(caps, ws) -> None:
    path, cap = caps["time_telnet"]
    rows = frames(path, ws)
    reqs = [n for n, r in rows.items() if r.get("progjar.role") == ["request"]]
    assert [one(rows, n, "progjar.offset") for n in reqs] == [str(i) for i in range(12)]
    assert rows[reqs[0]]["_ws.col.Info"] == ['Client #1 request [0,1) "T"']
    assert rows[reqs[5]]["_ws.col.Info"] == ["Client #1 TIME"]
    assert sorted(cap.notes) == [reqs[5], reqs[5] + 2, reqs[11]]


def test_a_line_ended_by_a_retransmission_is_labelled_on_that_frame(caps, ws) -> None:
    path, _ = caps["time_retransmission"]
    rows = frames(path, ws)
    assert rows[6].get("tcp.analysis.retransmission") is not None, "the crafted segment must be a retransmission"
    assert one(rows, 6, "progjar.msg.index") == "0" and one(rows, 6, "progjar.msg.command") == "TIME"
    assert one(rows, 7, "progjar.msg.reply_to") == "6"
    assert filtered(path, ws, "progjar.msg.command == \"TIME\"") == [6]
    line = summary_lines(path, ws)[6]
    assert "[TCP Retransmission]" in line and line.endswith(" [Client #1 TIME]"), line


def test_reply_before_the_request_is_complete(caps, ws) -> None:
    path, _ = caps["time_early_reply"]
    rows = frames(path, ws)
    assert any("before client #1's request was complete (2 bytes" in m for m in experts(rows, 5)), experts(rows, 5)
    assert one(rows, 5, "progjar.msg.reply_to") is None
    assert one(rows, 7, "progjar.msg.reply_to") == "6"  # the JAM answers the TIME completed in frame 6
    assert filtered(path, ws, "progjar.expert.early_reply") == [5]


def test_data_after_quit_is_never_answered(caps, ws) -> None:
    path, _ = caps["time_quit_then_data"]
    rows = frames(path, ws)
    assert rows[4]["_ws.col.Info"] == ["Client #1 QUIT; TIME"]
    warned = [n for n, r in rows.items() if any("never answered" in m for m in r.get("_ws.expert.message", []))]
    assert warned == [5]  # the server's FIN
    assert any("1 request never answered (first: TIME, frame 4, sent after QUIT)" in m for m in experts(rows, 5))
    assert filtered(path, ws, "progjar.expert.unanswered") == [5]


def test_lecturers_time_format_on_a_moved_port(caps, ws) -> None:
    path, cap = caps["time_lecturer"]
    rows = frames(path, ws, cap.extra)
    assert rows[5]["_ws.col.Info"] == ["JAM 30-11-2025 14:03:07 to #1"]
    assert any("lecturer's format" in m for m in experts(rows, 5))
    assert any("Server answered ERROR to HELLO (frame 6)" in m for m in experts(rows, 7))
    assert not any("format" in m for m in experts(rows, 7))  # ERROR to an unknown command is no bad format
    # without the preference the port is not ours
    assert notes(frames(path, ws)) == {}


def test_bad_time_replies(caps, ws) -> None:
    path, _ = caps["time_bad_reply"]
    rows = frames(path, ws)
    assert any('Reply "It is 14:03" is not JAM hh:mm:ss' in m for m in experts(rows, 5))
    assert any('"JAM 25:00:00" is not JAM hh:mm:ss' in m for m in experts(rows, 7))
    assert filtered(path, ws, "progjar.expert.bad_reply") == [5, 7]


# ---------------------------------------------------------------------------------------------
# file server


def test_list_with_and_without_terminator(caps, ws) -> None:
    path, _ = caps["file_list"]
    rows = frames(path, ws)
    assert rows[4]["_ws.col.Info"] == ["Client #1 LIST"]
    assert rows[5]["_ws.col.Info"] == ["LIST -> OK"]
    assert one(rows, 5, "progjar.msg.reply_to") == "4"
    # the second LIST had no CRLF CRLF: the reply's first frame completes it, then the reply
    assert rows[7]["_ws.col.Info"] == ["Client #1 LIST; LIST -> OK"]
    assert one(rows, 7, "progjar.msg.reply_to") == "7"
    assert one(rows, 7, "progjar.role") == "response"


def test_get_reply_split_at_every_position_of_its_terminator(caps, ws) -> None:
    path, cap = caps["file_get_split"]
    rows = frames(path, ws)
    replies = [n for n, (idx, cmds, sts) in cap.notes.items() if sts]
    assert len(replies) == 6
    for n in replies:
        assert one(rows, n, "progjar.msg.file") == "donalbebek.jpg"
        assert one(rows, n, "progjar.msg.file_len") == "300"
        assert rows[n]["_ws.col.Info"][0].endswith("GET donalbebek.jpg -> OK (300 bytes)")
    # the segment before the last says it is part of a reply
    first = min(n for n, (idx, cmds, sts) in cap.notes.items() if cmds and not sts)
    assert rows[first]["_ws.col.Info"][0].startswith("Client #2 GET donalbebek.jpg; Reply to #2 [0,")


def test_base64_length_across_segment_boundaries(caps, ws) -> None:
    path, cap = caps["file_base64_segments"]
    rows = frames(path, ws)
    got = [(one(rows, n, "progjar.msg.file"), one(rows, n, "progjar.msg.file_len"))
           for n, (idx, cmds, sts) in sorted(cap.notes.items()) if sts]
    assert got == [("foto5002.jpg", "5002"), ("foto5003.jpg", "5003"), ("foto5004.jpg", "5004")]
    last = max(cap.notes)
    assert rows[last]["_ws.col.Info"] == ["GET foto5004.jpg -> OK (5,004 bytes)"]
    middles = [n for n, r in rows.items() if r.get("progjar.role") == ["response"] and n not in cap.notes]
    assert middles and all(r["_ws.col.Info"][0].startswith("Reply to #1 [") and r["_ws.col.Info"][0].endswith(") ...")
                           for n, r in rows.items() if n in middles)


def test_upload_size_with_and_without_terminator(caps, ws) -> None:
    path, cap = caps["file_upload"]
    rows = frames(path, ws)
    up, ok, up2 = sorted(cap.notes)[:3]
    assert rows[up]["_ws.col.Info"] == ["Client #1 UPLOAD kucing.jpg (12,000 bytes)"]
    assert (one(rows, up, "progjar.msg.file"), one(rows, up, "progjar.msg.file_len")) == ("kucing.jpg", "12000")
    assert rows[ok]["_ws.col.Info"] == ["UPLOAD kucing.jpg -> OK"]
    assert rows[up2]["_ws.col.Info"] == ["Client #2 UPLOAD catatan.txt (100 bytes); UPLOAD catatan.txt -> OK"]
    assert rows[up2]["progjar.msg.file_len"] == ["100"]
    middles = [n for n in rows if rows[n].get("progjar.role") == ["request"] and n not in cap.notes]
    # connection 1: every segment but the last; connection 2: its one segment (its reply completes it)
    assert len(middles) == (len(UPLOAD) + 1447) // 1448 - 1 + 1
    assert rows[middles[0]]["_ws.col.Info"] == ['Client #1 request [0,1448) "UPLOAD kuci..."']


def test_delete_then_get_answered_error(caps, ws) -> None:
    path, _ = caps["file_delete"]
    rows = frames(path, ws)
    assert rows[4]["_ws.col.Info"] == ["Client #1 DELETE kucing.jpg"]
    assert rows[5]["_ws.col.Info"] == ["DELETE kucing.jpg -> OK"]
    assert rows[7]["_ws.col.Info"] == ["GET kucing.jpg -> ERROR"]
    assert any("Server answered ERROR to GET kucing.jpg (frame 6)" in m for m in experts(rows, 7))
    assert filtered(path, ws, "progjar.expert.error_reply") == [7]
    assert filtered(path, ws, "progjar.msg.status == \"ERROR\"") == [7]


def test_recv32_bug_one_request_several_replies(caps, ws) -> None:
    path, cap = caps["file_recv32"]
    rows = frames(path, ws)
    first = min(cap.notes)
    assert one(rows, first, "progjar.msg.command") == "UPLOAD"
    several = filtered(path, ws, "progjar.expert.several_replies")
    assert several == sorted(n for n in cap.notes if n != first)
    all_replies = [int(x) for n in sorted(cap.notes) for x in rows[n]["progjar.msg.reply_to"]]
    assert all_replies == [first] * 14  # every reply points at the one request
    msgs = [m for n in several for m in experts(rows, n) if "one request" in m]
    assert msgs[0] == (f"Reply 2 to one request (UPLOAD kucing.jpg, frame {first}): "
                       "each request should get exactly one reply")
    assert len(msgs) == 13
    two = next(n for n, v in cap.notes.items() if len(v[0]) == 2 and not v[1])
    assert rows[two]["_ws.col.Info"] == ["UPLOAD kucing.jpg -> ERROR (reply 7); UPLOAD kucing.jpg -> ERROR (reply 8)"]


def test_reply_that_is_not_json(caps, ws) -> None:
    path, _ = caps["file_not_json"]
    rows = frames(path, ws)
    assert rows[5]["_ws.col.Info"] == ["LIST -> not JSON"]
    assert any('Reply is not JSON: "ERROR: perintah tidak dikenal"' in m for m in experts(rows, 5))
    assert any("Reply is not JSON: \"{'status': 'OK', 'data': []}\"" in m for m in experts(rows, 7))
    assert "progjar.msg.status" not in rows[5]
    assert filtered(path, ws, "progjar.expert.not_json") == [5, 7]


def test_truncated_reply_is_warned_on_the_close(caps, ws) -> None:
    path, _ = caps["file_truncated"]
    rows = frames(path, ws)
    assert rows[5]["_ws.col.Info"] == ["Reply to #1 [0,2000) ..."]
    msg = [m for m in experts(rows, 6) if "never answered" in m]
    assert msg == ["Connection closed with 1 request never answered (first: GET donalbebek.jpg, frame 4) "
                   "and a reply cut off after 2,000 bytes (client #1)"]


def test_out_of_order_segment_completes_the_reply(caps, ws) -> None:
    path, cap = caps["file_out_of_order"]
    rows = frames(path, ws)
    last = max(cap.notes)
    assert rows[last].get("tcp.analysis.out_of_order") is not None or rows[last].get("tcp.analysis.retransmission")
    assert one(rows, last, "progjar.msg.status") == "OK" and one(rows, last, "progjar.msg.reply_to") == "4"


def test_a_segment_missing_from_the_capture_is_skipped_when_the_client_acks_past_it(caps, ws) -> None:
    path, cap = caps["file_lost_segment"]
    rows = frames(path, ws)
    ack = max(cap.notes)
    assert "progjar.role" not in rows[ack], "the completing frame is the client's pure ACK"
    assert one(rows, ack, "progjar.msg.status") == "OK" and one(rows, ack, "progjar.msg.file") == "donalbebek.jpg"
    assert "progjar.msg.file_len" not in rows[ack]  # 1,000 bytes of its base64 were never captured
    end = len(get_reply("donalbebek.jpg", 3000))
    assert rows[ack - 1]["_ws.col.Info"][0].endswith(f"Reply to #1 [2000,{end}) ...")
    assert summary_lines(path, ws)[ack].endswith("[GET donalbebek.jpg -> OK]")


# ---------------------------------------------------------------------------------------------
# the GUI: frames re-dissected in any order show the same messages


def _sharkd(reqs: list[dict], ws: Wireshark, home: Path, plugin: str | None = None) -> dict[int, dict]:
    """Answers of one `sharkd -` of that version (Wireshark's engine behind a GUI) to JSON-RPC
    requests, with the plugin (or the given text of one) installed in a private HOME and proven
    loaded (tests/test_dissector.py's runner, the same for both plugin test files)."""
    from tests.test_dissector import _install_plugin, _sharkd as sharkd_answers

    ws.require("sharkd")
    _install_plugin(home, plugin or PLUGIN.read_text())
    answers, stderr = sharkd_answers(reqs, ws.with_home(home), 300)
    assert "lua" not in stderr.lower(), stderr
    return answers


def _facts(nodes: list, out: dict) -> dict:
    for node in nodes:
        f = node.get("f", "")
        if f.startswith("progjar.") and " == " in f:
            key, _, value = f.partition(" == ")
            out.setdefault(key, []).append(value.strip('"'))
        _facts(node.get("n", []), out)
    return out


@pytest.mark.parametrize("name", ["time_retransmission", "file_recv32", "file_get_split", "file_out_of_order",
                                  "file_lost_segment"])
def test_clicking_frames_in_random_order_shows_the_same_messages(caps, ws, tmp_path, name) -> None:
    import random

    path, cap = caps[name]
    order = sorted(cap.notes) * 2
    random.Random(11).shuffle(order)
    reqs = [{"jsonrpc": "2.0", "id": 1, "method": "load", "params": {"file": str(path)}},
            {"jsonrpc": "2.0", "id": 2, "method": "frames", "params": {"filter": "progjar.msg.index"}}]
    reqs += [{"jsonrpc": "2.0", "id": 100 + i, "method": "frame", "params": {"frame": n, "proto": True}}
             for i, n in enumerate(order)]
    answers = _sharkd(reqs, ws, tmp_path / "sharkd-home")
    assert [f["num"] for f in answers[2]["result"]] == sorted(cap.notes)
    for i, n in enumerate(order):
        facts = _facts(answers[100 + i]["result"]["tree"], {})
        idx, cmds, sts = cap.notes[n]
        got = ([int(x) for x in facts.get("progjar.msg.index", [])], facts.get("progjar.msg.command", []),
               facts.get("progjar.msg.status", []))
        assert got == (idx, cmds, sts), f"frame {n} (visit {i})"


# ---------------------------------------------------------------------------------------------
# the public surface


def test_message_fields_experts_and_port_preferences_are_registered(ws) -> None:
    out = tshark(["-G", "fields", *LUA], ws).stdout
    types = {parts[2]: parts[3] for parts in (l.split("\t") for l in out.splitlines())
             if len(parts) > 4 and parts[0] == "F" and parts[4] == "progjar"}
    assert {k: v for k, v in types.items() if k.startswith("progjar.msg.")} == {
        "progjar.msg.index": "FT_UINT32", "progjar.msg.command": "FT_STRING", "progjar.msg.status": "FT_STRING",
        "progjar.msg.reply_to": "FT_FRAMENUM", "progjar.msg.file": "FT_STRING", "progjar.msg.file_len": "FT_UINT32"}
    for name in ("bad_reply", "not_json", "several_replies", "early_reply", "error_reply", "unanswered"):
        assert types.get(f"progjar.expert.{name}") == "FT_NONE", name
    prefs = tshark(["-G", "defaultprefs", *LUA], ws).stdout
    for line in ("#progjar.ports: 10000,32444", "#progjar.time_ports: 45000", "#progjar.file_ports: 6666"):
        assert line in prefs, line


def test_file_port_6666_is_ours_not_sigcomp(caps, ws) -> None:
    path, _ = caps["file_list"]
    assert filtered(path, ws, "sigcomp") == []
    assert filtered(path, ws, "progjar") == [4, 5, 6, 7]


def test_profile_colours_and_columns_use_fields_that_exist(ws) -> None:
    out = tshark(["-G", "fields", *LUA], ws).stdout
    names = {parts[2] for parts in (l.split("\t") for l in out.splitlines()) if len(parts) > 2}
    prof = ROOT / "dissector" / "profile"
    import re

    used = set(re.findall(r"progjar\.[a-z_.]+[a-z_]", (prof / "colorfilters").read_text() + (prof / "preferences").read_text()))
    used -= {"progjar.ports", "progjar.time_ports", "progjar.file_ports"}
    assert {"progjar.msg.status", "progjar.expert.unanswered", "progjar.role"} <= used
    assert used <= names, used - names


# ---------------------------------------------------------------------------------------------
# agreement with the reporter's frame notes (live once the reporter has the message layer)


def reporter_frames(path: Path, args: tuple = ()) -> dict[int, dict]:
    p = subprocess.run([sys.executable, "-m", "reporter", "report", str(path), *args, "--format", "json", "--frames",
                        "-o", "-"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert p.returncode in (0, 1), p.stderr
    return {int(k): v for k, v in (json.loads(p.stdout).get("frames") or {}).items()}


@pytest.mark.parametrize("name", NAMES)
def test_message_frames_agree_with_the_report(caps, ws, name) -> None:
    """The contract's frame notes: per frame, the indexes, commands and statuses of the messages it
    completes, and the role/client/conn/offset/len labels, equal in the plugin and the report."""
    path, cap = caps[name]
    report = reporter_frames(path, cap.report_args)
    assert report, f"the reporter labels no frame of {path.name}"
    assert any("msg" in f for f in report.values()), f"the reporter's --frames notes of {path.name} have no `msg`"
    rows = frames(path, ws, cap.extra)
    want = {n: (f["msg"], [c for c in f.get("command") or [] if c is not None],
                [s for s in f.get("status") or [] if s is not None])
            for n, f in report.items() if f.get("msg")}
    assert notes(rows) == want
    assert want, "a capture with messages must be compared, not skipped"
    flagged = {n for n, f in report.items() if f.get("tcp_analysis")}
    plugin = {n: (r["progjar.role"][0], r["progjar.client"][0], r["progjar.stream"][0], r["progjar.offset"][0],
                  r["progjar.len"][0]) for n, r in rows.items() if "progjar.role" in r}
    report_labels = {n: (f["role"], str(f["client_no"]), str(f["conn"]), str(f["offset"]), str(f["len"]))
                     for n, f in report.items() if n not in flagged and f["role"] is not None}
    assert plugin == report_labels


# ---------------------------------------------------------------------------------------------
# the pure logic, in plain lua5.2 and lua5.4


@pytest.fixture(params=LUAS)
def lua(request) -> str:
    return request.param


def test_sizes_and_time_formats(lua: str) -> None:
    out = run_lua(lua, """
OUT({M.thousands(0), M.thousands(999), M.thousands(1000), M.thousands(23456), M.thousands(52428800)})
OUT({M.b64_size(8, 2), M.b64_size(8, 1), M.b64_size(8, 0), M.b64_size(6, 0), M.b64_size(0, 0), M.b64_size(1, 2)})
local function tr(s) local k, st = M.time_reply(s); return k .. "/" .. (st or "-") end
OUT({tr("JAM 14:03:07"), tr("JAM 30-11-2025 14:03:07"), tr("ERROR"), tr("ERROR: bad"), tr("JAM 24:00:00"),
     tr(" JAM  14:03:07 "), tr("jam 14:03:07"), tr("JAM"), tr("JAMxyz")})
OUT({M.kind_of("time"), M.kind_of("file"), M.kind_of("echo"), M.kind_of(nil)})
""")
    assert out == [["0", "999", "1,000", "23,456", "52,428,800"], [4, 5, 6, 4, 0, 0],
                   ["jam/14:03:07", "lecturer/30-11-2025 14:03:07", "error/ERROR", "error/ERROR", "bad/24:00:00",
                    "jam/14:03:07", "bad/-", "bad/-", "bad/xyz"], ["line", "json", "echo", "echo"]]


def test_requests_and_json_strings(lua: str) -> None:
    out = run_lua(lua, r"""
OUT({M.parse_request("GET donalbebek.jpg")})
OUT({M.parse_request("  upload a.txt QUJD")})
OUT({M.parse_request("LIST")})
OUT({M.parse_request("")})
OUT({M.parse_request("delete")})
OUT(M.json_unescape("caf\\u00e9 \\\"x\\\" a\\/b\\n"))
""")
    assert out == [["GET", "donalbebek.jpg"], ["upload", "a.txt"], ["LIST"], [], ["delete"], 'café "x" a/b\n']


def test_port_preferences_map_ports_to_services(lua: str) -> None:
    out = run_lua(lua, """
local ports, svc = M.port_map("10000,32444", "45000", "6666,46666")
OUT(ports); OUT({svc[10000], svc[32444], svc[45000], svc[6666], svc[46666]})
ports, svc = M.port_map("10000,32444,9", "10000,51000", "")
OUT(ports); OUT({svc[10000], svc[9], svc[51000]})
""")
    assert out == [[10000, 32444, 45000, 6666, 46666], ["echo", "file-echo", "time", "file", "file"],
                   [10000, 32444, 9, 51000], ["echo", False, "time"]]


# A Lua harness: feed byte strings as frames, print (frame, index, dir, command/status, file, size).
FEED = r"""
local function run(kind, steps)
  local ms = M.msg_new(kind)
  local got = {}
  for i, s in ipairs(steps) do
    ms.frame = i
    M.msg_feed(ms, s[1] == "c", s[2])
    for _, r in ipairs(ms.out or {}) do
      got[#got + 1] = {r.frame, r.index, r.dir, r.command or r.status or (r.not_json and "not JSON") or "-",
                       r.file or "-", r.file_len or -1, r.reply_to or 0}
    end
    ms.out = nil
  end
  return got, ms
end
"""


def test_json_reply_cut_anywhere_gives_the_same_message(lua: str) -> None:
    """Every way of cutting a reply in two (and in three), including inside CRLF CRLF, an escape,
    the padding and the keys: one reply, same status, name and size."""
    b64 = base64.b64encode(raw_file(40)).decode()
    text = ('{"status": "OK", "data": ["x\\"}"], "data_namafile": "a\\u00e9.jpg", "data_file": "%s"}\r\n\r\n' % b64)
    assert json.loads(text[:-4])["data_namafile"] == "a\u00e9.jpg" and b64.endswith("==")
    out = run_lua(lua, FEED + """
local r = %s
local seen = {}
for i = 1, #r - 1 do
  for j = i + 1, #r, 7 do
    local got = run("json", {{"c", "GET x"}, {"s", r:sub(1, i)}, {"s", r:sub(i + 1, j)}, {"s", r:sub(j + 1)}})
    local key = ""
    for _, g in ipairs(got) do key = key .. table.concat({g[2], g[3], g[4], g[5], g[6]}, "/") .. ";" end
    seen[key] = (seen[key] or 0) + 1
  end
end
local keys = {}
for k in pairs(seen) do keys[#keys + 1] = k end
OUT(keys)
""" % json.dumps(text))
    assert out == [["0/request/GET/x/-1;1/response/OK/a\u00e9.jpg/40;"]]


def test_framer_rules(lua: str) -> None:
    out = run_lua(lua, FEED + r"""
-- time: bare LF, a reply before the line is complete, QUIT and what follows
OUT((run("line", {{"c", "TIME\n"}, {"s", "JAM 01:02:03\r\n"}, {"c", "TI"}, {"s", "ERROR\r\n"}, {"c", "ME\r\n"}})))
local _, ms = run("line", {{"c", "QUIT\r\nTIME\r\nTI"}})
local u = M.msg_unanswered(ms)
OUT({u.n, u.first.command, u.first.after_quit, u.partial, u.partial_text, u.cut})
-- file: empty requests; several replies to one; no terminator ends at the reply
OUT((run("json", {{"c", "LIST\r\n\r\n\r\n\r\n"}, {"s", '{"status": "OK"}\r\n\r\n'}, {"c", "\r\n"},
                  {"s", '{"status": "ERROR"}\r\n\r\n{"status": "ERROR"}\r\n\r\n'}, {"s", '{"status": "OK"}\r\n\r\n'}})))
-- UPLOAD: the base64 counted across pieces, the command word split too
OUT((run("json", {{"c", "UPL"}, {"c", "OAD a.txt QU"}, {"c", "JDRA="}, {"c", "=\r\n\r\n"}})))
-- not JSON: text, a Python dict, trailing text, an empty reply, a cut string
OUT((run("json", {{"s", 'ERROR\r\n\r\n'}, {"s", "{'status': 'OK'}\r\n\r\n"}, {"s", '{"status": "OK"} x\r\n\r\n'},
                  {"s", '\r\n\r\n'}, {"s", '{"status": "OK\r\n\r\n'}, {"s", '[1, {"status": "x"}]\r\n\r\n'}})))
""")
    assert out[0] == [[1, 0, "request", "TIME", "-", -1, 0], [2, 1, "response", "01:02:03", "-", -1, 1],
                      [4, 2, "response", "ERROR", "-", -1, 0], [5, 3, "request", "TIME", "-", -1, 0]]
    assert out[1] == [1, "TIME", True, 2, "TI", 0]
    # the empty request after LIST is one (no command); the CR LF before the replies becomes one when
    # the first reply starts; replies pair oldest first, a third one goes to the request answered last
    assert out[2] == [[1, 0, "request", "LIST", "-", -1, 0], [1, 1, "request", "-", "-", -1, 0],
                      [2, 2, "response", "OK", "-", -1, 1], [4, 3, "request", "-", "-", -1, 0],
                      [4, 4, "response", "ERROR", "-", -1, 1], [4, 5, "response", "ERROR", "-", -1, 4],
                      [5, 6, "response", "OK", "-", -1, 4]]
    assert out[3] == [[4, 0, "request", "UPLOAD", "a.txt", 4, 0]]
    assert [g[3] for g in out[4]] == ["not JSON"] * 5 + ["-"]


def test_reassembly_hands_the_framer_bytes_in_stream_order_and_skips_a_hole(lua: str) -> None:
    out = run_lua(lua, r"""
local ms = M.msg_new("line")
local d = M.dir_new(false, ms, true)
ms.frame = 1; M.dir_add(d, 3, 4, "E\r\nQ", 1, 0)        -- out of order: queued
OUT(ms.out or {})
ms.frame = 2; M.dir_add(d, 0, 3, "TIM", 2, 0)           -- fills the hole: the line completes here
OUT({ms.out[1].frame, ms.out[1].command, d.next}); ms.out = nil
-- a hole nobody fills: after 4096 queued segments the framer is told and goes on
local ms2 = M.msg_new("line")
local d2 = M.dir_new(false, ms2, true)
for i = 1, 4097 do ms2.frame = i; M.dir_add(d2, 10 + 6 * (i - 1), 6, "TIME\r\n", i, 0) end
OUT({d2.next, #ms2.out, ms2.out[1].index, ms2.out[1].command or "-", ms2.out[2].command, ms2.req.n})
""")
    assert out[0] == []
    assert out[1] == [2, "TIME", 7]
    # the hole [0,10) is skipped: its line (10 unknown bytes + "TIME\r\n") still ends, naming no
    # command (its beginning is missing), then 4096 more
    assert out[2] == [10 + 6 * 4097, 4097, 0, "-", "TIME", 0]


CUTS = r"""
-- Random conversations of the file server (and time server lines), fed once per send and once cut
-- at random places: the messages must not depend on where TCP cut the bytes.
local function pick(t) return t[math.random(#t)] end
local b64 = {"QUJD", "QUJDRA==", "QUJDREU=", "", "QU\\/K", "QU\\nJD", "QUJD\\u0041"}
local function reply()
  local keys = {}
  local parts = {'"status": "' .. pick({"OK", "ERROR", "ok", "\\u004fK"}) .. '"'}
  if math.random(2) == 1 then parts[#parts + 1] = '"data": ' .. pick({'[]', '["a.txt", "b\\"}.txt"]', '{"x": [1, {"y": "}"}]}',
                                                                        '"teks"', '12', 'null', 'true'}) end
  if math.random(2) == 1 then parts[#parts + 1] = '"data_namafile": "' .. pick({"a.jpg", "caf\\u00e9.jpg", "x y"}) .. '"' end
  if math.random(2) == 1 then parts[#parts + 1] = '"data_file": "' .. pick(b64) .. pick(b64) .. '"' end
  for i = #parts, 2, -1 do local j = math.random(i); parts[i], parts[j] = parts[j], parts[i] end
  local body = "{" .. table.concat(parts, pick({", ", ",", " ,\n "})) .. "}"
  local r = math.random(12)
  if r == 1 then body = "ERROR tidak ada" elseif r == 2 then body = "{'status': 'OK'}" elseif r == 3 then body = body .. " x"
  elseif r == 4 then body = string.sub(body, 1, math.random(#body)) end
  return body .. "\r\n\r\n"
end
local function request(kind)
  if kind == "line" then return pick({"TIME", "QUIT", "", "time", "HELLO x"}) .. pick({"\r\n", "\n"}) end
  local r = pick({"LIST", "GET a.jpg", "DELETE b c", "UPLOAD k.jpg " .. pick(b64) .. pick(b64), "UPLOAD", "  "})
  return r .. pick({"\r\n\r\n", "", "\r\n"})
end
local function messages(kind, sends, cut)
  local ms = M.msg_new(kind)
  local out = {}
  for f, s in ipairs(sends) do
    ms.frame = f
    local data = s[2]
    if cut and #data > 1 then
      local pos = 1
      while pos <= #data do
        local n = math.random(1, math.max(1, math.floor(#data / 3)))
        M.msg_feed(ms, s[1], string.sub(data, pos, pos + n - 1))
        pos = pos + n
      end
    else
      M.msg_feed(ms, s[1], data)
    end
    for _, r in ipairs(ms.out or {}) do
      out[#out + 1] = table.concat({r.frame, r.index, r.dir, r.command or "", r.status or "", r.file or "",
                                    r.file_len or "", tostring(r.not_json), r.nth or "", r.early or ""}, "|")
    end
    ms.out = nil
  end
  local u = M.msg_unanswered(ms)
  if u then out[#out + 1] = table.concat({u.n, u.partial, u.cut}, "|") end
  return table.concat(out, "\n")
end
math.randomseed(13)
local bad, runs = 0, 0
for round = 1, 400 do
  local kind = round % 4 == 0 and "line" or "json"
  local sends = {}
  for k = 1, math.random(1, 6) do
    if math.random(3) > 1 then sends[#sends + 1] = {true, request(kind)} end
    local r = kind == "line" and pick({"JAM 01:02:03\r\n", "ERROR\r\n", "x\n"}) or reply()
    if math.random(4) == 1 then r = r .. (kind == "line" and "ERROR\r\n" or reply()) end
    sends[#sends + 1] = {false, r}
  end
  local whole = messages(kind, sends, false)
  for k = 1, 5 do
    runs = runs + 1
    if messages(kind, sends, true) ~= whole then bad = bad + 1; if bad == 1 then OUT({whole, messages(kind, sends, true)}) end end
  end
end
OUT({runs, bad})
"""


def test_messages_do_not_depend_on_where_segments_are_cut(lua: str) -> None:
    out = run_lua(lua, CUTS)
    assert out[-1] == [2000, 0], out[0]


def test_random_bytes_never_raise(lua: str) -> None:
    out = run_lua(lua, r"""
math.randomseed(5)
local n = 0
for round = 1, 300 do
  for _, kind in ipairs({"line", "json"}) do
    local ms = M.msg_new(kind)
    for k = 1, 20 do
      local t = {}
      for i = 1, math.random(0, 80) do t[i] = string.char(math.random(0, 255)) end
      local s = table.concat(t)
      if math.random(3) == 1 then s = s .. "\r\n\r\n" end
      if math.random(5) == 1 then s = '{"status": "' .. s end
      ms.frame = k
      M.msg_feed(ms, math.random(2) == 1, s)
      if math.random(10) == 1 then M.msg_gap(ms, math.random(2) == 1, math.random(1, 100)) end
      n = n + #(ms.out or {})
      ms.out = nil
    end
    M.msg_unanswered(ms)
  end
end
OUT(n > 100)
""")
    assert out == [True]


# ---------------------------------------------------------------------------------------------
# robustness: damaged message captures (header and payload bytes changed) raise no Lua error


def _mutants(caps: dict, out: Path, n: int, seed: int = 17) -> list[Path]:
    import random

    rng = random.Random(seed)
    files = []
    names = sorted(caps)
    for i in range(n):
        name = rng.choice(names)
        data = bytearray(caps[name][0].read_bytes())
        recs, pos = [], 24
        while pos + 16 <= len(data):
            incl = int.from_bytes(data[pos + 8:pos + 12], "little")
            recs.append((pos + 16, incl))
            pos += 16 + incl
        for _ in range(rng.randint(1, 8)):
            start, incl = rng.choice(recs)
            if incl > 34:
                k = start + rng.randrange(34, incl)  # past Ethernet + IPv4: TCP header and payload
                data[k] = rng.choice([0, 0x0D, 0x0A, 0x22, 0x5C, 0x7B, 0x7D, rng.randrange(256)])
        p = out / f"{i:04d}-{name}.pcap"
        p.write_bytes(bytes(data))
        files.append(p)
    return files


def lua_error_frames(files: list[Path], ws: Wireshark, home: Path,
                     plugin: str | None = None) -> tuple[dict[str, list[int]], int]:
    """Per file, the frames where the plugin raised a Lua error (sharkd, one process); and how many
    frames it labelled in all."""
    reqs = []
    for i, f in enumerate(files):
        # sharkd caches a filter's result by its text across loads: make each one unique
        never = f"frame.number != {4000000000 - i}"
        reqs += [{"jsonrpc": "2.0", "id": 3 * i + 1, "method": "load", "params": {"file": str(f)}},
                 {"jsonrpc": "2.0", "id": 3 * i + 2, "method": "frames", "params": {"filter": f"_ws.lua.error && {never}"}},
                 {"jsonrpc": "2.0", "id": 3 * i + 3, "method": "frames", "params": {"filter": f"progjar && {never}"}}]
    answers = _sharkd(reqs, ws, home, plugin)
    errors = {files[i].name: [fr["num"] for fr in answers[3 * i + 2].get("result", [])]
              for i in range(len(files)) if 3 * i + 2 in answers}
    assert len(errors) >= len(files) * 0.99, "sharkd stopped answering"
    labelled = sum(len(answers[3 * i + 3].get("result", [])) for i in range(len(files)) if 3 * i + 3 in answers)
    return errors, labelled


def test_damaged_message_captures_raise_no_lua_error(caps, ws, tmp_path) -> None:
    errors, labelled = lua_error_frames(_mutants(caps, tmp_path, 300), ws, tmp_path / "home")
    assert {k: v for k, v in errors.items() if v} == {}
    assert labelled > 1000, "the plugin must actually have dissected the mutants"


def test_the_damage_harness_sees_lua_errors(caps, ws, tmp_path) -> None:
    """The test above would be worthless if an error in the message code went unnoticed."""
    text = PLUGIN.read_text()
    broken = text.replace("local function msg_info(c, r, prev)\n",
                          "local function msg_info(c, r, prev)\n    if r.status == 'ERROR' then error('boom') end\n", 1)
    assert broken != text
    path, cap = caps["file_delete"]
    errors, _ = lua_error_frames([path], ws, tmp_path / "home", broken)
    assert errors == {path.name: [max(cap.notes)]}
