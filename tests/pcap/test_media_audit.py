"""The media analysis on packets built in the test: RTP, SRTP (made by libsrtp), DTLS,
STUN and RTCP, with and without the SDP that set them up, with and without keys."""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.evidence.capture import CaptureEvidence, CaptureSource
from probe.evidence.capture_file import dumps_capture, loads_capture
from probe.evidence.capture_media import MediaFlow
from probe.pcap.analyses import build_analyses
from probe.pcap.analysis import AuditLimits
from probe.pcap.audit import CaptureAudit
from probe.pcap.media_audit import MediaAnalysis, MediaOptions
from probe.pcap.media_sdp import scan_sdp
from probe.pcap.rtp import entropy_bits, read_rtp, rtcp_is_plain, stun_message
from probe.pcap.srtp_auth import KeyFileError, SrtpKey, parse_key_file
from probe.sdp import parse_crypto
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Finding, Status
from tests.pcap.frames import audit_frames, udp_frame, write_pcap
from tests.pcap.media_frames import (
    CALLEE,
    CALLEE_KEY,
    CALLEE_PORT,
    CALLER,
    CALLER_KEY,
    CALLER_PORT,
    GCM_KEY,
    call_setup,
    change_cipher_spec_and_finished,
    client_hello,
    g711_stream,
    invite,
    media_frames,
    ok,
    protector,
    rtp,
    sdp,
    server_hello,
    srtp_stream,
    tone,
)
from tests.sip.strategies import fuzz_examples


def audit(frames: list[bytes], **options: object) -> CaptureEvidence:
    limits = options.pop("limits", None) or AuditLimits()
    assert isinstance(limits, AuditLimits)
    media = MediaOptions(**options)  # type: ignore[arg-type]
    runner = CaptureAudit(build_analyses(limits, media), limits)
    for number, frame in enumerate(frames, start=1):
        runner.frame(number, 1_700_000_000.0 + number / 50, 1, frame, len(frame))
    source = CaptureSource(file="media.pcap", format="pcap", size_bytes=0, link_types=())
    return runner.evidence(source, started_at="2026-01-01T00:00:00.000+00:00", duration_ms=1.0)


def media_finding(evidence: CaptureEvidence) -> Finding:
    return {f.check: f for f in judge_capture(evidence).findings}["pcap.media"]


def only_flow(evidence: CaptureEvidence) -> MediaFlow:
    assert evidence.media is not None
    [flow] = evidence.media.flows
    return flow


# -- what a packet is -----------------------------------------------------------------


def test_the_rtp_header_is_read_as_scapy_builds_it() -> None:
    from scapy.layers.rtp import RTP

    built = bytes(
        RTP(version=2, payload_type=8, sequence=4242, timestamp=99, sourcesync=0xCAFE, numsync=2)
    )
    header = read_rtp(built + b"\x00" * 8 + b"payload")
    assert header is not None
    assert (header.payload_type, header.sequence, header.timestamp) == (8, 4242, 99)
    assert header.ssrc == 0xCAFE
    assert header.header_length == 12 + 8  # two CSRCs (RFC 3550 §5.1)
    assert read_rtp(b"\x40" + built[1:]) is None  # version 1
    assert read_rtp(built[:11]) is None


def test_entropy_separates_a_tone_from_ciphertext() -> None:
    assert entropy_bits(tone(4000)) < 6.5
    assert entropy_bits(os.urandom(512)) > 7.7  # Miller–Madow: a small sample is not penalised
    assert entropy_bits(b"\xff" * 1000) == 0.0


def test_rtcp_compound_walks_exactly_and_srtcp_does_not() -> None:
    receiver_report = struct.pack("!BBHI", 0x80, 201, 1, 0x1234)
    sdes = struct.pack("!BBHI", 0x81, 202, 3, 0x1234) + b"\x01\x02ab\x00\x00\x00\x00"
    assert rtcp_is_plain(receiver_report + sdes)
    protected = protector(CALLER_KEY).protect_rtcp(receiver_report + sdes)
    assert not rtcp_is_plain(protected)


def test_stun_needs_its_cookie_and_a_length_that_fits() -> None:
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)
    assert stun_message(request, len(request)) == "request"
    assert stun_message(request, len(request) + 4) is None
    assert stun_message(request[:4] + b"\x00\x00\x00\x00" + request[8:], 20) is None


