"""Decoding captured frames down to UDP and TCP, with struct and nothing else.

A capture of a busy trunk holds millions of frames, almost all of them media; dissecting
each with a general-purpose library would cost far more than reading the file. This
module reads only the fields an audit needs, at fixed offsets: the link layer
(Ethernet with 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, BSD loopback, raw IP),
IPv4 (RFC 791) and IPv6 with its extension headers (RFC 8200), then the UDP (RFC 768)
or TCP (RFC 9293) header.

Addresses stay bytes (4 or 16) while packets are counted and grouped into flows, which
keeps every key cheap to hash; they become text only when a report names them
(:func:`address_text`). The payload is cut to what the IP and UDP lengths say, so the
padding of a short Ethernet frame never reaches an analyser; when fewer bytes were
captured than the headers announce (a snap length, a truncated file), the packet says
so (`cut`) and carries the length it had on the wire.

Fragments (RFC 791 §2.3, RFC 8200 §4.5) come out as :class:`IpDatagram` with
`fragment` set, for :mod:`probe.pcap.fragments` to reassemble. Tunnels are opened
(:func:`decapsulate`: IP in IP, GRE, ERSPAN; :func:`vxlan_inner`), so traffic captured on
a mirror port or an overlay is audited as the traffic inside; a tunnel not opened is
said to be one, so the audit never takes it for traffic without SIP.
"""

from __future__ import annotations

import ipaddress
import struct

__all__ = [
    "LINK_TYPES",
    "PROTO_TCP",
    "PROTO_UDP",
    "TCP_ACK",
    "TCP_FIN",
    "TCP_RST",
    "TCP_SYN",
    "IpDatagram",
    "Packet",
    "address_text",
    "decapsulate",
    "decode_frame",
    "decode_transport",
    "endpoint_text",
    "sctp_user_data",
    "vxlan_inner",
]

PROTO_TCP = 6
PROTO_UDP = 17
PROTO_SCTP = 132

# TCP control bits (RFC 9293 §3.1).
TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10

# Link-layer header types (tcpdump.org/linktypes.html): the number in a pcap file header
# or a pcapng interface description.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# DLT_RAW's value on some BSDs, which some writers put in files as they are.
_RAW_BSD = (12, 14)

LINK_TYPES: dict[int, str] = {
    LINKTYPE_NULL: "BSD loopback",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_RAW: "raw IP",
    12: "raw IP",
    14: "raw IP",
    LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked (SLL2)",
}
"""The link types this module decodes, as reports name them."""

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
# IEEE 802.1Q customer tag, 802.1ad service tag, and the pre-standard QinQ value.
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_MAX_VLAN_TAGS = 4

# The address-family values BSD loopback headers carry: AF_INET is 2 everywhere; AF_INET6
# is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS) or 10 (Linux).
_AF_INET = 2
_AF_INET6 = (10, 24, 28, 30)

# IPv6 extension headers that a transport header may follow (RFC 8200 §4): hop-by-hop
# options, routing, destination options; the fragment header is handled on its own.
_IPV6_SKIPPED = (0, 43, 60)
_IPV6_FRAGMENT = 44
_IPV6_NO_NEXT = 59
_MAX_EXTENSIONS = 8

_U16 = struct.Struct("!H")
_U32_LE = struct.Struct("<I")
_U32_BE = struct.Struct("!I")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHH")
_TCP = struct.Struct("!HHIIBB")


class IpDatagram:
    """One IP packet (or a fragment of one): its addresses, protocol and payload."""

    __slots__ = ("cut", "data", "dst", "fragment", "length", "protocol", "src", "version")

    def __init__(
        self,
        version: int,
        src: bytes,
        dst: bytes,
        protocol: int,
        data: bytes,
        length: int,
        fragment: tuple[int, int, bool] | None = None,
    ) -> None:
        self.version = version
        self.src = src
        self.dst = dst
        self.protocol = protocol
        self.data = data
        """The IP payload as captured (at most `length` bytes)."""
        self.length = length
        """The IP payload's length on the wire, as the IP header says."""
        self.cut = len(data) < length
        """Fewer bytes were captured than were sent (a snap length, a truncated file)."""
        self.fragment = fragment
        """(identification, offset in bytes, more fragments follow) for a fragment."""


