"""Build a synthetic class for the batch and fingerprint tests.

Two ways to give each student a capture of their own, as a real class would hand in:
- `kernel_like_capture`: a crafted lab session (DNS A+AAAA, echo on 10000, file echo on 32444)
  whose random-per-run values (ISNs, ephemeral ports, TSvals, DNS ids, MACs) come from a seed,
  with uneven timing and kernel-ish IP ids, so it shows no "crafted" hint;
- `variant`: a bundled sample rewritten with another run's random values (ISNs, ports,
  TSvals, DNS ids, MACs shifted consistently, checksums recomputed), so the analyses see the
  same lab behaviour but the copy signals see a different student.
"""
from __future__ import annotations

import random
import struct
from pathlib import Path

from reporter.reading.capture import iter_records, open_capture
from tests import craft

LAB_PORTS = {53, 10000, 32444}


def kernel_like_capture(path: Path, seed: int, fmt: str = "pcap", aaaa: bool = True, tasks: str = "123",
                        t0: float = 1_763_900_000.0, client: str = "172.16.16.102",
                        server: str = "172.16.16.101", dns_server: str = "172.16.16.53",
                        other_port: int | None = None, retransmits: int = 0) -> Path:
    """One student's lab session with random-per-run values drawn from `seed`."""
    rng = random.Random(seed)
    mac_c = bytes([0x02] + [rng.randrange(256) for _ in range(5)])
    mac_s = bytes([0x02] + [rng.randrange(256) for _ in range(5)])
    recs: list[craft.Rec] = []
    t = t0 + rng.uniform(0, 30)

    def add(ip: bytes, src_is_client: bool, dt: float) -> None:
        nonlocal t
        t += dt
        src, dst = (mac_c, mac_s) if src_is_client else (mac_s, mac_c)
        recs.append(craft.Rec(craft.ethernet(ip, src_mac=src, dst_mac=dst), t))

    if "1" in tasks:
        dns_srv = dns_server
        for qtype, ans in ((1, [(1, "103.94.189.5")]), (28, [])):
            if qtype == 28 and not aaaa:
                continue
            qid, port = rng.randrange(65536), rng.randrange(32768, 60999)
            q = craft.dns_message(qid, "www.its.ac.id", qtype)
            r = craft.dns_message(qid, "www.its.ac.id", qtype, response=True, answers=ans)
            add(craft.ip_packet(client, dns_srv, 17, craft.udp_datagram(client, dns_srv, port, 53, q),
                                ip_id=rng.randrange(65536)), True, rng.uniform(0.01, 0.3))
            add(craft.ip_packet(dns_srv, client, 17, craft.udp_datagram(dns_srv, client, 53, port, r),
                                ip_id=rng.randrange(65536)), False, rng.uniform(0.0002, 0.004))
    for task, sport, msg in (("2", other_port or 10000, craft.LAB_MESSAGE), ("3", 32444, b"isi file tugas\n" * 40)):
        if task not in tasks or (other_port and task == "3"):
            continue
        flow = craft.TcpFlow(client=client, server=server, cport=rng.randrange(32768, 60999), sport=sport,
                             isn_c=rng.randrange(1 << 32), isn_s=rng.randrange(1 << 32), ip_id=rng.randrange(65536))
        tsv = rng.randrange(1 << 32)
        flow.handshake(options=craft.tcp_options(timestamps=(tsv, 0)))
        flow.echo_exchange(msg[:1400] if len(msg) <= 1400 else msg, chunk=32)
        for _ in range(retransmits if task == "2" else 0):  # spurious retransmissions of the request
            flow.data("c", 0, msg)
        flow.close()
        for _t, pkt in flow.packets:
            add(pkt, pkt[12:16] == craft._pack_ip(client), rng.uniform(0.00005, 0.002))
        t += rng.uniform(1, 5)
    if fmt == "pcapng":
        return craft.write_pcapng(path, recs, [craft.Iface(craft.EN10MB, 9)])
    return craft.write_pcap(path, recs, craft.EN10MB)


