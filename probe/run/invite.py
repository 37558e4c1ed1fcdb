"""`sipprobe invite`: the test call's inputs (who is called, how the call ends, the
credentials) validated and wired into a probe run."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from probe.report.model import Report
from probe.run.commands import (
    OptionsRequest,
    Prepared,
    UsageError,
    collect_with_controls,
    finish,
    prepare,
)
from probe.run.credentials import load_credentials
from probe.run.locating import PASSWORD_REFUSED, known_transport
from probe.settings import CallSettings
from probe.sip import SipError, SipUri, parse_uri
from probe.sip.uri import format_uri

if TYPE_CHECKING:
    from probe.evidence.run import RunEvidence
    from probe.net.call import CallSettings as CallPlan
    from probe.net.options import ProbeSettings
    from probe.stir.sign import PassportSigner


@dataclass(frozen=True, slots=True)
class InviteRequest:
    """`sipprobe invite`: the next hop (common.targets) with the run's settings, and the
    call (who is called, what is offered, how it ends)."""

    common: OptionsRequest
    call: CallSettings
    capture: Path | None = None
    """`--capture FILE`: record the call's packets into FILE and audit them
    (probe.run.call_capture)."""


def sdes_suites(request: InviteRequest, usage: UsageError) -> tuple[str, ...]:
    """The --suite names checked before any packet is sent: each one a crypto-suite of
    RFC 4568 §6.2, RFC 6188 or RFC 7714 that an offer can key. The registered names are
    upper case and distinct ignoring case, so another case names one suite unambiguously."""
    from probe.net.media import MEDIA_SUITES
    from probe.sdp import DEFAULT_SUITES, SUITE_KEY_BYTES

    if not request.call.suites:
        return tuple(DEFAULT_SUITES)
    if request.call.offer != "sdes":
        usage(f"--suite chooses SDES keys (RFC 4568); --offer {request.call.offer} has none")
    known = ", ".join(SUITE_KEY_BYTES)
    suites: list[str] = []
    for given in request.call.suites:
        name = given.strip().upper()
        if name not in SUITE_KEY_BYTES:
            usage(f"--suite {given!r} is not an SDES crypto-suite; known: {known}")
        if name in suites:
            usage(f"--suite {name} is given twice")
        suites.append(name)
    if request.call.verify_media and not set(suites) & set(MEDIA_SUITES):
        usage(
            f"--verify-media cannot check {', '.join(suites)}: libsrtp does"
            f" {', '.join(MEDIA_SUITES)}; offer one of them with --suite"
        )
    return tuple(suites)


# RFC 3966 §3: a global number is "+" and digits, with visual separators allowed.
_GLOBAL_NUMBER = re.compile(r"\+[0-9][0-9().-]*")


def callee_uri(to: str, next_hop: SipUri | None) -> tuple[str, str | None]:
    """--to as a URI, and a note when it was a bare number or user part: `+15550100` is
    called as `sip:+15550100@<the target's host>;user=phone` (RFC 3261 §19.1.6: a
    telephone number in a SIP URI's user part carries user=phone; RFC 3966 §5.1.4)."""
    if next_hop is None or "@" in to or ":" in to:
        return to, None
    phone = _GLOBAL_NUMBER.fullmatch(to) is not None
    uri = format_uri(
        next_hop.scheme,
        to,
        None,
        next_hop.host,
        None,
        (("user", "phone"),) if phone else (),
    )
    return uri, f"--to {to} is called as {uri}"


def build_call(
    request: InviteRequest, usage: UsageError, next_hop: SipUri | None = None
) -> CallPlan:
    """The call the collect layer places (probe.net.call), from the call's settings."""
    from probe.net.call import CallSettings as CallPlan

    if not 0 < request.call.answer_timeout < math.inf:  # NaN too: it passes `<= 0`
        usage(f"--answer-timeout {request.call.answer_timeout:g}: a number of seconds above 0")
    try:
        to = parse_uri(callee_uri(request.call.to.strip(), next_hop)[0])
        from_uri = parse_uri(request.call.from_) if request.call.from_ else None
    except SipError as exc:
        usage(f"--to/--from: {exc}")  # the parse error quotes the URI without its password
    for option, uri in (("--to", to), ("--from", from_uri)):
        if uri is not None and uri.password is not None:
            usage(f"{option} {uri.redacted()!r}: {PASSWORD_REFUSED}")
    credentials = load_credentials(
        request.call.auth_file, os.environ, usage, source=request.call.auth_source
    )
    if request.call.verify_media:
        from probe.net.media import MediaExtraMissing, require_extra

        if request.call.offer == "rtp":
            usage("--verify-media checks SRTP: use it with --offer sdes or --offer dtls")
        try:
            require_extra(dtls=request.call.offer == "dtls")
        except MediaExtraMissing as exc:
            usage(str(exc))
    dtls_identity = None
    if request.call.offer == "dtls":
        from probe.net.dtls import new_dtls_identity

        # One throw-away certificate per call: its fingerprint goes in the offer (RFC
        # 8122), and the handshake on the media port presents it (RFC 5763 §5).
        dtls_identity = new_dtls_identity()
    identity = _signer(request, usage, to, from_uri)
    return CallPlan(
        to=to,
        from_uri=from_uri,
        offer_kind=request.call.offer,  # type: ignore[arg-type]
        suites=sdes_suites(request, usage),
        hangup=request.call.hangup,  # type: ignore[arg-type]
        credentials=credentials,
        allow_cleartext_keys=request.call.allow_cleartext_keys,
        answer_timeout=request.call.answer_timeout,
        dtls_identity=dtls_identity,
        verify_media=request.call.verify_media,
        identity=identity,
    )


def _signer(
    request: InviteRequest, usage: UsageError, to: SipUri, from_uri: SipUri | None
) -> PassportSigner | None:
    """--identity-key/--identity-cert as a signer, refused before any packet when the call
    cannot be signed: the PASSporT's orig and dest are the From and To numbers (RFC 8588
    §4, RFC 8224 §8.3), so both must be telephone numbers."""
    call = request.call
    if call.identity_key is None and call.identity_cert is None:
        return None
    if call.identity_key is None or call.identity_cert is None:
        usage(
            "--identity-key and --identity-cert go together: the key signs, the URL names "
            "its certificate"
        )
    from probe.errors import SettingsError
    from probe.run.stir import load_signer
    from probe.stir.tn import uri_tn

    if from_uri is None or uri_tn(str(from_uri)) is None:
        usage(
            "--identity-key signs the caller's number: give --from with a telephone number "
            "(sip:+15550123@HOST or tel:+15550123)"
        )
    if uri_tn(str(to)) is None:
        usage(f"--identity-key: --to {to.redacted()!r} names no telephone number for dest")
    try:
        return load_signer(call.identity_key, call.identity_cert, call.identity_attest)
    except SettingsError as exc:
        usage(str(exc))


def refuse_before_sending(
    uri: SipUri, text: str, request: InviteRequest, usage: UsageError
) -> None:
    """What can be known of the target before any packet is a usage error, not a finding:
    a call over UDP, or SDES keys over a hop that is cleartext by the URI alone (RFC 4568
    §8.3: the keys travel in the SDP). The transport is known without DNS for `sips:`, an
    explicit `transport=`, or (RFC 3263 §4.1) an IP literal or explicit port, which mean
    UDP for `sip:`; otherwise locating decides, and a refusal then is a failing finding."""
    transport = known_transport(uri)
    if transport == "udp":
        usage(
            f"invite {text!r}: test calls run over TLS or TCP, and this target means UDP "
            "(RFC 3263 §4.1); add ;transport=tls (or ;transport=tcp)"
        )
    if (
        transport in ("tcp", "ws")
        and request.call.offer == "sdes"
        and not request.call.allow_cleartext_keys
    ):
        usage(
            f"invite {text!r}: the SDES keys of the offer would cross {transport.upper()} "
            "in cleartext; "
            "use a TLS target (;transport=tls or sips:), --offer dtls, --offer rtp, or "
            "--allow-cleartext-keys to send them anyway"
        )


def prepare_call(
    request: InviteRequest, usage: UsageError
) -> tuple[Prepared, ProbeSettings, list[str]]:
    """A test call checked before any packet: the prepared run, the probe settings that
    carry the call, and the notes."""
    run = prepare(request.common, usage)
    next_hop = run.uris[0][1] if run.uris else None
    # The call's own inputs first: a password in --to or --from is refused whatever the
    # target, so the refusal never depends on which mistake is found first.
    settings = replace(run.settings, call=build_call(request, usage, next_hop))
    for text, uri in run.uris:
        refuse_before_sending(uri, text, request, usage)
    notes = run.notes
    _uri, callee_note = callee_uri(request.call.to.strip(), next_hop)
    if callee_note is not None:
        notes.append(callee_note)
    if request.call.allow_cleartext_keys:
        notes.append("--allow-cleartext-keys: SDES keys may cross a non-TLS hop")
    signer = settings.call.identity if settings.call is not None else None
    if signer is not None:
        notes.append(
            f"the INVITE is signed for STIR/SHAKEN (attestation {signer.attest}, "
            f"certificate {signer.x5u})"
        )
    return run, settings, notes


def run_invite_command(request: InviteRequest, *, on_usage_error: UsageError) -> Report:
    return invite_run(request, on_usage_error=on_usage_error)[1]


def invite_run(
    request: InviteRequest, *, on_usage_error: UsageError, keep_evidence: bool = False
) -> tuple[RunEvidence, Report]:
    """A test call's evidence and its report (`keep_evidence` as `failover_run`'s)."""
    run, settings, notes = prepare_call(request, on_usage_error)
    run.judge.keep_evidence = run.judge.keep_evidence or keep_evidence
    if request.capture is None:
        evidence = collect_with_controls(run.uris, settings, run, command="invite")
        return evidence, finish(evidence, run, notes, request.common, on_usage_error)
    from probe.run.call_capture import CallCapture

    capture = CallCapture(request.capture, on_usage_error)
    try:
        evidence = collect_with_controls(
            run.uris,
            capture.settings(settings),
            run,
            command="invite",
            before_probing=capture.start,
        )
    finally:
        capture.stop()  # whatever ended the run: the capture never outlives it
    report = finish(evidence, run, notes, request.common, on_usage_error)
    audited = capture.result(evidence, run.policy)
    return evidence, replace(
        report, notes=(*report.notes, *capture.notes), captures=(*report.captures, audited)
    )