# -- classification without keys ------------------------------------------------------


def test_plain_g711_is_rtp_by_its_frame_and_entropy() -> None:
    evidence = audit(media_frames(list(g711_stream(50))))
    flow = only_flow(evidence)
    [stream] = flow.streams
    assert (flow.kind, stream.kind) == ("rtp", "rtp")
    assert (stream.ssrc, stream.packets, stream.in_order, stream.lost) == (0x1234ABCD, 50, 49, 0)
    assert [(c.name, c.count) for c in stream.payload_types] == [("0", 50)]
    assert stream.trailing_bytes == 0
    assert stream.entropy is not None
    assert stream.entropy < 7.0
    finding = media_finding(evidence)
    assert finding.status is Status.WARN
    assert "no SDP for it was seen" in finding.summary
    assert f"{CALLER}:{CALLER_PORT}" in finding.summary


@pytest.mark.parametrize(
    ("suite", "tag"),
    [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4), ("AEAD_AES_128_GCM", 16)],
)
def test_srtp_is_told_by_its_tag_and_entropy(suite: str, tag: int) -> None:
    key = GCM_KEY if "GCM" in suite else CALLER_KEY
    evidence = audit(media_frames(srtp_stream(40, key, suite=suite)))
    flow = only_flow(evidence)
    [stream] = flow.streams
    assert (flow.kind, stream.kind, stream.trailing_bytes) == ("srtp", "srtp", tag)
    assert stream.encrypted is True
    assert stream.entropy is not None
    assert stream.entropy > 7.5
    assert media_finding(evidence).status is Status.PASS


def test_a_dynamic_payload_type_is_judged_by_entropy_and_its_first_byte() -> None:
    ssrc = 0xD1
    # Opus-like: a constant TOC byte then compressed (random-looking) bytes, in the clear.
    opus = [rtp(n, n * 960, ssrc, b"\x78" + os.urandom(80), 111) for n in range(30)]
    flow = only_flow(audit(media_frames(opus)))
    assert flow.kind == "rtp"
    assert "first byte took 1 value in 30 packets" in flow.streams[0].reason
    # The same encrypted: every byte, the first too, looks random.
    session = protector(CALLER_KEY)
    srtp = [session.protect(packet) for packet in opus]
    flow = only_flow(audit(media_frames(srtp)))
    assert flow.kind == "srtp"
    assert flow.streams[0].trailing_bytes is None  # no fixed frame to measure against


def test_too_few_packets_named_by_sdp_are_incomplete() -> None:
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames += media_frames(srtp_stream(2, "A" * 40))  # a key no SDP named
    evidence = audit(frames)
    flow = only_flow(evidence)
    assert flow.kind == "unclassified"
    finding = media_finding(evidence)
    assert finding.status is Status.INCOMPLETE
    assert "only 2 RTP packet(s)" in finding.summary


def test_packets_cut_before_their_payload_are_incomplete() -> None:
    frames = media_frames(srtp_stream(30, CALLER_KEY))
    evidence = audit_frames(frames, cut_to=14 + 20 + 8 + 12)  # headers only
    [stream] = only_flow(evidence).streams
    assert stream.cut == 30
    assert stream.trailing_bytes == 10  # measured from the length on the wire
    assert stream.kind == "unclassified"
    assert "snap length" in stream.reason
    assert media_finding(evidence).status is Status.INCOMPLETE


def test_noise_that_starts_like_rtp_is_not_taken_for_media() -> None:
    noise = [udp_frame(CALLER, 53, CALLEE, 5353, b"\x80" + os.urandom(60)) for _ in range(40)]
    evidence = audit(noise)
    assert evidence.media is not None
    assert evidence.media.flows == ()
    assert evidence.media.unconfirmed == 1
    finding = media_finding(evidence)
    assert finding.status is Status.PASS
    assert "no RTP, SRTP or DTLS flow" in finding.summary


# -- the SDP that set a flow up -------------------------------------------------------


