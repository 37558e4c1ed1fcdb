"""Media in captures of real calls on loopback, made by the tests with tcpdump, audited
and cross-checked against tshark's own dissection of the same file:

- two baresip phones with plain RTP (SIP over UDP): RTP, as negotiated;
- two baresip phones with SDES-SRTP over UDP: the keys are in the capture, and every
  packet authenticates with them;
- two baresip phones with DTLS-SRTP: the handshake, its profile, SRTP after it;
- a test call to a baresip phone over TLS: SRTP told from its evidence alone;
- a test call over TLS to Kamailio relaying to SIPp over UDP: the offer's key crosses
  the inner leg in the clear, and the test call's SRTP authenticates with it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.evidence.capture import CaptureEvidence
from probe.evidence.capture_file import dumps_capture
from probe.evidence.capture_media import MediaFlow
from probe.pcap.audit import audit_capture
from probe.pcap.media_audit import MediaOptions
from probe.pcap.rtp import SRTP_PROTECTION_PROFILES
from probe.pcap.srtp_auth import load_key_file
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.baresip_call import call, phones
from tests.peers.capture import capturing, tshark_fields
from tests.peers.common import require_binary
from tests.peers.kamailio import Kamailio
from tests.peers.sbc import relaying_to_sipp
from tests.peers.sipp import Sipp

pytestmark = pytest.mark.peer

CALL_SECONDS = 1.5
SIPP_MEDIA_PORT = 20000  # the m= port of uas_srtp.xml's answer


def findings(evidence: CaptureEvidence) -> dict[str, Finding]:
    return {finding.check: finding for finding in judge_capture(evidence).findings}


def media_flows(evidence: CaptureEvidence) -> list[MediaFlow]:
    assert evidence.media is not None
    return list(evidence.media.flows)


def call_flows(evidence: CaptureEvidence) -> list[MediaFlow]:
    """The flows the call's SDP set up (other tests share the loopback, and a stray
    datagram of theirs may land in a capture)."""
    return [flow for flow in media_flows(evidence) if flow.offer or flow.answer]


def rtp_flow(evidence: CaptureEvidence) -> MediaFlow:
    """The call's flow that carried RTP (not only RTCP)."""
    [flow] = [flow for flow in call_flows(evidence) if flow.streams]
    return flow


def entries(evidence: CaptureEvidence) -> dict[str, dict[str, Any]]:
    """pcap.media's judgement of each of the call's flows, by label."""
    listed = findings(evidence)["pcap.media"].details["flows_listed"]
    assert isinstance(listed, list)
    ours = {flow.label for flow in call_flows(evidence)}
    return {entry["flow"]: entry for entry in listed if entry["flow"] in ours}  # type: ignore[index,misc]


def statuses(evidence: CaptureEvidence) -> dict[str, str]:
    return {label: entry["status"] for label, entry in entries(evidence).items()}


def our_streams(flows: list[MediaFlow]) -> set[tuple[str, str, int, int, int]]:
    return {
        (s.source, s.destination, s.ssrc, s.packets, s.lost) for flow in flows for s in flow.streams
    }


def tsharks_streams(
    path: Path, flows: list[MediaFlow], *decode_as: str
) -> set[tuple[str, str, int, int, int]]:
    """`tshark -z rtp,streams`: (source, destination, SSRC, packets, lost) per stream
    between the ends of `flows`."""
    ends = {end for flow in flows for end in (flow.client, flow.server)}
    command = [require_binary("tshark"), "-r", str(path), "-n", "-q", "-z", "rtp,streams"]
    for rule in decode_as:
        command += ["-d", rule]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    streams = set()
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) >= 10 and words[6].startswith("0x"):
            source, destination = f"{words[2]}:{words[3]}", f"{words[4]}:{words[5]}"
            if {source, destination} <= ends:
                streams.add((source, destination, int(words[6], 16), int(words[8]), int(words[9])))
    return streams


def decode_rtp(flows: list[MediaFlow]) -> list[str]:
    """tshark decode-as rules for the media ports the audit found."""
    ports = {
        int(endpoint.rsplit(":", 1)[1])
        for flow in flows
        if flow.streams
        for endpoint in (flow.client, flow.server)
    }
    return [f"udp.port=={port},rtp" for port in sorted(ports)]