class Packet:
    """A UDP datagram or a TCP segment, with what the audit needs of its headers."""

    __slots__ = (
        "ack",
        "cut",
        "dport",
        "dst",
        "flags",
        "length",
        "payload",
        "protocol",
        "seq",
        "sport",
        "src",
        "version",
    )

    def __init__(
        self,
        ip: IpDatagram,
        sport: int,
        dport: int,
        payload: bytes,
        length: int,
        seq: int = 0,
        ack: int = 0,
        flags: int = 0,
    ) -> None:
        self.version = ip.version
        self.src = ip.src
        self.dst = ip.dst
        self.protocol = ip.protocol
        self.sport = sport
        self.dport = dport
        self.payload = payload
        """The transport payload as captured."""
        self.length = length
        """The payload's length on the wire (more than `len(payload)` when `cut`)."""
        self.cut = len(payload) < length
        self.seq = seq
        self.ack = ack
        self.flags = flags


def decode_frame(linktype: int, frame: bytes) -> IpDatagram | str:
    """The IP datagram a captured frame carries, or why there is none: `"not_ip"` (ARP,
    LLDP, an 802.3 frame), `"link_type"` (a link type this module does not read),
    `"short"` (the frame ends inside a header) or `"bad_ip"` (a header that cannot be
    IP: wrong version, a length below the header's own)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return "short"
        offset = 12
        ethertype = _U16.unpack_from(frame, offset)[0]
        tags = 0
        while ethertype in _VLAN_TAGS and tags < _MAX_VLAN_TAGS:
            offset += 4
            tags += 1
            if len(frame) < offset + 2:
                return "short"
            ethertype = _U16.unpack_from(frame, offset)[0]
        return _by_ethertype(ethertype, frame, offset + 2)
    if linktype == LINKTYPE_LINUX_SLL:
        # packet type, ARPHRD type, address length, 8 address bytes, protocol.
        if len(frame) < 16:
            return "short"
        return _by_ethertype(_U16.unpack_from(frame, 14)[0], frame, 16)
    if linktype == LINKTYPE_LINUX_SLL2:
        # protocol, reserved, interface index, ARPHRD, packet type, address length and 8.
        if len(frame) < 20:
            return "short"
        return _by_ethertype(_U16.unpack_from(frame, 0)[0], frame, 20)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return "short"
        if linktype == LINKTYPE_LOOP:
            family = _U32_BE.unpack_from(frame, 0)[0]
        else:
            # The capturing host's byte order, which the file does not record: a family
            # value is small, so a large one was written in the other order.
            family = _U32_LE.unpack_from(frame, 0)[0]
            if family > 0xFFFF:
                family = _U32_BE.unpack_from(frame, 0)[0]
        if family == _AF_INET:
            return _ipv4(frame, 4)
        if family in _AF_INET6:
            return _ipv6(frame, 4)
        return "not_ip"
    if linktype in (LINKTYPE_RAW, *_RAW_BSD):
        if not frame:
            return "short"
        version = frame[0] >> 4
        if version == 4:
            return _ipv4(frame, 0)
        if version == 6:
            return _ipv6(frame, 0)
        return "bad_ip"
    if linktype == LINKTYPE_IPV4:
        return _ipv4(frame, 0)
    if linktype == LINKTYPE_IPV6:
        return _ipv6(frame, 0)
    return "link_type"


def _by_ethertype(ethertype: int, frame: bytes, offset: int) -> IpDatagram | str:
    if ethertype == _ETHERTYPE_IPV4:
        return _ipv4(frame, offset)
    if ethertype == _ETHERTYPE_IPV6:
        return _ipv6(frame, offset)
    return "not_ip"


def _ipv4(frame: bytes, offset: int) -> IpDatagram | str:
    """RFC 791 §3.1: the header length is IHL 32-bit words; Total Length covers header
    and data, so bytes past it (Ethernet padding) are not payload."""
    if len(frame) < offset + 20:
        return "short"
    (version_ihl, _tos, total, ident, fragment, _ttl, protocol, _sum, src, dst) = _IPV4.unpack_from(
        frame, offset
    )
    header = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header < 20 or total < header:
        return "bad_ip"
    if len(frame) < offset + header:
        return "short"
    start = offset + header
    data = frame[start : offset + total]
    more = bool(fragment & 0x2000)
    position = (fragment & 0x1FFF) * 8
    where = (ident, position, more) if more or position else None
    return IpDatagram(4, src, dst, protocol, data, total - header, where)


def _ipv6(frame: bytes, offset: int) -> IpDatagram | str:
    """RFC 8200 §3: Payload Length counts the extension headers; they are skipped here
    (§4) up to the transport header or a fragment header."""
    if len(frame) < offset + 40:
        return "short"
    first, payload_length, next_header, _hops, src, dst = _IPV6.unpack_from(frame, offset)
    if first >> 28 != 6:
        return "bad_ip"
    start = offset + 40
    end = start + payload_length
    fragment: tuple[int, int, bool] | None = None
    for _ in range(_MAX_EXTENSIONS):
        if next_header in _IPV6_SKIPPED:
            if len(frame) < start + 2:
                return "short"
            following, units = frame[start], frame[start + 1]
            start += (units + 1) * 8
            next_header = following
        elif next_header == _IPV6_FRAGMENT:
            # §4.5: next header, reserved, offset (13 bits) | res | M, identification.
            if len(frame) < start + 8:
                return "short"
            following = frame[start]
            offset_flags = _U16.unpack_from(frame, start + 2)[0]
            ident = _U32_BE.unpack_from(frame, start + 4)[0]
            position = offset_flags & 0xFFF8
            more = bool(offset_flags & 1)
            start += 8
            next_header = following
            if more or position:
                fragment = (ident, position, more)
        else:
            break
    if start > end or next_header == _IPV6_NO_NEXT:
        return "bad_ip"
    return IpDatagram(6, src, dst, next_header, frame[start:end], end - start, fragment)


# Tunnels opened to reach the traffic inside: a capture taken on a mirror port (ERSPAN),
# between data centres (GRE, IP in IP) or on an overlay network (VXLAN).
PROTO_IPIP = 4  # RFC 2003
PROTO_IPV6_IN_IP = 41  # RFC 4213 §3.5
PROTO_GRE = 47  # RFC 2784, RFC 2890
_TUNNELS = (PROTO_IPIP, PROTO_IPV6_IN_IP, PROTO_GRE, 115, 137)  # and L2TPv3, MPLS in IP
_GRE_ETHERNET = 0x6558  # transparent Ethernet bridging (RFC 1701 protocol types)
_GRE_ERSPAN = 0x88BE  # ERSPAN type I (no sequence number) and II
VXLAN_PORT = 4789  # RFC 7348 §5


def decapsulate(ip: IpDatagram) -> IpDatagram | str | None:
    """The IP datagram a tunnel carries (IP in IP, GRE, ERSPAN), `"tunnel"` for a tunnel
    this module does not open, or None when `ip` is no tunnel."""
    if ip.protocol not in _TUNNELS:
        return None
    data = ip.data
    if ip.protocol in (PROTO_IPIP, PROTO_IPV6_IN_IP):
        return decode_frame(LINKTYPE_RAW, data)
    if ip.protocol != PROTO_GRE or len(data) < 4:
        return "tunnel"
    flags, ethertype = _U16.unpack_from(data, 0)[0], _U16.unpack_from(data, 2)[0]
    if flags & 0x4007:  # RFC 1701 routing, or version 1 (PPTP's enhanced GRE)
        return "tunnel"
    # RFC 2784 §2.1 and RFC 2890 §2: checksum and reserved, key, sequence number.
    offset = 4 + 4 * sum(bool(flags & bit) for bit in (0x8000, 0x2000, 0x1000))
    if ethertype == _GRE_ERSPAN:
        if flags & 0x1000:
            offset += 8  # the ERSPAN type II header; type I has none
        return decode_frame(LINKTYPE_ETHERNET, data[offset:])
    if ethertype == _GRE_ETHERNET:
        return decode_frame(LINKTYPE_ETHERNET, data[offset:])
    if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
        return _by_ethertype(ethertype, data, offset)
    return "tunnel"


def vxlan_inner(packet: Packet) -> IpDatagram | str | None:
    """The IP datagram a VXLAN packet carries (RFC 7348 §5: 8 bytes, the I flag set, then
    an Ethernet frame), or None when `packet` is not VXLAN."""
    if packet.protocol != PROTO_UDP or VXLAN_PORT not in (packet.dport, packet.sport):
        return None
    payload = packet.payload
    if len(payload) < 8 or not payload[0] & 0x08:
        return None
    return decode_frame(LINKTYPE_ETHERNET, payload[8:])


def sctp_user_data(ip: IpDatagram) -> list[bytes]:
    """The user data of each DATA chunk of an SCTP packet (RFC 9260 §3.3.1), as captured:
    enough to tell whether it carries SIP (RFC 4168)."""
    data = ip.data
    chunks: list[bytes] = []
    offset = 12  # the common header: ports, verification tag, checksum
    while offset + 4 <= len(data) and len(chunks) < 64:
        kind, length = data[offset], _U16.unpack_from(data, offset + 2)[0]
        if length < 4:
            break
        if kind == 0 and length >= 16:  # DATA: TSN, stream, sequence, PPID, then data
            chunks.append(data[offset + 16 : offset + length])
        offset += length + (-length % 4)
    return chunks


def decode_transport(ip: IpDatagram) -> Packet | str:
    """The UDP datagram or TCP segment in a whole (unfragmented or reassembled) IP
    datagram, or why there is none: `"sctp"`, `"other"` (ICMP, ESP...), `"short"` or
    `"bad_transport"` (a UDP length below 8, a TCP data offset below 5)."""
    data = ip.data
    if ip.protocol == PROTO_UDP:
        if len(data) < 8:
            return "short"
        sport, dport, length = _UDP.unpack_from(data, 0)
        if length < 8:
            # RFC 2675 §4: a UDP length of 0 in an IPv6 jumbogram; anything else is wrong.
            if length != 0 or ip.version != 6:
                return "bad_transport"
            length = ip.length
        # The UDP length bounds the payload (IP may carry trailing bytes); it cannot
        # exceed what IP carried.
        length = min(length, ip.length)
        return Packet(ip, sport, dport, data[8:length], length - 8)
    if ip.protocol == PROTO_TCP:
        if len(data) < 20:
            return "short"
        sport, dport, seq, ack, offset_byte, flags = _TCP.unpack_from(data, 0)
        header = (offset_byte >> 4) * 4
        if header < 20 or header > ip.length:
            return "bad_transport"
        if len(data) < header:
            # The options were cut: the payload starts past what was captured.
            return Packet(ip, sport, dport, b"", ip.length - header, seq, ack, flags)
        return Packet(ip, sport, dport, data[header:], ip.length - header, seq, ack, flags)
    if ip.protocol == PROTO_SCTP:
        return "sctp"  # SIP may run over SCTP (RFC 4168): see sctp_user_data
    return "other"


def address_text(address: bytes) -> str:
    """An address as reports write it: dotted IPv4, RFC 5952 IPv6."""
    if len(address) == 4:
        return "%d.%d.%d.%d" % tuple(address)  # noqa: UP031 - the fastest of the forms
    return str(ipaddress.IPv6Address(address))


def endpoint_text(address: bytes, port: int) -> str:
    """`192.0.2.1:5060`, `[2001:db8::1]:5060`."""
    if len(address) == 4:
        return f"{address_text(address)}:{port}"
    return f"[{address_text(address)}]:{port}"
