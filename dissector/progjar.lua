-- progjar.lua -- PROGJAR-LAB WIRESHARK PLUGIN (this marker line lets `progjar dissector` recognise its own copy)
--
-- Labels the labs of "Pemrograman Jaringan" in Wireshark. The echo lab (Tugas 1): which client
-- sent which bytes, which server segment echoes them, whether the echo is right, how long a client
-- waited. The time server (Tugas 2) and the file server (Tugas 3, ETS): every application message,
-- on the frame that completes it, with its command, status, the request a reply answers, the file
-- it names and the decoded size of a file it carries. The facts are the same as the report JSON of
-- `progjar report --frames` (see DESIGN.md), so the two can be checked against each other frame
-- by frame.
--
-- One self-contained file for Wireshark 4.0 (Lua 5.2) through 4.6 (Lua 5.4): bit.* only, no
-- native bit operators, no `//`, numbers formatted explicitly with %d.
--
-- How it works (why it looks the way it does):
--  * TCP hands a subdissector only segments with payload, and by default not those it flags as
--    retransmission or out-of-order. Labels therefore appear on the segments TCP passes on. A
--    second, tiny post-dissector (protocol `progjar_close`) sees every frame: it records SYNs
--    (client numbering, the wait's start), FIN/RST (closes, the "unechoed" warning, which sits on
--    the closing frame that has no payload) and the bytes of segments TCP did not pass on, so a
--    retransmission or an out-of-order segment cannot corrupt the reassembled request stream.
--  * Sequence numbers: tcp.seq_raw with our own ISN (from SYN / SYN-ACK, else the first segment
--    seen) and 2^32 unwrapping, so the result does not depend on the user's "relative sequence
--    numbers" preference. Offsets follow the reporter's reassembly policy: in-order bytes are
--    final, among out-of-order copies the first queued wins, an in-order segment supersedes the
--    out-of-order bytes it overlaps.
--  * State is per connection (tcp.stream) and every frame's result is memoised by frame number,
--    so a second pass (`tshark -2`) and the GUI's random-order re-dissection show the same labels.
--    A frame whose TCP fields are not available (first pass of `tshark -2` without a filter) is
--    not memoised and changes no state; it is computed when the fields are there (the second
--    pass, in frame order). The Wireshark GUI with the `progjar` profile (colouring rules and
--    columns use progjar fields) has the fields on its first pass, checked under Xvfb.
--  * Messages (time and file servers). A framer per connection (M.msg_new) gets each direction's
--    bytes as the reassembly above delivers them, in stream order: a time-server message is a line
--    (CRLF, a bare LF accepted); a file-server reply ends at CRLF CRLF, a request too when the
--    client sends one, else at the first byte of the server's next reply (the lecturer's client
--    sends none). A message is labelled on the frame whose delivery completed it: that may be a
--    retransmission or an out-of-order segment TCP did not pass on (the post-dissector labels
--    it), the server's frame that ended a request without terminator, or the receiver's ACK past
--    a hole the capture missed. Replies pair with the oldest unanswered request (a time server's
--    QUIT expects none); with none waiting a reply is early (the request is still incomplete) or
--    another reply to the request answered last. Fields progjar.msg.index/.command/.status/
--    .reply_to/.file/.file_len, one set per completed message, in completion order.
--    Why not TCP desegmentation (pinfo.desegment_len, DESEGMENT_ONE_MORE_SEGMENT, as Wireshark's
--    dissectFPM.lua): a reply's length is not known before its end, so TCP would reassemble and
--    hand over the whole reply so far on every segment: measured with a prototype, 1/4/16 MB
--    replies took 1.4/6.0/59 s (quadratic; plain tshark 0.3 s). With TCP's default preferences an
--    out-of-order segment or a retransmission carrying new bytes gave a wrong message, and in
--    `tshark -2` and on re-dissection TCP does not call the dissector on a reply's middle frames,
--    which must keep their role/offset labels. A reply is never kept: it is scanned once, with
--    plain string.find only (a Lua character class costs ~17 us per 1,448-byte segment), for its
--    end, "status", "data_namafile" and the length of data_file's base64 (size = 3*len/4 - padding).
--  * Expert infos: progjar.expert.mismatch (error) on the echo segment whose bytes differ;
--    progjar.expert.queued (note) on a client's first echo when another client of the same
--    server closed after this client's request (the serial server of task 4);
--    progjar.expert.unechoed (warning) on the server's FIN or on an RST (the moment no further
--    echo can come) when fewer bytes were echoed than requested. A client's FIN alone is not
--    enough: a client may half-close and still read its echo. Messages: bad_reply (a time reply
--    not JAM hh:mm:ss), not_json, several_replies (the lecturer's recv(32) loop answers every
--    32-byte chunk of a request), early_reply, error_reply (a note) on the reply's frame;
--    unanswered on the server's FIN or an RST, like unechoed.
--  * Port preferences (Edit > Preferences > Protocols > PROGJAR; tshark: `-o progjar.ports:10000,32444
--    -o progjar.time_ports:45000,51000 -o progjar.file_ports:6666,46666`): `ports` gives the echo
--    service then file-echo, `time_ports` the time server, `file_ports` the file server. The
--    plugin replaces whatever dissector had those ports (10000 is NDMP's, 6666 SigComp's) and gives
--    them back when a preference changes.
--  * Cost: Lua field extractors make Wireshark build a protocol tree for every frame. When nothing
--    refers to progjar (no filter, colouring rule, column or tap: plain summary lines) a frame adds
--    no subtree at all, only its columns; on an invisible tree that is referred to, only the
--    progjar fields something asks for are added (TreeItem:referenced); a visible tree (packet
--    details, -V, -T fields) gets them all. Frames with an expert info always get their subtree.
--    In the first pass of `tshark -2` the TCP fields are missing: the frame is claimed and left
--    alone at once. Every object made per frame costs the Lua garbage collector several
--    microseconds, so the hot path makes few: the memo is columns indexed by frame number,
--    stored request bytes sit in one flat array per connection, an echo is compared in place,
--    and a request's Info preview is cached by its first bytes. A message service keeps no bytes:
--    a frame in the middle of a reply makes no table at all.
--    tests/bench/bench_lua.py measures the ratio against plain tshark, also on a 50 MB download.

local M = {}            -- the pure logic, loadable by plain lua5.2/lua5.4 for unit tests
local TWO32 = 4294967296
local TWO31 = 2147483648

-- ---------------------------------------------------------------------------------------------
-- pure functions