def ports_of(flow: MediaFlow) -> tuple[str, str]:
    return flow.client.rsplit(":", 1)[1], flow.server.rsplit(":", 1)[1]


def check_rtcp_against_tshark(path: Path, evidence: CaptureEvidence) -> int:
    """The RTCP-only flow (RTCP on the next port): what tshark can read of each RTCP
    packet (an APP packet's name, an SDES item) is in the clear; the rest is SRTCP."""
    [flow] = [flow for flow in call_flows(evidence) if not flow.streams]
    client, server = ports_of(flow)
    rows = tshark_fields(
        path,
        f"udp.port=={client} and udp.port=={server}",
        ["udp.payload", "rtcp.app.name", "rtcp.sdes.text"],
        f"udp.port=={client},rtcp",
        f"udp.port=={server},rtcp",
    )
    rows = [row for row in rows if row[0][:1] in "89ab"]  # RTP's first byte (RFC 7983), not DTLS's
    readable = sum(1 for row in rows if any(row[1:]))
    assert (flow.rtcp_plain, flow.rtcp_protected) == (readable, len(rows) - readable)
    return flow.rtcp_plain


def phone_call(tmp_path: Path, mediaenc: str | None) -> Path:
    """A call between two baresip phones, captured: its SIP, RTP and RTCP."""
    path = tmp_path / f"{mediaenc or 'plain'}.pcap"
    with phones(tmp_path / "phones", mediaenc) as (caller, callee):
        low, high = caller.rtp_ports
        selected = f"udp port {caller.port} or udp port {callee.port} or udp portrange {low}-{high}"
        with capturing(path, f"host 127.0.0.1 and ({selected})"):
            call(caller, callee, CALL_SECONDS)
    return path


def test_a_plain_rtp_call_is_rtp_as_negotiated(tmp_path: Path) -> None:
    path = phone_call(tmp_path, None)
    evidence = audit_capture(path)
    flow = rtp_flow(evidence)
    assert flow.kind == "rtp"
    assert len(flow.streams) == 2
    for stream in flow.streams:
        assert stream.kind == "rtp", stream.reason
        assert stream.trailing_bytes == 0  # PCMU exactly: no tag
        assert [count.name for count in stream.payload_types] == ["0"]
        assert stream.entropy is not None
        assert stream.entropy < 7.0
        assert stream.packets >= 50
    assert flow.offer is not None
    assert flow.answer is not None
    assert (flow.offer.proto, flow.answer.proto) == ("RTP/AVP", "RTP/AVP")
    assert set(statuses(evidence).values()) == {"warn"}  # RTP and RTCP, both in the clear
    assert "as negotiated (RTP/AVP" in entries(evidence)[flow.label]["summary"]
    strict = audit_capture(path, media=MediaOptions(expect_srtp=True))
    assert statuses(strict)[flow.label] == "fail"
    # tshark finds the same streams (it follows the SDP too).
    flows = call_flows(evidence)
    assert our_streams(flows) == tsharks_streams(path, flows, *decode_rtp(flows))


