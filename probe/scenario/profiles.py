"""Provider profiles: a scenario and the evidence of its run → `policy.<provider>.<rule>`.

Each rule judges one documented requirement of the scenario's provider, clause by clause,
over every probed target, and returns one trunk-wide finding (target `trunk`) whose summary
cites its source in a few words; the per-target verdicts are in `details.targets`. A rule
with nothing to judge (no TLS handshake, no SRTP call) is a skip, never a pass. A rule
reads the evidence (probe.scenario.judged): each target's port and transport, the TLS
version and suite it negotiated, `--enumerate`'s handshakes; where a check already judged
that evidence (certificate identity and EKU, the SRTP answer), the rule takes that
check's finding about the same target. Pure: no I/O, findings out. Sources (research/anchors.md §3):

- Teams: MicrosoftDocs `Teams/direct-routing-plan.md` (SBC certificate: FQDN in CN/SAN,
  RFC 2818 single-label wildcards allowed, EKU serverAuth and clientAuth; TLS 1.2 enforced
  since 3 Apr 2022 with four ECDHE-RSA suites; port 5061) and "Direct Routing – SIP
  protocol" (SIPS URIs not supported).
- Twilio: /sip-trunking/api/origination-urls (`sip:` only), /voice/api/secure-media
  (SRTP AES_CM_128_HMAC_SHA1_80 and _32 inbound, no MKI, TLS on 5061), error pages 32209
  (non-TLS on a secure trunk) and 32222 (TLS below the allowed version), changelog
  2022-03-29 (TLS 1.0/1.1 deprecated; 1.2 the default).
- Amazon Chime SDK: create-voicecon.html / edit-voicecon.html (encryption: TLS on 5061,
  SRTP), API_voice-chime_OriginationRoute.html (at most 10 routes).
- IBM Voice Agent with Watson: retired (no new instances after 1 Mar 2021, deactivated
  31 Dec 2021); `secure-trunking.md` is kept as the example of the configuration pattern.
- Google Dialogflow CX telephony: cloud.google.com /dialogflow/cx/docs/concept/integration/
  sip-trunk/sbc-config (TLS 1.2 or later; mutual authentication; no wildcard certificates;
  "AES_CM_128_HMAC_SHA1_80 is the only SRTP cipher suite supported") and
  .../concepts-troubleshooting (SDES media encryption; its newer table also lists
  AEAD_AES_256_GCM, which the rule therefore warns on rather than fails).
- The rules on the SBC's own certificate and Contact (Teams, Dialogflow) live in
  probe.scenario.sbc_rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from probe.evidence.model import ProbeEvidence, TlsEnumeration, TlsEvidence
from probe.scenario.judged import JudgedRun, JudgedTarget
from probe.scenario.model import Scenario
from probe.scenario.sbc_rules import contact_rows, mutual_tls_rows, wildcard_rows
from probe.verdict.findings import CheckId, Finding, JsonValue, Status

TRUNK = "trunk"
TLS_PORT = 5061

# Microsoft's four TLS 1.2 suites for Direct Routing (direct-routing-plan.md), by their
# OpenSSL names (what the handshake reports) and IANA names (what Microsoft writes).
TEAMS_TLS12_SUITES: dict[str, str] = {
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES256-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "ECDHE-RSA-AES128-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
}
# Twilio Secure Media: the suites Twilio accepts (it offers only _80 itself).
TWILIO_SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")

IBM_RETIRED = (
    "IBM Voice Agent with Watson was retired: no new instances after 1 March 2021, "
    "existing ones deactivated on 31 December 2021; this scenario is kept as an example "
    "of the configuration pattern (TLS origination URIs tried in list order)"
)

_TEAMS = "Teams Direct Routing, direct-routing-plan"
_TEAMS_SIP = "Teams Direct Routing – SIP protocol"
_DIALOGFLOW = "Dialogflow CX SIP trunk, sbc-config"
# sbc-config: the only suite; concepts-troubleshooting's newer table adds AEAD_AES_256_GCM.
DIALOGFLOW_SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"
DIALOGFLOW_DISPUTED_SUITE = "AEAD_AES_256_GCM"
_TWILIO_MEDIA = "Twilio Secure Media, /voice/api/secure-media"
_CHIME = "Amazon Chime Voice Connector, create-voicecon"
_RANK = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 2}
_VERSIONS = {"TLSv1": 10, "TLSv1.1": 11, "TLSv1.2": 12, "TLSv1.3": 13}


@dataclass(frozen=True, slots=True)
class _Row:
    target: str
    status: Status
    note: str


def _verdict(check: str, rows: Sequence[_Row], *, ok: str, none: str, source: str) -> Finding:
    """One trunk-wide finding from per-target rows: the worst of them, naming the bad."""
    judged = [row for row in rows if row.status is not Status.SKIP]
    details: dict[str, JsonValue] = {
        "source": source,
        "targets": [{"target": r.target, "status": r.status.value, "note": r.note} for r in rows],
    }
    if not judged:
        return Finding(check, Status.SKIP, TRUNK, f"{none} ({source})", details)
    status = max((row.status for row in judged), key=lambda s: _RANK[s])
    bad = [row for row in judged if row.status is not Status.PASS]
    if bad:
        summary = "; ".join(f"{row.target}: {row.note}" for row in bad[:3])
        if len(bad) > 3:
            summary += f"; and {len(bad) - 3} more"
    else:
        remarks = sorted({row.note for row in judged if row.note})
        summary = ok + (f" ({'; '.join(remarks)})" if remarks else "")
    return Finding(check, status, TRUNK, f"{summary} ({source})", details)


def _judged(runs: Sequence[JudgedRun]) -> list[JudgedTarget]:
    """Every judged target of every run, in report order."""
    return [target for run in runs for target in run.targets]


def _handshakes(runs: Sequence[JudgedRun]) -> list[tuple[JudgedTarget, TlsEvidence]]:
    """Targets whose TLS handshake completed, with that handshake's evidence (the version
    and suite negotiated, by their OpenSSL names)."""
    out = []
    for target in _judged(runs):
        tls = target.evidence.tls if target.evidence is not None else None
        if tls is not None and tls.ok:
            out.append((target, tls))
    return out


def _verdicts(runs: Sequence[JudgedRun], check: CheckId) -> list[Finding]:
    """`check`'s finding about each judged target that has one."""
    found = (target.finding(check) for target in _judged(runs))
    return [finding for finding in found if finding is not None]


