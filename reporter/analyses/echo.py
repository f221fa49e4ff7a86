"""Echo checking: did the server send back exactly the bytes the client sent, and when?

Why streaming: the reassembled client and server streams are compared offset by offset while
they are delivered, so only the bytes one side has and the other has not yet answered are kept
(the "lead" buffer), never whole streams. The lab's echo server answers request bytes in order
(``recv(32)`` + ``sendall``), so server byte k must equal client byte k.

Exchanges group the request segments and the echo segments that answer them: a new exchange
starts with a request segment that arrives after the server has echoed everything requested so
far, or more than a second after the previous request segment (the lab client's sends are 3 s
apart, a file's segments follow each other within milliseconds). So a single-threaded server
that answers three queued sends at once still shows three exchanges, each with its own echo.
Echo segments are matched to exchanges by stream offset.
"""
from __future__ import annotations

LEAD_CAP = 4 << 20  # un-answered bytes kept per lab connection before echo checking gives up
OTHER_CAP = 64 << 10  # ... and per connection on other ports (an upload must not hold megabytes)
MAX_EXCHANGES = 10000
MAX_FRAMES = 1000  # frames listed per exchange
EXCHANGE_GAP_NS = 1_000_000_000  # a request this long after the previous one starts a new exchange


class Exchange:
    """A request range [start, end) and the frames that carried it and its echo."""

    __slots__ = ("echo_frames", "echo_ts", "end", "last_ts", "req_frames", "req_ts", "start")

    def __init__(self, start: int, ts: int) -> None:
        self.start = self.end = start
        self.req_frames: list[int] = []
        self.echo_frames: list[int] = []
        self.req_ts = self.last_ts = ts
        self.echo_ts: int | None = None


