"""The decoded packet every analysis consumes: one small record per IP frame.

Why a slotted class and raw address bytes: this is the hot path (a million packets a run), so
decoding keeps addresses as packed bytes (4 or 16) and converts them to text only when an
analysis writes the report (see ``ip_text``). Times are integer nanoseconds since the epoch so
nanosecond captures stay exact; ``Packet.ts`` minus the capture's first frame time is
Wireshark's frame.time_relative.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Optional

# TCP flag bits the analyses test
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class Packet:
    """One IPv4/IPv6 frame carrying TCP or UDP (the decoder counts other IP protocols, never yields them)."""

    __slots__ = (
        "no",  # 1-based frame number, as Wireshark's frame.number
        "ts",  # int nanoseconds since the epoch
        "iface",  # interface id (pcapng), 0 for pcap
        "version",  # 4 or 6
        "src",  # packed source address (bytes, 4 or 16)
        "dst",  # packed destination address
        "proto",  # IP protocol number (6 TCP, 17 UDP, ...)
        "ip_id",  # IPv4 identification (None for IPv6): helps tell capture duplicates
        "sport",
        "dport",
        "seq",  # TCP only, else 0
        "ack",
        "flags",  # TCP flag bits
        "window",
        "options",  # raw TCP option bytes (b"" when none)
        "payload",  # bytes: TCP/UDP payload, Ethernet padding excluded
        "missing",  # payload bytes cut by the snap length (0 when whole)
    )

    def __init__(
        self,
        no: int,
        ts: int,
        iface: int,
        version: int,
        src: bytes,
        dst: bytes,
        proto: int,
        ip_id: Optional[int],
        sport: int = 0,
        dport: int = 0,
        seq: int = 0,
        ack: int = 0,
        flags: int = 0,
        window: int = 0,
        options: bytes = b"",
        payload: bytes = b"",
        missing: int = 0,
    ) -> None:
        self.no = no
        self.ts = ts
        self.iface = iface
        self.version = version
        self.src = src
        self.dst = dst
        self.proto = proto
        self.ip_id = ip_id
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.options = options
        self.payload = payload
        self.missing = missing

    def __repr__(self) -> str:  # for test failure messages
        return (
            f"Packet(no={self.no}, {ip_text(self.src)}:{self.sport} -> {ip_text(self.dst)}:{self.dport}, "
            f"proto={self.proto}, seq={self.seq}, ack={self.ack}, flags={self.flags:#x}, len={len(self.payload)})"
        )


def ip_text(addr: bytes) -> str:
    """Packed IPv4/IPv6 address to its usual text form."""
    return socket.inet_ntop(socket.AF_INET if len(addr) == 4 else socket.AF_INET6, addr)


def is_loopback(ip: str) -> bool:
    """An address in text form is a loopback one (127.0.0.0/8, ::1); False for text that is no address."""
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False