def _enumeration(target: JudgedTarget) -> TlsEnumeration | None:
    """`--enumerate`'s handshakes at this target, when it made any."""
    return target.evidence.enumeration if target.evidence is not None else None


# --- rules shared by several providers ------------------------------------------------


def _retired(scenario: Scenario, _runs: Sequence[JudgedRun]) -> Finding | None:
    provider = scenario.trunk.provider
    text = IBM_RETIRED if provider == "ibm-voice-agent" else scenario.trunk.retired
    if text is None:
        return None
    details: dict[str, JsonValue] = {"scenario": scenario.trunk.retired}
    return Finding(f"policy.{provider}.retired", Status.WARN, TRUNK, text, details)


def _scheme(provider: str, name: str, source: str) -> _Rule:
    def rule(scenario: Scenario, _runs: Sequence[JudgedRun]) -> Finding:
        rows = [
            _Row(e.uri, Status.PASS, "")
            if e.sip_uri.scheme == "sip"
            else _Row(e.uri, Status.FAIL, f"{name} does not support sips: URIs")
            for e in scenario.endpoints
        ]
        return _verdict(
            f"policy.{provider}.scheme",
            rows,
            ok="every endpoint URI uses the sip: scheme",
            none="no endpoint",
            source=source,
        )

    return rule


