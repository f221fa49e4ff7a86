"""The plugin's pure logic (offset arithmetic, reassembly, echo matching) run by plain lua5.2 and
lua5.4, outside Wireshark: the same file must work on Wireshark 4.0 (Lua 5.2) and 4.4+ (Lua 5.4),
and these rules decide every label the plugin shows."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, require_tool

PLUGIN = ROOT / "dissector" / "progjar.lua"
LUAS = ("lua5.2", "lua5.4")

# A tiny JSON encoder in Lua, so each test prints one value and Python compares it.
PRELUDE = r"""
PROGJAR_TEST = true
local M = dofile(%s)
local function enc(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v == math.floor(v) then return string.format("%%d", v) end
    return string.format("%%.9g", v)
  end
  if t == "string" then return string.format("%%q", v):gsub("\\\n", "\\n") end
  local n = #v
  if n > 0 or next(v) == nil then
    local parts = {}
    for i = 1, n do parts[i] = enc(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = string.format("%%q", tostring(k)) .. ":" .. enc(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ",") .. "}"
end
function OUT(v) io.write(enc(v), "\n") end
""" % ('"' + str(PLUGIN) + '"')


def run_lua(lua: str, body: str):
    require_tool(lua)
    p = subprocess.run([lua, "-"], input=PRELUDE + body, capture_output=True, text=True, timeout=30, check=False)
    assert p.returncode == 0, f"{lua}: {p.stderr}"
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


@pytest.fixture(params=LUAS)
def lua(request) -> str:
    return request.param


@pytest.mark.parametrize("luac", ("luac5.2", "luac5.4"))
def test_plugin_parses_under_both_lua_versions(luac: str) -> None:
    require_tool(luac)
    p = subprocess.run([luac, "-p", str(PLUGIN)], capture_output=True, text=True, timeout=30, check=False)
    assert p.returncode == 0, p.stderr


def test_plugin_uses_no_lua53_only_syntax() -> None:
    """Wireshark 4.0 runs Lua 5.2: native bit operators and // would not even load there."""
    code = "\n".join(l.split("--", 1)[0] for l in PLUGIN.read_text().splitlines())
    for bad in ("//", " & ", " | ", "<<", ">>", "bit32."):
        assert bad not in code, f"{bad!r} is Lua 5.3+ only (use bit.* / math.floor)"


def test_ports_preference_keeps_written_order_and_expands_ranges(lua: str) -> None:
    out = run_lua(lua, """
OUT(M.parse_ports("10000,32444"))
OUT(M.parse_ports("32444, 10000"))
OUT(M.parse_ports("12345"))
OUT(M.parse_ports("7000-7002,7001,0,70000"))
OUT(M.parse_ports(""))
OUT({M.service_of(1), M.service_of(2), M.service_of(3) or "none"})
""")
    assert out == [[10000, 32444], [32444, 10000], [12345], [7000, 7001, 7002], [], ["echo", "file-echo", "none"]]


def test_offsets_are_relative_to_isn_plus_one_and_unwrap_past_2_32(lua: str) -> None:
    out = run_lua(lua, """
local function label(seq, isn, ref) return M.label_offset(M.stream_offset(seq, isn, ref)) end
OUT(label(1001, 1000, 0))                       -- first byte after the SYN
OUT(label(1047, 1000, 46))
OUT(label(5, 4294967290, 0))                    -- ISN near the top: seq wrapped to small
OUT(label(100, 4294967000, 4294967000))         -- 4 GiB into the stream: keeps growing
OUT(label(4294967295, 4294967000, 4294967200))  -- second lap: 2^32 + 294, not 294
OUT(label(999, 1000, 0))                        -- before the first byte: no negative label
OUT(M.stream_offset(999, 1000, 0))              -- ... but older than the stream, not a new lap
""")
    assert out == [0, 46, 10, 4294967691, 4294967590, 4294967294, -2]


def test_in_order_bytes_are_final_and_a_later_copy_does_not_change_them(lua: str) -> None:
    out = run_lua(lua, """
local d = M.dir_new(true)
OUT(M.dir_add(d, 0, 5, "HELLO", 4, 1.0))
OUT(M.dir_add(d, 0, 5, "JELLO", 7, 2.0))   -- retransmission with other bytes: ignored
OUT(M.dir_add(d, 3, 4, "LOXY", 8, 3.0))    -- overlaps: only [5,7) is new
OUT({d.next, M.dir_bytes(d, 0, 7), M.dir_bytes(d, 4, 3)})
OUT({M.dir_origin(d, 0)})
OUT({M.dir_origin(d, 6)})
OUT(M.dir_bytes(d, 5, 3) or "not yet")
""")
    assert out == [5, 0, 2, [7, "HELLOXY", "OXY"], [4, 1], [8, 3], "not yet"]


def test_out_of_order_first_queued_wins_but_in_order_supersedes(lua: str) -> None:
    out = run_lua(lua, """
local d = M.dir_new(true)
OUT(M.dir_add(d, 4, 4, "efgh", 10, 1.0))   -- queued
OUT(M.dir_add(d, 6, 4, "XYij", 11, 2.0))   -- queued later: loses [6,8) to frame 10
OUT(M.dir_add(d, 0, 5, "abcdE", 12, 3.0))  -- in order: its 'E' supersedes queued 'e'
OUT({d.next, M.dir_bytes(d, 0, 10)})
OUT({M.dir_origin(d, 5)}); OUT({M.dir_origin(d, 8)})
""")
    assert out == [0, 0, 10, [10, "abcdEfghij"], [10, 1], [11, 2]]


def test_echo_matching_compares_bytes_at_the_same_offsets(lua: str) -> None:
    out = run_lua(lua, """
local req = M.dir_new(true)
M.dir_add(req, 0, 46, "INI ADALAH DATA YANG DIKIRIM ABCDEFGHIJKLMNOPQ", 4, 1.0)
OUT(M.echo_matches(req, 0, "INI ADALAH DATA YANG DIKIRIM ABC"))
OUT(M.echo_matches(req, 32, "DEFGHIJKLMNOPQ"))
OUT(M.echo_matches(req, 32, "DEFGHIJKLMNOPX"))   -- one byte differs
OUT(M.echo_matches(req, 40, "KLMNOPQ!"))         -- echoes more than was sent
M.dir_prune(req, 32)
OUT(M.dir_bytes(req, 32, 14))                    -- a chunk ending after 32 is kept
""")
    assert out == [True, True, False, False, "DEFGHIJKLMNOPQ"]


def test_preview_and_time_split(lua: str) -> None:
    out = run_lua(lua, """
OUT(M.preview("INI ADALAH DATA", 11))
OUT(M.preview("a\\0b\\r\\n", 64))
OUT({M.split_seconds(4.1)}); OUT({M.split_seconds(0.0009999999999)}); OUT({M.split_seconds(-1)})
""")
    assert out == ["INI ADALAH ...", "a.b..", [4, 100000000], [0, 1000000], [0, 0]]