--- "10000,32444" or "10000-10002, 32444" -> {10000, 32444} in the written order (no duplicates).
function M.parse_ports(text)
    local ports, seen = {}, {}
    for item in string.gmatch(text or "", "[^,%s]+") do
        local a, b = string.match(item, "^(%d+)%-(%d+)$")
        if not a then a = string.match(item, "^(%d+)$"); b = a end
        if a then
            a, b = tonumber(a), tonumber(b)
            if b - a > 1024 then b = a + 1024 end  -- a typo like 1-65535 must not hang the GUI
            for p = a, b do
                if p > 0 and p < 65536 and not seen[p] then
                    seen[p] = true
                    ports[#ports + 1] = p
                end
            end
        end
    end
    return ports
end

--- Service name of the lab port at position i of the preference: echo, file-echo, else nil.
function M.service_of(index)
    if index == 1 then return "echo" elseif index == 2 then return "file-echo" end
    return nil
end

--- The lab ports of the three port preferences, in the order written: a list of ports and
--- port -> service ("echo", "file-echo", "time", "file"; false for a third echo port, which is
--- labelled without a service name, as before). A port named twice keeps its first service.
function M.port_map(echo_text, time_text, file_text)
    local ports, service = {}, {}
    local function take(p, name)
        if service[p] == nil then ports[#ports + 1] = p; service[p] = name end
    end
    for i, p in ipairs(M.parse_ports(echo_text)) do take(p, M.service_of(i) or false) end
    for _, p in ipairs(M.parse_ports(time_text)) do take(p, "time") end
    for _, p in ipairs(M.parse_ports(file_text)) do take(p, "file") end
    return ports, service
end

--- Stream offset of `seq` in its direction: (seq - isn - 1) mod 2^32, unwrapped to the lap nearest
--- `ref` (the highest offset seen), so it keeps growing past 4 GiB. A copy from before the first
--- byte gets a negative offset: its bytes are older than the stream, never a new lap.
function M.stream_offset(seq, isn, ref)
    local rel = (seq - isn - 1) % TWO32
    local k = math.floor((ref - rel + TWO31) / TWO32)
    return rel + k * TWO32
end

--- The offset a frame is labelled with: Wireshark's relative seq - 1 (mod 2^32), never negative.
function M.label_offset(off)
    if off < 0 then return off + TWO32 end
    return off
end

--- Printable preview: control and non-ASCII bytes as '.', cut to `max` characters with "...".
function M.preview(data, max)
    local s = data
    local cut = false
    if #s > max then s = string.sub(s, 1, max); cut = true end
    if string.find(s, "[^\32-\126]") then s = string.gsub(s, "[^\32-\126]", ".") end  -- else no copy
    if cut then s = s .. "..." end
    return s
end

--- One direction of a connection: what the receiving application got, as offsets.
--- keep_bytes: store the bytes (the request direction, compared against echoes).
--- Stored chunks (the delivered pieces, in stream order, numbered first..last) sit five values
--- apiece in one flat array `ch` (offset, length, bytes, frame, time): not a table per segment, and
--- few tables per connection, since every table alive is walked by each garbage collection.
--- Only the request direction stores them (keep_bytes); `pending` is made on the first gap.
--- ms: a message service's framer (M.msg_new): every delivered piece is handed to it, in stream
--- order, and not kept (from_client says which direction this is).
local CH = 5   -- values per chunk: chunk i is ch[CH*i-4 .. CH*i]
local QUEUE_BYTES, QUEUE_SEGMENTS = 4194304, 4096   -- out-of-order bytes a message direction queues
local msg_feed, msg_gap   -- the framer (below): hands each delivered piece to it
M.waiting = 0   -- message directions with bytes queued behind a hole (the ACK check below costs only then)

function M.dir_new(keep_bytes, ms, from_client)
    local d = { next = 0, first = 1, last = 0, keep = keep_bytes, isn = nil, ref = 0 }
    if keep_bytes then d.ch = {} end
    if ms then d.ms, d.client = ms, from_client end
    return d
end

local function push_chunk(d, off, n, data, frame, t)
    if not d.keep then return end
    local i = d.last + 1
    d.last = i
    local ch, b = d.ch, CH * i
    ch[b - 4], ch[b - 3], ch[b - 2], ch[b - 1], ch[b] = off, n, data, frame, t
end

-- Deliver queued out-of-order bytes that now continue the stream. The earliest queued copy of a
-- byte wins: the chosen segment is cut where an earlier-queued one starts.
local function pull_pending(d)
    local pending = d.pending
    while pending and #pending > 0 do
        local keep, bytes = {}, 0
        for i = 1, #pending do
            local p = pending[i]
            if p.off + p.n > d.next then keep[#keep + 1] = p; bytes = bytes + p.n end
        end
        pending = keep
        d.pending, d.pbytes = keep, bytes
        if #keep == 0 then
            d.pending = nil
            if d.ms then M.waiting = M.waiting - 1 end
        end
        local pick
        for i = 1, #pending do
            local p = pending[i]
            if p.off <= d.next then pick = i; break end
        end
        if not pick then break end
        local p = pending[pick]
        local limit = p.off + p.n
        for j = 1, pick - 1 do
            local q = pending[j]
            if q.off > d.next and q.off < limit then limit = q.off end
        end
        local n = limit - d.next
        local data = nil
        if d.keep or d.ms then data = string.sub(p.data, d.next - p.off + 1, limit - p.off) end
        push_chunk(d, d.next, n, data, p.frame, p.t)
        d.next = limit
        if d.ms then msg_feed(d.ms, d.client, data) end
    end
end

local function lowest_pending(d)
    local pending, lowest = d.pending, nil
    for i = 1, #pending do
        local p = pending[i]
        if not lowest or p.off < lowest then lowest = p.off end
    end
    return lowest
end

-- A message direction behind a hole the capture never fills: skip it to the lowest queued byte, as
-- the reporter does, and tell the framer that bytes are missing there.
local function skip_hole(d)
    local lowest = lowest_pending(d)
    msg_gap(d.ms, d.client, lowest - d.next)
    d.next = lowest
    pull_pending(d)
end

--- The receiver of message direction `d` acknowledged up to stream offset `ack`: a hole it got past
--- is one the capture missed (Wireshark's "[N bytes missing in capture file]"), so skip it.
function M.dir_acked(d, ack)
    while d.pending and ack > lowest_pending(d) do skip_hole(d) end
end

--- Feed a segment [off, off+n) (bytes `data` when kept). Returns how many bytes it newly delivered.
function M.dir_add(d, off, n, data, frame, t)
    local e = off + n
    if n <= 0 or e <= d.next then return 0 end
    local before = d.next
    if off <= d.next then
        local s = d.next - off
        local piece = nil
        if d.keep or d.ms then
            piece = data
            if s > 0 then piece = string.sub(data, s + 1) end  -- string.sub(x, 1) would copy x
        end
        push_chunk(d, d.next, e - d.next, piece, frame, t)
        d.next = e
        if d.ms then msg_feed(d.ms, d.client, piece) end
        if d.pending then pull_pending(d) end
    else
        local piece = nil
        if d.keep or d.ms then piece = data end
        local pending = d.pending
        if not pending then
            pending = {}
            d.pending = pending
            if d.ms then M.waiting = M.waiting + 1 end
        end
        pending[#pending + 1] = { off = off, n = n, data = piece, frame = frame, t = t }
        d.pbytes = (d.pbytes or 0) + n
        if d.ms and (#pending > QUEUE_SEGMENTS or d.pbytes > QUEUE_BYTES) then
            while d.pending and (#d.pending > QUEUE_SEGMENTS or d.pbytes > QUEUE_BYTES) do skip_hole(d) end
        end
    end
    return d.next - before
end

-- number of the stored chunk holding stream byte `pos`, or nil
local function find_chunk(d, pos)
    local lo, hi = d.first, d.last
    if hi < lo then return nil end
    local ch = d.ch
    local b = CH * hi
    if pos >= ch[b - 4] then  -- the usual case: the latest chunk (echoes follow their requests)
        if pos < ch[b - 4] + ch[b - 3] then return hi end
        return nil
    end
    while lo <= hi do
        local mid = math.floor((lo + hi) / 2)
        b = CH * mid
        local o = ch[b - 4]
        if pos < o then hi = mid - 1
        elseif pos >= o + ch[b - 3] then lo = mid + 1
        else return mid end
    end
    return nil
end

-- Where [off, off+n) starts among the stored chunks: the chunk's number and, when that one chunk
-- holds all n bytes (the usual case), also its bytes and the 1-based position of `off` in them.
-- nil when byte `off` is not stored.
local function locate(d, off, n)
    local i = find_chunk(d, off)
    if not i then return nil end
    local ch, b = d.ch, CH * i
    local o = ch[b - 4]
    if off + n <= o + ch[b - 3] then return i, ch[b - 2], off - o + 1 end
    return i
end

--- The delivered bytes [off, off+n), or nil when not all of them were delivered (or were pruned).
function M.dir_bytes(d, off, n)
    if n <= 0 then return "" end
    if off + n > d.next then return nil end
    local i, data, at = locate(d, off, n)
    if not i then return nil end
    if data then return string.sub(data, at, at + n - 1) end
    local ch, b, o = d.ch, nil, nil
    local parts, pos, e = {}, off, off + n
    while pos < e do
        if i > d.last then return nil end
        b = CH * i
        o = ch[b - 4]
        if o > pos then return nil end
        local stop = o + ch[b - 3]
        if stop > e then stop = e end
        parts[#parts + 1] = string.sub(ch[b - 2], pos - o + 1, stop - o)
        pos = stop
        i = i + 1
    end
    return table.concat(parts)
end

--- Frame number and time of the segment that delivered stream byte `pos` (nil if unknown).
function M.dir_origin(d, pos)
    local i = find_chunk(d, pos)
    if not i then return nil, nil end
    local b = CH * i
    return d.ch[b - 1], d.ch[b]
end

--- Forget stored chunks that end at or before `upto` (bytes nobody will ask about again).
function M.dir_prune(d, upto)
    local i, last, ch = d.first, d.last, d.ch
    if not ch then return end
    while i <= last do
        local b = CH * i
        if ch[b - 4] + ch[b - 3] > upto then break end
        ch[b - 4], ch[b - 3], ch[b - 2], ch[b - 1], ch[b] = nil, nil, nil, nil, nil
        i = i + 1
    end
    d.first = i
end

--- Echo check: do the echoed bytes equal the request bytes at the same offsets?
function M.echo_matches(request_dir, off, echoed)
    local d, n = request_dir, #echoed
    if n > 0 and off + n <= d.next then
        local _, data, at = locate(d, off, n)
        -- the usual case, one request segment holds it all: compare in place (a plain find
        -- anchored where the echo should be) rather than cut a copy of the request bytes
        if data then return string.find(data, echoed, at, true) == at end
    end
    return M.dir_bytes(d, off, n) == echoed   -- nil (not all delivered) is never equal
end

--- Whole seconds and nanoseconds of a non-negative duration in seconds (for NSTime).
function M.split_seconds(x)
    if x < 0 then x = 0 end
    local s = math.floor(x)
    local ns = math.floor((x - s) * 1e9 + 0.5)
    if ns >= 1000000000 then s = s + 1; ns = ns - 1000000000 end
    return s, ns
end

-- ---------------------------------------------------------------------------------------------
-- messages of the time server (lines) and the file server (requests and JSON replies ended by
-- CRLF CRLF): framing (where a message ends) apart from parsing (what it says), fed with the bytes
-- each direction delivers, in stream order, as they come. A message keeps only its first HEAD
-- bytes; a JSON reply is scanned as it streams by (its "status", "data_namafile" and the length of
-- the base64 in "data_file"), so a 50 MB reply costs one string.find pass over its bytes, no copy.
-- The frame that completes a message is the frame whose delivery completed it (ms.frame, set by
-- the caller), also when that delivery released bytes an earlier out-of-order segment brought.

local HEAD = 256     -- bytes of a message kept: a command, a file name, a status line
local CAP = 256      -- longest JSON string value kept ("status", "data_namafile")

--- The framing of a service: "line" (time), "json" (file), else "echo" (no messages).
function M.kind_of(service)
    if service == "time" then return "line" elseif service == "file" then return "json" end
    return "echo"
end

--- 23456 -> "23,456" (the lab's way of writing sizes).
function M.thousands(n)
    local s = string.format("%d", math.floor(n))
    local sign = ""
    if string.sub(s, 1, 1) == "-" then sign, s = "-", string.sub(s, 2) end
    local head = #s % 3
    local out = string.sub(s, 1, head)
    for i = head + 1, #s, 3 do
        out = (out == "" and "" or out .. ",") .. string.sub(s, i, i + 2)
    end
    return sign .. out
end

--- Decoded size of `chars` base64 characters of which `pad` are '=' padding.
function M.b64_size(chars, pad)
    local n = math.floor(chars * 3 / 4) - pad
    if n < 0 then n = 0 end
    return n
end

local function trim(s)
    return string.match(s, "^%s*(.-)%s*$")
end

--- What a time server's reply line is, and its status (the report's: the value after JAM, "ERROR",
--- else none): "jam" (JAM hh:mm:ss, the assignment's format), "lecturer" (JAM dd-mm-YYYY
--- HH:MM:SS, the lecturer's server), "error" (ERROR ...) or "bad" (anything else).
function M.time_reply(text)
    local line = trim(text)
    if string.sub(line, 1, 3) == "JAM" then
        local value = trim(string.sub(line, 4))
        local status = nil
        if value ~= "" then status = string.sub(value, 1, 64) end
        if string.sub(line, 4, 4) ~= " " then return "bad", status end
        local h, m, s = string.match(value, "^(%d%d):(%d%d):(%d%d)$")
        if h then
            if tonumber(h) < 24 and tonumber(m) < 60 and tonumber(s) < 61 then return "jam", status end
            return "bad", status
        end
        if string.match(value, "^%d%d%-%d%d%-%d%d%d%d %d%d:%d%d:%d%d$") then return "lecturer", status end
        return "bad", status
    end
    if string.sub(line, 1, 5) == "ERROR" then return "error", "ERROR" end
    return "bad", nil
end

local function utf8_char(u)
    if u < 0x80 then return string.char(u) end
    if u < 0x800 then
        return string.char(0xC0 + math.floor(u / 64), 0x80 + u % 64)
    end
    if u >= 0xD800 and u < 0xE000 then return "?" end   -- half of a surrogate pair
    return string.char(0xE0 + math.floor(u / 4096), 0x80 + math.floor(u / 64) % 64, 0x80 + u % 64)
end

local JSON_ESC = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

--- A JSON string's raw text (between the quotes) as the text it stands for (UTF-8).
function M.json_unescape(s)
    if not string.find(s, "\\", 1, true) then return s end
    local out = string.gsub(s, "\\(u?)(.)(%x?%x?%x?)", function(u, c, rest)
        if u == "u" then
            local hex = c .. rest
            if #hex == 4 and string.match(hex, "^%x%x%x%x$") then return utf8_char(tonumber(hex, 16)) end
            return "?" .. hex
        end
        return (JSON_ESC[c] or c) .. rest
    end)
    return out
end

--- A request's command word as sent (nil for an empty line) and the file it names (GET, UPLOAD,
--- DELETE), from the request's text. Both printable and bounded.
function M.parse_request(text)
    local cmd, rest = string.match(text, "^%s*(%S+)%s*(.*)$")
    if not cmd then return nil, nil end
    local up = string.upper(cmd)
    local file = nil
    if up == "GET" or up == "UPLOAD" or up == "DELETE" then
        file = string.match(rest, "^(%S+)")
        if file then file = M.name_text(file, 128) end
    end
    if #cmd > 64 then cmd = string.sub(cmd, 1, 64) end
    return M.preview(cmd, 64), file
end

--- A file name as text: UTF-8 kept (a student's file may be called "café.jpg"), control bytes as
--- '.', at most `max` bytes, never ending inside a UTF-8 sequence.
function M.name_text(s, max)
    if #s > max then
        s = string.sub(s, 1, max)
        local k = #s
        while k > 0 and k > #s - 3 do   -- back to the start of the last sequence, if it is cut
            local b = string.byte(s, k)
            if b < 0x80 then break end
            if b >= 0xC0 then
                local need = b >= 0xF0 and 4 or b >= 0xE0 and 3 or 2
                if #s - k + 1 < need then s = string.sub(s, 1, k - 1) end
                break
            end
            k = k - 1
        end
    end
    if string.find(s, "%c") then s = string.gsub(s, "%c", ".") end
    return s
end

local function half_reset(h)
    h.n, h.head, h.tail, h.lastb, h.gap, h.bare_lf, h.headless = 0, "", "", 0, false, false, false
    h.seen = false   -- some of its bytes were captured (a message of missing bytes only is none)
    -- a JSON reply: st 0 before the value, 1 inside it, 2 after it, -1 not JSON, -2 unknown (a gap)
    h.st, h.depth, h.arr, h.expect, h.instr, h.esc, h.key, h.cap = 0, 0, false, false, false, false, false, false
    h.status, h.name, h.b64, h.pad, h.file = false, false, 0, 0, false
    h.from = false   -- an UPLOAD request: message offset where its base64 starts (-1: none)
    h.updone = false -- ... and whether the white space after it came
end

local function half_new(role)
    local h = { role = role }
    half_reset(h)
    return h
end

--- The framer of one connection of a message service. kind: "line" or "json".
--- open: complete requests not answered yet, oldest first; answered: the request answered last.
function M.msg_new(kind)
    return { kind = kind, count = 0, req = half_new("request"), rsp = half_new("response"),
             open = {}, answered = false, quit = false, frame = 0, t = 0, out = nil }
end

local MAX_OPEN = 8192   -- unanswered requests remembered per connection (the reporter's bound)

-- A time server's QUIT ends the session: no reply expected.
local function expects_reply(ms, r)
    return not (ms.kind == "line" and r.command == "QUIT")
end

-- Count data[i..j] as base64 characters (the caller cut the range at the string's or the word's
-- end) and keep the run of '=' padding at the end. Only plain string.find is used around this:
-- Lua's character classes cost ~12 ns a byte, a plain find (memchr) next to nothing.
local function b64_add(h, data, i, j)
    if j < i then return end
    h.b64 = h.b64 + (j - i + 1)
    if string.byte(data, j) ~= 61 then h.pad = 0
    elseif j == i then h.pad = h.pad + 1
    elseif string.byte(data, j - 1) == 61 then h.pad = 2
    else h.pad = 1 end
end

local function string_done(h, instr)
    local cap = h.cap
    h.instr, h.cap = false, false
    if instr == 1 then
        h.key, h.expect = cap, ":"
        return
    end
    if instr == 2 then
        if h.key == "status" then h.status = M.json_unescape(cap)
        else h.name = M.json_unescape(cap) end
    elseif instr == 3 then
        h.file = true
    end
    if h.depth == 1 and not h.arr then h.expect = "," end
end

local function cap_add(h, data, i, j)
    local room = CAP - #h.cap
    if room > 0 and j >= i then
        if j - i + 1 > room then j = i + room - 1 end
        h.cap = h.cap .. string.sub(data, i, j)
    end
end

-- Scan data[i..j] of a JSON reply. Only the top-level object's keys matter; its string values for
-- "status" and "data_namafile" are kept (bounded), "data_file" is counted, anything else skipped.
-- Strict enough to tell a JSON object from text, a Python repr or an HTML page (h.st = -1).
local function json_scan(h, data, i, j)
    while i <= j do
        local st = h.st
        if st < 0 then return end
        local instr = h.instr
        if instr then
            if h.esc then   -- the byte at i is escaped
                h.esc = false
                local c = string.byte(data, i)
                if instr == 3 then
                    if c == 47 then h.b64 = h.b64 + 1          -- "\/" is a '/' of the base64
                    elseif c == 117 then h.b64 = h.b64 - 4 end -- "\uXXXX": its hex digits are no base64
                elseif instr <= 2 then
                    cap_add(h, "\\" .. string.char(c), 1, 2)
                end
                i = i + 1
            elseif instr == 3 then   -- the base64: only its end (") and escapes (\) matter
                local k = string.find(data, '"', i, true)
                local b = string.find(data, "\\", i, true)
                if b and (not k or b < k) then k = b end
                if not k or k > j then b64_add(h, data, i, j); return end
                b64_add(h, data, i, k - 1)
                if string.byte(data, k) == 34 then string_done(h, 3) else h.esc = true end
                i = k + 1
            else
                local k = string.find(data, '["\\]', i)
                if not k or k > j then
                    if instr <= 2 then cap_add(h, data, i, j) end
                    return
                end
                if instr <= 2 then cap_add(h, data, i, k - 1) end
                if string.byte(data, k) == 92 then h.esc = true else string_done(h, instr) end
                i = k + 1
            end
        elseif st == 0 then
            local k = string.find(data, "%S", i)
            if not k or k > j then return end
            local c = string.byte(data, k)
            if c == 123 then h.st, h.depth, h.expect = 1, 1, "k"       -- {
            elseif c == 91 then h.st, h.depth, h.arr = 1, 1, true      -- [
            else h.st = -1; return end
            i = k + 1
        elseif st == 2 then
            local k = string.find(data, "%S", i)
            if k and k <= j then h.st = -1 end                         -- text after the value
            return
        elseif h.depth == 1 and not h.arr then
            local e = h.expect
            if e == "," then   -- after a value: skip a number/true/false/null up to , or }
                local k = string.find(data, "[,}]", i)
                if not k or k > j then return end
                if string.byte(data, k) == 44 then h.expect = "k" else h.depth, h.st = 0, 2 end
                i = k + 1
            else
                local k = string.find(data, "%S", i)
                if not k or k > j then return end
                local c = string.byte(data, k)
                if e == "k" then
                    if c == 34 then h.instr, h.cap = 1, ""
                    elseif c == 125 then h.depth, h.st = 0, 2
                    else h.st = -1; return end
                elseif e == ":" then
                    if c == 58 then h.expect = "v" else h.st = -1; return end
                else   -- a value
                    if c == 34 then
                        local key = h.key
                        if key == "status" or key == "data_namafile" then h.instr, h.cap = 2, ""
                        elseif key == "data_file" then h.instr, h.b64, h.pad = 3, 0, 0
                        else h.instr = 4 end
                    elseif c == 123 or c == 91 then h.depth = 2
                    elseif c == 44 or c == 125 or c == 58 or c == 93 then h.st = -1; return
                    else h.expect = "," end
                end
                i = k + 1
            end
        else   -- inside a nested value (or a top-level array): strings and brackets only
            local k = string.find(data, '[{}%[%]"]', i)
            if not k or k > j then return end
            local c = string.byte(data, k)
            if c == 34 then h.instr = 4
            elseif c == 123 or c == 91 then h.depth = h.depth + 1
            else
                h.depth = h.depth - 1
                if h.depth == 0 then h.st = 2 elseif h.depth == 1 and not h.arr then h.expect = "," end
            end
            i = k + 1
        end
    end
end

-- The base64 word of an UPLOAD: counted up to the white space that ends it.
local function upload_count(h, data, i, j)
    local k = j + 1
    local x = string.find(data, "\r", i, true)
    if x and x < k then k = x end
    x = string.find(data, "\n", i, true)
    if x and x < k then k = x end
    x = string.find(data, " ", i, true)
    if x and x < k then k = x end
    b64_add(h, data, i, k - 1)
    if k <= j then h.updone = true end
end

-- An UPLOAD request's base64 (its third word): counted as it streams by, never kept.
-- data[i..j] are the message's bytes at offsets a..a+(j-i).
local function upload_scan(h, data, i, j, a)
    if h.updone then return end
    local from = h.from
    if not from then
        local cmd = string.match(h.head, "^%s*(%S+)%s")
        if not cmd then
            if #h.head >= HEAD then h.from = -1 end
            return
        end
        if string.upper(cmd) ~= "UPLOAD" then h.from = -1; return end
        local p = string.match(h.head, "^%s*%S+%s+%S+%s+()")
        if not p then
            if #h.head >= HEAD then h.from = -1 end
            return
        end
        from = p - 1
        h.from = from
        if from < a then   -- what earlier pieces brought
            upload_count(h, h.head, from + 1, a)
            if h.updone then return end
        end
    end
    if from < 0 then return end
    if from > a then i = i + (from - a) end
    upload_count(h, data, i, j)
end

local function text_of(h, kind)
    local head = h.head
    local text
    if kind == "line" then text = string.match(head, "^(.-)\r?\n") or head
    else text = string.match(head, "^(.-)\r\n\r\n") or head end
    return text
end

local function next_index(ms)
    local i = ms.count
    ms.count = i + 1
    return i
end

local function emit(ms, rec)
    local out = ms.out
    if not out then out = {}; ms.out = out end
    out[#out + 1] = rec
end

-- A request is complete: record it and queue it for its reply. After a hole in the capture its
-- first bytes are not its beginning: no command is named.
local function request_done(ms, h, cut)
    local cmd, file = nil, nil
    if not h.gap then cmd, file = M.parse_request(text_of(h, ms.kind)) end
    -- the file server's commands are case-insensitive (the lecturer's server lower-cases them):
    -- named upper-cased, as the report names them
    if cmd and ms.kind == "json" then cmd = string.sub(string.upper(cmd), 1, 32) end
    local rec = { index = next_index(ms), dir = "request", frame = ms.frame, t = ms.t, bytes = h.n,
                  command = cmd, file = file, replies = 0 }
    if h.from and h.from >= 0 and not h.gap then rec.file_len = M.b64_size(h.b64, h.pad) end
    if cut then rec.no_terminator = true end
    if h.bare_lf then rec.bare_lf = true end
    if ms.quit then rec.after_quit = true end
    if ms.kind == "line" and cmd == "QUIT" then ms.quit = true end
    local open = ms.open
    open[#open + 1] = rec
    if #open > MAX_OPEN then table.remove(open, 1) end
    half_reset(h)
    emit(ms, rec)
end

-- Which request a completed reply answers (the reporter's rule): the oldest unanswered one that
-- expects a reply (else the oldest: a QUIT that got a goodbye). With none waiting: a reply while
-- the client's request is still incomplete came too early; else it is another reply to the
-- request answered last; else nothing asked for it.
local function pair(ms, rec)
    local open, at = ms.open, nil
    for i = 1, #open do
        if expects_reply(ms, open[i]) then at = i; break end
    end
    if not at and #open > 0 then at = 1 end
    local req = nil
    if at then req = table.remove(open, at)
    elseif ms.req.seen then rec.early = ms.req.n
    elseif ms.answered then req = ms.answered
    else rec.early = 0 end
    if req then
        req.replies = req.replies + 1
        rec.reply_to, rec.req_index, rec.nth = req.frame, req.index, req.replies
        rec.req_command, rec.req_file = req.command, req.file
        ms.answered = req
    end
end

-- A reply is complete: what it says and which request it answers.
local function reply_done(ms, h)
    local rec = { index = next_index(ms), dir = "response", frame = ms.frame, t = ms.t, bytes = h.n }
    if ms.kind == "line" then
        local text = text_of(h, "line")
        rec.text = M.preview(text, 64)
        if not h.gap then   -- a reply not all in the capture says nothing for sure
            local kind, status = M.time_reply(text)
            rec.time_kind = kind
            if status then rec.status = M.preview(status, 64) end
        end
        if h.bare_lf then rec.bare_lf = true end
    else
        if h.st == 1 or h.st == 0 then h.st = -1 end   -- cut short or empty: not JSON (-2: unknown)
        if h.st == -1 then
            rec.not_json = true
            rec.text = M.preview(text_of(h, "json"), 40)
        else
            if h.status then rec.status = M.preview(h.status, 64) end
            if h.name then rec.file = M.name_text(h.name, 128) end
            if h.file and not h.gap then rec.file_len = M.b64_size(h.b64, h.pad) end
        end
    end
    pair(ms, rec)
    half_reset(h)
    emit(ms, rec)
end

-- The server starts a new reply: a file-server request without CRLF CRLF ends here (everything
-- the client sent before it; of bytes missing from the capture alone there is no request).
local function reply_starts(ms)
    local q = ms.req
    if ms.kind ~= "json" or q.n == 0 then return end
    if q.seen then request_done(ms, q, true) else half_reset(q) end
end

--- Feed the bytes a direction delivered next (in stream order); completed messages are appended
--- to ms.out (made only when a message completes) with ms.frame and ms.t as their frame and time.
function msg_feed(ms, from_client, data)
    local h = from_client and ms.req or ms.rsp
    local kind = ms.kind
    local i, n = 1, #data
    if n == 0 then return end
    -- checked once per delivered piece, as the reporter's framer does
    if h.n == 0 and not from_client then reply_starts(ms) end
    while i <= n do
        h.seen = true
        local e
        if kind == "line" then
            e = string.find(data, "\n", i, true)
        else
            local t = h.tail
            if t ~= "" then   -- CR LF CR LF across the previous piece and this one
                local k = string.find(t .. string.sub(data, i, i + 2), "\r\n\r\n", 1, true)
                if k then e = i + k + 2 - #t end
            end
            if not e then
                local k = string.find(data, "\r\n\r\n", i, true)
                if k then e = k + 3 end
            end
        end
        local stop = e or n
        local a = h.n   -- message offset of data[i]
        h.n = a + stop - i + 1
        if #h.head < HEAD and not h.headless then
            h.head = h.head .. string.sub(data, i, math.min(stop, i + HEAD - #h.head - 1))
        end
        if kind == "json" then
            if from_client then
                if h.from ~= -1 then upload_scan(h, data, i, stop, a) end
            elseif h.st >= 0 then
                json_scan(h, data, i, e and e - 4 or stop)
            end
        end
        if not e then
            if kind == "json" then
                if stop - i >= 2 then h.tail = string.sub(data, stop - 2, stop)
                else h.tail = string.sub(h.tail .. string.sub(data, i, stop), -3) end
            else
                h.lastb = string.byte(data, stop)
            end
            return
        end
        if kind == "line" then
            local before = e > i and string.byte(data, e - 1) or h.lastb
            if before ~= 13 then h.bare_lf = true end
        end
        if from_client then request_done(ms, h, false) else reply_done(ms, h) end
        i = e + 1
    end
end
M.msg_feed = msg_feed

--- Bytes the capture never held ([n] of them, skipped): the message they fall in is counted but
--- can no longer be read (its JSON is not judged, its base64 not counted).
function msg_gap(ms, from_client, n)
    local h = from_client and ms.req or ms.rsp
    h.n, h.gap, h.tail = h.n + n, true, ""
    h.headless = true   -- what follows the hole is not the message's beginning: the head stops here
    if h.st >= 0 then h.st = -2 end
    if h.from == false then h.from = -1 end
end
M.msg_gap = msg_gap

--- What no reply can answer any more (the server closed, or a reset): requests never answered
--- (a time server's QUIT needs no answer), an unfinished request, a reply cut off. nil if none.
function M.msg_unanswered(ms)
    local n, first = 0, nil
    for i = 1, #ms.open do
        local r = ms.open[i]
        if expects_reply(ms, r) then
            n = n + 1
            first = first or r
        end
    end
    local partial = ms.req.seen and ms.req.n or 0
    local cut = ms.rsp.n
    if n == 0 and partial == 0 and cut == 0 then return nil end
    local u = { n = n, first = first, partial = partial, cut = cut }
    if partial > 0 then u.partial_text = M.preview(ms.req.head, 32) end
    return u
end

if rawget(_G, "PROGJAR_TEST") or not rawget(_G, "Proto") then
    return M
end

-- ---------------------------------------------------------------------------------------------
-- Wireshark part

local progjar = Proto.new("progjar", "Progjar Lab")
local closer = Proto.new("progjar_close", "Progjar Lab connection tracker")

local pf = {
    service = ProtoField.string("progjar.service", "Service"),
    role = ProtoField.string("progjar.role", "Role"),
    client = ProtoField.uint32("progjar.client", "Client number", base.DEC),
    stream = ProtoField.uint32("progjar.stream", "Connection (tcp.stream)", base.DEC),
    offset = ProtoField.uint64("progjar.offset", "Stream offset", base.DEC),
    len = ProtoField.uint32("progjar.len", "Payload length", base.DEC),
    echo_ok = ProtoField.bool("progjar.echo.ok", "Echo equals the request"),
    request_frame = ProtoField.framenum("progjar.echo.request_frame", "Request frame", base.NONE, frametype.REQUEST),
    delay = ProtoField.relative_time("progjar.echo.delay", "Echo delay"),
    wait = ProtoField.relative_time("progjar.wait", "Client waited (SYN to first echo or reply)"),
    text = ProtoField.string("progjar.text", "Text"),
    msg_index = ProtoField.uint32("progjar.msg.index", "Message index (completed in this frame)", base.DEC),
    msg_command = ProtoField.string("progjar.msg.command", "Command"),
    msg_status = ProtoField.string("progjar.msg.status", "Status"),
    msg_reply_to = ProtoField.framenum("progjar.msg.reply_to", "Reply to (the frame that completed the request)",
                                       base.NONE, frametype.RESPONSE),
    msg_file = ProtoField.string("progjar.msg.file", "File name"),
    msg_file_len = ProtoField.uint32("progjar.msg.file_len", "File size (decoded base64)", base.DEC),
}
progjar.fields = { pf.service, pf.role, pf.client, pf.stream, pf.offset, pf.len, pf.echo_ok,
                   pf.request_frame, pf.delay, pf.wait, pf.text, pf.msg_index, pf.msg_command,
                   pf.msg_status, pf.msg_reply_to, pf.msg_file, pf.msg_file_len }

local ex = {
    mismatch = ProtoExpert.new("progjar.expert.mismatch", "Echo differs from the request",
                               expert.group.PROTOCOL, expert.severity.ERROR),
    queued = ProtoExpert.new("progjar.expert.queued", "Client waited for an earlier client",
                             expert.group.SEQUENCE, expert.severity.NOTE),
    unechoed = ProtoExpert.new("progjar.expert.unechoed", "Connection closed with bytes not echoed",
                               expert.group.SEQUENCE, expert.severity.WARN),
    bad_reply = ProtoExpert.new("progjar.expert.bad_reply", "Reply not in the assignment's format",
                                expert.group.PROTOCOL, expert.severity.WARN),
    not_json = ProtoExpert.new("progjar.expert.not_json", "Reply is not JSON",
                               expert.group.MALFORMED, expert.severity.WARN),
    several_replies = ProtoExpert.new("progjar.expert.several_replies", "Several replies to one request",
                                      expert.group.SEQUENCE, expert.severity.WARN),
    early_reply = ProtoExpert.new("progjar.expert.early_reply", "Reply before the request was complete",
                                  expert.group.SEQUENCE, expert.severity.WARN),
    error_reply = ProtoExpert.new("progjar.expert.error_reply", "Server answered ERROR",
                                  expert.group.RESPONSE_CODE, expert.severity.NOTE),
    unanswered = ProtoExpert.new("progjar.expert.unanswered", "Connection closed with a request never answered",
                                 expert.group.SEQUENCE, expert.severity.WARN),
}
progjar.experts = { ex.mismatch, ex.queued, ex.unechoed, ex.bad_reply, ex.not_json, ex.several_replies,
                    ex.early_reply, ex.error_reply, ex.unanswered }

local DEFAULT_PORTS, DEFAULT_TIME_PORTS, DEFAULT_FILE_PORTS = "10000,32444", "45000", "6666"
progjar.prefs.ports = Pref.range("Echo lab ports", DEFAULT_PORTS,
    "TCP ports of Tugas 1: the first is the echo server (T2), the second the file-echo server (T3)", 65535)
progjar.prefs.time_ports = Pref.range("Time server ports", DEFAULT_TIME_PORTS,
    "TCP ports of Tugas 2's time server (TIME -> JAM hh:mm:ss); the lecturer's server uses 51000", 65535)
progjar.prefs.file_ports = Pref.range("File server ports", DEFAULT_FILE_PORTS,
    "TCP ports of the file server of Tugas 3 and ETS (LIST, GET, UPLOAD, DELETE; JSON replies)", 65535)

-- field extractors: created once, at load time
local f_stream = Field.new("tcp.stream")
local f_seq = Field.new("tcp.seq_raw")
local f_flags = Field.new("tcp.flags")
local f_payload = Field.new("tcp.payload")
local f_ack = Field.new("tcp.ack_raw")

local FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

-- settings and state
local settings = { ports = {}, port_index = {}, service = {} }
local tcp_table = DissectorTable.get("tcp.port")
local displaced = {}    -- port -> dissector we replaced (restored when the port is dropped)
local conns, endpoints, last_shown
local highest = 0   -- the highest frame number tracked so far (frames come in order the first time)
-- The memo: frame number -> what the frame is, as parallel columns rather than one table per frame:
-- a million small tables made the garbage collector walk a million objects on every cycle.
local m_conn, m_role, m_off, m_len, m_ok, m_reqf, m_delay, m_extra, m_msgs

local function reset_state()
    conns = {}          -- tcp.stream -> connection state
    M.waiting, highest = 0, 0
    m_conn, m_role, m_off, m_len, m_ok = {}, {}, {}, {}, {}   -- set for every memoised frame
    m_reqf, m_delay = {}, {}   -- echoes whose request is known
    m_extra = {}               -- rare: {wait, queued, unechoed, unanswered}
    m_msgs = {}                -- frames that complete messages: the messages, in completion order
    endpoints = {}      -- "server ip|port" -> {count = connections so far, closes = latest closed ones}
    last_shown = nil
end
reset_state()

local function apply_ports(echo_text, time_text, file_text)
    local ports, service = M.port_map(echo_text, time_text, file_text)
    local index = {}
    for i, p in ipairs(ports) do index[p] = i end
    for _, p in ipairs(settings.ports) do
        if not index[p] then
            tcp_table:remove(p, progjar)
            if displaced[p] then tcp_table:add(p, displaced[p]); displaced[p] = nil end
        end
    end
    for _, p in ipairs(ports) do
        if not settings.port_index[p] then
            local old = tcp_table:get_dissector(p)
            if old then displaced[p] = old end
            tcp_table:add(p, progjar)
        end
    end
    settings.ports, settings.port_index, settings.service = ports, index, service
end

function progjar.prefs_changed()
    apply_ports(progjar.prefs.ports, progjar.prefs.time_ports, progjar.prefs.file_ports)
end

function progjar.init()
    reset_state()
end

local function new_conn(stream, pinfo, flags)
    local sport, dport = pinfo.src_port, pinfo.dst_port
    local src, dst = tostring(pinfo.src), tostring(pinfo.dst)
    local client_is_src
    if bit.band(flags, SYN) ~= 0 then
        client_is_src = bit.band(flags, ACK) == 0
    elseif settings.port_index[dport] then
        client_is_src = true
    elseif settings.port_index[sport] then
        client_is_src = false
    else
        client_is_src = sport > dport
    end
    local c = { stream = stream }
    if client_is_src then
        c.client_ip, c.client_port, c.server_ip, c.server_port = src, sport, dst, dport
    else
        c.client_ip, c.client_port, c.server_ip, c.server_port = dst, dport, src, sport
    end
    c.service = settings.service[c.server_port] or nil
    local kind = M.kind_of(c.service)
    if kind == "echo" then
        c.c2s, c.s2c = M.dir_new(true), M.dir_new(false)
    else   -- a message service: both directions go through its framer, no bytes are kept
        c.ms = M.msg_new(kind)
        c.c2s, c.s2c = M.dir_new(false, c.ms, true), M.dir_new(false, c.ms, false)
    end
    local key = c.server_ip .. "|" .. c.server_port
    local ep = endpoints[key]
    if not ep then ep = { count = 0, closes = {} }; endpoints[key] = ep end
    ep.count = ep.count + 1
    c.client_no, c.endpoint = ep.count, ep
    conns[stream] = c
    return c
end

-- "client #2 waited 4.1 s, served after client #1 closed": the latest close of another client of
-- the same server, if it came after this client's request (and so before this first echo).
-- Closes are recorded in frame order, so the latest one is at the end: no scan over every
-- connection (a big capture has tens of thousands per server).
local function queued_behind(c, t)
    if not c.first_req_t then return nil end
    local since = c.syn_t or c.first_req_t
    local closes = c.endpoint.closes
    for i = #closes, math.max(1, #closes - 3), -1 do
        local o = closes[i]
        if o ~= c and o.close_t <= t then
            if o.close_t > c.first_req_t and o.close_t > since then
                return { by = o.client_no, waited = t - since }
            end
            return nil
        end
    end
    return nil
end

-- What track() returns: one scratch array, refilled per call (from the memo or freshly computed)
-- and read at once by the caller, so no table is made per frame.
local ROLE, OFF, LEN, OK, REQF, DELAY, WAIT, QUEUED, UNECHOED, CONN, BYTES = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
local MSGS, UNANS = 12, 13   -- messages this frame completes; what a close left unanswered
local SCRATCH = { false, false, false, false, false, false, false, false, false, false, false, false, false }

local function memo_get(num)
    local c = m_conn[num]
    if not c then return nil end
    local m = SCRATCH
    m[ROLE], m[OFF], m[LEN], m[OK], m[CONN] = m_role[num], m_off[num], m_len[num], m_ok[num], c
    m[REQF], m[DELAY], m[BYTES], m[MSGS] = m_reqf[num] or false, m_delay[num] or false, false, m_msgs[num] or false
    local x = m_extra[num]
    if x then m[WAIT], m[QUEUED], m[UNECHOED], m[UNANS] = x[1], x[2], x[3], x[4]
    else m[WAIT], m[QUEUED], m[UNECHOED], m[UNANS] = false, false, false, false end
    return m
end

local function memo_put(num, m)
    m_conn[num], m_role[num], m_off[num], m_len[num], m_ok[num] = m[CONN], m[ROLE], m[OFF], m[LEN], m[OK]
    if m[REQF] then m_reqf[num], m_delay[num] = m[REQF], m[DELAY] end
    if m[MSGS] then m_msgs[num] = m[MSGS] end
    if m[WAIT] or m[QUEUED] or m[UNECHOED] or m[UNANS] then
        m_extra[num] = { m[WAIT], m[QUEUED], m[UNECHOED], m[UNANS] }
    end
end

local NOTHING = {}   -- a pure ACK: nothing to learn, nothing to show (not memoised: costs nothing)

-- Work out (once) what frame `num` is; nil when the TCP fields are not available in this pass.
-- `tvb` is the payload TCP passed on (progjar.dissector), nil for the post-dissector; a freshly
-- computed result carries those bytes in m[BYTES].
-- This is the hot path (every TCP frame on a lab port): cheap tests first, no strings built.
local function track(pinfo, num, tvb)
    local m = memo_get(num)
    if m then return m end
    local fp, payload = nil, nil
    if not tvb then
        -- a frame TCP did not pass on: a retransmission, an out-of-order copy, or (most often) a
        -- frame without payload. An extractor that finds nothing makes no object, so asking for
        -- the payload first costs a pure ACK nothing.
        fp = f_payload()
    end
    local fi_flags = f_flags()
    if not fi_flags then return nil end
    local fresh = num > highest   -- false when the GUI re-dissects an earlier frame
    if fresh then highest = num end
    local flags, n = fi_flags.value, 0
    if tvb then
        payload = tvb:raw()   -- TCP passed its payload on: no tcp.len extractor needed
        n = #payload
    elseif fp then
        payload = fp.range and fp.range:raw() or ""
        n = #payload   -- what was captured: a frame cut by the snap length has fewer bytes
    end
    local bare = n == 0 and bit.band(flags, SYN + FIN + RST) == 0
    -- a pure ACK matters only when a message direction waits behind a hole (rare)
    if bare and M.waiting == 0 then return NOTHING end
    local fi_stream, fi_seq = f_stream(), f_seq()
    if not (fi_stream and fi_seq) then return nil end
    local stream, seq = fi_stream.value, fi_seq.value
    local t = pinfo.abs_ts
    local c = conns[stream]
    if not c then
        if bare then return NOTHING end
        c = new_conn(stream, pinfo, flags)
    end
    local from_client
    if c.client_port ~= c.server_port then
        from_client = pinfo.src_port == c.client_port
    else
        from_client = tostring(pinfo.src) == c.client_ip
    end
    m = SCRATCH
    m[ROLE], m[OFF], m[LEN], m[OK], m[REQF], m[DELAY], m[WAIT], m[QUEUED], m[UNECHOED], m[CONN], m[BYTES] =
        false, false, false, false, false, false, false, false, false, c, payload or false
    m[MSGS], m[UNANS] = false, false
    local d = from_client and c.c2s or c.s2c
    local ms = c.ms
    if ms then
        ms.frame, ms.t = num, t
        local other = from_client and c.s2c or c.c2s
        -- did this side get past a hole in what it receives? (only in the in-order pass: a pure
        -- ACK is not memoised, and a re-dissection in another order must not move the state)
        if other.pending and other.isn and fresh and bit.band(flags, ACK) ~= 0 then
            local fa = f_ack()
            if fa then M.dir_acked(other, M.stream_offset(fa.value, other.isn, other.ref)) end
        end
    end
    if bare then
        if ms and ms.out then m[MSGS] = ms.out; ms.out = nil; memo_put(num, m) end
        return m
    end
    if bit.band(flags, SYN) ~= 0 then
        if from_client then c.syn_t = c.syn_t or t end
        if not d.isn then d.isn = seq end
        seq = seq + 1   -- a SYN consumes one sequence number (data on a SYN starts after it)
    end
    if n > 0 then
        if not d.isn then d.isn = seq - 1 end  -- no SYN seen: the first segment starts the stream
        local off = M.stream_offset(seq, d.isn, d.ref)
        if off + n > d.ref then d.ref = off + n end
        m[OFF], m[LEN] = M.label_offset(off), n
        if ms then   -- time or file server: the framer sees the bytes as they are delivered
            m[ROLE] = from_client and "request" or "response"
            M.dir_add(d, off, n, payload, num, t)
            local out = ms.out
            if out and not c.first_req_t then   -- the first complete request: a reply cannot come before it
                for i = 1, #out do
                    if out[i].dir == "request" then c.first_req_t = out[i].t; break end
                end
            end
            if not from_client and not c.first_echo then   -- the first reply: how long the client waited
                c.first_echo = num
                if c.syn_t then m[WAIT] = t - c.syn_t end
                m[QUEUED] = queued_behind(c, t)
            end
        elseif from_client then
            m[ROLE] = "request"
            c.first_req_t = c.first_req_t or t
            M.dir_add(d, off, n, payload, num, t)
        else
            m[ROLE] = "echo"
            m[OK] = M.echo_matches(c.c2s, off, payload)
            local rf, rt = M.dir_origin(c.c2s, off)
            if rf then m[REQF], m[DELAY] = rf, t - rt end
            if not c.first_echo then
                c.first_echo = num
                if c.syn_t then m[WAIT] = t - c.syn_t end
                m[QUEUED] = queued_behind(c, t)
            end
            M.dir_add(d, off, n, nil, num, t)
            M.dir_prune(c.c2s, d.next - 1048576)
        end
    end
    if bit.band(flags, FIN + RST) ~= 0 then
        if not c.close_t then
            c.close_t = t
            local closes = c.endpoint.closes
            closes[#closes + 1] = c
            if #closes > 64 then  -- only the latest closes matter: drop the oldest half
                local keep = {}
                for i = #closes - 31, #closes do keep[#keep + 1] = closes[i] end
                c.endpoint.closes = keep
            end
        end
        local final = bit.band(flags, RST) ~= 0 or not from_client
        if c.ms then
            -- the server's FIN or a reset: no reply can come any more
            if final and not c.unanswered_said then
                c.unanswered_said = true
                m[UNANS] = M.msg_unanswered(c.ms) or false
            end
        elseif final and not c.unechoed_said and c.c2s.next > c.s2c.next then
            c.unechoed_said = true
            m[UNECHOED] = c.c2s.next - c.s2c.next
        end
        if final then M.dir_prune(c.c2s, c.c2s.next) end  -- no new echo can come: free the request bytes
    end
    if ms and ms.out then m[MSGS] = ms.out; ms.out = nil end
    -- SYN/FIN handling is idempotent: no memo needed
    if n > 0 or m[UNECHOED] or m[UNANS] or m[MSGS] then memo_put(num, m) end
    return m
end

local function fmt_d(x) return string.format("%d", math.floor(x)) end

local function add_unechoed(sub, m)
    local c = m[CONN]
    sub:add_proto_expert_info(ex.unechoed, string.format(
        "Connection closed with %s request bytes not echoed (client #%s sent %s, server echoed %s)",
        fmt_d(m[UNECHOED]), fmt_d(c.client_no), fmt_d(c.c2s.next), fmt_d(c.s2c.next)))
end

local function gen(item, vis)
    if vis then item:set_generated() end
    return item
end

-- UInt64 objects are costly to make (a userdata with a finaliser per frame); small offsets repeat
-- (every echo starts at 0, 32, ...), so those are made once.
local u64_cache = {}
local function u64(x)
    local v = u64_cache[x]
    if v then return v end
    v = UInt64.new(x % TWO32, math.floor(x / TWO32))
    if x < 65536 then u64_cache[x] = v end
    return v
end

local function nstime(x)
    local s, ns = M.split_seconds(x)
    return NSTime.new(s, ns)
end

-- TreeItem:referenced(field): is a field wanted by a filter, colouring rule or column? Every
-- Wireshark this plugin supports (4.0+) has it. Called as a plain function (not tree:referenced):
-- no method lookup on the userdata per call.
local referenced = TreeItem.referenced
local progjar_handle   -- Dissector.get("progjar"), set once the dissector is registered (below)

-- The Info column's preview of a request: its first 11 bytes. Keyed by the first 12 bytes (a short
-- string, which Lua interns: a cheap key, and it tells whether there is more), since a lab sends the
-- same message again and again; echoes show no preview. Bounded: unique payloads refill the table.
local info_cache, info_count = {}, 0
local function info_preview(payload)
    local head = string.sub(payload, 1, 12)
    local p = info_cache[head]
    if p then return p end
    p = ' "' .. M.preview(head, 11) .. '"'
    if info_count >= 4096 then info_cache, info_count = {}, 0 end
    info_cache[head] = p
    info_count = info_count + 1
    return p
end

-- progjar.text: the first 64 bytes, made only when a tree shows it or a filter asks for it.
local function text_preview(payload)
    return M.preview(string.sub(payload, 1, 65), 64)
end

-- ---- messages on screen

local function quoted_command(cmd)
    return cmd or '""'   -- an empty request (or one whose beginning the capture missed)
end

-- One completed message as the lab writes it: "Client #1 TIME", "JAM 14:03:07 to #1",
-- "GET donalbebek.jpg -> OK (23,456 bytes)", "Client #2 UPLOAD kucing.jpg (12,000 bytes)".
local function msg_info(c, r, prev)
    local s
    if r.dir == "request" then
        s = quoted_command(r.command)
        if not (prev and prev.dir == "request") then s = "Client #" .. fmt_d(c.client_no) .. " " .. s end
        if r.file then s = s .. " " .. r.file end
        if r.file_len then s = s .. " (" .. M.thousands(r.file_len) .. " bytes)" end
        return s
    end
    if c.ms.kind == "line" then
        s = r.text .. " to #" .. fmt_d(c.client_no)
    else
        if r.reply_to then
            s = quoted_command(r.req_command)
            if r.req_file then s = s .. " " .. r.req_file end
        else
            s = "Reply to #" .. fmt_d(c.client_no)
        end
        s = s .. " -> " .. (r.not_json and "not JSON" or r.status or "no status")
        if r.file_len then s = s .. " (" .. M.thousands(r.file_len) .. " bytes)" end
    end
    if r.nth and r.nth > 1 then s = s .. " (reply " .. fmt_d(r.nth) .. ")" end
    return s
end

-- Info of a frame that completes messages (a frame may complete several: "QUIT\r\nTIME\r\n", or
-- fourteen ERROR replies in one segment).
local function msgs_info(c, m)
    local msgs = m[MSGS]
    local k = #msgs
    local s = msg_info(c, msgs[1])
    if k > 1 then s = s .. "; " .. msg_info(c, msgs[2], msgs[1]) end
    if k > 2 then s = s .. "; " .. msg_info(c, msgs[3], msgs[2]) end
    if k > 3 then s = s .. " (+" .. fmt_d(k - 3) .. " more)" end
    if m[ROLE] == "response" and msgs[k].dir == "request" then
        -- the reply's first bytes ended a request sent without CRLF CRLF; the reply goes on
        s = s .. string.format("; Reply to #%d [%d,%d) ...", c.client_no, m[OFF], m[OFF] + m[LEN])
    end
    return s
end

local function msg_expert(r)
    if r.dir ~= "response" then return false end
    return r.not_json or r.early or (r.nth and r.nth > 1) or r.status == "ERROR"
        or (r.time_kind and r.time_kind ~= "jam") or false
end

local function msgs_expert(msgs)
    for i = 1, #msgs do
        if msg_expert(msgs[i]) then return true end
    end
    return false
end

local function request_name(r)
    local s = quoted_command(r.req_command)
    if r.req_file then s = s .. " " .. r.req_file end
    return s
end

local function add_msg_experts(t, c, r)
    local kind = r.time_kind
    if kind == "bad" then
        t:add_proto_expert_info(ex.bad_reply, string.format('Reply "%s" is not JAM hh:mm:ss', r.text))
    elseif kind == "lecturer" then
        t:add_proto_expert_info(ex.bad_reply, string.format(
            '"%s" is the lecturer\'s format (JAM dd-mm-YYYY HH:MM:SS); the assignment asks for JAM hh:mm:ss', r.text))
    end
    if r.not_json then
        t:add_proto_expert_info(ex.not_json, string.format('Reply is not JSON: "%s"', r.text))
    end
    if r.status == "ERROR" then
        if r.reply_to then
            t:add_proto_expert_info(ex.error_reply, string.format("Server answered ERROR to %s (frame %d)",
                request_name(r), r.reply_to))
        else
            t:add_proto_expert_info(ex.error_reply, "Server answered ERROR")
        end
    end
    if r.nth and r.nth > 1 then
        t:add_proto_expert_info(ex.several_replies, string.format(
            "Reply %d to one request (%s, frame %d): each request should get exactly one reply",
            r.nth, request_name(r), r.reply_to))
    end
    if r.early then
        if r.early > 0 then
            t:add_proto_expert_info(ex.early_reply, string.format(
                "Reply before client #%d's request was complete (%s bytes of it so far)",
                c.client_no, M.thousands(r.early)))
        else
            t:add_proto_expert_info(ex.early_reply, string.format("Reply with no request from client #%d before it",
                c.client_no))
        end
    end
end

-- The messages a frame completes: a subtree each on a visible tree, flat fields otherwise, so
-- every field appears once per message, in completion order (the reporter's frame notes).
local function add_msgs(sub, whole, c, msgs, vis)
    for i = 1, #msgs do
        local r = msgs[i]
        local t = sub
        if vis then
            t = sub:add(whole, string.format("Message #%d (%s): %s", r.index, r.dir, msg_info(c, r)))
        end
        gen(t:add(pf.msg_index, r.index), vis)
        if r.dir == "request" then
            if r.command then gen(t:add(pf.msg_command, r.command), vis) end
        else
            if r.status then gen(t:add(pf.msg_status, r.status), vis) end
            if r.reply_to then gen(t:add(pf.msg_reply_to, r.reply_to), vis) end
        end
        if r.file then gen(t:add(pf.msg_file, r.file), vis) end
        if r.file_len then   -- a uint32 field: a file of 4 GiB or more (never seen in the lab) is capped
            gen(t:add(pf.msg_file_len, math.min(r.file_len, 4294967295)), vis)
        end
        if msg_expert(r) then add_msg_experts(t, c, r) end
    end
end

local function add_unanswered(sub, c, u)
    local parts = {}
    if u.n > 0 then
        local f = u.first
        parts[#parts + 1] = string.format("%d request%s never answered (first: %s, frame %d%s)", u.n,
            u.n == 1 and "" or "s", quoted_command(f.command) .. (f.file and (" " .. f.file) or ""), f.frame,
            f.after_quit and ", sent after QUIT" or "")
    end
    if u.partial > 0 then
        parts[#parts + 1] = string.format('an unfinished request of %s bytes ("%s")', M.thousands(u.partial),
            u.partial_text)
    end
    if u.cut > 0 then
        parts[#parts + 1] = string.format("a reply cut off after %s bytes", M.thousands(u.cut))
    end
    sub:add_proto_expert_info(ex.unanswered, string.format("Connection closed with %s (client #%d)",
        table.concat(parts, " and "), c.client_no))
end

-- The full subtree: a visible tree (packet details, -V, -T fields/json) or a frame with an expert info.
local function add_tree(tree, whole, c, m, payload, vis)
    local sub
    if vis then  -- one string.format: every string made per frame costs the garbage collector
        local role = m[ROLE]
        sub = tree:add(progjar, whole, string.format("Progjar Lab, %s, %s%d [%d,%d)", c.service or "lab",
            role == "request" and "client #" or role == "echo" and "echo to client #" or "reply to client #",
            c.client_no, m[OFF], m[OFF] + m[LEN]))
    else
        sub = tree:add(progjar, whole)
    end
    if c.service then gen(sub:add(pf.service, c.service), vis) end
    gen(sub:add(pf.role, m[ROLE]), vis)
    gen(sub:add(pf.client, c.client_no), vis)
    gen(sub:add(pf.stream, c.stream), vis)
    gen(sub:add(pf.offset, u64(m[OFF])), vis)
    sub:add(pf.len, whole, m[LEN])
    if m[ROLE] == "echo" then
        local it = gen(sub:add(pf.echo_ok, m[OK]), vis)
        if not m[OK] then
            it:add_proto_expert_info(ex.mismatch, string.format(
                "Echo [%d,%d) differs from what client #%d sent at these offsets", m[OFF], m[OFF] + m[LEN], c.client_no))
        end
        if m[REQF] then
            gen(sub:add(pf.request_frame, m[REQF]), vis)
            gen(sub:add(pf.delay, nstime(m[DELAY])), vis)
        end
    end
    if m[WAIT] then   -- the first echo, or the first reply of a time or file server
        local w = gen(sub:add(pf.wait, nstime(m[WAIT])), vis)
        if m[QUEUED] then
            w:add_proto_expert_info(ex.queued, string.format(
                "client #%s waited %.1f s, served after client #%s closed",
                fmt_d(c.client_no), m[QUEUED].waited, fmt_d(m[QUEUED].by)))
        end
    end
    sub:add(pf.text, whole, text_preview(payload))
    if m[MSGS] then add_msgs(sub, whole, c, m[MSGS], vis) end
    if m[UNECHOED] then add_unechoed(sub, m) end
    if m[UNANS] then add_unanswered(sub, c, m[UNANS]) end
end

-- An invisible tree (packet list, summary lines, filters): only what a filter, colouring rule or
-- column refers to. tree:referenced() is cheap next to an add (no TreeItem made); the protocol
-- item itself is always added, since `progjar` alone may be the filter.
local F_SERVICE, F_ROLE, F_CLIENT, F_STREAM, F_OFFSET, F_LEN = pf.service, pf.role, pf.client, pf.stream, pf.offset, pf.len
local F_OK, F_REQF, F_DELAY, F_WAIT, F_TEXT = pf.echo_ok, pf.request_frame, pf.delay, pf.wait, pf.text

local function add_referenced(tree, whole, c, m, payload)
    local sub = tree:add(progjar, whole)
    if c.service and referenced(tree, F_SERVICE) then sub:add(F_SERVICE, c.service) end
    if referenced(tree, F_ROLE) then sub:add(F_ROLE, m[ROLE]) end
    if referenced(tree, F_CLIENT) then sub:add(F_CLIENT, c.client_no) end
    if referenced(tree, F_STREAM) then sub:add(F_STREAM, c.stream) end
    if referenced(tree, F_OFFSET) then sub:add(F_OFFSET, u64(m[OFF])) end
    if referenced(tree, F_LEN) then sub:add(F_LEN, whole, m[LEN]) end
    if m[ROLE] == "echo" then
        if referenced(tree, F_OK) then sub:add(F_OK, m[OK]) end
        if m[REQF] then
            if referenced(tree, F_REQF) then sub:add(F_REQF, m[REQF]) end
            if referenced(tree, F_DELAY) then sub:add(F_DELAY, nstime(m[DELAY])) end
        end
    end
    if m[WAIT] and referenced(tree, F_WAIT) then sub:add(F_WAIT, nstime(m[WAIT])) end
    if referenced(tree, F_TEXT) then sub:add(F_TEXT, whole, text_preview(payload)) end
    if m[MSGS] then add_msgs(sub, whole, c, m[MSGS], false) end   -- few frames: all their fields
end

function progjar.dissector(tvb, pinfo, tree)
    local n = tvb:len()
    if n == 0 then return 0 end
    local num = pinfo.number
    local m = track(pinfo, num, tvb)
    -- nil: no TCP fields in this pass (the first pass of `tshark -2`); the frame is still ours
    if not m or not m[ROLE] then return n end
    local payload = m[BYTES] or tvb:raw()
    last_shown = num
    local c = m[CONN]
    local off = m[OFF]
    local cols = pinfo.cols
    cols.protocol = "PROGJAR"
    local role = m[ROLE]
    if m[MSGS] then
        cols.info = msgs_info(c, m)
    elseif role == "request" then
        cols.info = string.format("Client #%d request [%d,%d)%s", c.client_no, off, off + m[LEN],
                                  info_preview(payload))
    elseif role == "echo" then
        cols.info = string.format("Echo to #%d [%d,%d) %s", c.client_no, off, off + m[LEN],
                                  m[OK] and "ok" or "MISMATCH")
    else   -- a segment in the middle of a reply
        cols.info = string.format("Reply to #%d [%d,%d) ...", c.client_no, off, off + m[LEN])
    end
    if not tree then return n end
    -- Every field a filter, colouring rule or column may ask for is there; the cosmetics (labels,
    -- "generated" marks) and unreferenced fields wait for a visible tree. A frame with an expert
    -- info always gets its subtree (the expert dialog and `-z expert` read it from there).
    local vis = tree.visible
    if vis or m[QUEUED] or m[UNECHOED] or m[UNANS] or (role == "echo" and not m[OK])
            or (m[MSGS] and msgs_expert(m[MSGS])) then
        add_tree(tree, tvb(), c, m, payload, vis)
    elseif referenced(tree, progjar_handle) then
        add_referenced(tree, tvb(), c, m, payload)
    end
    return n
end

-- Every frame: SYN/FIN/RST and the segments TCP did not pass on. Cheap exit for other traffic.
-- What it shows sits on frames progjar.dissector never sees: the closing frame (no payload) with
-- its "unechoed"/"unanswered" warning, and a retransmitted or out-of-order segment whose bytes
-- completed a message (TCP does not hand those to a subdissector): its progjar.msg.* fields, so
-- every message is labelled on the frame that completed it.
function closer.dissector(tvb, pinfo, tree)
    local num = pinfo.number
    if last_shown == num then return end  -- progjar.dissector has shown this frame
    local m
    if m_conn[num] then  -- memoised already: anything to show?
        if not (m_extra[num] or m_msgs[num]) then return end
        m = memo_get(num)
    else
        local pi = settings.port_index
        if not (pi[pinfo.dst_port] or pi[pinfo.src_port]) then return end
        m = track(pinfo, num, nil)
    end
    if not m or not (m[UNECHOED] or m[UNANS] or m[MSGS]) then return end
    local c = m[CONN]
    -- TCP's own Info stays ("[TCP Retransmission] ..."); the messages completed here follow it
    if m[MSGS] then pinfo.cols.info:append(" [" .. msgs_info(c, m) .. "]") end
    if not tree then return end
    local vis = tree.visible
    local whole = tvb(0, 0)
    local sub
    if m[MSGS] then
        sub = tree:add(progjar, whole, string.format("Progjar Lab, %s, client #%d, %s", c.service or "lab",
            c.client_no, msgs_info(c, m)))
    else
        sub = tree:add(progjar, whole, "Progjar Lab, connection closed, client #" .. fmt_d(c.client_no))
    end
    sub:add(pf.client, c.client_no):set_generated()
    sub:add(pf.stream, c.stream):set_generated()
    if m[MSGS] then add_msgs(sub, whole, c, m[MSGS], vis) end
    if m[UNECHOED] then add_unechoed(sub, m) end
    if m[UNANS] then add_unanswered(sub, c, m[UNANS]) end
end

register_postdissector(closer)
-- Asking whether the protocol (our dissector's handle) is referenced lets a frame skip its subtree
-- altogether when nothing (no filter, colouring rule, column or tap) refers to progjar: the tree
-- tshark builds for the field extractors is otherwise invisible work (19.3 s -> 14.5 s on the bench).
progjar_handle = Dissector.get("progjar")
apply_ports(DEFAULT_PORTS, DEFAULT_TIME_PORTS, DEFAULT_FILE_PORTS)  -- after progjar.dissector exists: a table only takes a Proto with a dissector
