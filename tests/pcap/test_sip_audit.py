"""Cleartext SIP found in frames (probe.pcap.sip_audit through the pure audit loop), and
how pcap.sip_cleartext and pcap.sdes_exposed judge it."""

from __future__ import annotations

import json

from scapy.layers.inet import IP, UDP, fragment

from probe.evidence.capture import CaptureEvidence
from probe.evidence.codec import encode
from probe.pcap.analyses import build_analyses
from probe.pcap.analysis import AuditLimits, SdpSeen
from probe.pcap.audit import CaptureAudit
from probe.pcap.sip_audit import SipAnalysis, looks_like_sip
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Finding, Status
from tests.pcap.frames import (
    ACK,
    FIN,
    SECRET_KEY,
    SYN,
    invite_with_keys,
    sdes_offer,
    sip_request,
    sip_response,
    tcp_frame,
    udp_frame,
)

A, B = "192.0.2.10", "192.0.2.20"


def findings(evidence: CaptureEvidence) -> dict[str, Finding]:
    return {finding.check: finding for finding in judge_capture(evidence).findings}


def tcp_conversation(
    client_bytes: bytes, server_bytes: bytes = b"", *, size: int = 1460, isn: int = 5000
) -> list[bytes]:
    """A whole connection: handshake, each side's bytes in segments of `size`, FINs."""
    frames = [
        tcp_frame(A, 40000, B, 5060, isn, flags=SYN),
        tcp_frame(B, 5060, A, 40000, 9000, flags=SYN | ACK, ack=isn + 1),
    ]
    for at in range(0, len(client_bytes), size):
        frames.append(tcp_frame(A, 40000, B, 5060, isn + 1 + at, client_bytes[at : at + size]))
    for at in range(0, len(server_bytes), size):
        frames.append(tcp_frame(B, 5060, A, 40000, 9001 + at, server_bytes[at : at + size]))
    frames.append(tcp_frame(A, 40000, B, 5060, isn + 1 + len(client_bytes), flags=FIN | ACK))
    frames.append(tcp_frame(B, 5060, A, 40000, 9001 + len(server_bytes), flags=FIN | ACK))
    return frames


def test_an_options_ping_over_udp_is_cleartext_sip() -> None:
    evidence = audit_frames(
        [
            udp_frame(A, 40000, B, 5060, sip_request()),
            udp_frame(B, 5060, A, 40000, sip_response()),
            udp_frame(A, 40002, B, 5060, b"\x80\x00" + bytes(170)),  # RTP-like: not SIP
        ]
    )
    sip = evidence.sip
    assert (sip.messages, sip.udp_messages, sip.tcp_messages) == (2, 2, 0)
    assert [(c.name, c.count) for c in sip.requests] == [("OPTIONS", 1)]
    assert [(c.name, c.count) for c in sip.responses] == [("200", 1)]
    assert sip.malformed == 0
    [flow] = sip.flows
    assert (flow.client, flow.server, flow.messages) == (f"{A}:40000", f"{B}:5060", 2)
    assert [message.name for message in sip.samples] == ["OPTIONS", "200 (OPTIONS)"]
    assert sip.samples[0].call_id == "a84b4c76e66710"
    assert [summary.labels for summary in evidence.flows] == [("sip",)]
    result = findings(evidence)
    cleartext = result["pcap.sip_cleartext"]
    assert cleartext.status is Status.FAIL
    assert "2 SIP messages in the clear (OPTIONS ×1; 200 ×1)" in cleartext.summary
    assert f"udp {A}:40000 ↔ {B}:5060" in cleartext.summary
    assert result["pcap.sdes_exposed"].status is Status.PASS


def test_an_sdes_key_in_cleartext_sip_fails_and_is_never_kept() -> None:
    evidence = audit_frames([udp_frame(A, 5060, B, 5060, invite_with_keys())])
    sip = evidence.sip
    assert sip.exposures_total == 1
    [exposure] = sip.exposures
    assert exposure.message.name == "INVITE"
    assert exposure.message.call_id == "call-with-keys"
    assert exposure.lines == (
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + "A" * len(SECRET_KEY) + "|2^31",
    )
    assert SECRET_KEY not in json.dumps(encode(evidence))
    sdes = findings(evidence)["pcap.sdes_exposed"]
    assert sdes.status is Status.FAIL
    assert "INVITE in frame 1" in sdes.summary
    assert "Call-ID call-with-keys" in sdes.summary
    assert "inline:<redacted>|2^31" in sdes.summary
    assert SECRET_KEY not in json.dumps(sdes.to_dict())
    assert sdes.details["exposures"][0]["source"] == f"{A}:5060"  # type: ignore[index]


