"""Realistic report models built in test code, for renderer and batch tests.

They stand in for what the pipeline makes of the lab captures (T1 DNS, T2 echo, T3 file echo, T4 with a
single-threaded or a threaded server), so the renderers can be tested without packets. Frame numbers
are given in time order across the whole capture, as Wireshark numbers them.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from reporter.model import (
    AssignmentInfo,
    Anomalies,
    CaptureInfo,
    Close,
    Connection,
    DnsLookup,
    Echo,
    Endpoint,
    Exchange,
    Fin,
    FrameNote,
    Handshake,
    PerDirection,
    Report,
    Task,
    TcpOptions,
    Tool,
)
from reporter.model import (
    Warning as ModelWarning,
)

LAB_MESSAGE = b"INI ADALAH DATA YANG DIKIRIM ABCDEFGHIJKLMNOPQ"
FILE_TEXT = (
    b"Pemrograman Jaringan - Tugas 1\n"
    b"Berkas ini dikirim oleh klien ke server file-echo di port 32444.\n"
    b"Server membaca 32 byte sekali recv() lalu mengirim kembali dengan sendall().\n"
    b"Baris keempat memastikan isi berkas lebih panjang dari satu segmen kecil.\n"
    b"Selesai.\n"
)
SERVER = "172.16.16.101"
MESIN2 = "172.16.16.102"
MESIN3 = "172.16.16.103"
RESOLVER = "172.16.16.53"
WWW_ITS_A = "103.94.189.5"
WWW_ITS_AAAA = "2001:df0:2e8:2::5"


class _Frames:
    """Hands out frame numbers in time order: callers book events, then ``assign`` numbers them."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, Callable[[int], None]]] = []

    def book(self, t: float, setter: Callable[[int], None]) -> None:
        self.events.append((t, len(self.events), setter))

    def assign(self, start: int = 1) -> int:
        n = start - 1
        for _, _, setter in sorted(self.events, key=lambda e: (e[0], e[1])):
            n += 1
            setter(n)
        return n


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _preview(data: bytes, limit: int = 512) -> str:
    return data[:limit].decode("latin-1")


