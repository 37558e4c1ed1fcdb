"""probe.pcap.packets against scapy's own dissection: frames scapy builds (and reads back)
decode to the same addresses, ports, payloads and TCP fields here, on every link type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.contrib.erspan import ERSPAN_II
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import GRE, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet as ScapyPacket

from probe.pcap.packets import (
    PROTO_TCP,
    PROTO_UDP,
    IpDatagram,
    Packet,
    address_text,
    decapsulate,
    decode_frame,
    decode_transport,
    endpoint_text,
    vxlan_inner,
)
from tests.sip.strategies import fuzz_settings

MAC = "02:00:00:00:00:01"
PAYLOAD = b"OPTIONS sip:bob@example.test SIP/2.0\r\n\r\n"


def decoded(linktype: int, frame: bytes) -> Packet:
    ip = decode_frame(linktype, frame)
    assert isinstance(ip, IpDatagram), ip
    packet = decode_transport(ip)
    assert isinstance(packet, Packet), packet
    return packet


def same_as_scapy(packet: Packet, built: ScapyPacket) -> None:
    """The decoded fields equal what scapy reads from the same bytes."""
    ip = built[IP] if IP in built else built[IPv6]
    assert address_text(packet.src) == ip.src
    assert address_text(packet.dst) == ip.dst
    layer = built[UDP] if UDP in built else built[TCP]
    assert (packet.sport, packet.dport) == (layer.sport, layer.dport)
    assert packet.payload == bytes(layer.payload)
    assert not packet.cut
    if TCP in built:
        assert packet.protocol == PROTO_TCP
        assert (packet.seq, packet.ack, packet.flags) == (layer.seq, layer.ack, int(layer.flags))
    else:
        assert packet.protocol == PROTO_UDP


def udp4() -> ScapyPacket:
    return IP(src="192.0.2.10", dst="198.51.100.7") / UDP(sport=5060, dport=5062) / PAYLOAD


def tcp6() -> ScapyPacket:
    return (
        IPv6(src="2001:db8::10", dst="2001:db8::7")
        / TCP(sport=40123, dport=5061, seq=4_000_000_000, ack=17, flags="PA")
        / PAYLOAD
    )


@pytest.mark.parametrize(
    ("linktype", "built"),
    [
        (1, Ether(src=MAC, dst=MAC) / udp4()),
        (1, Ether(src=MAC, dst=MAC) / tcp6()),
        (1, Ether(src=MAC, dst=MAC) / Dot1Q(vlan=12) / udp4()),
        (1, Ether(src=MAC, dst=MAC) / Dot1AD(vlan=3) / Dot1Q(vlan=12) / tcp6()),
        (113, CookedLinux() / udp4()),
        (276, CookedLinuxV2() / tcp6()),
        (101, udp4()),
        (101, tcp6()),
        (228, udp4()),
        (229, tcp6()),
        (0, Loopback() / udp4()),
    ],
    ids=[
        "ethernet udp4",
        "ethernet tcp6",
        "802.1q",
        "q-in-q",
        "sll",
        "sll2",
        "raw ipv4",
        "raw ipv6",
        "linktype ipv4",
        "linktype ipv6",
        "bsd loopback",
    ],
)
def test_each_link_type_decodes_as_scapy_reads_it(linktype: int, built: ScapyPacket) -> None:
    frame = bytes(built)
    same_as_scapy(decoded(linktype, frame), built.__class__(frame))


def test_bsd_loopback_in_either_byte_order_and_ipv6_families() -> None:
    body = bytes(tcp6())
    for family in (10, 24, 28, 30):
        for header in (family.to_bytes(4, "little"), family.to_bytes(4, "big")):
            assert decoded(0, header + body).sport == 40123
    # OpenBSD's loopback (108) writes the family in network order.
    assert decoded(108, (2).to_bytes(4, "big") + bytes(udp4())).dport == 5062


def test_ethernet_padding_is_not_payload() -> None:
    # A short frame is padded to 60 bytes: the IP and UDP lengths say where data ends.
    built = (
        Ether(src=MAC, dst=MAC)
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / UDP(sport=1, dport=2)
        / b"hi"
    )
    frame = bytes(built) + b"\x00" * 16
    packet = decoded(1, frame)
    assert packet.payload == b"hi"
    assert not packet.cut


def test_ipv6_extension_headers_are_skipped() -> None:
    built = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting()
        / IPv6ExtHdrDestOpt()
        / UDP(sport=5060, dport=5060)
        / PAYLOAD
    )
    same_as_scapy(decoded(101, bytes(built)), IPv6(bytes(built)))


def test_a_cut_frame_keeps_its_length_on_the_wire() -> None:
    frame = bytes(Ether(src=MAC, dst=MAC) / udp4())
    packet = decoded(1, frame[:60])
    assert packet.cut
    assert packet.length == len(PAYLOAD)
    assert packet.payload == PAYLOAD[: 60 - 42]


def test_fragments_are_marked_with_their_place() -> None:
    big = IP(src="192.0.2.1", dst="192.0.2.2", id=77) / UDP(sport=5060, dport=5060) / (b"x" * 3000)
    pieces = [decode_frame(101, bytes(piece)) for piece in fragment(big, fragsize=1200)]
    assert all(isinstance(piece, IpDatagram) for piece in pieces)
    places = [piece.fragment for piece in pieces if isinstance(piece, IpDatagram)]
    assert [place[1] for place in places if place] == [0, 1200, 2400]
    assert [place[2] for place in places if place] == [True, True, False]
    six = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=9, offset=0, m=1)
    piece = decode_frame(101, bytes(six / UDP() / b"y"))
    assert isinstance(piece, IpDatagram)
    assert piece.fragment == (9, 0, True)


@pytest.mark.parametrize(
    ("linktype", "frame", "reason"),
    [
        (1, bytes(Ether(src=MAC, dst=MAC, type=0x0806) / (b"\x00" * 28)), "not_ip"),
        (1, b"\x00" * 10, "short"),
        (1, bytes(Ether(src=MAC, dst=MAC, type=0x0800)) + b"\x45", "short"),
        (147, bytes(udp4()), "link_type"),
        (101, b"\x75" + b"\x00" * 40, "bad_ip"),
        (101, bytes(IP(ihl=4) / UDP()), "bad_ip"),
        (0, (99).to_bytes(4, "little") + bytes(udp4()), "not_ip"),
    ],
    ids=["arp", "short ethernet", "short ip", "unknown link", "ip version 7", "ihl 4", "af 99"],
)
def test_frames_without_ip_say_why(linktype: int, frame: bytes, reason: str) -> None:
    assert decode_frame(linktype, frame) == reason


def test_transport_problems_say_why() -> None:
    icmp = decode_frame(101, bytes(IP(proto=1) / b"\x08\x00\x00\x00"))
    assert isinstance(icmp, IpDatagram)
    assert decode_transport(icmp) == "other"
    sctp = decode_frame(101, bytes(IP(proto=132) / bytes(16)))
    assert isinstance(sctp, IpDatagram)
    assert decode_transport(sctp) == "sctp"
    short_udp = decode_frame(101, bytes(IP(proto=17) / b"\x00\x01"))
    assert isinstance(short_udp, IpDatagram)
    assert decode_transport(short_udp) == "short"
    bad_length = decode_frame(101, bytes(IP() / UDP(len=3)))
    assert isinstance(bad_length, IpDatagram)
    assert decode_transport(bad_length) == "bad_transport"
    bad_offset = decode_frame(101, bytes(IP() / TCP(dataofs=2)))
    assert isinstance(bad_offset, IpDatagram)
    assert decode_transport(bad_offset) == "bad_transport"


def test_addresses_are_written_as_reports_write_them() -> None:
    assert endpoint_text(bytes([192, 0, 2, 1]), 5060) == "192.0.2.1:5060"
    assert endpoint_text(bytes(15) + b"\x01", 5061) == "[::1]:5061"


@pytest.mark.fuzz
@fuzz_settings()
@given(
    linktype=st.sampled_from([0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999]),
    frame=st.binary(max_size=200),
)
def test_any_bytes_decode_or_say_why(linktype: int, frame: bytes) -> None:
    ip = decode_frame(linktype, frame)
    if isinstance(ip, IpDatagram):
        assert len(ip.data) <= max(ip.length, 0) or ip.cut is False
        packet = decode_transport(ip)
        assert isinstance(packet, Packet | str)
    else:
        assert ip in ("not_ip", "link_type", "short", "bad_ip")


@pytest.mark.fuzz
@fuzz_settings()
@given(
    sport=st.integers(0, 65535),
    dport=st.integers(0, 65535),
    seq=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=300),
    six=st.booleans(),
    tcp=st.booleans(),
)
def test_random_packets_match_scapy(
    sport: int, dport: int, seq: int, payload: bytes, six: bool, tcp: bool
) -> None:
    network = (
        IPv6(src="2001:db8::1", dst="2001:db8::2") if six else IP(src="10.0.0.1", dst="10.0.0.2")
    )
    transport = TCP(sport=sport, dport=dport, seq=seq) if tcp else UDP(sport=sport, dport=dport)
    built = Ether(src=MAC, dst=MAC) / network / transport / payload
    frame = bytes(built)
    same_as_scapy(decoded(1, frame), Ether(frame))


def inner_sip(frame: bytes, linktype: int = 1) -> Packet:
    """The packet inside a tunnel frame, through probe.pcap's own opening of it."""
    ip = decode_frame(linktype, frame)
    assert isinstance(ip, IpDatagram)
    for _ in range(3):
        inner = decapsulate(ip)
        if inner is None:
            break
        assert isinstance(inner, IpDatagram), inner
        ip = inner
    packet = decode_transport(ip)
    assert isinstance(packet, Packet)
    overlay = vxlan_inner(packet)
    if overlay is not None:
        assert isinstance(overlay, IpDatagram)
        packet = decode_transport(overlay)
        assert isinstance(packet, Packet)
    return packet


