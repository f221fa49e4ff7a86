-- progjar.lua -- PROGJAR-LAB WIRESHARK PLUGIN (this marker line lets `progjar dissector` recognise its own copy)
--
-- Labels the echo lab of "Pemrograman Jaringan" (Tugas 1) in Wireshark: which client sent which
-- bytes, which server segment echoes them, whether the echo is right, how long a client waited.
-- The facts are the same as the report JSON of `progjar report --frames` (see DESIGN.md), so the
-- two can be checked against each other frame by frame.
--
-- One self-contained file for Wireshark 4.0 (Lua 5.2) through 4.4+ (Lua 5.4): bit.* only, no
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
--  * Expert infos: progjar.expert.mismatch (error) on the echo segment whose bytes differ;
--    progjar.expert.queued (note) on a client's first echo when another client of the same
--    server closed after this client's request (the serial server of task 4);
--    progjar.expert.unechoed (warning) on the server's FIN or on an RST (the moment no further
--    echo can come) when fewer bytes were echoed than requested. A client's FIN alone is not
--    enough: a client may half-close and still read its echo.
--  * Port preference `progjar.ports` (Edit > Preferences > Protocols > PROGJAR, or
--    `-o progjar.ports:12345`): the first port is the echo service, the second file-echo. The
--    plugin replaces whatever dissector had those ports (10000 is NDMP's) and gives them back
--    when the preference changes.
--  * Cost: Lua field extractors make Wireshark build a protocol tree for every frame. When nothing
--    refers to progjar (no filter, colouring rule, column or tap: plain summary lines) a frame adds
--    no subtree at all, only its columns; on an invisible tree that is referred to, only the
--    progjar fields something asks for are added (TreeItem:referenced); a visible tree (packet
--    details, -V, -T fields) gets them all. Frames with an expert info always get their subtree.
--    In the first pass of `tshark -2` the TCP fields are missing: the frame is claimed and left
--    alone at once. Every object made per frame costs the Lua garbage collector several
--    microseconds, so the hot path makes few: the memo is columns indexed by frame number,
--    stored request bytes sit in one flat array per connection, an echo is compared in place,
--    and a request's Info preview is cached by its first bytes.
--    tests/bench/bench_lua.py measures the ratio against plain tshark.

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
local CH = 5   -- values per chunk: chunk i is ch[CH*i-4 .. CH*i]

function M.dir_new(keep_bytes)
    local d = { next = 0, first = 1, last = 0, keep = keep_bytes, isn = nil, ref = 0 }
    if keep_bytes then d.ch = {} end
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
        local keep = {}
        for i = 1, #pending do
            local p = pending[i]
            if p.off + p.n > d.next then keep[#keep + 1] = p end
        end
        pending = keep
        d.pending = keep
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
        if d.keep then data = string.sub(p.data, d.next - p.off + 1, limit - p.off) end
        push_chunk(d, d.next, n, data, p.frame, p.t)
        d.next = limit
    end
end

--- Feed a segment [off, off+n) (bytes `data` when kept). Returns how many bytes it newly delivered.
function M.dir_add(d, off, n, data, frame, t)
    local e = off + n
    if n <= 0 or e <= d.next then return 0 end
    local before = d.next
    if off <= d.next then
        local s = d.next - off
        local piece = nil
        if d.keep then
            piece = data
            if s > 0 then piece = string.sub(data, s + 1) end  -- string.sub(x, 1) would copy x
        end
        push_chunk(d, d.next, e - d.next, piece, frame, t)
        d.next = e
        if d.pending then pull_pending(d) end
    else
        local piece = nil
        if d.keep then piece = data end
        local pending = d.pending
        if not pending then pending = {}; d.pending = pending end
        pending[#pending + 1] = { off = off, n = n, data = piece, frame = frame, t = t }
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
    wait = ProtoField.relative_time("progjar.wait", "Client waited (SYN to first echo)"),
    text = ProtoField.string("progjar.text", "Text"),
}
progjar.fields = { pf.service, pf.role, pf.client, pf.stream, pf.offset, pf.len, pf.echo_ok,
                   pf.request_frame, pf.delay, pf.wait, pf.text }

local ex = {
    mismatch = ProtoExpert.new("progjar.expert.mismatch", "Echo differs from the request",
                               expert.group.PROTOCOL, expert.severity.ERROR),
    queued = ProtoExpert.new("progjar.expert.queued", "Client waited for an earlier client",
                             expert.group.SEQUENCE, expert.severity.NOTE),
    unechoed = ProtoExpert.new("progjar.expert.unechoed", "Connection closed with bytes not echoed",
                               expert.group.SEQUENCE, expert.severity.WARN),
}
progjar.experts = { ex.mismatch, ex.queued, ex.unechoed }

local DEFAULT_PORTS = "10000,32444"
progjar.prefs.ports = Pref.range("Lab ports", DEFAULT_PORTS,
    "TCP ports of the lab servers: the first is the echo server (T2), the second the file-echo server (T3)", 65535)

-- field extractors: created once, at load time
local f_stream = Field.new("tcp.stream")
local f_seq = Field.new("tcp.seq_raw")
local f_flags = Field.new("tcp.flags")
local f_payload = Field.new("tcp.payload")

local FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10

-- settings and state
local settings = { ports = {}, port_index = {} }
local tcp_table = DissectorTable.get("tcp.port")
local displaced = {}    -- port -> dissector we replaced (restored when the port is dropped)
local conns, endpoints, last_shown
-- The memo: frame number -> what the frame is, as parallel columns rather than one table per frame:
-- a million small tables made the garbage collector walk a million objects on every cycle.
local m_conn, m_role, m_off, m_len, m_ok, m_reqf, m_delay, m_extra

local function reset_state()
    conns = {}          -- tcp.stream -> connection state
    m_conn, m_role, m_off, m_len, m_ok = {}, {}, {}, {}, {}   -- set for every memoised frame
    m_reqf, m_delay = {}, {}   -- echoes whose request is known
    m_extra = {}               -- rare: {wait, queued, unechoed}
    endpoints = {}      -- "server ip|port" -> {count = connections so far, closes = latest closed ones}
    last_shown = nil
end
reset_state()

local function apply_ports(text)
    local ports = M.parse_ports(text)
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
    settings.ports, settings.port_index = ports, index
end

function progjar.prefs_changed()
    apply_ports(progjar.prefs.ports)
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
    local c = { stream = stream, c2s = M.dir_new(true), s2c = M.dir_new(false) }
    if client_is_src then
        c.client_ip, c.client_port, c.server_ip, c.server_port = src, sport, dst, dport
    else
        c.client_ip, c.client_port, c.server_ip, c.server_port = dst, dport, src, sport
    end
    c.service = M.service_of(settings.port_index[c.server_port])
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
local SCRATCH = { false, false, false, false, false, false, false, false, false, false, false }

local function memo_get(num)
    local c = m_conn[num]
    if not c then return nil end
    local m = SCRATCH
    m[ROLE], m[OFF], m[LEN], m[OK], m[CONN] = m_role[num], m_off[num], m_len[num], m_ok[num], c
    m[REQF], m[DELAY], m[BYTES] = m_reqf[num] or false, m_delay[num] or false, false
    local x = m_extra[num]
    if x then m[WAIT], m[QUEUED], m[UNECHOED] = x[1], x[2], x[3]
    else m[WAIT], m[QUEUED], m[UNECHOED] = false, false, false end
    return m
end

local function memo_put(num, m)
    m_conn[num], m_role[num], m_off[num], m_len[num], m_ok[num] = m[CONN], m[ROLE], m[OFF], m[LEN], m[OK]
    if m[REQF] then m_reqf[num], m_delay[num] = m[REQF], m[DELAY] end
    if m[WAIT] or m[QUEUED] or m[UNECHOED] then m_extra[num] = { m[WAIT], m[QUEUED], m[UNECHOED] } end
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
    local flags, n = fi_flags.value, 0
    if tvb then
        payload = tvb:raw()   -- TCP passed its payload on: no tcp.len extractor needed
        n = #payload
    elseif fp then
        payload = fp.range and fp.range:raw() or ""
        n = #payload   -- what was captured: a frame cut by the snap length has fewer bytes
    end
    if n == 0 and bit.band(flags, SYN + FIN + RST) == 0 then return NOTHING end
    local fi_stream, fi_seq = f_stream(), f_seq()
    if not (fi_stream and fi_seq) then return nil end
    local stream, seq = fi_stream.value, fi_seq.value
    local t = pinfo.abs_ts
    local c = conns[stream] or new_conn(stream, pinfo, flags)
    local from_client
    if c.client_port ~= c.server_port then
        from_client = pinfo.src_port == c.client_port
    else
        from_client = tostring(pinfo.src) == c.client_ip
    end
    m = SCRATCH
    m[ROLE], m[OFF], m[LEN], m[OK], m[REQF], m[DELAY], m[WAIT], m[QUEUED], m[UNECHOED], m[CONN], m[BYTES] =
        false, false, false, false, false, false, false, false, false, c, payload or false
    local d = from_client and c.c2s or c.s2c
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
        if from_client then
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
        if final and not c.unechoed_said and c.c2s.next > c.s2c.next then
            c.unechoed_said = true
            m[UNECHOED] = c.c2s.next - c.s2c.next
        end
        if final then M.dir_prune(c.c2s, c.c2s.next) end  -- no new echo can come: free the request bytes
    end
    if n > 0 or m[UNECHOED] then memo_put(num, m) end  -- SYN/FIN handling is idempotent: no memo needed
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

-- The full subtree: a visible tree (packet details, -V, -T fields/json) or a frame with an expert info.
local function add_tree(tree, whole, c, m, payload, vis)
    local sub
    if vis then  -- one string.format: every string made per frame costs the garbage collector
        sub = tree:add(progjar, whole, string.format("Progjar Lab, %s, %s%d [%d,%d)", c.service or "lab",
            m[ROLE] == "request" and "client #" or "echo to client #", c.client_no, m[OFF], m[OFF] + m[LEN]))
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
        if m[WAIT] then
            local w = gen(sub:add(pf.wait, nstime(m[WAIT])), vis)
            if m[QUEUED] then
                w:add_proto_expert_info(ex.queued, string.format(
                    "client #%s waited %.1f s, served after client #%s closed",
                    fmt_d(c.client_no), m[QUEUED].waited, fmt_d(m[QUEUED].by)))
            end
        end
    end
    sub:add(pf.text, whole, text_preview(payload))
    if m[UNECHOED] then add_unechoed(sub, m) end
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
        if m[WAIT] and referenced(tree, F_WAIT) then sub:add(F_WAIT, nstime(m[WAIT])) end
    end
    if referenced(tree, F_TEXT) then sub:add(F_TEXT, whole, text_preview(payload)) end
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
    if m[ROLE] == "request" then
        cols.info = string.format("Client #%d request [%d,%d)%s", c.client_no, off, off + m[LEN],
                                  info_preview(payload))
    else
        cols.info = string.format("Echo to #%d [%d,%d) %s", c.client_no, off, off + m[LEN],
                                  m[OK] and "ok" or "MISMATCH")
    end
    if not tree then return n end
    -- Every field a filter, colouring rule or column may ask for is there; the cosmetics (labels,
    -- "generated" marks) and unreferenced fields wait for a visible tree. A frame with an expert
    -- info always gets its subtree (the expert dialog and `-z expert` read it from there).
    local vis = tree.visible
    if vis or m[QUEUED] or m[UNECHOED] or (m[ROLE] == "echo" and not m[OK]) then
        add_tree(tree, tvb(), c, m, payload, vis)
    elseif referenced(tree, progjar_handle) then
        add_referenced(tree, tvb(), c, m, payload)
    end
    return n
end

-- Every frame: SYN/FIN/RST and the segments TCP did not pass on. Cheap exit for other traffic.
function closer.dissector(tvb, pinfo, tree)
    local num = pinfo.number
    local m
    if m_conn[num] then  -- payload frames: progjar.dissector has done the work already
        local x = m_extra[num]
        if not (x and x[3]) then return end
        m = memo_get(num)
    else
        local pi = settings.port_index
        if not (pi[pinfo.dst_port] or pi[pinfo.src_port]) then return end
        m = track(pinfo, num, nil)
    end
    if not m or not m[UNECHOED] or last_shown == num or not tree then return end
    -- the closing frame has no payload, so TCP never called progjar.dissector for it
    local c = m[CONN]
    local sub = tree:add(progjar, tvb(0, 0), "Progjar Lab, connection closed, client #" .. fmt_d(c.client_no))
    sub:add(pf.client, c.client_no):set_generated()
    sub:add(pf.stream, c.stream):set_generated()
    add_unechoed(sub, m)
end

register_postdissector(closer)
-- Asking whether the protocol (our dissector's handle) is referenced lets a frame skip its subtree
-- altogether when nothing (no filter, colouring rule, column or tap) refers to progjar: the tree
-- tshark builds for the field extractors is otherwise invisible work (19.3 s -> 14.5 s on the bench).
progjar_handle = Dissector.get("progjar")
apply_ports(DEFAULT_PORTS)  -- after progjar.dissector exists: a table only takes a Proto with a dissector