def _tls_port(provider: str, source: str, *, plain: Status) -> _Rule:
    """TLS on port 5061, from the URIs and from the targets actually probed; a non-TLS
    endpoint gets `plain` (skip where TLS is optional, warn where it is expected)."""

    def rule(scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
        rows = []
        for endpoint in scenario.endpoints:
            uri = endpoint.sip_uri
            if not uri.is_secure:
                rows.append(_Row(endpoint.uri, plain, "not TLS: signalling in the clear"))
            elif uri.port not in (None, TLS_PORT):
                rows.append(_Row(endpoint.uri, Status.FAIL, f"TLS on port {uri.port}, not 5061"))
            else:
                rows.append(_Row(endpoint.uri, Status.PASS, ""))
        # Every target probed over TLS, by the port it was actually probed on (an SRV
        # answer or a pin may well differ from the URI's).
        probed = {judged.label: judged.target for judged in _judged(runs)}
        for label, target in sorted(probed.items()):
            if target.transport == "tls":
                port = target.port
                status = Status.PASS if port == TLS_PORT else Status.FAIL
                rows.append(_Row(label, status, "" if port == TLS_PORT else f"TLS on port {port}"))
        return _verdict(
            f"policy.{provider}.port",
            rows,
            ok="TLS on port 5061 throughout",
            none="no TLS endpoint",
            source=source,
        )

    return rule


# --- Microsoft Teams Direct Routing --------------------------------------------------


def _teams_tls_version(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    for handshake, tls in _handshakes(runs):
        version = tls.version
        number = _VERSIONS.get(version or "")
        if number is None:
            rows.append(_Row(handshake.label, Status.SKIP, "version not recorded"))
        elif number == 12:
            rows.append(_Row(handshake.label, Status.PASS, ""))
        elif number > 12:
            enumeration = _enumeration(handshake)
            versions = enumeration.versions if enumeration is not None else ()
            if any(attempt.accepted and attempt.version == "1.2" for attempt in versions):
                rows.append(_Row(handshake.label, Status.PASS, f"{version}, and 1.2 accepted"))
            else:
                rows.append(
                    _Row(
                        handshake.label,
                        Status.WARN,
                        f"{version} negotiated: TLS 1.2, which Teams uses, is untested "
                        "(tls.enumerate)",
                    )
                )
        else:
            rows.append(_Row(handshake.label, Status.FAIL, f"{version}: Teams requires TLS 1.2"))
    return _verdict(
        "policy.teams.tls_version",
        rows,
        ok="TLS 1.2 negotiated",
        none="no TLS handshake completed",
        source=f"{_TEAMS}: TLS 1.2 enforced since 3 Apr 2022",
    )


def _teams_cipher(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    for handshake, tls in _handshakes(runs):
        version = tls.version
        cipher = tls.cipher
        target = handshake.label
        if version == "TLSv1.2":
            if cipher in TEAMS_TLS12_SUITES or cipher in TEAMS_TLS12_SUITES.values():
                rows.append(_Row(target, Status.PASS, ""))
            else:
                rows.append(_Row(target, Status.FAIL, f"{cipher} is not one of Teams' suites"))
            continue
        enumeration = _enumeration(handshake)
        if enumeration is None or not enumeration.tls12_suites:
            rows.append(_Row(target, Status.SKIP, f"{version}: no TLS 1.2 suite to judge"))
            continue
        accepted = [attempt.label for attempt in enumeration.tls12_suites if attempt.accepted]
        usable = [suite for suite in accepted if suite in TEAMS_TLS12_SUITES]
        if usable:
            rows.append(_Row(target, Status.PASS, f"TLS 1.2 accepts {', '.join(usable)}"))
        else:
            rows.append(_Row(target, Status.FAIL, "none of Teams' four TLS 1.2 suites accepted"))
    return _verdict(
        "policy.teams.cipher",
        rows,
        ok="TLS 1.2 suite among Teams' four ECDHE-RSA suites",
        none="no TLS 1.2 suite seen",
        source=f"{_TEAMS}: ECDHE-RSA AES-GCM/CBC-SHA2 suites",
    )


def _teams_eku(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    # What the leaf's EKU permits is tls.eku's verdict on this target's presented chain.
    for finding in _verdicts(runs, CheckId.TLS_EKU):
        ekus = finding.details.get("ekus")
        if not isinstance(ekus, list):
            rows.append(_Row(finding.target, Status.SKIP, "EKU not recorded"))
        elif not ekus and finding.details.get("extension_present") is False:
            rows.append(
                _Row(
                    finding.target,
                    Status.WARN,
                    "no EKU extension (unrestricted, RFC 5280 §4.2.1.12); Teams wants "
                    "serverAuth and clientAuth listed",
                )
            )
        else:
            # anyExtendedKeyUsage allows both (RFC 5280 §4.2.1.12): the check's own booleans
            # say what the certificate permits, whatever names it lists.
            allowed = {
                "serverAuth": bool(finding.details.get("server_auth")) or "serverAuth" in ekus,
                "clientAuth": bool(finding.details.get("client_auth")) or "clientAuth" in ekus,
            }
            missing = [name for name, ok in allowed.items() if not ok]
            if missing:
                rows.append(_Row(finding.target, Status.FAIL, f"EKU lacks {' and '.join(missing)}"))
            else:
                rows.append(_Row(finding.target, Status.PASS, ""))
    return _verdict(
        "policy.teams.eku",
        rows,
        ok="EKU has serverAuth and clientAuth",
        none="no certificate judged",
        source=f"{_TEAMS}: SBC certificate EKU",
    )


def _teams_identity(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    # Both identity verdicts (RFC 5922 and RFC 2818) are tls.identity's, on this target.
    for finding in _verdicts(runs, CheckId.TLS_IDENTITY):
        rfc5922, rfc2818 = finding.details.get("rfc5922_ok"), finding.details.get("rfc2818_ok")
        if rfc5922 is None and rfc2818 is None:
            rows.append(_Row(finding.target, Status.SKIP, "identity not recorded"))
        elif rfc5922:
            rows.append(_Row(finding.target, Status.PASS, ""))
        elif rfc2818:
            rows.append(
                _Row(
                    finding.target,
                    Status.PASS,
                    "a single-label wildcard: RFC 5922 forbids it, Teams accepts it as "
                    "RFC 2818 does",
                )
            )
        else:
            domain = finding.details.get("domain") or finding.target
            rows.append(_Row(finding.target, Status.FAIL, f"certificate does not cover {domain}"))
    return _verdict(
        "policy.teams.identity",
        rows,
        ok="certificate valid for the FQDN",
        none="no certificate judged",
        source=f"{_TEAMS}: FQDN in CN or SAN, wildcards allowed",
    )


def _skipped(rows: Sequence[_Row], otherwise: str) -> str:
    """Why nothing was judged: the first skipped row's reason, when there is one."""
    return next((row.note for row in rows if row.note), otherwise)


def _evidence_of(run: JudgedRun) -> list[tuple[str, ProbeEvidence]]:
    return [(t.label, t.evidence) for t in run.targets if t.evidence is not None]


def _teams_contact(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = [_Row(*row) for run in runs for row in contact_rows(_evidence_of(run), run.evidence)]
    return _verdict(
        "policy.teams.contact",
        rows,
        ok="Contact FQDN in the SBC certificate's CN or SAN",
        none=_skipped(rows, "no request sent"),
        source=f"{_TEAMS_SIP}: Contact FQDN must match the certificate",
    )


# --- Google Dialogflow CX telephony (SIP trunk) ---------------------------------------


def _dialogflow_tls_version(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    for handshake, tls in _handshakes(runs):
        number = _VERSIONS.get(tls.version or "")
        if number is None:
            rows.append(_Row(handshake.label, Status.SKIP, "version not recorded"))
        elif number >= 12:
            rows.append(_Row(handshake.label, Status.PASS, ""))
        else:
            rows.append(_Row(handshake.label, Status.FAIL, f"{tls.version}: below TLS 1.2"))
    return _verdict(
        "policy.dialogflow.tls_version",
        rows,
        ok="TLS 1.2 or later",
        none="no TLS handshake completed",
        source=f"{_DIALOGFLOW}: TLS 1.2 or later",
    )


def _dialogflow_mutual_tls(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = [_Row(*row) for run in runs for row in mutual_tls_rows(_evidence_of(run))]
    return _verdict(
        "policy.dialogflow.mutual_tls",
        rows,
        ok="client certificate offered and asked for",
        none="no TLS target",
        source=f"{_DIALOGFLOW}: enable mutual authentication on the SBC",
    )


def _dialogflow_wildcard(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    # One certificate per run; the same file in every run is judged once.
    rows = list(dict.fromkeys(_Row(*row) for run in runs for row in wildcard_rows(run.evidence)))
    return _verdict(
        "policy.dialogflow.wildcard",
        rows,
        ok="the SBC certificate names no wildcard",
        none=_skipped(rows, "no SBC certificate to judge"),
        source=f"{_DIALOGFLOW}: wildcard certificates are not supported",
    )


def _dialogflow_srtp(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    for finding in _verdicts(runs, CheckId.SDP_SRTP):
        if finding.status not in (Status.PASS, Status.WARN):
            continue  # nothing negotiated, or sdp.srtp already says what is wrong
        suite = finding.details.get("negotiated_suite")
        if finding.details.get("offer_kind") == "dtls":
            rows.append(_Row(finding.target, Status.FAIL, "DTLS-SRTP; SDES is the one listed"))
        elif not isinstance(suite, str):
            continue
        elif suite == DIALOGFLOW_SRTP_SUITE:
            rows.append(_Row(finding.target, Status.PASS, suite))
        elif suite == DIALOGFLOW_DISPUTED_SUITE:
            note = (
                f"{suite}: concepts-troubleshooting lists it, sbc-config says"
                f" {DIALOGFLOW_SRTP_SUITE} is the only suite supported"
            )
            rows.append(_Row(finding.target, Status.WARN, note))
        else:
            rows.append(_Row(finding.target, Status.FAIL, f"{suite} is not supported"))
    return _verdict(
        "policy.dialogflow.srtp_suite",
        rows,
        ok=f"SRTP suite {DIALOGFLOW_SRTP_SUITE}",
        none="no SRTP call judged",
        source=f"{_DIALOGFLOW}: {DIALOGFLOW_SRTP_SUITE} only",
    )


# --- Twilio Elastic SIP Trunking -------------------------------------------------------


def _twilio_tls_version(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    for handshake, tls in _handshakes(runs):
        version = tls.version
        number = _VERSIONS.get(version or "")
        if number is None:
            rows.append(_Row(handshake.label, Status.SKIP, "version not recorded"))
        elif number >= 12:
            rows.append(_Row(handshake.label, Status.PASS, ""))
        else:
            note = f"{version}: below 1.2, Twilio refuses it by default (error 32222)"
            rows.append(_Row(handshake.label, Status.FAIL, note))
    return _verdict(
        "policy.twilio.tls_version",
        rows,
        ok="TLS 1.2 or later",
        none="no TLS handshake completed",
        source="Twilio error 32222, TLS 1.0/1.1 deprecation 2022-03-29",
    )


def _twilio_srtp(_scenario: Scenario, runs: Sequence[JudgedRun]) -> Finding:
    rows = []
    # sdp.srtp has judged the answer against the offer (RFC 4568 §7): its verdict and the
    # suite it read are what Twilio's rule refines.
    for finding in _verdicts(runs, CheckId.SDP_SRTP):
        suite = finding.details.get("negotiated_suite")
        if isinstance(suite, str) and finding.details.get("mki"):
            # An MKI fails sdp.srtp already when the offer had none; Twilio's rule says
            # why it matters here (secure-media: MKI is not supported).
            rows.append(_Row(finding.target, Status.FAIL, f"{suite} with an MKI, unsupported"))
            continue
        if not isinstance(suite, str) or finding.status is not Status.PASS:
            continue  # nothing negotiated, or sdp.srtp already says what is wrong
        if suite not in TWILIO_SRTP_SUITES:
            rows.append(_Row(finding.target, Status.FAIL, f"{suite} is not a Twilio suite"))
        else:
            rows.append(_Row(finding.target, Status.PASS, suite))
    return _verdict(
        "policy.twilio.srtp_suite",
        rows,
        ok="SRTP suite accepted by Twilio, no MKI",
        none="no SRTP call judged",
        source=f"{_TWILIO_MEDIA}: AES_CM_128_HMAC_SHA1_80/_32, no MKI",
    )


def _twilio_secure_trunking(scenario: Scenario, _runs: Sequence[JudgedRun]) -> Finding:
    invite = scenario.invite
    rows = []
    if invite is not None and invite.offer != "rtp":
        for endpoint in scenario.endpoints:
            if endpoint.sip_uri.is_secure:
                rows.append(_Row(endpoint.uri, Status.PASS, ""))
            else:
                note = "SRTP needs Secure Trunking, which refuses non-TLS signalling (32209)"
                rows.append(_Row(endpoint.uri, Status.FAIL, note))
    return _verdict(
        "policy.twilio.secure_trunking",
        rows,
        ok="SRTP offered with TLS signalling on every endpoint",
        none="no SRTP test call in the scenario",
        source="Twilio Secure Trunking, errors 32209/32207",
    )


# --- Amazon Chime SDK Voice Connector ------------------------------------------------


def _chime_routes(scenario: Scenario, _runs: Sequence[JudgedRun]) -> Finding:
    count = len(scenario.endpoints)
    status = Status.PASS if count <= 10 else Status.FAIL
    note = "" if count <= 10 else f"{count} origination routes, more than 10"
    row = _Row(scenario.trunk.name, status, note)
    return _verdict(
        "policy.chime.routes",
        [row],
        ok=f"{count} origination route{'s' if count != 1 else ''}, at most 10",
        none="no route",
        source="Amazon Chime OriginationRoute: at most 10 routes",
    )


_Rule = Callable[[Scenario, Sequence[JudgedRun]], Finding | None]

PROFILES: dict[str, tuple[_Rule, ...]] = {
    "teams": (
        _teams_tls_version,
        _teams_cipher,
        _teams_eku,
        _teams_identity,
        _scheme("teams", "Microsoft Teams", _TEAMS_SIP),
        _tls_port("teams", f"{_TEAMS}: SIP proxies on 5061", plain=Status.FAIL),
        _teams_contact,
    ),
    "twilio": (
        _twilio_tls_version,
        _tls_port("twilio", f"{_TWILIO_MEDIA}: TLS on 5061", plain=Status.SKIP),
        _scheme("twilio", "Twilio", "Twilio OriginationUrl: sip: only"),
        _twilio_srtp,
        _twilio_secure_trunking,
    ),
    "chime": (
        _tls_port("chime", f"{_CHIME}: encryption uses TLS on 5061", plain=Status.WARN),
        _chime_routes,
    ),
    "dialogflow": (
        _dialogflow_tls_version,
        _dialogflow_mutual_tls,
        _dialogflow_wildcard,
        _dialogflow_srtp,
    ),
    "ibm-voice-agent": (),
    "generic": (),
}


def judge_profile(scenario: Scenario, runs: Sequence[JudgedRun]) -> list[Finding]:
    """The provider's documented rules over the runs' evidence: `policy.<provider>.<rule>`,
    plus `policy.<provider>.retired` for a retired service (always for IBM Voice Agent)."""
    out = [_retired(scenario, runs)]
    out.extend(rule(scenario, runs) for rule in PROFILES[scenario.trunk.provider])
    return [finding for finding in out if finding is not None]
