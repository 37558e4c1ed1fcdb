"""Checks on what a caller sent us (`sipprobe answer`): `inbound.invite` (who the INVITE
says is calling, and where it says to send what follows) and `inbound.offer` (the media
it offers: SRTP or not, which suites, which DTLS fingerprint).

The INVITE is read with probe.sip and its offer with probe.sdp, once per call
(`CallJudging.invite`). Keys never enter a finding: an offer's crypto lines are named by
tag, suite and key length, and every message shown is redacted (probe.sdp.redact). Pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from probe.evidence.inbound import InboundCall
from probe.sdp import (
    Crypto,
    MediaDescription,
    SdpError,
    SessionDescription,
    parse_sdp,
    redact,
    suite_weakness,
)
from probe.sip import Request, SipError, parse_message, parse_name_addr, parse_via
from probe.sip.uri import redact_uri_text
from probe.stir.tn import address_tn
from probe.verdict.checks.call import wire_exchange
from probe.verdict.checks.srtp import DTLS_PROFILES, SDES_PROFILES
from probe.verdict.checks.unit import CallJudging, InboundCheck
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

__all__ = ["INVITE", "OFFER", "ReadInvite", "check_invite", "check_offer", "read_invite"]

_SECURE_HOPS = ("tls", "wss")
# RFC 4568 §6.3.2-§6.3.4: session parameters that switch SRTP's protection off.
_UNPROTECTED_PARAMS = ("UNENCRYPTED_SRTP", "UNAUTHENTICATED_SRTP")
_SHOWN_VIAS = 8
"""Via hosts listed in a finding: a request that crossed more proxies is cut there."""


@dataclass(frozen=True, slots=True)
class ReadInvite:
    """The INVITE as read: the request, or why it cannot be read."""

    request: Request | None
    error: str | None = None


def read_invite(data: bytes) -> ReadInvite:
    """The INVITE's bytes as a request; an error sentence (keys redacted) when they are
    not one. Never raises: the bytes are the caller's, or an edited file's."""
    read = _read_request(data)
    if read.request is not None and read.request.method != "INVITE":
        return ReadInvite(None, f"the message recorded as the INVITE is a {read.request.method}")
    return read


def _read_request(data: bytes) -> ReadInvite:
    try:
        message = parse_message(data)
    except SipError as exc:
        return ReadInvite(None, redact(str(exc)))
    if not isinstance(message, Request):
        return ReadInvite(None, "the message recorded as a request is a response")
    return ReadInvite(message)


# --- inbound.invite --------------------------------------------------------------------


def _normal_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _peer_address(peer: str) -> str:
    """The address of `address:port` (IPv6 in brackets)."""
    if peer.startswith("["):
        return peer[1:].split("]", 1)[0]
    return peer.rsplit(":", 1)[0] if peer.count(":") == 1 else peer


_INTERNAL = tuple(
    ipaddress.ip_network(block)
    for block in (
        "10.0.0.0/8",  # RFC 1918
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # RFC 6598: carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # RFC 3927: link-local
        "::1/128",
        "fc00::/7",  # RFC 4193: unique local
        "fe80::/10",  # link-local
    )
)
"""Addresses that only mean something inside one network: behind a NAT, on one host."""


def _internal(host: str) -> bool | None:
    """Whether `host` is an address of one private network; None for a name."""
    try:
        address = ipaddress.ip_address(_normal_host(host))
    except ValueError:
        return None
    return any(address in block for block in _INTERNAL)


@dataclass(frozen=True, slots=True)
class _Hosts:
    """The Via and Contact hosts of a request, and what is wrong with them."""

    vias: list[str]
    contact: str | None
    problems: list[str]
    cautions: list[str]


def _hosts(request: Request, call: InboundCall, expected: Sequence[str]) -> _Hosts:
    headers = request.headers
    problems: list[str] = []
    cautions: list[str] = []
    vias: list[str] = []
    for value in headers.get_all("Via")[:_SHOWN_VIAS]:
        try:
            vias.append(parse_via(value).host)
        except SipError as exc:
            problems.append(f"a Via does not parse: {exc}")
    contacts = headers.get_all("Contact")
    contact: str | None = None
    if not contacts:
        # RFC 3261 §8.1.1.8: an INVITE must carry Contact, where in-dialog requests go.
        problems.append("the INVITE has no Contact: our BYE has nowhere to go (RFC 3261 §8.1.1.8)")
    else:
        try:
            contact = parse_name_addr(contacts[0]).uri.host
        except SipError as exc:
            problems.append(f"its Contact does not parse: {exc}")
    names = {_normal_host(name) for name in expected}
    peer_internal = _internal(_peer_address(call.peer))
    for role, host in (("top Via", vias[0] if vias else None), ("Contact", contact)):
        if host is None:
            continue
        # A Via names the address the proxy sent from, often an IP; a Contact that is a
        # name is where in-dialog requests go, and a trunk names itself there (Teams'
        # proxies do): a name other than the expected peers' is worth a look.
        if names and role == "Contact" and _is_name(host) and _normal_host(host) not in names:
            cautions.append(
                f"the {role} host {host} is none of the expected peer names "
                f"({', '.join(sorted(names))})"
            )
        if not peer_internal and _internal(host):
            # A peer outside naming a private address: requests to it (our BYE, in-dialog
            # requests, RFC 3261 §12.1.2) go nowhere unless something rewrites them.
            # Said first: it is the more specific of the two.
            cautions.insert(
                0,
                f"the {role} names the private address {host} although the call came from "
                f"{call.peer}: a caller behind NAT, whose in-dialog requests may not reach it",
            )
    return _Hosts(vias, contact, problems, cautions)


def _is_name(host: str) -> bool:
    """A host name rather than an IP literal (`_internal` tells only addresses apart)."""
    return _internal(host) is None


def _addresses(values: Sequence[str]) -> list[str]:
    uris = []
    for value in values:
        _number, uri = address_tn(value)
        if uri is not None:
            uris.append(redact_uri_text(uri))
    return uris


def _final_reason(call: InboundCall) -> str | None:
    """The reason phrase of our final response to the INVITE, as sent: the first response
    we sent with its status (a BYE's 200 comes later and says the same)."""
    if call.final_status is None:
        return None
    start = f"SIP/2.0 {call.final_status} ".encode()
    for event in call.events:
        if event.direction == "sent" and event.data.startswith(start):
            line = event.data.split(b"\r\n", 1)[0]
            return line[len(start) :].decode("utf-8", "replace").strip() or None
    return None


def check_invite(judging: CallJudging) -> Finding:
    """`inbound.invite`: From, P-Asserted-Identity, Identity, and the Via and Contact hosts
    (against the expected peer names; a private address from a public peer warns)."""
    call = judging.call
    read = judging.invite
    details: dict[str, JsonValue] = {
        "final_status": call.final_status,
        "final_reason": _final_reason(call),
        "refusal": redact(call.refusal) if call.refusal else None,
        "acked": call.acked,
        "exchange": wire_exchange(call.events),
    }

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_INVITE, status, judging.label, summary, details)

    request = read.request
    if request is None:
        return finding(Status.FAIL, f"the INVITE cannot be read: {read.error}")
    headers = request.headers
    from_uri = _addresses(headers.get_all("From")[:1])
    pai = _addresses(headers.get_all("P-Asserted-Identity")[:4])  # RFC 3325 §9.1: one or two
    identities = len(headers.fields("Identity"))
    hosts = _hosts(request, call, judging.policy.expect_peer)
    details |= {
        "request_uri": redact_uri_text(str(request.uri)),
        "from": from_uri[0] if from_uri else None,
        "to": next(iter(_addresses(headers.get_all("To")[:1])), None),
        "p_asserted_identity": list(pai),
        "identity_fields": identities,
        "via_hosts": list(hosts.vias),
        "contact_host": hosts.contact,
        "expected_peers": list(judging.policy.expect_peer),
        "problems": list(hosts.problems),
        "cautions": list(hosts.cautions),
    }
    caller = from_uri[0] if from_uri else "no From"
    said = [f"from {caller}"]
    said.append(f"asserted {', '.join(pai)}" if pai else "no P-Asserted-Identity")
    said.append(
        f"{identities} Identity header field{'s' if identities != 1 else ''}"
        if identities
        else "no Identity header field"
    )
    if hosts.contact is not None:
        said.append(f"Contact host {hosts.contact}")
    summary = "; ".join(said)
    if hosts.problems:
        return finding(Status.FAIL, f"{hosts.problems[0]} ({summary})")
    if hosts.cautions:
        more = len(hosts.cautions) - 1
        extra = f" (and {more} more)" if more else ""
        return finding(Status.WARN, f"{hosts.cautions[0]}{extra}; {summary}")
    return finding(Status.PASS, summary)


