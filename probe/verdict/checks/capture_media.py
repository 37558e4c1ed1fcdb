"""`pcap.media`: was the media in the capture really SRTP?

Each media flow the audit classified (probe.evidence.capture_media) is judged, and the
finding is the worst of them, naming that flow:

- plain RTP where the SDP that set the flow up negotiated an SRTP profile (RTP/SAVP,
  RTP/SAVPF, UDP/TLS/RTP/SAVP...) fails: the far end claimed what the wire denies;
- SRTP that none of the keys held authenticates fails (RFC 3711 §3.4: authentication is
  what proves the sender holds the key);
- other plain RTP warns, and fails when the audit was told every flow must be SRTP
  (`--expect-srtp`, a trunk that promises it);
- a flow that could not be classified (too few packets, cut by the snap length, a
  payload neither clearly ciphertext nor a codec's) is incomplete, never a pass;
- SRTP with some packets failing authentication, SRTP whose payload is not encrypted,
  SRTP beside RTCP in the clear, and a DTLS handshake that never completed warn;
- SRTP and DTLS-SRTP pass.

A capture with no media passes (no media in the clear) unless SDP announced media the
capture does not hold, or SRTP was expected: then there is nothing to judge, which is
incomplete. As for the SIP checks, a capture not read through makes a pass incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable

from probe.evidence.capture_media import (
    OUTCOMES,
    MediaCapture,
    MediaFlow,
    Outcome,
    RtpStreamSeen,
    SdpMedia,
)
from probe.verdict.checks.capture_sip import not_audited
from probe.verdict.checks.unit import CaptureCheck, CaptureJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["MEDIA", "judge_media", "outcome_status"]

_SHOWN = 20
_ORDER = (Status.FAIL, Status.INCOMPLETE, Status.WARN, Status.PASS)


def outcome_status(outcome: Outcome, expect_srtp: bool) -> Status:
    """The status of a flow that amounts to `outcome`."""
    if outcome in ("rtp on a secure profile", "srtp not authenticated"):
        return Status.FAIL
    if outcome == "rtp":
        return Status.FAIL if expect_srtp else Status.WARN
    if outcome == "srtp not encrypted" and expect_srtp:
        return Status.FAIL
    if outcome == "unclassified":
        return Status.INCOMPLETE
    if outcome in ("srtp", "dtls-srtp"):
        return Status.PASS
    return Status.WARN


def _sdp_text(sdp: SdpMedia) -> str:
    return f"{sdp.proto} in the {sdp.message} of frame {sdp.frame}"


def _auth_text(stream: RtpStreamSeen) -> str:
    return (
        f"{stream.auth_failed} of its packets from {stream.source} (SSRC {stream.ssrc:#010x}) "
        f"fail authentication with the {stream.suite} key from the {stream.key_source}"
    )


def flow_summary(flow: MediaFlow, expect_srtp: bool) -> str:
    """What is wrong (or right) with one flow, in a sentence after its label."""
    outcome = flow.outcome
    negotiated = flow.negotiated
    streams = flow.streams
    if outcome == "rtp on a secure profile":
        assert negotiated is not None
        return f"{flow.reason}, where {_sdp_text(negotiated)} negotiated SRTP"
    if outcome == "rtp":
        if expect_srtp:
            why = "SRTP was expected (--expect-srtp)"
        elif negotiated is not None:
            why = f"as negotiated ({_sdp_text(negotiated)})"
        else:
            why = "no SDP for it was seen"
        return f"{flow.reason}; {why}"
    if outcome == "srtp not authenticated":
        stream = next(
            s for s in streams if s.kind == "srtp" and s.auth_failed and not s.authenticated
        )
        return (
            f"SRTP that does not authenticate: {_auth_text(stream)}, none passes "
            "(another key, or not SRTP made with it)"
        )
    if outcome == "unclassified":
        unclassified = next((s for s in streams if s.kind == "unclassified"), None)
        failed = (
            f"; {_auth_text(unclassified)}"
            if unclassified is not None and unclassified.auth_failed
            else ""
        )
        return "not classified: " + (
            f"the stream from {unclassified.source} (SSRC {unclassified.ssrc:#010x}): "
            f"{unclassified.reason}{failed}"
            if unclassified is not None
            else flow.reason
        )
    if outcome == "srtp partly authenticated":
        stream = next(s for s in streams if s.kind == "srtp" and s.auth_failed)
        return f"SRTP, but {_auth_text(stream)} ({stream.authenticated} pass)"
    if outcome == "srtp not encrypted":
        return "SRTP whose payload is not encrypted (authenticated only): " + next(
            s.reason for s in streams if s.encrypted is False
        )
    if outcome == "rtcp in the clear":
        beside = {"srtp": "beside SRTP", "dtls-srtp": "beside DTLS-SRTP"}.get(
            flow.kind, "and no RTP"
        )
        agreed = f"; negotiated {_sdp_text(negotiated)}" if negotiated is not None else ""
        return (
            f"{flow.rtcp_plain} RTCP packet(s) in the clear {beside}: no media, but the "
            f"endpoints' names (RFC 3550 §6.5.1); RFC 3711 §3.4 has SRTCP protect them{agreed}"
        )
    if outcome == "dtls handshake incomplete":
        return "DTLS on the media port, but the handshake never completed: " + flow.reason
    agreed = f" (negotiated {negotiated.proto})" if negotiated is not None else ""
    what = "DTLS-SRTP" if outcome == "dtls-srtp" else "SRTP"
    return f"{what}{agreed}: {flow.reason}"


def _stream_details(stream: RtpStreamSeen) -> dict[str, JsonValue]:
    return {
        "source": stream.source,
        "destination": stream.destination,
        "ssrc": f"{stream.ssrc:#010x}",
        "kind": stream.kind,
        "reason": stream.reason,
        "packets": stream.packets,
        "payload_types": {count.name: count.count for count in stream.payload_types},
        "lost": stream.lost,
        "cut": stream.cut,
        "entropy": stream.entropy,
        "trailing_bytes": stream.trailing_bytes,
        "first_byte_values": stream.first_byte_values,
        "authenticated": stream.authenticated,
        "auth_failed": stream.auth_failed,
        "auth_problem": stream.auth_problem,
    }


def _flow_details(flow: MediaFlow, status: Status, summary: str) -> dict[str, JsonValue]:
    negotiated = flow.negotiated
    details: dict[str, JsonValue] = {
        "flow": flow.label,
        "status": status.value,
        "kind": flow.kind,
        "summary": summary,
        "first_frame": flow.first_frame,
        "packets": flow.packets,
        "negotiated": negotiated.proto if negotiated is not None else None,
        "sdp_frame": negotiated.frame if negotiated is not None else None,
        "call_id": negotiated.call_id if negotiated is not None else None,
        "streams": [_stream_details(stream) for stream in flow.streams],
        "rtcp_plain": flow.rtcp_plain,
        "rtcp_protected": flow.rtcp_protected,
        "stun": flow.stun,
    }
    if flow.dtls is not None:
        details["dtls"] = {
            "records": {count.name: count.count for count in flow.dtls.records},
            "versions": list(flow.dtls.versions),
            "srtp_profile": flow.dtls.chosen_profile,
            "completed": flow.dtls.encrypted_both_ways,
        }
    return details


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def judge_media(judging: CaptureJudging) -> Iterable[Finding]:
    evidence = judging.evidence
    media = evidence.media
    target = evidence.label
    if media is None:
        return
    expect = media.expect_srtp
    judged = [(flow, outcome_status(flow.outcome, expect)) for flow in media.flows]
    judged.sort(
        key=lambda pair: (
            _ORDER.index(pair[1]),
            OUTCOMES.index(pair[0].outcome),
            pair[0].first_frame,
        )
    )
    by_status: dict[Status, int] = {}
    for _, status in judged:
        by_status[status] = by_status.get(status, 0) + 1
    for count in media.omitted:
        outcome: Outcome = next(
            (known for known in OUTCOMES if known == count.name), "unclassified"
        )
        status = outcome_status(outcome, expect)
        by_status[status] = by_status.get(status, 0) + count.count
    flows_total = len(media.flows) + media.flows_omitted
    details: dict[str, JsonValue] = {
        "flows": flows_total,
        "kinds": {count.name: count.count for count in media.kinds},
        "by_status": {status.value: count for status, count in by_status.items()},
        "expect_srtp": expect,
        "sdp_media_lines": media.sdp_media,
        "sdp_keys_held": media.sdp_keys,
        "key_file": media.key_file,
        "flows_listed": [
            _flow_details(flow, status, flow_summary(flow, expect))
            for flow, status in judged[:_SHOWN]
        ],
        "sdp_unseen": [
            {"endpoint": sdp.endpoint, "proto": sdp.proto, "frame": sdp.frame}
            for sdp in media.sdp_unseen[:_SHOWN]
        ],
        "unconfirmed_flows": media.unconfirmed,
    }
    problems = _problems(media)
    if problems:
        details["problems"] = list(problems)
    worst = next((status for status in _ORDER if by_status.get(status)), None)
    if worst is not None and worst is not Status.PASS:
        yield _worst(target, judged, worst, by_status, flows_total, details, problems)
        return
    missed = not_audited(evidence)
    if media.sdp_unseen_total and not flows_total:
        missed.append(
            f"SDP announced {_plural(media.sdp_unseen_total, 'media stream')} "
            f"(first {media.sdp_unseen[0].endpoint}, {media.sdp_unseen[0].proto}) and the "
            "capture holds none of its packets"
            if media.sdp_unseen
            else "SDP announced media the capture does not hold"
        )
    if expect and not flows_total:
        missed.append("SRTP was expected (--expect-srtp) but the capture holds no media flow")
    if missed:
        yield Finding(
            CheckId.PCAP_MEDIA,
            Status.INCOMPLETE,
            target,
            ("no media in the clear in what was audited" if flows_total else "no media flow")
            + ", but not all could be judged: "
            + "; ".join(missed),
            {**details, "not_audited": list(missed)},
        )
        return
    if not evidence.counts.records:
        yield Finding(
            CheckId.PCAP_MEDIA,
            Status.INCOMPLETE,
            target,
            "the capture holds no packets: nothing to audit",
            details,
        )
        return
    if not flows_total:
        yield Finding(
            CheckId.PCAP_MEDIA,
            Status.PASS,
            target,
            "no RTP, SRTP or DTLS flow in the capture: no media in the clear",
            details,
        )
        return
    unseen = (
        f"; SDP announced {_plural(media.sdp_unseen_total, 'more stream')} not in the capture"
        if media.sdp_unseen_total
        else ""
    )
    unseen += f" ({'; '.join(problems)})" if problems else ""
    first = judged[0][0] if judged else None
    shown = f": {first.label}: {flow_summary(first, expect)}" if first is not None else ""
    yield Finding(
        CheckId.PCAP_MEDIA,
        Status.PASS,
        target,
        f"{_plural(flows_total, 'media flow')}, all protected{shown}{unseen}",
        details,
    )


def _problems(media: MediaCapture) -> tuple[str, ...]:
    problems: list[str] = []
    if media.auth_unavailable:
        problems.append(media.auth_unavailable)
    return tuple(problems)


def _worst(
    target: str,
    judged: list[tuple[MediaFlow, Status]],
    worst: Status,
    by_status: dict[Status, int],
    flows_total: int,
    details: dict[str, JsonValue],
    problems: tuple[str, ...],
) -> Finding:
    named = next((flow for flow, status in judged if status is worst), None)
    others = by_status[worst] - (1 if named is not None else 0)
    shown = (
        f"{named.label}: {flow_summary(named, details['expect_srtp'] is True)}"
        if named
        else (f"{_plural(by_status[worst], 'flow')} not listed")
    )
    more = f"; and {_plural(others, 'more flow')} like it" if others > 0 else ""
    tally = ", ".join(
        f"{by_status[status]} {status.value}" for status in _ORDER if by_status.get(status)
    )
    extra = f" ({'; '.join(problems)})" if problems else ""
    return Finding(
        CheckId.PCAP_MEDIA,
        worst,
        target,
        f"{shown}{more} [{_plural(flows_total, 'media flow')}: {tally}]{extra}",
        details,
    )


MEDIA = CaptureCheck(
    ids=(CheckId.PCAP_MEDIA,),
    reads=("source", "counts", "media"),
    judge=judge_media,
    applies=lambda evidence: evidence.media is not None,
)