def test_plain_rtp_where_srtp_was_negotiated_fails() -> None:
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames += media_frames(list(g711_stream(50)))
    evidence = audit(frames)
    flow = only_flow(evidence)
    assert flow.offer is not None
    assert flow.answer is not None
    assert (flow.offer.frame, flow.answer.frame) == (1, 2)
    assert (flow.offer.role, flow.answer.role) == ("offer", "answer")
    assert flow.answer.crypto_suites == ("AES_CM_128_HMAC_SHA1_80",)
    assert flow.outcome == "rtp on a secure profile"
    finding = media_finding(evidence)
    assert finding.status is Status.FAIL
    assert "RTP/SAVP in the 200 (INVITE) of frame 2 negotiated SRTP" in finding.summary
    text = json.dumps(finding.to_dict()) + dumps_capture(evidence)
    assert CALLER_KEY not in text
    assert CALLEE_KEY not in text


def test_plain_rtp_as_negotiated_warns_and_fails_when_srtp_is_expected() -> None:
    frames = call_setup("RTP/AVP") + media_frames(list(g711_stream(20)))
    finding = media_finding(audit(frames))
    assert finding.status is Status.WARN
    assert "as negotiated (RTP/AVP in the 200 (INVITE) of frame 2)" in finding.summary
    finding = media_finding(audit(frames, expect_srtp=True))
    assert finding.status is Status.FAIL
    assert "SRTP was expected (--expect-srtp)" in finding.summary


def test_an_offer_of_srtp_answered_with_rtp_is_judged_by_the_answer() -> None:
    frames = call_setup("RTP/SAVP", "RTP/AVP", offer_key=CALLER_KEY)
    frames += media_frames(list(g711_stream(20)))
    flow = only_flow(audit(frames))
    assert flow.negotiated is not None
    assert flow.negotiated.proto == "RTP/AVP"
    assert flow.outcome == "rtp"


def test_a_retransmitted_invite_is_not_taken_for_the_answer() -> None:
    setup = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames = [setup[0], setup[0], setup[1], *media_frames(srtp_stream(20, CALLER_KEY))]
    flow = only_flow(audit(frames))
    assert flow.offer is not None
    assert flow.answer is not None
    assert (flow.offer.frame, flow.answer.frame) == (1, 3)
    assert flow.streams[0].authenticated == 20


def test_a_late_offer_in_the_200_is_answered_in_the_ack() -> None:
    from tests.pcap.frames import sip_request

    offer = sdp(CALLEE, CALLEE_PORT, "RTP/SAVP", CALLEE_KEY)
    answer = sdp(CALLER, CALLER_PORT, "RTP/SAVP", CALLER_KEY)
    frames = [
        udp_frame(CALLER, 5060, CALLEE, 5060, sip_request("INVITE", call_id="late")),
        udp_frame(CALLEE, 5060, CALLER, 5060, ok(offer, call_id="late")),
        udp_frame(
            CALLER,
            5060,
            CALLEE,
            5060,
            sip_request("ACK", call_id="late", body=answer, content_type="application/sdp"),
        ),
    ]
    frames += media_frames(srtp_stream(20, CALLER_KEY))  # the answerer's key, to the offer
    flow = only_flow(audit(frames))
    assert flow.offer is not None
    assert flow.offer.message == "200 (INVITE)"
    assert flow.answer is not None
    assert flow.answer.message == "ACK"
    assert flow.streams[0].authenticated == 20


def test_sdp_announcing_media_the_capture_lacks_is_incomplete() -> None:
    evidence = audit(call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY))
    assert evidence.media is not None
    assert evidence.media.sdp_unseen_total == 2
    finding = media_finding(evidence)
    assert finding.status is Status.INCOMPLETE
    assert "holds none of its packets" in finding.summary


def test_expecting_srtp_from_a_capture_without_media_is_incomplete() -> None:
    frames = [udp_frame(CALLER, 5060, CALLEE, 5060, invite(b""))]
    assert media_finding(audit(frames)).status is Status.PASS
    assert media_finding(audit(frames, expect_srtp=True)).status is Status.INCOMPLETE


# -- keys -----------------------------------------------------------------------------