# --- inbound.offer ---------------------------------------------------------------------


def _offer_body(call: InboundCall, request: Request) -> tuple[bytes, str]:
    """The SDP offer and where it came from: the INVITE's body, or, for an INVITE without
    one (RFC 3261 §13.2.1: our 2xx then offers and the ACK answers), the ACK's."""
    if request.body.strip():
        return request.body, "INVITE"
    for event in call.events:
        if event.direction != "received" or not event.data.startswith(b"ACK "):
            continue
        ack = _read_request(event.data)
        if ack.request is not None and ack.request.body.strip():
            return ack.request.body, "ACK"
    return b"", "INVITE"


def _describe(sdp: SessionDescription, media: MediaDescription) -> dict[str, JsonValue]:
    """One m-line as a report may show it: never a key."""
    try:
        crypto: list[JsonValue] = [
            {
                "tag": line.tag,
                "suite": line.suite,
                "key_bytes": len(line.key_salt),
                "session_params": list(line.session_params),
                "weak": None if suite_weakness(line.suite) is None else line.suite,
            }
            for line in media.crypto
        ]
    except SdpError as exc:
        crypto = [{"error": str(exc)}]
    return {
        "media": media.media,
        "proto": media.proto,
        "port": media.port,
        "crypto": crypto,
        "fingerprint_hashes": [f.hash_function for f in sdp.effective_fingerprints(media)],
        "setup": sdp.effective_setup(media),
    }


