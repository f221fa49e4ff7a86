"""Frame decoding: link layer -> IPv4/IPv6 -> TCP/UDP, into one ``Packet`` per frame.

Why two paths: the common lab frame (Ethernet or Linux cooked, IPv4 without options, TCP) is
decoded inline by the record readers (``capture.py``, ``pcapng.py``) with a single
``struct.unpack_from`` (see ``fast_layout``) because a million frames a run leaves no room for
per-layer function calls.
Everything else — VLAN tags, MPLS labels, PPPoE sessions, 802.2 LLC/SNAP, BSD loopback, raw IP,
IPv6 and its extension headers (an atomic fragment included), UDP, IP options, frames cut by the
snap length, broken headers — comes here, to ``decode_frame``, which is slower but handles every
case and says *why* a frame was not decoded (a problem code the reader turns into one summarised
warning per kind): "non-ip" only for frames that carry no IP packet, "encapsulation" for a
wrapping that may hold one this decoder does not open.

Other IP protocols (ICMP, ESP, ...) are not yielded: they are counted under "other-ip".
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from reporter.reading.packet import Packet

# link types (https://www.tcpdump.org/linktypes.html)
LT_NULL, LT_EN10MB, LT_RAW, LT_LOOP, LT_LINUX_SLL, LT_LINUX_SLL2 = 0, 1, 101, 108, 113, 276
LT_RAW_ALIASES = (12, 14)  # DLT_RAW on Linux/most BSDs (12) and OpenBSD-era 14
LT_IPV4, LT_IPV6 = 228, 229

ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD
ETH_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
ETH_MPLS = (0x8847, 0x8848)  # MPLS unicast, multicast: a label stack, then (usually) IP
ETH_PPPOE_SESSION = 0x8864  # PPPoE session stage: 6-byte PPPoE header, 2-byte PPP protocol, then IP
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
SLL_802_2 = 0x0004  # Linux cooked capture's protocol for 802.2 LLC frames (no Ethernet type)
LLC_SNAP = b"\xaa\xaa\x03"  # DSAP, SSAP, control of an 802.2 LLC header followed by SNAP
# BSD address families for IPv4 / IPv6 in the NULL/LOOP header (IPv6 differs per OS)
AF_INET_VALUES = (2,)
AF_INET6_VALUES = (10, 23, 24, 28, 30)

# IPv6 extension headers we step over (hop-by-hop, routing, destination options); 51 = AH
IPV6_EXT = (0, 43, 60)
IPV6_FRAGMENT, IPV6_AH = 44, 51

# Problem codes -> human message template (count, first frame) for the report's warnings.
PROBLEMS = {
    "non-ip": "{n} frame(s) carry no IPv4/IPv6 (ARP, LLDP, ...) and were not analysed (first: frame {f})",
    "other-ip": "{n} IP frame(s) carry neither TCP nor UDP (ICMP, ...) and were not analysed (first: frame {f})",
    "fragment": "{n} IP fragment(s) were not reassembled and were left out (first: frame {f})",
    "snaplen": "{n} frame(s) were cut by the capture's snap length; their missing bytes are counted as gaps "
               "(first: frame {f})",
    "malformed": "{n} frame(s) have broken or inconsistent headers and were skipped or shortened (first: frame {f})",
    "linktype": "{n} frame(s) use a link type this tool does not decode (first: frame {f})",
    "timestamp-overflow": "{n} frame(s) have a sub-second time field of a whole second or more (pcap: "
                          "microseconds >= 1,000,000 or nanoseconds >= 1,000,000,000); it was taken as is, "
                          "the excess counted as seconds (first: frame {f})",
    "encapsulation": "{n} frame(s) may carry IP inside an encapsulation this tool does not decode (an MPLS "
                     "pseudowire, a PPP protocol other than IP, an 802.2 SNAP frame of another "
                     "organisation, ...) and were not analysed (first: frame {f})",
}

# The fast path's one unpack: IPv4 header without options followed by the fixed TCP header.
# Values: vhl, totlen, ip_id, frag, proto, src, dst, sport, dport, seq, ack, off_byte, flags, window
_IP_TCP = "BxHHHxBxx4s4sHHIIBBH"
FAST_ETH = struct.Struct("!H" + _IP_TCP)  # at frame+12: ethertype then IP at frame+14
FAST_SLL = FAST_ETH  # at frame+14: SLL protocol then IP at frame+16
FAST_SLL2 = struct.Struct("!H18x" + _IP_TCP)  # at frame+0: SLL2 protocol, IP at frame+20


FastLayout = tuple[Callable[[bytes, int], tuple] | None, int, int, int]
# For link types without a fast layout: no frame is ever long enough, so each goes to decode_frame.
NO_FAST: FastLayout = (None, 0, 0, 1 << 62)


def fast_layout(linktype: int) -> FastLayout | None:
    """What the readers' inline path needs for a link type, or None when it has no fast layout.

    (unpack_from of the struct, offset of the struct in the frame, offset of the IP header,
    shortest frame the struct fits in); the readers use ``fast_layout(lt) or NO_FAST``.
    """
    if linktype == LT_EN10MB:
        st, foff, ipoff = FAST_ETH, 12, 14
    elif linktype == LT_LINUX_SLL:
        st, foff, ipoff = FAST_SLL, 14, 16
    elif linktype == LT_LINUX_SLL2:
        st, foff, ipoff = FAST_SLL2, 0, 20
    else:
        return None
    return st.unpack_from, foff, ipoff, foff + st.size


_H = struct.Struct("!H")
_I_BE = struct.Struct(">I")
_I_LE = struct.Struct("<I")
_IP4 = struct.Struct("!BxHHHxB2x4s4s")
_IP6 = struct.Struct("!4xHBx16s16s")
_TCP = struct.Struct("!HHIIBBH")
_UDP = struct.Struct("!HHH")


def _ethertype_ip(buf: bytes, etype: int, off: int, fe: int) -> tuple[int, int] | str:
    """Step over VLAN tags, MPLS labels and a PPPoE session header; return (IP offset, version)
    or a problem code ("non-ip" only for what carries no IP; "encapsulation" when IP may be inside
    something this decoder does not open)."""
    tags = 0
    while etype in ETH_VLAN_TAGS:
        if off + 4 > fe or tags > 4:
            return "malformed"
        etype = _H.unpack_from(buf, off + 2)[0]
        off += 4
        tags += 1
    if etype == ETH_IPV4:
        return off, 4
    if etype == ETH_IPV6:
        return off, 6
    if etype in ETH_MPLS:
        return _mpls_ip(buf, off, fe)
    if etype == ETH_PPPOE_SESSION:
        if off + 8 > fe:
            return "malformed"
        proto = _H.unpack_from(buf, off + 6)[0]
        if proto == PPP_IPV4:
            return off + 8, 4
        if proto == PPP_IPV6:
            return off + 8, 6
        return "non-ip" if proto >= 0x8000 else "encapsulation"  # LCP, IPCP, PAP, CHAP, ...: no IP packet
    return "non-ip"


def _mpls_ip(buf: bytes, off: int, fe: int) -> tuple[int, int] | str:
    """An MPLS label stack: 4 bytes a label up to the one with the bottom-of-stack bit; the payload
    has no type field, so (as Wireshark does) its first nibble tells IPv4 from IPv6. Anything else
    (a pseudowire's control word, Ethernet over MPLS) is not decoded here."""
    for _ in range(16):
        if off + 4 > fe:
            return "malformed"
        bottom = buf[off + 2] & 1
        off += 4
        if bottom:
            if off >= fe:
                return "malformed"
            v = buf[off] >> 4
            return (off, v) if v in (4, 6) else "encapsulation"
    return "malformed"


def _llc_ip(buf: bytes, off: int, fe: int) -> tuple[int, int] | str:
    """An 802.2 LLC frame: IP only with a SNAP header (AA AA 03, OUI 00-00-00, an IP EtherType:
    RFC 1042); other LLC frames (spanning tree, NetBIOS, ...) carry no IP."""
    if off + 3 > fe or buf[off:off + 3] != LLC_SNAP:
        return "non-ip"
    if off + 8 > fe:
        return "malformed"
    if buf[off + 3:off + 6] != b"\0\0\0":
        return "encapsulation"  # SNAP of another organisation (Cisco CDP, ...): not ours to read
    return _ethertype_ip(buf, _H.unpack_from(buf, off + 6)[0], off + 8, fe)


def link_ip(linktype: int, buf: bytes, fs: int, fe: int) -> tuple[int, int] | str:
    """Where the IP header starts and which version it should be, or a problem code."""
    size = fe - fs
    if linktype == LT_EN10MB:
        if size < 14:
            return "malformed"
        etype = _H.unpack_from(buf, fs + 12)[0]
        if etype <= 1500:  # an 802.3 length field: an 802.2 LLC frame follows
            return _llc_ip(buf, fs + 14, fe)
        return _ethertype_ip(buf, etype, fs + 14, fe)
    if linktype == LT_LINUX_SLL:
        if size < 16:
            return "malformed"
        etype = _H.unpack_from(buf, fs + 14)[0]
        if etype == SLL_802_2:
            return _llc_ip(buf, fs + 16, fe)
        return _ethertype_ip(buf, etype, fs + 16, fe)
    if linktype == LT_LINUX_SLL2:
        if size < 20:
            return "malformed"
        etype = _H.unpack_from(buf, fs)[0]
        if etype == SLL_802_2:
            return _llc_ip(buf, fs + 20, fe)
        return _ethertype_ip(buf, etype, fs + 20, fe)
    if linktype in (LT_NULL, LT_LOOP):
        if size < 4:
            return "malformed"
        if linktype == LT_LOOP:
            af = _I_BE.unpack_from(buf, fs)[0]
        else:  # host order of the capturing machine: whichever reading is small is right
            af = _I_LE.unpack_from(buf, fs)[0]
            if af > 0xFFFF:
                af = _I_BE.unpack_from(buf, fs)[0]
        if af in AF_INET_VALUES:
            return fs + 4, 4
        if af in AF_INET6_VALUES:
            return fs + 4, 6
        return "non-ip"
    if linktype in (LT_RAW, *LT_RAW_ALIASES):
        if size < 1:
            return "malformed"
        v = buf[fs] >> 4
        return (fs, v) if v in (4, 6) else "non-ip"
    if linktype == LT_IPV4:
        return fs, 4
    if linktype == LT_IPV6:
        return fs, 6
    return "linktype"


def decode_frame(linktype: int, buf: bytes, fs: int, fe: int, cut: int, no: int, ts: int,
                 iface: int) -> tuple[Packet | None, str | None]:
    """Decode frame ``buf[fs:fe]`` (``cut`` bytes lost to the snap length).

    Returns (packet or None, problem code or None); a packet cut by the snap length comes back
    with ``missing`` set *and* the "snaplen" problem, so the reader can both use and report it.
    """
    where = link_ip(linktype, buf, fs, fe)
    if isinstance(where, str):
        if where == "malformed" and cut:
            return None, "snaplen"
        return None, where
    ip, version = where
    avail = fe - ip
    short = "snaplen" if cut else "malformed"
    if version == 4:
        if avail < 20:
            return None, short
        vhl, totlen, ip_id, frag, proto, src, dst = _IP4.unpack_from(buf, ip)
        if vhl >> 4 != 4:
            return None, "malformed"
        ihl = (vhl & 0x0F) * 4
        if ihl < 20:
            return None, "malformed"
        if frag & 0x3FFF:  # more-fragments flag or a fragment offset
            return None, "fragment"
        if totlen == 0:  # TCP segmentation offload: length not filled in, trust the frame
            totlen = avail + cut
        if totlen < ihl:
            return None, "malformed"
        l4 = ip + ihl
        end = ip + totlen  # excludes Ethernet padding
    else:
        if avail < 40:
            return None, short
        first = buf[ip] >> 4
        if first != 6:
            return None, "malformed"
        plen, proto, src, dst = _IP6.unpack_from(buf, ip)
        ip_id = None
        l4 = ip + 40
        if plen == 0:  # jumbogram or offload: trust the frame
            plen = avail + cut - 40
        end = l4 + plen
        hops = 0
        while proto in IPV6_EXT or proto == IPV6_AH or proto == IPV6_FRAGMENT:
            if proto == IPV6_FRAGMENT:
                if l4 + 8 > fe:
                    return None, short
                if _H.unpack_from(buf, l4 + 2)[0] & 0xFFF9:  # fragment offset or more-fragments set
                    return None, "fragment"
                # offset 0 and M = 0: an atomic fragment (RFC 6946), the whole packet: step over it
                proto = buf[l4]
                l4 += 8
                hops += 1
                if hops > 16 or l4 > end:
                    return None, "malformed"
                continue
            if l4 + 2 > fe:
                return None, short
            nxt, hlen = buf[l4], buf[l4 + 1]
            l4 += (hlen + 2) * 4 if proto == IPV6_AH else (hlen + 1) * 8
            proto = nxt
            hops += 1
            if hops > 16 or l4 > end:
                return None, "malformed"
    if proto != 6 and proto != 17:
        return None, "other-ip"
    problem = None
    if end > fe:  # the IP packet claims more bytes than were captured
        problem = short
        missing_total = end - fe
        end = fe
    else:
        missing_total = 0
    if proto == 6:
        if l4 + 20 > end:
            return None, short if missing_total else "malformed"
        sport, dport, seq, ack, offb, flags, window = _TCP.unpack_from(buf, l4)
        hl = (offb >> 4) * 4
        if hl < 20:
            return None, "malformed"
        ps = l4 + hl
        if ps > end:
            return None, short if missing_total else "malformed"
        return Packet(no, ts, iface, version, src, dst, 6, ip_id, sport, dport, seq, ack, flags, window,
                      buf[l4 + 20:ps], buf[ps:end], missing_total), problem
    if l4 + 8 > end:
        return None, short if missing_total else "malformed"
    sport, dport, ulen = _UDP.unpack_from(buf, l4)
    if 8 <= ulen < end - l4 and not missing_total:
        end = l4 + ulen  # UDP length shorter than IP's: trust UDP (trailing bytes are not payload)
    return Packet(no, ts, iface, version, src, dst, 17, ip_id, sport, dport, payload=buf[l4 + 8:end],
                  missing=missing_total), problem


def undecoded(linktype: int, buf: bytes, fs: int, fe: int, cut: int, no: int, ts: int,
              iface: int) -> tuple[tuple[int, int, int, bytes], None]:
    """``decode_frame``'s stand-in for ``capture.iter_records``: the frame as it is, never a problem.

    (link type, interface, time ns, frame bytes); the readers call it where they would decode,
    so the raw records come from the very same record loops (and their fast path stays as is).
    """
    return (linktype, iface, ts, buf[fs:fe]), None


def decode_counted(decode: Callable[..., tuple[Any, str | None]], probs: dict[str, list[int]], linktype: int, buf: bytes, fs: int, fe: int,
                   cut: int, no: int, ts: int, iface: int) -> Any:
    """Both record loops' path for a frame their inlined fast path does not take: ``decode`` it
    (``decode_frame``, or ``undecoded`` for raw records) and count its problem in ``probs`` as
    code -> [count, first frame]. Returns what ``decode`` made, or None."""
    pkt, prob = decode(linktype, buf, fs, fe, cut, no, ts, iface)
    if prob is not None:
        p = probs.get(prob)
        if p is None:
            probs[prob] = [1, no]
        else:
            p[0] += 1
    return pkt
