"""Flows (probe.pcap.flows) and fragment reassembly (probe.pcap.fragments): both
directions are one flow, the table stays within its bound, fragments come back whole."""

from __future__ import annotations

import random

import pytest
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, fragment6
from scapy.layers.inet6 import IPv6ExtHdrFragment as Frag6

from probe.pcap.flows import Flow, FlowTable
from probe.pcap.fragments import Reassembler
from probe.pcap.packets import IpDatagram, Packet, decode_frame, decode_transport
from tests.pcap.frames import udp_frame


def udp(src: str, sport: int, dst: str, dport: int) -> Packet:
    ip = decode_frame(101, bytes(IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / b"x"))
    assert isinstance(ip, IpDatagram)
    packet = decode_transport(ip)
    assert isinstance(packet, Packet)
    return packet


def table(max_flows: int = 10) -> tuple[FlowTable, list[tuple[Flow, str]]]:
    closed: list[tuple[Flow, str]] = []
    return FlowTable(max_flows, lambda flow, why: closed.append((flow, why))), closed


def test_both_directions_are_one_flow_whose_client_sent_first() -> None:
    flows, _ = table()
    request = udp("192.0.2.20", 5060, "192.0.2.10", 40000)
    answer = udp("192.0.2.10", 40000, "192.0.2.20", 5060)
    flow = flows.open(request, 1, 0.0)
    assert flows.find(answer) is flow
    assert flow.direction_of(request) == 0
    assert flow.direction_of(answer) == 1
    assert flow.label() == "udp 192.0.2.20:5060 → 192.0.2.10:40000"
    assert flow.endpoints(1) == ("192.0.2.10:40000", "192.0.2.20:5060")


def test_a_full_table_closes_its_quietest_flow() -> None:
    flows, closed = table(max_flows=3)
    packets = [udp("192.0.2.1", 1000 + n, "192.0.2.2", 5060) for n in range(4)]
    first = [flows.open(packet, n, float(n)) for n, packet in enumerate(packets[:3])]
    assert flows.find(packets[0]) is first[0]  # the first flow is active again
    flows.open(packets[3], 4, 4.0)
    assert [(flow, why) for flow, why in closed] == [(first[1], "evicted")]
    assert len(flows) == 3
    assert flows.counts.evicted == 1
    assert flows.counts.most_open == 3
    flows.close_all()
    assert len(flows) == 0
    assert {why for _, why in closed[1:]} == {"capture_end"}


def quick_udp(src: str, sport: int, dst: str, dport: int) -> Packet:
    ip = decode_frame(1, udp_frame(src, sport, dst, dport, b"x"))
    assert isinstance(ip, IpDatagram)
    packet = decode_transport(ip)
    assert isinstance(packet, Packet)
    return packet


def test_many_flows_never_hold_more_than_the_bound() -> None:
    flows, closed = table(max_flows=1000)
    for n in range(20_000):
        packet = quick_udp("10.0.0.1", n % 60000 + 1, f"10.1.{n // 256 % 256}.{n % 256}", 5060)
        if flows.find(packet) is None:
            flows.open(packet, n, float(n))
    assert len(flows) == 1000
    assert flows.counts.most_open == 1000
    assert len(closed) == 19_000


def test_max_flows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FlowTable(0, lambda flow, why: None)


def datagrams(pieces: list[bytes]) -> list[IpDatagram]:
    decoded = [decode_frame(101, piece) for piece in pieces]
    assert all(isinstance(piece, IpDatagram) for piece in decoded)
    return [piece for piece in decoded if isinstance(piece, IpDatagram)]


@pytest.mark.parametrize("order", ["in order", "reversed", "shuffled with duplicates"])
def test_ipv4_fragments_are_reassembled_in_any_order(order: str) -> None:
    payload = bytes(range(256)) * 14
    whole = IP(src="192.0.2.1", dst="192.0.2.2", id=4242) / UDP(sport=5060, dport=5060) / payload
    pieces = datagrams([bytes(piece) for piece in fragment(whole, fragsize=800)])
    if order == "reversed":
        pieces.reverse()
    elif order != "in order":
        pieces += pieces[:2]
        random.Random(7).shuffle(pieces)
    reassembler = Reassembler()
    results = [reassembler.add(piece) for piece in pieces]
    done = [result for result in results if result is not None]
    assert len(done) == 1
    packet = decode_transport(done[0])
    assert isinstance(packet, Packet)
    assert packet.payload == payload
    assert not packet.cut
    assert reassembler.counts.reassembled == 1
    assert reassembler.pending() == 0


def test_ipv6_fragments_are_reassembled() -> None:
    payload = b"INVITE sip:x SIP/2.0\r\n" + b"a" * 3000
    whole = IPv6(src="2001:db8::1", dst="2001:db8::2") / Frag6(id=5) / UDP(sport=5060) / payload
    pieces = datagrams([bytes(piece) for piece in fragment6(whole, 1280)])
    reassembler = Reassembler()
    done = [result for piece in pieces if (result := reassembler.add(piece)) is not None]
    assert len(done) == 1
    packet = decode_transport(done[0])
    assert isinstance(packet, Packet)
    assert packet.payload == payload


def test_a_fragment_cut_by_the_capture_gives_a_cut_datagram() -> None:
    payload = bytes(2000)
    whole = IP(src="192.0.2.1", dst="192.0.2.2", id=1) / UDP(sport=5060, dport=5060) / payload
    frames = [bytes(piece) for piece in fragment(whole, fragsize=800)]
    pieces = datagrams([frames[0][:300], *frames[1:]])
    reassembler = Reassembler()
    done = [result for piece in pieces if (result := reassembler.add(piece)) is not None]
    assert len(done) == 1
    packet = decode_transport(done[0])
    assert isinstance(packet, Packet)
    assert packet.cut
    assert packet.length == len(payload)


def test_reassembly_is_bounded_and_gives_up_on_the_oldest() -> None:
    reassembler = Reassembler(max_datagrams=4)
    for ident in range(10):
        whole = IP(src="192.0.2.1", dst="192.0.2.2", id=ident) / UDP() / bytes(2000)
        first = datagrams([bytes(fragment(whole, fragsize=800)[0])])[0]
        assert reassembler.add(first) is None
    assert reassembler.pending() == 4
    assert reassembler.counts.dropped == 6
    reassembler.finish()
    assert reassembler.counts.dropped == 10