def test_several_messages_in_one_segment_are_split_by_the_framer() -> None:
    three = sip_request(cseq=1) + b"\r\n\r\n" + sip_request(cseq=2) + invite_with_keys()
    evidence = audit_frames(tcp_conversation(three, sip_response()))
    sip = evidence.sip
    assert (sip.messages, sip.tcp_messages, sip.streams) == (4, 4, 2)
    assert [m.cseq for m in sip.samples if m.kind == "request"] == [1, 2, 1]
    assert sip.exposures_total == 1
    assert sip.unframed_bytes == 0
    assert evidence.counts.tcp_streams_claimed[0].name == "sip"
    assert [summary.ended for summary in evidence.flows] == ["closed"]


def test_one_message_across_many_segments() -> None:
    message = invite_with_keys()
    evidence = audit_frames(tcp_conversation(message, size=7))
    assert evidence.sip.messages == 1
    assert evidence.sip.exposures_total == 1
    assert evidence.sip.samples[0].frame == 2 + len(range(0, len(message), 7))


def test_out_of_order_and_retransmitted_segments_frame_the_same() -> None:
    stream = sip_request(cseq=1) + invite_with_keys() + sip_request(cseq=3)
    frames = tcp_conversation(stream, size=50)
    data = frames[2:-2]
    shuffled = [*data[5:9], *data[:5], data[3], data[2], *data[9:], data[-1]]
    evidence = audit_frames([*frames[:2], *shuffled, *frames[-2:]])
    sip = evidence.sip
    assert sip.messages == 3
    assert [m.cseq for m in sip.samples] == [1, 1, 3]
    assert sip.exposures_total == 1
    assert sip.stream_gap_bytes == 0
    assert evidence.counts.tcp_retransmitted_bytes >= 100


def test_a_capture_that_starts_mid_message_finds_the_next_message() -> None:
    stream = invite_with_keys() + sip_request(cseq=2)
    frames = [
        tcp_frame(A, 40000, B, 5060, 7000 + at, stream[at : at + 100])
        for at in range(0, len(stream), 100)
    ]
    evidence = audit_frames(frames[2:])  # no SYN, and the INVITE's start line is missing
    sip = evidence.sip
    assert sip.messages == 1
    assert sip.samples[0].cseq == 2
    # The a=crypto line of the INVITE's tail is still found, in bytes that framed as no
    # message.
    assert sip.exposures_total == 1
    assert sip.exposures[0].message.kind == "fragment"
    assert sip.unframed_bytes > 0


def test_garbage_sip_is_counted_malformed_and_framing_resumes_after_it() -> None:
    # Over TCP, Content-Length is mandatory (RFC 3261 §18.3): without it the framer
    # cannot tell where the body ends.
    invite = invite_with_keys(call_id="broken")
    no_length = b"".join(
        line for line in invite.splitlines(keepends=True) if not line.startswith(b"Content-Length")
    )
    stream = no_length + sip_request(cseq=9)
    evidence = audit_frames(tcp_conversation(stream))
    sip = evidence.sip
    assert sip.messages == 2
    assert sip.malformed == 1
    [bad] = sip.malformed_samples
    assert bad.call_id == "broken"
    assert bad.problem is not None
    assert "Content-Length" in bad.problem
    assert sip.exposures_total == 1
    assert [m.cseq for m in sip.samples] == [1, 9]


def test_garbage_after_a_start_line_over_udp_is_still_cleartext_sip() -> None:
    evidence = audit_frames([udp_frame(A, 5060, B, 5060, b"BYE sip:x SIP/2.0\r\n\x00\xff\x00")])
    assert evidence.sip.messages == 1
    assert evidence.sip.malformed == 1
    assert findings(evidence)["pcap.sip_cleartext"].status is Status.FAIL