def test_sdes_keys_from_the_capture_authenticate_both_directions() -> None:
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    # RFC 4568: each side sends with the key it announced.
    frames += media_frames(srtp_stream(25, CALLER_KEY, ssrc=1))
    frames += media_frames(
        srtp_stream(25, CALLEE_KEY, ssrc=2), CALLEE, CALLEE_PORT, CALLER, CALLER_PORT
    )
    evidence = audit(frames)
    flow = only_flow(evidence)
    assert [(s.ssrc, s.authenticated, s.auth_failed) for s in flow.streams] == [
        (1, 25, 0),
        (2, 25, 0),
    ]
    assert {s.key_source for s in flow.streams} == {"SDP in the capture"}
    assert evidence.media is not None
    assert evidence.media.sdp_keys == 2
    finding = media_finding(evidence)
    assert finding.status is Status.PASS
    assert "25 packets authenticated with the AES_CM_128_HMAC_SHA1_80 key" in finding.summary
    written = dumps_capture(evidence) + json.dumps(finding.to_dict())
    assert CALLER_KEY not in written
    assert CALLEE_KEY not in written


def test_srtp_made_with_another_key_fails_authentication() -> None:
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames += media_frames(srtp_stream(20, CALLEE_KEY))  # the wrong side's key
    evidence = audit(frames)
    [stream] = only_flow(evidence).streams
    assert (stream.authenticated, stream.auth_failed) == (0, 20)
    finding = media_finding(evidence)
    assert finding.status is Status.FAIL
    assert "SRTP that does not authenticate" in finding.summary


def test_a_few_forged_packets_in_authenticated_srtp_warn() -> None:
    packets = srtp_stream(20, CALLER_KEY)
    packets[7] = packets[7][:-1] + bytes([packets[7][-1] ^ 1])  # a tag that is wrong
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    [stream] = only_flow(audit(frames + media_frames(packets))).streams
    assert (stream.authenticated, stream.auth_failed) == (19, 1)
    finding = media_finding(audit(frames + media_frames(packets)))
    assert finding.status is Status.WARN


def test_a_packet_captured_twice_is_a_replay_not_a_failure() -> None:
    packets = srtp_stream(10, CALLER_KEY)
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    [stream] = only_flow(audit(frames + media_frames(packets + packets[-1:]))).streams
    assert (stream.authenticated, stream.auth_failed, stream.replayed) == (10, 0, 1)


def test_the_key_file_authenticates_what_its_address_sends() -> None:
    text = (
        "# saved from the offer\n"
        f"{CALLER}:{CALLER_PORT} a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{CALLER_KEY}\n"
    )
    keys = parse_key_file(text, "keys.txt")
    frames = media_frames(srtp_stream(15, CALLER_KEY))
    evidence = audit(frames, keys=keys, key_file="keys.txt")
    [stream] = only_flow(evidence).streams
    assert (stream.authenticated, stream.key_source) == (15, "key file")
    assert evidence.media is not None
    assert (evidence.media.key_file, evidence.media.file_keys) == ("keys.txt", 1)
    assert CALLER_KEY not in dumps_capture(evidence)
    assert CALLER_KEY not in repr(keys)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("192.0.2.1 1 AES_CM_128_HMAC_SHA1_80 inline:KEY", "does not start with ADDRESS:PORT"),
        ("192.0.2.1:70000 1 AES_CM_128_HMAC_SHA1_80 inline:KEY", "ADDRESS:PORT"),
        ("192.0.2.1:4000 1 AES_CM_128_HMAC_SHA1_80 inline:KEY", "line 2"),
        ("[2001:db8::1]:4000 x AES_CM_128_HMAC_SHA1_80 inline:KEY", "crypto tag"),
    ],
)
def test_a_bad_key_file_says_which_line_and_never_quotes_it(line: str, problem: str) -> None:
    secret = line.replace("KEY", CALLER_KEY[:-4])
    with pytest.raises(KeyFileError) as raised:
        parse_key_file("# keys\n" + secret + "\n", "keys.txt")
    assert problem in str(raised.value)
    assert "line 2" in str(raised.value)
    assert CALLER_KEY[:-4] not in str(raised.value)


def test_an_empty_key_file_is_refused() -> None:
    with pytest.raises(KeyFileError, match="no key in it"):
        parse_key_file("# nothing\n\n", "keys.txt")