def _answered(answer: bytes | None) -> dict[str, JsonValue] | None:
    """What our answer chose (profile and suite, never its key)."""
    if not answer:
        return None
    try:
        sdp = parse_sdp(answer)
        media = sdp.first_media("audio")
        if media is None:
            return {"proto": None}
        suites = [line.suite for line in media.crypto]
    except SdpError as exc:
        return {"error": str(exc)}
    return {"proto": media.proto, "suites": suites}


_Judgement = tuple[Status, str]


def _unprotected(line: Crypto) -> bool:
    """A crypto line whose media would be readable or forgeable: a NULL suite, or session
    parameters that switch encryption or authentication off."""
    weakness = suite_weakness(line.suite)
    if weakness is not None and weakness.kind == "null":
        return True
    return any(param in _UNPROTECTED_PARAMS for param in line.session_params)


def _judge_sdes(
    media: MediaDescription, hop: str, require_srtp: bool, best_effort: bool
) -> _Judgement:
    lines = media.crypto
    suites = [line.suite for line in lines]
    listed = ", ".join(dict.fromkeys(suites))
    if hop not in _SECURE_HOPS:
        # RFC 4568 §8.3: SDES keys are only as secret as the signalling that carries them.
        return Status.FAIL, (
            f"the caller sent its SDES keys ({listed}) in cleartext over {hop.upper()}: anyone "
            "on the path can decrypt the media (RFC 4568 §8.3); call over TLS"
        )
    unprotected = [line.suite for line in lines if _unprotected(line)]
    if len(unprotected) == len(lines):
        return Status.FAIL, (
            f"every offered suite leaves the media unprotected ({listed}: a NULL suite or "
            "UNENCRYPTED_SRTP/UNAUTHENTICATED_SRTP, RFC 3711 §9.5, RFC 4568 §6.3)"
        )
    summary = f"SRTP offered with SDES: {listed} ({media.proto})"
    cautions = []
    if best_effort:
        cautions.append(
            f"offered as an option on {media.proto} (best effort): the caller accepts plain "
            "RTP too, so the media can be downgraded"
            + (" although the trunk promises SRTP" if require_srtp else "")
        )
    if unprotected:
        cautions.append(
            f"it also offers {', '.join(dict.fromkeys(unprotected))}, which leaves the "
            "media unprotected: a downgrade the answerer may pick"
        )
    weak = [
        weakness.reason
        for suite in dict.fromkeys(suites)
        if (weakness := suite_weakness(suite)) is not None and weakness.kind != "null"
    ]
    cautions.extend(weak)
    if any("UNENCRYPTED_SRTCP" in line.session_params for line in lines):
        cautions.append("RTCP would stay unencrypted (UNENCRYPTED_SRTCP)")
    if cautions:
        return Status.WARN, f"{summary}, but {'; '.join(cautions)}"
    return Status.PASS, summary


def _judge_dtls(sdp: SessionDescription, media: MediaDescription, hop: str) -> _Judgement:
    fingerprints = sdp.effective_fingerprints(media)
    if not fingerprints:
        return Status.FAIL, (
            f"the {media.proto} offer has no a=fingerprint: the DTLS peer cannot be "
            "authenticated (RFC 5763 §5)"
        )
    usable = [f for f in fingerprints if f.known_hash and not f.weak_hash]
    hashes = ", ".join(f.hash_function for f in fingerprints)
    if not usable:
        return (
            Status.FAIL,
            f"the offer's fingerprint hash ({hashes}) is weak or unknown (RFC 8122 §5)",
        )
    summary = f"DTLS-SRTP offered: {media.proto}, {usable[0].hash_function} fingerprint"
    setup = sdp.effective_setup(media)
    cautions = []
    if setup != "actpass":
        cautions.append(
            f"{'no a=setup' if setup is None else f'a=setup:{setup}'} where RFC 5763 §5 has "
            "the offerer say actpass"
        )
    if hop not in _SECURE_HOPS:
        cautions.append(
            f"the fingerprint travelled unprotected over {hop.upper()}: a man in the middle "
            "could replace it (RFC 5763 §8)"
        )
    if cautions:
        return Status.WARN, f"{summary}, but {'; '.join(cautions)}"
    return Status.PASS, summary


