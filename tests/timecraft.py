"""Crafted time-server conversations (Tugas 2), in the words of the tests that use them.

A capture is made from TcpFlow conversations (tests/craft.py): lines are sent whole or one byte per
segment (telnet in character mode), replies carry a `JAM` value computed from the frame's own
capture time in a chosen UTC offset, so the clock check has a known right answer.
"""
from __future__ import annotations

import time as _time
from pathlib import Path
from typing import Optional

from tests.craft import TcpFlow, merge, write_pcap

T0 = 1_763_900_000.25  # 2025-11-23 12:13:20.25 UTC
WIB = 7 * 3600
SERVER, MESIN2, MESIN3 = "172.16.16.101", "172.16.16.102", "172.16.16.103"


def jam(t: float, offset_s: int = WIB, fmt: str = "%H:%M:%S") -> bytes:
    """The value a server in UTC+offset prints at capture time t."""
    return _time.strftime(fmt, _time.gmtime(t + offset_s)).encode()


class TimeSession:
    """One client's conversation with a time server, written segment by segment."""

    def __init__(self, client: str = MESIN2, port: int = 45000, cport: int = 40000, t: float = T0,
                 step: float = 0.01, server: str = SERVER) -> None:
        self.f = TcpFlow(client=client, server=server, cport=cport, sport=port, t=t, step=step)
        self.f.handshake()

    @property
    def t(self) -> float:
        return self.f.t

    def send(self, data: bytes, bytewise: bool = False, dt: Optional[float] = None) -> "TimeSession":
        pieces = [data[i:i + 1] for i in range(len(data))] if bytewise else [data]
        for i, p in enumerate(pieces):
            self.f.data("c", self.f.sent["c"], p, dt=dt if i == 0 else None)
        return self

    def reply(self, data: bytes, dt: Optional[float] = None) -> "TimeSession":
        self.f.data("s", self.f.sent["s"], data, dt=dt)
        return self

    def jam(self, offset_s: int = WIB, fmt: str = "%H:%M:%S", end: bytes = b"\r\n") -> "TimeSession":
        """A JAM reply whose value is the capture time of its own frame (the next step) in UTC+offset."""
        return self.reply(b"JAM " + jam(self.f.t + self.f.step, offset_s, fmt) + end)

    def ask_time(self, bytewise: bool = False) -> "TimeSession":
        return self.send(b"TIME\r\n", bytewise).jam()

    def server_close(self) -> "TimeSession":
        self.f.fin("s").fin("c").ack("s")
        return self

    def client_close(self) -> "TimeSession":
        self.f.fin("c").fin("s").ack("c")
        return self

    def recs(self) -> list:
        return self.f.recs()


def write(path: Path, *sessions: TimeSession) -> Path:
    return write_pcap(path, merge(*(s.recs() for s in sessions)))


def lab_session(client: str = MESIN2, port: int = 45000, cport: int = 40000, t: float = T0,
                bytewise: bool = False) -> TimeSession:
    """What the assignment asks for: TIME, an unknown request, TIME, QUIT, the server's FIN."""
    s = TimeSession(client, port, cport, t)
    s.ask_time(bytewise).send(b"HELLO\r\n", bytewise).reply(b"ERROR unknown request\r\n")
    s.ask_time(bytewise).send(b"QUIT\r\n", bytewise).server_close()
    return s