def test_a_missing_tcp_segment_leaves_sdes_incomplete() -> None:
    first = sip_request(cseq=1)
    stream = first + sip_request("INVITE", cseq=2) + sip_request(cseq=3)
    frames = tcp_conversation(stream, size=80)
    del frames[2 + (len(first) + 100) // 80]  # a segment inside the INVITE never captured
    evidence = audit_frames(frames)
    sip = evidence.sip
    assert sip.stream_gap_bytes == 80
    assert sip.cut_messages >= 1
    assert [m.cseq for m in sip.samples if not m.cut] == [1, 3]
    result = findings(evidence)
    assert result["pcap.sip_cleartext"].status is Status.FAIL
    sdes = result["pcap.sdes_exposed"]
    assert sdes.status is Status.INCOMPLETE
    assert "80 bytes of SIP over TCP missing" in sdes.summary


def test_a_snap_length_that_cuts_sip_leaves_sdes_incomplete() -> None:
    evidence = audit_frames([udp_frame(A, 5060, B, 5060, invite_with_keys())], cut_to=96)
    sip = evidence.sip
    assert (sip.messages, sip.cut_messages, sip.exposures_total) == (1, 1, 0)
    assert evidence.counts.cut_records == 1
    result = findings(evidence)
    assert result["pcap.sip_cleartext"].status is Status.FAIL
    assert result["pcap.sdes_exposed"].status is Status.INCOMPLETE
    assert "only partly captured" in result["pcap.sdes_exposed"].summary


def test_a_fragmented_invite_is_reassembled_and_its_key_found() -> None:
    invite = invite_with_keys() + b"a=x-filler:" + b"f" * 3000 + b"\r\n"
    whole = IP(src=A, dst=B, id=99) / UDP(sport=5060, dport=5060) / invite
    pieces = [bytes(piece) for piece in fragment(whole, fragsize=1000)]
    evidence = audit_frames(list(reversed(pieces)), linktype=101)
    assert evidence.counts.fragments == len(pieces)
    assert evidence.counts.reassembled == 1
    assert evidence.sip.exposures_total == 1


def test_streams_that_are_not_sip_are_left_alone() -> None:
    tls_hello = bytes.fromhex("160301020001") + bytes(600)
    http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    frames = [*tcp_conversation(tls_hello, b"\x16\x03\x03" + bytes(90))]
    frames += [
        tcp_frame(A, 40001, B, 80, 1, flags=SYN),
        tcp_frame(A, 40001, B, 80, 2, http),
    ]
    evidence = audit_frames(frames)
    assert evidence.sip.messages == 0
    # The ClientHello's direction is the TLS analysis's; the rest is no one's.
    assert [(c.name, c.count) for c in evidence.counts.tcp_streams_claimed] == [("tls", 1)]
    assert evidence.counts.tcp_streams_unclaimed == 2
    assert [flow.labels for flow in evidence.flows] == [("tls",)]
    result = findings(evidence)
    assert result["pcap.sip_cleartext"].status is Status.PASS
    assert "no SIP in the clear in" in result["pcap.sip_cleartext"].summary
    assert result["pcap.sdes_exposed"].summary == "no cleartext SIP, so no SDES key in the clear"


def test_an_empty_capture_verifies_nothing() -> None:
    evidence = audit_frames([])
    result = judge_capture(evidence)
    assert {finding.status for finding in result.findings} == {Status.INCOMPLETE}
    assert result.verdict.value == "incomplete"


def test_other_analyses_hear_of_every_sdp_body() -> None:
    heard: list[SdpSeen] = []

    class Listener:
        def sdp_seen(self, sdp: SdpSeen) -> None:
            heard.append(sdp)

    limits = AuditLimits()
    analyses = build_analyses(limits)
    sip = analyses[0]
    assert isinstance(sip, SipAnalysis)
    sip.sdp_listeners.append(Listener())
    audit = CaptureAudit(analyses, limits)
    audit.frame(1, 1.0, 1, udp_frame(A, 5060, B, 5060, invite_with_keys()), 0)
    audit.frame(2, 2.0, 1, udp_frame(B, 5060, A, 5060, sip_response()), 0)
    [offer] = heard
    assert (offer.frame, offer.method, offer.kind, offer.call_id) == (
        1,
        "INVITE",
        "request",
        "call-with-keys",
    )
    assert offer.body.startswith(b"v=0")
    assert SECRET_KEY.encode() in offer.body
    assert offer.flow.label() == f"udp {A}:5060 → {B}:5060"


def test_the_start_line_tells_sip_from_other_datagrams() -> None:
    assert looks_like_sip(b"SIP/2.0 180 Ringing\r\n")
    assert looks_like_sip(b"REGISTER sips:example.test SIP/2.0\r\n")
    assert looks_like_sip(b"INVITE sip:+1555@ex", cut=True)
    assert not looks_like_sip(b"INVITE sip:+1555@ex")
    assert not looks_like_sip(b"GET / HTTP/1.1\r\n")
    assert not looks_like_sip(b"\x80\x00\x00\x01")
    assert not looks_like_sip(b"")


def test_every_list_of_the_evidence_is_bounded() -> None:
    limits = AuditLimits(max_listed=5)
    frames = [
        udp_frame(A, 10000 + n, B, 5060, invite_with_keys(call_id=f"c{n}")) for n in range(40)
    ]
    evidence = audit_frames(frames, limits=limits)
    sip = evidence.sip
    assert sip.messages == 40
    assert sip.exposures_total == 40
    assert len(sip.samples) == len(sip.exposures) == len(sip.flows) == 5
    assert sip.flows_omitted == 35
    assert len(evidence.flows) == 5
    assert evidence.flows_omitted == 35
    sdes = findings(evidence)["pcap.sdes_exposed"]
    assert "and 39 more messages" in sdes.summary


def audit_frames(frames: list[bytes], **kwargs: object) -> CaptureEvidence:
    from tests.pcap.frames import audit_frames as audit

    return audit(frames, **kwargs)  # type: ignore[arg-type]


def test_sip_over_tcp_with_every_segment_cut_is_still_found() -> None:
    # A snap length of 96 leaves 42 bytes of each segment: the start line is cut short,
    # and the rest of every message is missing.
    invite = sip_request(
        "INVITE",
        host="gateway.carrier.example.net:5060;transport=tcp",
        body=sdes_offer(),
        content_type="application/sdp",
    )
    assert invite.index(b"\r\n") > 42
    stream = invite + sip_request(cseq=2)
    evidence = audit_frames(tcp_conversation(stream, size=300), cut_to=96)
    sip = evidence.sip
    assert sip.messages >= 1
    assert sip.samples[0].method == "INVITE"
    assert sip.samples[0].cut
    result = findings(evidence)
    assert result["pcap.sip_cleartext"].status is Status.FAIL
    assert result["pcap.sdes_exposed"].status is Status.INCOMPLETE


def test_a_snap_length_too_short_to_tell_anything_is_never_a_pass() -> None:
    # 68 bytes (an old tcpdump default): 14 bytes of TCP payload, 26 of UDP.
    frames = [
        *tcp_conversation(invite_with_keys()),
        udp_frame(A, 5060, B, 5060, invite_with_keys()),
    ]
    evidence = audit_frames(frames, cut_to=68)
    assert evidence.counts.cut_unreadable >= 2
    result = findings(evidence)
    for check in ("pcap.sip_cleartext", "pcap.sdes_exposed"):
        assert result[check].status in (Status.INCOMPLETE, Status.FAIL), result[check].summary
    assert result["pcap.sdes_exposed"].status is Status.INCOMPLETE
    assert "too short to tell what they carried" in result["pcap.sdes_exposed"].summary
    media = audit_frames([udp_frame(A, 4000, B, 4002, b"\x80" + bytes(200))] * 3, cut_to=60)
    assert findings(media)["pcap.sip_cleartext"].status is Status.INCOMPLETE


def test_sip_inside_a_tunnel_is_found_and_a_tunnel_not_opened_is_not_a_pass() -> None:
    from scapy.layers.l2 import GRE, Ether

    mac = "02:00:00:00:00:01"
    inner = IP(src=A, dst=B) / UDP(sport=5060, dport=5060) / invite_with_keys()
    mirrored = Ether(src=mac, dst=mac) / IP(src="198.51.100.1", dst="198.51.100.2") / GRE() / inner
    evidence = audit_frames([bytes(mirrored)])
    assert evidence.counts.tunnelled == 1
    assert evidence.sip.exposures_total == 1
    assert evidence.sip.flows[0].client == f"{A}:5060"
    l2tp = Ether(src=mac, dst=mac) / IP(src=A, dst=B, proto=115) / bytes(inner)
    unopened = audit_frames([bytes(l2tp)])
    assert [(c.name, c.count) for c in unopened.counts.not_decoded] == [("tunnel", 1)]
    cleartext = findings(unopened)["pcap.sip_cleartext"]
    assert cleartext.status is Status.INCOMPLETE
    assert "inside a tunnel sipprobe does not open" in cleartext.summary
    from scapy.layers.sctp import SCTP, SCTPChunkData

    def over_sctp(data: bytes, ppid: int) -> bytes:
        chunk = SCTPChunkData(data=data, proto_id=ppid)
        return bytes(Ether(src=mac, dst=mac) / IP(src=A, dst=B) / SCTP(sport=5060) / chunk)

    sip_over_sctp = audit_frames([over_sctp(invite_with_keys(), 0)])
    unread = findings(sip_over_sctp)["pcap.sip_cleartext"]
    assert unread.status is Status.INCOMPLETE
    assert "1 SCTP packet(s) carrying SIP (RFC 4168), not read" in unread.summary
    sigtran = audit_frames([over_sctp(b"\x01\x00\x01\x01" + bytes(40), 3)])  # M3UA
    assert [(c.name, c.count) for c in sigtran.counts.not_decoded] == [("sctp", 1)]
    assert findings(sigtran)["pcap.sip_cleartext"].status is Status.PASS