INNER = IP(src="10.9.0.1", dst="10.9.0.2") / UDP(sport=5060, dport=5060) / PAYLOAD
OUTER = IP(src="192.0.2.1", dst="192.0.2.2")


@pytest.mark.parametrize(
    "built",
    [
        OUTER / INNER,
        IPv6(src="2001:db8::1", dst="2001:db8::2") / INNER,
        OUTER / GRE() / INNER,
        OUTER / GRE(key_present=1, key=7, seqnum_present=1, sequence_number=3) / INNER,
        OUTER / GRE(proto=0x6558) / Ether(src=MAC, dst=MAC) / INNER,
        OUTER / GRE(proto=0x88BE) / Ether(src=MAC, dst=MAC) / INNER,
        OUTER / GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II() / Ether(src=MAC, dst=MAC) / INNER,
        OUTER / UDP(sport=40000, dport=4789) / VXLAN(vni=42) / Ether(src=MAC, dst=MAC) / INNER,
    ],
    ids=[
        "ip in ip",
        "ipv4 in ipv6",
        "gre",
        "gre with key and sequence",
        "gre ethernet",
        "erspan type i",
        "erspan type ii",
        "vxlan",
    ],
)
def test_tunnels_are_opened_to_the_traffic_inside(built: ScapyPacket) -> None:
    frame = bytes(Ether(src=MAC, dst=MAC) / built)
    packet = inner_sip(frame)
    assert address_text(packet.src) == "10.9.0.1"
    assert packet.payload == PAYLOAD


def test_a_tunnel_not_opened_says_so() -> None:
    pptp = decode_frame(101, bytes(OUTER / GRE(version=1, proto=0x880B) / (b"\x00" * 20)))
    assert isinstance(pptp, IpDatagram)
    assert decapsulate(pptp) == "tunnel"
    l2tp = decode_frame(101, bytes(IP(proto=115) / (b"\x00" * 20)))
    assert isinstance(l2tp, IpDatagram)
    assert decapsulate(l2tp) == "tunnel"
    plain = decode_frame(101, bytes(INNER))
    assert isinstance(plain, IpDatagram)
    assert decapsulate(plain) is None