def test_an_sdes_call_in_the_clear_authenticates_with_its_own_keys(tmp_path: Path) -> None:
    path = phone_call(tmp_path, "srtp-mand")
    evidence = audit_capture(path)
    flow = rtp_flow(evidence)
    assert flow.kind == "srtp"
    assert flow.answer is not None
    assert flow.answer.proto == "RTP/SAVP"
    assert flow.answer.crypto_suites
    assert len(flow.streams) == 2
    for stream in flow.streams:
        assert stream.kind == "srtp"
        assert stream.key_source == "SDP in the capture"
        assert stream.authenticated == stream.packets, stream
        assert (stream.auth_failed, stream.replayed) == (0, 0)
    plain_rtcp = check_rtcp_against_tshark(path, evidence)
    result = findings(evidence)
    assert result["pcap.sdes_exposed"].status is Status.FAIL  # how the keys were known
    # baresip sends an RTCP APP "PING" in the clear before SRTP starts, and its RTCP BYE
    # with the CNAME in the clear at the end: that warns, the SRTP flow passes.
    assert sorted(statuses(evidence).values()) == ["pass", "warn" if plain_rtcp else "pass"]
    assert statuses(evidence)[flow.label] == "pass"
    assert "packets authenticated with the" in entries(evidence)[flow.label]["summary"]
    flows = call_flows(evidence)
    assert our_streams(flows) == tsharks_streams(path, flows, *decode_rtp(flows))
    # The tag: tshark, which reads the suite in the SDP, splits each packet into the
    # encrypted 20 ms of PCMU and the tag the audit found trailing it.
    rows = tshark_fields(path, "rtp", ["srtp.enc_payload", "srtp.auth_tag"], *decode_rtp(flows))
    assert {(len(payload) // 2, len(tag) // 2) for payload, tag in rows} == {
        (160, stream.trailing_bytes) for stream in flow.streams
    }
    # No key reaches the evidence.
    keys = {
        line.split("inline:")[1].split("|")[0].strip()
        for row in tshark_fields(path, "sdp", ["sdp.media_attr"])
        for line in row[0].split(",")
        if "inline:" in line
    }
    assert keys
    written = dumps_capture(evidence)
    assert not [key for key in keys if key in written]


def test_a_dtls_srtp_call_shows_its_handshake_and_srtp(tmp_path: Path) -> None:
    path = phone_call(tmp_path, "dtls_srtp")
    evidence = audit_capture(path)
    flow = rtp_flow(evidence)
    assert flow.kind == "dtls-srtp"
    assert flow.answer is not None
    assert flow.answer.proto.startswith("UDP/TLS/RTP/SAVP")
    assert flow.answer.fingerprint
    dtls = flow.dtls
    assert dtls is not None
    assert dtls.encrypted_both_ways
    for stream in flow.streams:
        assert stream.kind == "srtp", stream.reason
        assert stream.encrypted is True
    # tshark reads the same profile in the ServerHello, and as many records of each type.
    client, server = ports_of(flow)
    on_flow = f"udp.port=={client} and udp.port=={server}"
    [[profile]] = tshark_fields(
        path, f"{on_flow} and dtls.handshake.type == 2", ["dtls.use_srtp.protection_profile"]
    )
    assert SRTP_PROTECTION_PROFILES[int(profile, 16)] == dtls.chosen_profile
    types = [
        int(value)
        for row in tshark_fields(path, f"{on_flow} and dtls", ["dtls.record.content_type"])
        for value in row[0].split(",")
    ]
    names = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
    theirs = {names[value]: types.count(value) for value in set(types)}
    assert {count.name: count.count for count in dtls.records} == theirs
    flows = call_flows(evidence)
    assert our_streams(flows) == tsharks_streams(path, flows, *decode_rtp(flows))
    plain_rtcp = check_rtcp_against_tshark(path, evidence)
    assert sorted(statuses(evidence).values()) == ["pass", "warn" if plain_rtcp else "pass"]
    assert statuses(evidence)[flow.label] == "pass"


@pytest.fixture
def phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    instance = start_baresip(
        tmp_path / "baresip", lab.server, lab.server_key, lab.ca, sip_trace=True
    )
    yield instance
    instance.stop()


def test_srtp_to_a_phone_over_tls_is_told_from_its_evidence(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    path = tmp_path / "tls-call.pcap"
    with capturing(path, f"tcp port {phone.tls_port} or udp"):
        report = run_invite_command(
            InviteRequest(
                OptionsRequest(
                    targets=[f"sip:{LAB_NAME}:{phone.tls_port};transport=tls"],
                    settings=Settings.from_flat(
                        pins=[f"{LAB_NAME}:{phone.tls_port}:127.0.0.1"], ca=lab.ca, timeout=3
                    ),
                ),
                CallSettings(to="sip:bob@127.0.0.1", answer_timeout=10, verify_media=True),
            ),
            on_usage_error=no_usage_error,
        )
    checks = {finding.check: finding for finding in report.findings}
    assert checks["media.srtp"].status is Status.PASS, checks["media.srtp"].summary
    # The phone's answer names the machine's own address, so sipprobe sends nothing to
    # it (loopback only); the phone's SRTP comes from its media port all the same.
    port = str(checks["media.srtp"].details["remote"]).rsplit(":", 1)[1]
    evidence = audit_capture(path)
    [flow] = [f for f in media_flows(evidence) if f.streams and port in ports_of(f)]
    assert (flow.offer, flow.answer) == (None, None)  # the SDP went over TLS
    assert flow.kind == "srtp"
    for stream in flow.streams:
        assert stream.kind == "srtp", stream.reason
        assert stream.trailing_bytes in (4, 10)
        assert stream.entropy is not None
        assert stream.entropy > 7.5
        assert stream.key_source is None
    assert not [m for m in evidence.sip.samples if port in m.source + m.destination]
    ours = our_streams([flow])
    ssrcs = {stream.ssrc for stream in flow.streams}
    theirs = {s for s in tsharks_streams(path, [flow], *decode_rtp([flow])) if s[2] in ssrcs}
    assert ours == theirs
    # With the key the phone answered with (from its own SIP trace: what a user holding
    # the unredacted answer has), its packets authenticate (RFC 4568 §6.1: the answerer
    # sends with its own key), and the key goes nowhere.
    # The phone's log shows the offer it received, then its answer: the last crypto line.
    lines = re.findall(r"^a=crypto:(.*?)\r?$", phone.log.read_text(errors="replace"), re.M)
    assert len(lines) >= 2
    crypto = lines[-1]
    [stream] = flow.streams
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{stream.source} {crypto}\n")
    keyed = audit_capture(path, media=MediaOptions(keys=load_key_file(keys), key_file=str(keys)))
    [again] = [f for f in media_flows(keyed) if f.label == flow.label]
    [checked] = again.streams
    assert (checked.authenticated, checked.auth_failed) == (checked.packets, 0)
    assert checked.key_source == "key file"
    key = crypto.split("inline:")[1].split("|")[0].strip()
    assert key not in dumps_capture(keyed)


@pytest.fixture
def sbc(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Sipp]]:
    """Kamailio with TLS towards the caller, relaying over UDP to a SIPp UAS that answers
    with SDES keys (an SBC in front of a media server)."""
    with relaying_to_sipp(tmp_path, lab, "uas_srtp.xml") as pair:
        yield pair


def test_srtp_authenticates_with_the_offer_seen_on_the_inner_leg(
    tmp_path: Path, lab: LabFiles, sbc: tuple[Kamailio, Sipp]
) -> None:
    kamailio, sipp = sbc
    path = tmp_path / "sbc-media.pcap"
    with capturing(
        path, f"host 127.0.0.1 and (udp port {sipp.port} or udp dst port {SIPP_MEDIA_PORT})"
    ):
        report = run_invite_command(
            InviteRequest(
                OptionsRequest(
                    targets=[f"sip:{LAB_NAME}:{kamailio.tls_port};transport=tls"],
                    settings=Settings.from_flat(
                        pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"], ca=lab.ca, timeout=3
                    ),
                ),
                CallSettings(to=f"sip:+15550100@{LAB_NAME}", verify_media=True),
            ),
            on_usage_error=no_usage_error,
        )
        assert sipp.wait() == 0, sipp.errors()
    sent = {finding.check: finding for finding in report.findings}["media.srtp"].details["sent"]
    assert sent == 10
    evidence = audit_capture(path)
    # Another test's call may send to SIPp's fixed media port too: ours comes from the
    # port our offer named.
    [flow] = [f for f in call_flows(evidence) if f.offer and f.offer.endpoint == f.client]
    assert flow.server == f"127.0.0.1:{SIPP_MEDIA_PORT}"
    assert flow.offer is not None
    assert flow.answer is not None
    assert flow.answer.proto == "RTP/SAVP"
    [stream] = flow.streams
    assert (stream.packets, stream.authenticated, stream.auth_failed) == (10, 10, 0)
    assert stream.key_source == "SDP in the capture"
    assert statuses(evidence)[flow.label] == "pass"
    decode = f"udp.port=={SIPP_MEDIA_PORT},rtp"
    client = ports_of(flow)[0]
    rows = tshark_fields(path, f"rtp and udp.srcport=={client}", ["rtp.ssrc", "rtp.seq"], decode)
    assert {int(row[0], 16) for row in rows} == {stream.ssrc}
    assert len(rows) == stream.packets
    # The capture's own SIP leg was audited too: the keys crossed it in the clear.
    assert findings(evidence)["pcap.sdes_exposed"].status is Status.FAIL