def _l4_checksum(ip: bytes, proto: int, seg: bytes) -> bytes:
    if ip[0] >> 4 == 4:
        pseudo = ip[12:20] + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = ip[8:40] + struct.pack("!IxxxB", len(seg), proto)
    pos = 16 if proto == 6 else 6
    seg = seg[:pos] + b"\0\0" + seg[pos + 2:]
    c = craft._csum(pseudo + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return seg[:pos] + struct.pack("!H", c) + seg[pos + 2:]


def _rewrite_ip(ip: bytes, rng_vals: dict) -> bytes:
    v = ip[0] >> 4
    if v == 4:
        hl, proto = (ip[0] & 15) * 4, ip[9]
        if struct.unpack_from("!H", ip, 6)[0] & 0x3FFF:  # fragments: leave as they are
            return ip
        tot = struct.unpack_from("!H", ip, 2)[0]
    elif v == 6:
        hl, proto, tot = 40, ip[6], 40 + struct.unpack_from("!H", ip, 4)[0]
    else:
        return ip
    head, seg, tail = ip[:hl], bytearray(ip[hl:tot]), ip[tot:]
    if proto not in (6, 17) or len(seg) < 8:
        return ip
    sp, dp = struct.unpack_from("!HH", seg, 0)

    def port(p: int) -> int:
        return p if p in LAB_PORTS or p < 1024 else 1024 + (p - 1024 + rng_vals["port"]) % 64000

    struct.pack_into("!HH", seg, 0, port(sp), port(dp))
    if proto == 6 and len(seg) >= 20:
        seq, ack = struct.unpack_from("!II", seg, 4)
        flags, hlen = seg[13], (seg[12] >> 4) * 4
        struct.pack_into("!I", seg, 4, (seq + rng_vals["seq"]) & 0xFFFFFFFF)
        if flags & 0x10:
            struct.pack_into("!I", seg, 8, (ack + rng_vals["seq"]) & 0xFFFFFFFF)
        i = 20
        while i < hlen and i < len(seg):
            k = seg[i]
            if k in (0, 1):
                i += 1
                continue
            ln = seg[i + 1] if i + 1 < len(seg) else 0
            if ln < 2:
                break
            if k == 8 and ln == 10:
                tv, te = struct.unpack_from("!II", seg, i + 2)
                struct.pack_into("!II", seg, i + 2, (tv + rng_vals["ts"]) & 0xFFFFFFFF,
                                 (te + rng_vals["ts"]) & 0xFFFFFFFF if te else 0)
            i += ln
    elif proto == 17 and 53 in (sp, dp) and len(seg) >= 10:
        qid = struct.unpack_from("!H", seg, 8)[0]
        struct.pack_into("!H", seg, 8, qid ^ rng_vals["dns"])
    return head + _l4_checksum(head, proto, bytes(seg)) + tail


def variant(src: Path, dst: Path, seed: int, fmt: str | None = None, shift_s: float = 0.0) -> Path:
    """`src` as another run would have recorded it: same behaviour, other random values."""
    rng = random.Random(seed)
    vals = {"port": rng.randrange(1, 20000), "seq": rng.randrange(1, 1 << 32), "ts": rng.randrange(1, 1 << 32),
            "dns": rng.randrange(1, 65536)}
    mac_x = bytes([0] + [rng.randrange(256) for _ in range(5)])
    cap = open_capture(src)
    recs, linktypes = [], {}
    for lt, iface, ts, data in iter_records(cap):
        linktypes[iface] = lt
        if lt == craft.EN10MB and len(data) >= 14 and struct.unpack_from("!H", data, 12)[0] in (0x0800, 0x86DD):
            macs = bytes(a ^ b for a, b in zip(data[:12], mac_x + mac_x)) if any(data[:12]) else data[:12]
            data = macs + data[12:14] + _rewrite_ip(data[14:], vals)
        elif lt in (craft.RAW, 228, 229):
            data = _rewrite_ip(data, vals)
        elif lt in (craft.NULL, craft.LOOP):
            data = data[:4] + _rewrite_ip(data[4:], vals)
        elif lt == craft.LINUX_SLL and len(data) >= 16:
            data = data[:6] + bytes(a ^ b for a, b in zip(data[6:12], mac_x)) + data[12:16] + _rewrite_ip(data[16:], vals)
        elif lt == craft.LINUX_SLL2 and len(data) >= 20:
            data = data[:12] + bytes(a ^ b for a, b in zip(data[12:18], mac_x)) + data[18:20] + _rewrite_ip(data[20:], vals)
        recs.append(craft.Rec(data, ts + int(shift_s * 1e9), iface))
    fmt = fmt or cap.format
    if fmt == "pcapng":
        n = max(linktypes) + 1 if linktypes else 1
        return craft.write_pcapng(dst, recs, [craft.Iface(linktypes.get(i, craft.EN10MB), 9) for i in range(n)])
    lts = set(linktypes.values()) or {craft.EN10MB}
    assert len(lts) == 1, f"{src} has several link types; write it as pcapng"
    return craft.write_pcap(dst, recs, lts.pop(), nano=True)