def _kind(sdp: SessionDescription, media: MediaDescription) -> str:
    proto = media.proto.upper()
    if proto in DTLS_PROFILES:
        return "dtls"
    has_crypto = media.has_attribute("crypto")
    if proto in SDES_PROFILES:
        if has_crypto:
            return "sdes"
        return "dtls" if sdp.effective_fingerprints(media) else "no_key"
    if proto in ("RTP/AVP", "RTP/AVPF"):
        return "best_effort" if has_crypto else "rtp"
    return "other"


def _judge_offer(
    sdp: SessionDescription, media: MediaDescription, hop: str, require_srtp: bool
) -> tuple[str, _Judgement]:
    kind = _kind(sdp, media)
    if media.port == 0:
        return kind, (Status.FAIL, "the offer disables its audio stream (port 0, RFC 3264 §5.1)")
    if kind == "rtp":
        if require_srtp:
            return kind, (
                Status.FAIL,
                f"the caller offers plain {media.proto}: unencrypted media on a trunk that "
                "promises SRTP",
            )
        return kind, (Status.PASS, f"plain {media.proto} offered (SRTP not required)")
    if kind == "no_key":
        return kind, (
            Status.FAIL,
            f"the {media.proto} offer carries neither a=crypto nor a=fingerprint: no SRTP key "
            "can be agreed (RFC 4568 §7.1.1, RFC 5763 §5)",
        )
    if kind in ("sdes", "best_effort"):
        return kind, _judge_sdes(media, hop, require_srtp, kind == "best_effort")
    if kind == "dtls":
        return kind, _judge_dtls(sdp, media, hop)
    status = Status.FAIL if require_srtp else Status.WARN
    return kind, (status, f"the offer's audio profile {media.proto} is neither RTP nor SRTP")


def check_offer(judging: CallJudging) -> Finding:
    """`inbound.offer`: the audio the caller offers, judged against the policy."""
    call = judging.call
    hop = call.transport
    details: dict[str, JsonValue] = {"transport": hop, "answered": _answered(call.answer)}

    def finding(status: Status, summary: str) -> Finding:
        return Finding(CheckId.INBOUND_OFFER, status, judging.label, summary, details)

    request = judging.invite.request
    if request is None:
        return finding(Status.FAIL, "not judged: the INVITE cannot be read (inbound.invite)")
    body, where = _offer_body(call, request)
    details["offer_in"] = where
    if not body:
        refused_or_done = call.acked or (call.final_status or 0) >= 300
        if not refused_or_done:
            return finding(
                Status.INCOMPLETE,
                "the INVITE carried no SDP offer, and the call ended before an ACK could "
                "answer ours (RFC 3261 §13.2.1)",
            )
        status = Status.FAIL if judging.policy.require_srtp else Status.WARN
        return finding(
            status,
            "the caller sent no SDP, neither an offer in the INVITE nor an answer in the ACK:"
            " nothing shows its media would be encrypted",
        )
    try:
        sdp = parse_sdp(body)
    except SdpError as exc:
        return finding(Status.FAIL, f"the SDP in the {where} is malformed: {exc}")
    details["media"] = [_describe(sdp, media) for media in sdp.media]
    audio = sdp.first_media("audio")
    if audio is None:
        return finding(Status.FAIL, f"the SDP in the {where} has no audio m-line")
    try:
        kind, (status, summary) = _judge_offer(sdp, audio, hop, judging.policy.require_srtp)
    except SdpError as exc:
        return finding(Status.FAIL, f"the SDP in the {where} is malformed: {exc}")
    details["offer_kind"] = kind
    if where == "ACK":
        summary += " (answer in the ACK to our offer: the INVITE had no SDP)"
    return finding(status, summary)


def _owes_invite(_judging: CallJudging) -> tuple[str, ...]:
    return (CheckId.INBOUND_INVITE,)


def _owes_offer(_judging: CallJudging) -> tuple[str, ...]:
    return (CheckId.INBOUND_OFFER,)


INVITE = InboundCheck(
    ids=(CheckId.INBOUND_INVITE,),
    reads=("invite", "events"),
    judge=lambda judging: [check_invite(judging)],
    owes=_owes_invite,
)
OFFER = InboundCheck(
    ids=(CheckId.INBOUND_OFFER,),
    reads=("invite", "events", "answer"),
    judge=lambda judging: [check_offer(judging)],
    owes=_owes_offer,
)