def test_a_suite_libsrtp_lacks_is_said_not_failed() -> None:
    key = SrtpKey(
        (bytes([192, 0, 2, 10]), CALLER_PORT),
        parse_crypto("1 AES_256_CM_HMAC_SHA1_80 inline:" + base64.b64encode(bytes(46)).decode()),
    )
    [stream] = only_flow(audit(media_frames(srtp_stream(10, CALLER_KEY)), keys=(key,))).streams
    assert stream.kind == "srtp"  # by its evidence
    assert (stream.authenticated, stream.auth_failed) == (0, 0)
    assert stream.auth_problem is not None
    assert "AES_256_CM_HMAC_SHA1_80" in stream.auth_problem


# -- DTLS, STUN, RTCP -----------------------------------------------------------------


def dtls_call(profile: int = 0x0001, complete: bool = True) -> list[bytes]:
    setup = [
        udp_frame(
            CALLER, 5060, CALLEE, 5060, invite(sdp(CALLER, CALLER_PORT, "UDP/TLS/RTP/SAVPF"))
        ),
        udp_frame(CALLEE, 5060, CALLER, 5060, ok(sdp(CALLEE, CALLEE_PORT, "UDP/TLS/RTP/SAVPF"))),
    ]
    forward = [client_hello([0x0001, 0x0002, 0x0007])]
    backward = [server_hello(profile)]
    if complete:
        forward.append(change_cipher_spec_and_finished())
        backward.append(change_cipher_spec_and_finished())
    frames = (
        setup
        + media_frames(forward[:1])
        + media_frames(backward[:1], CALLEE, CALLEE_PORT, CALLER, CALLER_PORT)
    )
    if complete:
        frames += media_frames(forward[1:])
        frames += media_frames(backward[1:], CALLEE, CALLEE_PORT, CALLER, CALLER_PORT)
        frames += media_frames(srtp_stream(20, CALLER_KEY))
    return frames


def test_dtls_srtp_shows_its_handshake_and_profile() -> None:
    evidence = audit(dtls_call())
    flow = only_flow(evidence)
    assert flow.kind == "dtls-srtp"
    assert flow.dtls is not None
    assert flow.dtls.offered_profiles == (
        "SRTP_AES128_CM_HMAC_SHA1_80",
        "SRTP_AES128_CM_HMAC_SHA1_32",
        "SRTP_AEAD_AES_128_GCM",
    )
    assert flow.dtls.chosen_profile == "SRTP_AES128_CM_HMAC_SHA1_80"
    assert flow.dtls.encrypted_both_ways
    assert {c.name for c in flow.dtls.handshake} >= {"client_hello", "server_hello"}
    assert flow.streams[0].kind == "srtp"
    finding = media_finding(evidence)
    assert finding.status is Status.PASS
    assert "DTLS-SRTP (negotiated UDP/TLS/RTP/SAVPF)" in finding.summary


def test_a_dtls_handshake_that_never_completes_warns() -> None:
    flow = only_flow(audit(dtls_call(complete=False)))
    assert flow.outcome == "dtls handshake incomplete"


def test_plain_rtp_after_a_dtls_handshake_fails() -> None:
    frames = dtls_call(complete=False) + media_frames(list(g711_stream(20)))
    finding = media_finding(audit(frames))
    assert finding.status is Status.FAIL


def test_stun_and_rtcp_on_the_media_port_are_counted() -> None:
    binding = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)
    report = struct.pack("!BBHI", 0x80, 201, 1, 0x5EC0DE01)
    session = protector(CALLER_KEY)
    packets = [binding, *srtp_stream(20, CALLER_KEY)]
    packets += [session.protect_rtcp(report) for _ in range(3)] + [report, report]
    flow = only_flow(audit(media_frames(packets)))
    assert (flow.stun, flow.rtcp_protected, flow.rtcp_plain) == (1, 3, 2)
    assert flow.outcome == "rtcp in the clear"
    finding = media_finding(audit(media_frames(packets)))
    assert finding.status is Status.WARN
    assert "2 RTCP packet(s) in the clear beside SRTP" in finding.summary


def test_rtcp_on_the_next_port_is_tied_to_its_sdp() -> None:
    report = struct.pack("!BBHI", 0x80, 201, 1, 0x5EC0DE01)
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames += media_frames([report] * 3, dport=CALLEE_PORT + 1, sport=CALLER_PORT + 1)
    flow = only_flow(audit(frames))
    assert flow.answer is not None
    assert flow.answer.endpoint == f"{CALLEE}:{CALLEE_PORT}"
    assert flow.outcome == "rtcp in the clear"


