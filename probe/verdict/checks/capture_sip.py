"""Checks of a capture's SIP: was any in the clear, and did SDES keys travel with it.

`pcap.sip_cleartext` fails when the capture holds any SIP over UDP or TCP: signalling
anyone on the path can read and alter (RFC 3261 §26.2.1 makes TLS the way to protect
it; RFC 5630 the sips: scheme). `pcap.sdes_exposed` fails when a cleartext SIP message
carries an `a=crypto` line: its SRTP master key protects nothing (RFC 4568 §8.3, §8.4).

Neither passes on a capture that was not read through, nor `pcap.sdes_exposed` on SIP
only partly captured: what was not seen could hold exactly what they look for, so such
a capture is `incomplete`, with what was missed, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from probe.evidence.capture import CaptureEvidence, Count, SdesExposure, SipFlow
from probe.verdict.checks.unit import CaptureCheck, CaptureJudging
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["CLEARTEXT", "SDES_EXPOSED", "not_audited"]

_SHOWN = 20
"""Flows and exposures a finding lists (the evidence keeps more)."""


def not_audited(evidence: CaptureEvidence) -> list[str]:
    """What of the capture was not audited, one phrase each: traffic any check could have
    found something in."""
    gaps: list[str] = []
    source, counts = evidence.source, evidence.counts
    if source.read == "interrupted":
        gaps.append("the audit was interrupted before the end of the file")
    elif source.read != "complete":
        gaps.append(source.problem or f"the file is {source.read}")
    if counts.fragments_dropped:
        gaps.append(
            f"{counts.fragments_dropped} fragmented IP datagram(s) were never completed, so "
            "not read"
        )
    if counts.cut_unreadable:
        gaps.append(
            f"{counts.cut_unreadable} packet(s) cut by the snap length too short to tell what "
            "they carried"
        )
    if counts.tcp_streams_unexamined:
        gaps.append(
            f"{counts.tcp_streams_unexamined} TCP stream direction(s) given up on before "
            "they could be recognised (the audit's memory bound was reached)"
        )
    unread = {c.name: c.count for c in counts.not_decoded}
    if unread.get("link_type"):
        gaps.append(f"{unread['link_type']} frame(s) of a link type sipprobe does not decode")
    if unread.get("sctp_sip"):
        gaps.append(f"{unread['sctp_sip']} SCTP packet(s) carrying SIP (RFC 4168), not read")
    if unread.get("tunnel"):
        gaps.append(f"{unread['tunnel']} packet(s) inside a tunnel sipprobe does not open")
    return gaps


def _counts(items: tuple[Count, ...]) -> dict[str, JsonValue]:
    return {item.name: item.count for item in items}


def _named(items: tuple[Count, ...], limit: int = 6) -> str:
    shown = ", ".join(f"{item.name} ×{item.count}" for item in items[:limit])
    return shown + (", …" if len(items) > limit else "")


def _flow_label(flow: SipFlow) -> str:
    return f"{flow.transport} {flow.client} ↔ {flow.server}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def judge_cleartext(judging: CaptureJudging) -> Iterable[Finding]:
    evidence = judging.evidence
    sip = evidence.sip
    target = evidence.label
    if sip.messages:
        kinds = [
            part for part in (_named(sip.requests), _named(sip.responses)) if part
        ]  # requests first, then responses by status
        flows = sorted(sip.flows, key=lambda flow: -flow.messages)
        where = _flow_label(flows[0]) if flows else "an unnamed flow"
        others = len(sip.flows) + sip.flows_omitted - 1
        where += f" and {_plural(others, 'other flow')}" if others > 0 else ""
        details: dict[str, JsonValue] = {
            "messages": sip.messages,
            "udp_messages": sip.udp_messages,
            "tcp_messages": sip.tcp_messages,
            "requests": _counts(sip.requests),
            "responses": _counts(sip.responses),
            "flows": [
                {
                    "transport": flow.transport,
                    "client": flow.client,
                    "server": flow.server,
                    "messages": flow.messages,
                    "requests": _counts(flow.requests),
                    "responses": _counts(flow.responses),
                }
                for flow in flows[:_SHOWN]
            ],
            "flows_total": len(sip.flows) + sip.flows_omitted,
            "first_frame": sip.samples[0].frame if sip.samples else None,
            "malformed": sip.malformed,
        }
        yield Finding(
            CheckId.PCAP_SIP_CLEARTEXT,
            Status.FAIL,
            target,
            f"{_plural(sip.messages, 'SIP message')} in the clear ({'; '.join(kinds)}) on "
            f"{where}: signalling anyone on the path can read and change",
            details,
        )
        return
    missed = not_audited(evidence)
    counts = evidence.counts
    seen = {
        "records": counts.records,
        "udp_packets": counts.udp_packets,
        "tcp_packets": counts.tcp_packets,
        "flows": counts.udp_flows + counts.tcp_flows,
    }
    if missed:
        yield Finding(
            CheckId.PCAP_SIP_CLEARTEXT,
            Status.INCOMPLETE,
            target,
            "no SIP in the clear in what was audited, but not all of it was: " + "; ".join(missed),
            {**seen, "not_audited": list(missed)},
        )
    elif not counts.records:
        yield Finding(
            CheckId.PCAP_SIP_CLEARTEXT,
            Status.INCOMPLETE,
            target,
            "the capture holds no packets: nothing to audit",
            seen,
        )
    else:
        yield Finding(
            CheckId.PCAP_SIP_CLEARTEXT,
            Status.PASS,
            target,
            f"no SIP in the clear in {_plural(counts.records, 'packet')} "
            f"({_plural(seen['flows'], 'UDP/TCP flow')})",
            seen,
        )


def _redact(line: str) -> str:
    # Here, not at import: judging an OPTIONS probe (which loads the registry) does not
    # load the SDP codec.
    from probe.sdp import redact

    return redact(line)


def _exposure(exposure: SdesExposure) -> dict[str, JsonValue]:
    message = exposure.message
    return {
        "frame": message.frame,
        "time": message.time,
        "transport": message.transport,
        "source": message.source,
        "destination": message.destination,
        "message": message.name,
        "call_id": message.call_id,
        "cseq": message.cseq,
        "lines": [_redact(line) for line in exposure.lines],
    }


def judge_sdes(judging: CaptureJudging) -> Iterable[Finding]:
    evidence = judging.evidence
    sip = evidence.sip
    target = evidence.label
    if sip.exposures_total:
        first = sip.exposures[0] if sip.exposures else None
        shown = ""
        if first is not None:
            message = first.message
            call = f", Call-ID {message.call_id}" if message.call_id else ""
            line = _redact(first.lines[0]) if first.lines else "a=crypto"
            shown = (
                f": {message.name} in frame {message.frame} ({message.transport} "
                f"{message.source} → {message.destination}{call}) carries {line}"
            )
        more = sip.exposures_total - 1
        yield Finding(
            CheckId.PCAP_SDES_EXPOSED,
            Status.FAIL,
            target,
            f"SRTP keys in cleartext SIP ({_plural(sip.exposures_total, 'message')})"
            + shown
            + (f", and {_plural(more, 'more message')}" if more > 0 else "")
            + ": anyone on the path can decrypt that media",
            {
                "messages_with_keys": sip.exposures_total,
                "exposures": [_exposure(exposure) for exposure in sip.exposures[:_SHOWN]],
            },
        )
        return
    missed = not_audited(evidence)
    if sip.cut_messages:
        why = "a snap length or missing TCP segments"
        if sip.overflows:
            why += f"; {sip.overflows} given up on at the audit's memory bound"
        missed.append(f"{_plural(sip.cut_messages, 'SIP message')} only partly captured ({why})")
    if sip.stream_gap_bytes:
        missed.append(f"{sip.stream_gap_bytes} bytes of SIP over TCP missing from the capture")
    details: dict[str, JsonValue] = {
        "messages": sip.messages,
        "cut_messages": sip.cut_messages,
        "stream_gap_bytes": sip.stream_gap_bytes,
    }
    if missed:
        yield Finding(
            CheckId.PCAP_SDES_EXPOSED,
            Status.INCOMPLETE,
            target,
            "no a=crypto line in the cleartext SIP audited, but an SRTP key could be in what "
            "was not: " + "; ".join(missed),
            {**details, "not_audited": list(missed)},
        )
    elif not evidence.counts.records:
        yield Finding(
            CheckId.PCAP_SDES_EXPOSED,
            Status.INCOMPLETE,
            target,
            "the capture holds no packets: nothing to audit",
            details,
        )
    elif sip.messages:
        yield Finding(
            CheckId.PCAP_SDES_EXPOSED,
            Status.PASS,
            target,
            f"no a=crypto line in the {_plural(sip.messages, 'cleartext SIP message')}",
            details,
        )
    else:
        yield Finding(
            CheckId.PCAP_SDES_EXPOSED,
            Status.PASS,
            target,
            "no cleartext SIP, so no SDES key in the clear",
            details,
        )


CLEARTEXT = CaptureCheck(
    ids=(CheckId.PCAP_SIP_CLEARTEXT,), reads=("source", "counts", "sip"), judge=judge_cleartext
)
SDES_EXPOSED = CaptureCheck(
    ids=(CheckId.PCAP_SDES_EXPOSED,), reads=("source", "counts", "sip"), judge=judge_sdes
)