def echo_connection(fr: _Frames, notes: dict | None, cid: int, client: str, cport: int, port: int,
                    service: str, client_no: int, syn_t: float, sends: list[tuple[float, bytes]],
                    served_from: float | None = None, queued_behind: int | None = None,
                    rtt: float = 0.00021, chunk: int = 32, mss_chunk: int = 1448) -> Connection:
    """One echo connection: handshake, requests at the given times, echoes in ``chunk``-byte pieces
    (recv(32) then sendall) — delayed until ``served_from`` when the server was busy with another client —
    and a client-first close after the last echo."""
    c = Connection(id=cid, client=Endpoint(client, cport), server=Endpoint(SERVER, port), service=service,
                   client_no=client_no, state="SF", history="ShADadFf")
    hs = c.handshake
    hs.syn_time_s, hs.rtt_ms, hs.complete = syn_t, round(rtt * 1000, 3), True
    hs.options = TcpOptions(mss=1460, wscale=7, sack_ok=True, timestamps=True)
    fr.book(syn_t, lambda n: setattr(hs, "syn_frame", n))
    fr.book(syn_t + rtt / 2, lambda n: setattr(hs, "synack_frame", n))
    hs.synack_time_s = round(syn_t + rtt / 2, 6)
    fr.book(syn_t + rtt, lambda n: setattr(hs, "ack_frame", n))

    def segments(frames: list[int], role: str, t: float, off: int, size: int, step: int, spacing: float) -> float:
        """Book one direction's segments of an exchange (frames and, with notes, their FrameNotes);
        returns the time of the last one."""
        for i in range(0, size, step):
            def book(n: int, o: int = off + i, ln: int = min(step, size - i)) -> None:
                frames.append(n)
                if notes is not None:
                    notes[str(n)] = FrameNote(cid, role, o, ln, client_no, echo_ok=True if role == "echo" else None)
            fr.book(t + i * spacing, book)
        return t + (size - 1) // step * step * spacing

    off, c2s, last = 0, b"", syn_t
    for t, data in sends:
        ex = Exchange(request_time_s=t, bytes=len(data))
        segments(ex.request_frames, "request", t, off, len(data), mss_chunk, 1e-7)
        start = max(t, served_from or t, last + 0.0001) + 0.00009
        ex.echo_time_s = round(start, 6)
        last = segments(ex.echo_frames, "echo", start, off, len(data), chunk, 1e-6)
        c.exchanges.append(ex)
        off += len(data)
        c2s += data
    end = last + 0.0004
    c.close = Close(first_fin_by="client", reset=False, end_time_s=round(end, 6))
    for k, by in enumerate(("client", "server")):  # FIN, FIN/ACK, then the last ACK
        t_fin = round(last + 0.0001 * (k + 1), 6)
        fr.book(t_fin, lambda n, by=by, t_fin=t_fin: c.close.fins.append(Fin(by, n, t_fin)))
    fr.book(last + 0.0003, lambda n: None)
    c.bytes = PerDirection(len(c2s), len(c2s))
    c.segments = PerDirection(sum(-(-len(d) // mss_chunk) for _, d in sends), sum(-(-len(d) // chunk) for _, d in sends))
    first_echo = c.exchanges[0].echo_time_s
    c.echo = Echo(verified=True, echoed_bytes=len(c2s), first_mismatch_offset=None,
                  first_request_time_s=sends[0][0], first_echo_time_s=first_echo,
                  wait_s=round(first_echo - syn_t, 6), queued_behind=queued_behind)
    c.sha256 = PerDirection(_sha(c2s), _sha(c2s))
    c.preview = PerDirection(_preview(c2s), _preview(c2s))
    return c


def _dns(fr: _Frames, client: str, t: float, qid: int, qtype: str, answers: list[str]) -> DnsLookup:
    d = DnsLookup(query_frame=0, response_frame=None, time_s=t, client=client, server=RESOLVER, id=qid,
                  name="www.its.ac.id", qtype=qtype, rcode="NOERROR", answers=answers, latency_ms=1.84)
    fr.book(t, lambda n: setattr(d, "query_frame", n))
    fr.book(t + 0.00184, lambda n: setattr(d, "response_frame", n))
    return d


def _capture(name: str, packets: int, duration: float, linktypes: list[int], fmt: str = "pcapng") -> CaptureInfo:
    return CaptureInfo(path=f"samples/{name}", sha256=_sha(name.encode()), format=fmt,
                       linktypes=list(dict.fromkeys(linktypes)), interfaces=len(linktypes), packets=packets, start="2026-11-23T09:15:02.123456Z",
                       duration_s=duration, truncated=False)


def _tasks(report: Report) -> list[Task]:
    """Tasks as the Tugas 1 rubric judges this fixture (the real rubric, so reasons carry codes)."""
    from reporter.assignments.tugas1 import judge_tasks

    return judge_tasks(report)


def _assignment() -> AssignmentInfo:
    return AssignmentInfo("tugas1", "auto", "the capture uses echo (3), file-echo (1), dns (4)",
                          {"dns": 53, "echo": 10000, "file-echo": 32444}, {"echo": 3, "file-echo": 1, "dns": 4})


def lab_report(server_mode: str = "serial", frames: bool = True) -> Report:
    """The whole lab in one capture: T1 DNS from two machines, T2, T3, and T4 against a serial or threaded server."""
    fr = _Frames()
    notes: dict | None = {} if frames else None
    dns = [_dns(fr, MESIN2, 0.104, 0x3c1a, "A", [WWW_ITS_A]),
           _dns(fr, MESIN2, 0.1041, 0x9d02, "AAAA", [WWW_ITS_AAAA]),
           _dns(fr, MESIN3, 0.61, 0x1b77, "A", [WWW_ITS_A]),
           _dns(fr, MESIN3, 0.6101, 0x4e20, "AAAA", [WWW_ITS_AAAA])]
    conns = [
        echo_connection(fr, notes, 0, MESIN2, 45812, 10000, "echo", 1, 2.0, [(2.0005, LAB_MESSAGE)]),
        echo_connection(fr, notes, 1, MESIN2, 45818, 32444, "file-echo", 1, 4.0, [(4.0006, FILE_TEXT)]),
    ]
    a_sends = [(5.0005, LAB_MESSAGE), (8.001, LAB_MESSAGE), (11.002, LAB_MESSAGE)]
    b_sends = [(6.0005, LAB_MESSAGE), (9.001, LAB_MESSAGE), (12.002, LAB_MESSAGE)]
    a = echo_connection(fr, notes, 2, MESIN2, 45830, 10000, "echo", 2, 5.0, a_sends)
    conns.append(a)
    if server_mode == "serial":
        a_close = a_sends[-1][0] + 0.0012
        b = echo_connection(fr, notes, 3, MESIN3, 51944, 10000, "echo", 3, 6.0, b_sends,
                            served_from=a_close, queued_behind=2)
    else:
        b = echo_connection(fr, notes, 3, MESIN3, 51944, 10000, "echo", 3, 6.0, b_sends)
    conns.append(b)
    total = fr.assign()
    rep = Report(capture=_capture(f"lab-all-{server_mode}.pcapng", total + 6, 12.6, [1, 1, 1]),
                 tool=Tool("progjar-lab", "0.1.0"), dns=dns, connections=conns,
                 frames=notes)
    rep.assignment = _assignment()
    rep.tasks = _tasks(rep)
    return rep


def hostile_report() -> Report:
    """A report whose payload previews carry markup, template syntax and a file:// reference."""
    rep = lab_report("serial")
    evil = ('<script>alert("x")</script></pre>{{ 7*7 }}{% if 1 %}yes{% endif %}'
            '<img src="file:///etc/passwd"><link rel="stylesheet" href="file:///etc/passwd">'
            '<style>@import url("file:///etc/passwd");</style>')
    c = rep.connections[0]
    c.preview = PerDirection(evil, evil[:40] + "\x00\x01\x7f" + "é")
    c.echo.verified = False
    c.echo.first_mismatch_offset = 40
    rep.warnings.append(ModelWarning(
        "odd", "<b>warning</b> with </td> markup", 3))
    rep.dns[0].name = "<svg onload=alert(1)>.example"
    return rep


def big_report(n: int = 5000) -> Report:
    """Thousands of connections (a busy capture): most are ordinary web traffic, a few on the lab ports."""
    rep = lab_report("serial", frames=False)
    conns = list(rep.connections)
    frame = rep.capture.packets
    for i in range(n - len(conns)):
        cid = len(conns)
        t = 13.0 + i * 0.01
        ip = f"10.0.{(i // 250) % 250}.{i % 250 + 1}"
        srv = Endpoint(f"192.0.2.{i % 7 + 1}", (80, 443, 8080)[i % 3])
        c = Connection(id=cid, client=Endpoint(ip, 30000 + i % 30000), server=srv, client_no=i // 21 + 1,
                       state=("SF", "S0", "RSTO", "REJ")[i % 4] if i % 5 else "SF",
                       history="ShADadFf" if i % 4 == 0 else "S")
        c.handshake = Handshake(frame + 1, frame + 2, frame + 3, t, 0.4, True, TcpOptions(1460, 7, True, True))
        c.close = Close("client", i % 4 == 2, round(t + 0.05, 6))
        c.bytes = PerDirection(300 + i % 500, 2000 + i % 9000)
        c.segments = PerDirection(3, 4)
        c.anomalies = Anomalies(retransmissions=1 if i % 97 == 0 else 0)
        c.sha256 = PerDirection(_sha(b"a"), _sha(b"b"))
        c.preview = PerDirection("GET / HTTP/1.1\r\nHost: example\r\n\r\n", "HTTP/1.1 200 OK\r\n")
        frame += 8
        conns.append(c)
    rep.connections = conns
    rep.dns += [DnsLookup(frame + i, frame + i + 1, 13.0 + i * 0.01, MESIN2, RESOLVER, i, f"host{i}.example",
                          "A", "NOERROR", ["192.0.2.9"], 1.0) for i in range(1500)]
    rep.capture.packets = frame + 3000
    rep.capture.duration_s = 13.0 + n * 0.01
    return rep