# -- bounds and saved evidence --------------------------------------------------------


def test_streams_per_flow_are_bounded() -> None:
    packets = [rtp(n, n * 160, 1000 + n, tone(160)) for n in range(30)]  # a new SSRC each
    packets += list(g711_stream(10))
    flow = only_flow(audit(media_frames(packets)))
    # The strays of one packet each make room for the stream that goes on.
    assert len(flow.streams) == 8
    assert flow.streams_omitted == 30 - 7
    assert [s.ssrc for s in flow.streams if s.packets > 1] == [0x1234ABCD]
    assert flow.kind == "rtp"


def test_flows_past_the_listed_ones_are_still_judged() -> None:
    frames: list[bytes] = []
    for port in range(6):
        frames += media_frames(list(g711_stream(5, ssrc=port + 1)), sport=20000 + 2 * port)
    evidence = audit(frames, limits=AuditLimits(max_listed=2))
    assert evidence.media is not None
    assert len(evidence.media.flows) == 2
    assert evidence.media.flows_omitted == 4
    assert [(c.name, c.count) for c in evidence.media.omitted] == [("rtp", 4)]
    finding = media_finding(evidence)
    assert finding.status is Status.WARN
    assert "5 more flows like it" in finding.summary
    frames_srtp = media_frames(srtp_stream(10, CALLER_KEY))
    strict = audit(frames + frames_srtp, limits=AuditLimits(max_listed=1), expect_srtp=True)
    assert media_finding(strict).status is Status.FAIL


def test_media_evidence_is_saved_and_judged_again_the_same(tmp_path: Path) -> None:
    frames = call_setup("RTP/SAVP", offer_key=CALLER_KEY, answer_key=CALLEE_KEY)
    frames += media_frames(srtp_stream(20, CALLER_KEY)) + dtls_call()
    evidence = audit(frames, expect_srtp=True)
    again = loads_capture(dumps_capture(evidence))
    assert again == evidence
    assert judge_capture(again) == judge_capture(evidence)
    older = json.loads(dumps_capture(evidence))
    del older["media"]  # evidence saved before the media analysis existed
    assert loads_capture(json.dumps(older)).media is None
    assert "pcap.media" not in {
        f.check for f in judge_capture(loads_capture(json.dumps(older))).findings
    }


def test_text_that_starts_like_a_dtls_13_record_is_not_media() -> None:
    syslog = [udp_frame(CALLER, 514, CALLEE, 514, b"<13>Jan  1 00:00:00 host x") for _ in range(5)]
    digits = [udp_frame(CALLER, 7000, CALLEE, 7001, b"2024 status ok") for _ in range(5)]
    evidence = audit(syslog + digits)
    assert evidence.media is not None
    assert evidence.media.flows == ()


def test_a_record_that_is_not_dtls_on_a_media_port_is_counted_as_other() -> None:
    tls_record = b"\x16\x03\x03\x00\x05hello"  # TLS's version, not DTLS's (RFC 6347 §4.1)
    frames = media_frames([*srtp_stream(10, CALLER_KEY), tls_record])
    flow = only_flow(audit(frames))
    assert flow.other == 1
    assert flow.dtls is None


# -- hostile input --------------------------------------------------------------------


@settings(max_examples=max(100, fuzz_examples()), deadline=None)
@given(
    payloads=st.lists(
        st.tuples(st.sampled_from([0x00, 0x10, 0x16, 0x17, 0x40, 0x80, 0x90, 0xBF]), st.binary()),
        max_size=40,
    ),
    sdp_body=st.binary(max_size=300),
    cut=st.sampled_from([None, 42, 60, 80]),
)
def test_any_media_datagrams_give_evidence_and_a_finding(
    payloads: list[tuple[int, bytes]], sdp_body: bytes, cut: int | None
) -> None:
    frames = [udp_frame(CALLER, 5060, CALLEE, 5060, invite(b"v=0\r\n" + sdp_body))]
    frames += [
        udp_frame(CALLER, CALLER_PORT, CALLEE, CALLEE_PORT, bytes([first]) + rest)
        for first, rest in payloads
    ]
    evidence = audit_frames(frames, cut_to=cut)
    assert evidence.media is not None
    result = {f.check: f for f in judge_capture(evidence).findings}
    assert "pcap.media" in result
    assert loads_capture(dumps_capture(evidence)) == evidence