class EchoCheck:
    """Compares the server->client stream with the client->server stream at equal offsets."""

    __slots__ = (
        "buf",
        "cap",
        "echoed",
        "end",
        "exchanges",
        "first_echo_ts",
        "first_req_ts",
        "lead",
        "mismatch",
        "mismatch_frame",
        "open",
        "overflow",
        "stopped",
        "truncated",
        "unknown",
        "unverified",
    )

    def __init__(self, cap: int = LEAD_CAP) -> None:
        self.cap = cap
        self.end = [0, 0]  # delivered end offset: [client, server]
        self.lead = 0  # which side's bytes are in buf (the side further ahead)
        self.buf = bytearray()  # lead side's bytes [min(end), max(end))
        self.unknown: list[tuple[int, int]] = []  # gap ranges inside buf (absolute offsets)
        self.echoed = 0
        self.unverified = 0  # offsets compared where a side's byte was never captured (a gap)
        self.mismatch: int | None = None
        self.mismatch_frame: int | None = None  # the echo segment that carried the first wrong byte
        self.stopped = False
        self.overflow = False
        self.first_req_ts: int | None = None
        self.first_echo_ts: int | None = None
        self.exchanges: list[Exchange] = []
        self.open: list[Exchange] = []  # exchanges whose echo is not complete
        self.truncated = False

    # -- delivery callbacks (Half.sink) -------------------------------------------------------

    def request(self, off: int, data: bytes | None, pkt: object) -> None:
        """Client bytes delivered at off (data None: a gap of length pkt)."""
        if data is None:
            self._add(0, off, None, pkt)  # type: ignore[arg-type]
            return
        ts = pkt.ts  # type: ignore[attr-defined]
        if self.first_req_ts is None:
            self.first_req_ts = ts
        openx = self.open
        if openx and ts - openx[-1].last_ts < EXCHANGE_GAP_NS:
            ex: Exchange | None = openx[-1]  # echo outstanding, the client still sending: joins it
        elif len(self.exchanges) < MAX_EXCHANGES:
            ex = Exchange(off, ts)
            self.exchanges.append(ex)
            openx.append(ex)
        else:
            self.truncated = True
            ex = None
        if ex is not None:
            ex.end = off + len(data)
            ex.last_ts = ts
            fr = ex.req_frames
            no = pkt.no  # type: ignore[attr-defined]
            if (not fr or fr[-1] != no) and len(fr) < MAX_FRAMES:
                fr.append(no)
        ends = self.end
        if off == ends[0] and off >= ends[1] and not self.stopped:  # the client leads, as usual: keep
            ends[0] = off + len(data)
            if off == ends[1]:
                self.lead = 0
            self._keep(off, data, len(data))
            return
        self._add(0, off, data, 0)

    def answer(self, off: int, data: bytes | None, pkt: object) -> None:
        """Server bytes delivered at off (data None: a gap of length pkt)."""
        if data is None:
            self._add(1, off, None, pkt)  # type: ignore[arg-type]
            return
        if self.first_echo_ts is None:
            self.first_echo_ts = pkt.ts  # type: ignore[attr-defined]
        n = len(data)
        end = off + n
        openx = self.open
        if openx:
            no = pkt.no  # type: ignore[attr-defined]
            ex = openx[0]
            if len(openx) == 1 and ex.start < end and ex.end > off:  # the usual: one request outstanding
                fr = ex.echo_frames
                if not fr:
                    ex.echo_ts = pkt.ts  # type: ignore[attr-defined]
                    fr.append(no)
                elif fr[-1] != no and len(fr) < MAX_FRAMES:
                    fr.append(no)
                if end >= ex.end:
                    openx.clear()
            else:
                self._echo_frames(openx, off, end, pkt)
        ends = self.end
        if off == ends[1] and end <= ends[0] and not self.unknown and not self.stopped:
            buf = self.buf  # the client's bytes not yet echoed, from this offset on
            ends[1] = end
            if buf.startswith(data):  # the echo is right: no copy, no slice
                del buf[:n]
                self.echoed += n
                return
            head = bytes(buf[:n])
            del buf[:n]
            self._compare(off, data, head, 1)
        else:
            found = self.mismatch is not None
            self._add(1, off, data, 0)
            if found:
                return
        if self.mismatch is not None:  # found in this segment: it carries the first wrong byte
            self.mismatch_frame = pkt.no  # type: ignore[attr-defined]

    def _echo_frames(self, openx: list[Exchange], off: int, end: int, pkt: object) -> None:
        """Echo bytes [off, end) answer the open exchanges they overlap; fully answered ones close."""
        no = pkt.no  # type: ignore[attr-defined]
        done = 0
        for ex in openx:
            if ex.start >= end:
                break
            if ex.end > off:
                fr = ex.echo_frames
                if not fr:
                    ex.echo_ts = pkt.ts  # type: ignore[attr-defined]
                if (not fr or fr[-1] != no) and len(fr) < MAX_FRAMES:
                    fr.append(no)
            if end >= ex.end:
                done += 1
            else:
                break
        if done:
            del openx[:done]

    # -- comparison -----------------------------------------------------------------------------

    def _add(self, side: int, off: int, data: bytes | None, gap: int) -> None:
        ends = self.end
        n = gap if data is None else len(data)
        mine = ends[side]
        if off > mine:  # bytes this side never delivered before off: unknown
            self._add(side, mine, None, off - mine)
            mine = ends[side]
        ends[side] = off + n
        if self.stopped:
            return
        other = ends[1 - side]
        if mine >= other:  # this side leads (or both level): keep its bytes
            if mine == other:
                self.lead = side
            self._keep(mine, data, n)
            return
        # this side is behind: compare with the lead's buffered bytes
        k = min(n, other - mine)
        head = bytes(self.buf[:k])
        del self.buf[:k]
        mine_bytes = None if data is None else data[:k]
        self._compare(mine, mine_bytes, head, side)
        if n > k:  # overtakes the other side: becomes the lead
            self.lead = side
            self.unknown = [(a, b) for a, b in self.unknown if b > mine + k]
            self._keep(mine + k, None if data is None else data[k:], n - k)

    def _keep(self, at: int, data: bytes | None, n: int) -> None:
        """Keep the lead's bytes (placeholders for a gap) until the other side reaches them."""
        if len(self.buf) + n > self.cap:
            # more unanswered bytes than we keep: stop checking (a gap this long says nothing: no
            # overflow warning for it, and a damaged sequence number must not allocate gigabytes)
            self.stopped = True
            self.overflow = data is not None
            self.buf = bytearray()
            self.unknown = []
            return
        if data is None:
            self.unknown.append((at, at + n))
            self.buf += bytes(n)
        else:
            self.buf += data

    def _compare(self, at: int, mine: bytes | None, head: bytes, side: int) -> None:
        """Compare [at, at+len(head)): this side's bytes with the lead's; gaps compare as unknown."""
        k = len(head)
        if mine is None:  # this side's bytes were never captured: nothing to compare them with
            self.unverified += k
            self._forget(at + k)
            return
        unknown = self.unknown
        if not unknown:
            if mine == head:
                self.echoed += k
                return
            ranges = [(at, at + k)]
        else:
            ranges = []
            cur = at
            for a, b in unknown:
                if b <= cur or a >= at + k:
                    continue
                if a > cur:
                    ranges.append((cur, a))
                cur = max(cur, b)
            if cur < at + k:
                ranges.append((cur, at + k))
            self.unverified += k - sum(b - a for a, b in ranges)  # the lead's bytes there were never captured
            self._forget(at + k)
        for a, b in ranges:
            x, y = mine[a - at:b - at], head[a - at:b - at]
            if x == y:
                self.echoed += b - a
                continue
            i = next(j for j in range(len(x)) if x[j] != y[j])
            self.echoed += i
            self.mismatch = a + i
            self.stopped = True
            self.buf = bytearray()
            self.unknown = []
            return

    def _forget(self, upto: int) -> None:
        self.unknown = [(a, b) for a, b in self.unknown if b > upto]

    # -- results -----------------------------------------------------------------------------

    def verified(self, client_bytes: int) -> bool:
        """Everything the client sent (client_bytes delivered) came back unchanged, and something did.

        Not when some request or echo bytes were never captured (``unverified``): the delivered
        bytes leave gaps out, so without this a capture that lost part of the request would pass."""
        return (self.echoed > 0 and self.mismatch is None and not self.overflow and self.unverified == 0
                and self.echoed == client_bytes)