@settings(max_examples=max(100, fuzz_examples()), deadline=None)
@given(lines=st.lists(st.sampled_from([
    "m=audio 4000 RTP/SAVP 0", "m=audio x RTP/AVP 0", "m=audio 99999 RTP/AVP 0",
    "m=video 0 RTP/AVP",
    "c=IN IP4 192.0.2.1", "c=IN IP6 ::1", "c=IN IP4 host.example", "c=IN IP4 0.0.0.0", "c=",
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + CALLER_KEY, "a=crypto:", "a=crypto:x y",
    "a=rtcp:", "a=rtcp:70000", "a=rtcp:4001 IN IP4 192.0.2.1", "a=rtcp-mux", "a=fingerprint:",
    "garbage", "", "m=",
]), max_size=30))  # fmt: skip
def test_any_sdp_is_scanned_without_error(lines: list[str]) -> None:
    for media in scan_sdp("\r\n".join(lines).encode()):
        assert 0 <= media.port <= 65535
        assert media.rtcp_port is None or 0 < media.rtcp_port <= 65535
        assert CALLER_KEY not in repr(media)


def test_many_media_flows_stay_within_the_limits() -> None:
    limits = AuditLimits(max_flows=50, max_listed=20)
    frames = [
        udp_frame("10.0.0.1", 1024 + n, "10.1.0.1", 4000, packet)
        for n in range(2000)
        for packet in srtp_stream(3, CALLER_KEY, ssrc=n + 1)
    ]
    analyses = build_analyses(limits)
    runner = CaptureAudit(analyses, limits)
    for number, frame in enumerate(frames, start=1):
        runner.frame(number, float(number), 1, frame, len(frame))
    source = CaptureSource(file="many.pcap", format="pcap", size_bytes=0, link_types=())
    evidence = runner.evidence(source, started_at="2026-01-01T00:00:00+00:00", duration_ms=1)
    media = evidence.media
    assert media is not None
    assert len(media.flows) == 20
    assert media.flows_omitted == 2000 - 20
    assert sum(count.count for count in media.kinds) == 2000
    assert evidence.counts.most_open_flows == 50
    [analysis] = [a for a in analyses if isinstance(a, MediaAnalysis)]
    assert analysis.samples.in_use == 0  # every sample was folded or dropped with its flow
    finding = media_finding(evidence)
    assert finding.status is Status.PASS
    assert finding.summary.startswith("2000 media flows, all protected")


MEASURE = """
import resource, sys
from pathlib import Path
from probe.pcap.analysis import AuditLimits
from probe.pcap.audit import audit_capture
evidence = audit_capture(Path(sys.argv[1]), limits=AuditLimits(max_flows=2000))
media = evidence.media
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(media.flows) + media.flows_omitted)
"""


def rtp_flows(path: Path, count: int) -> Path:
    """`count` flows of two RTP packets each (G.711 frames), each its own SSRC."""
    frames = []
    for number in range(count):
        sport, dport = 1024 + number % 60000, 4000 + number // 60000
        for sequence in range(2):
            packet = rtp(sequence, sequence * 160, number, bytes(160))
            frames.append(udp_frame("10.0.0.1", sport, "10.1.0.1", dport, packet))
    return write_pcap(path, frames)


def test_many_rtp_flows_are_audited_in_bounded_memory(tmp_path: Path) -> None:
    def peak(path: Path) -> tuple[int, int]:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        rss, flows = done.stdout.split()
        return int(rss), int(flows)

    rss_small, small = peak(rtp_flows(tmp_path / "small.pcap", 4_000))
    rss_large, large = peak(rtp_flows(tmp_path / "large.pcap", 60_000))
    assert (small, large) == (4_000, 60_000)  # every flow was classified and counted
    # Fifteen times the media flows, the same memory: each flow's state and payload
    # sample go with it; 30 MiB covers allocator noise.
    assert rss_large - rss_small < 30 * 1024, (rss_small, rss_large)
