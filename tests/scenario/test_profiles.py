"""Provider profiles: hand-made evidence (and the findings of its checks) in →
`policy.<provider>.<rule>` findings out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from probe.scenario import Scenario, judge_profile, load_builtin
from probe.verdict.findings import Status
from tests.scenario.helpers import A_TARGET, B_TARGET, Probe, at, judged_run, load_text

A = A_TARGET.label
B = B_TARGET.label
TEAMS_SUITE = "ECDHE-RSA-AES128-GCM-SHA256"


def trunk(
    provider: str, uri: str = "sip:sip.example.net:5061;transport=tls", extra: str = ""
) -> Scenario:
    return load_text(
        f'[trunk]\nname = "t"\nprovider = "{provider}"\n[[endpoint]]\nuri = "{uri}"\n{extra}'
    )


def judged(scenario: Scenario, probes: list[Probe]) -> dict[str, Any]:
    out = judge_profile(scenario, [judged_run(*probes)])
    assert all(finding.target == "trunk" for finding in out)
    return {finding.check: finding for finding in out}


def eku(*names: str, **more: Any) -> tuple[Status, dict[str, Any]]:
    return Status.PASS, {"ekus": list(names), **more}


def at_port(port: int) -> Probe:
    return at(replace(A_TARGET, port=port))


TEAMS_CASES = [
    # (rule, targets, status, words in the summary)
    ("tls_version", [at()], Status.PASS, "TLS 1.2 negotiated"),
    ("tls_version", [at(version="TLSv1.1")], Status.FAIL, "TLSv1.1: Teams requires TLS 1.2"),
    ("tls_version", [at(version="TLSv1.3")], Status.WARN, "TLS 1.2, which Teams uses, is untested"),
    (
        "tls_version",
        [at(version="TLSv1.3", versions=["1.2", "1.3"])],
        Status.PASS,
        "TLSv1.3, and 1.2 accepted",
    ),
    ("tls_version", [at(handshake=False)], Status.SKIP, "no TLS handshake"),
    (
        "tls_version",
        [at(), at(B_TARGET, version="TLSv1")],
        Status.FAIL,
        f"{B}: TLSv1: Teams requires",
    ),
    ("cipher", [at()], Status.PASS, "among Teams' four ECDHE-RSA suites"),
    ("cipher", [at(cipher="TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256")], Status.PASS, "four"),
    ("cipher", [at(cipher="ECDHE-ECDSA-AES256-GCM-SHA384")], Status.FAIL, "is not one of Teams"),
    (
        "cipher",
        [at(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384")],
        Status.SKIP,
        "no TLS 1.2 suite seen",
    ),
    (
        "cipher",
        [
            at(
                version="TLSv1.3",
                cipher="TLS_AES_256_GCM_SHA384",
                suites={TEAMS_SUITE: True, "ECDHE-RSA-AES256-SHA384": False},
            )
        ],
        Status.PASS,
        f"TLS 1.2 accepts {TEAMS_SUITE}",
    ),
    (
        "cipher",
        [at(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", suites={"AES128-SHA": True})],
        Status.FAIL,
        "none of Teams' four TLS 1.2 suites accepted",
    ),
    ("eku", [at(tls_eku=eku("serverAuth", "clientAuth"))], Status.PASS, "serverAuth and"),
    ("eku", [at(tls_eku=eku("serverAuth"))], Status.FAIL, "EKU lacks clientAuth"),
    ("eku", [at(tls_eku=eku("sipDomain"))], Status.FAIL, "lacks serverAuth and clientAuth"),
    ("eku", [at(tls_eku=eku(extension_present=False))], Status.WARN, "no EKU extension"),
    ("eku", [at()], Status.SKIP, "no certificate judged"),
    (
        "identity",
        [at(tls_identity=(Status.PASS, {"rfc5922_ok": True, "rfc2818_ok": True}))],
        Status.PASS,
        "FQDN",
    ),
    (
        "identity",
        [at(tls_identity=(Status.FAIL, {"rfc5922_ok": False, "rfc2818_ok": True}))],
        Status.PASS,
        "RFC 5922 forbids it, Teams accepts it",
    ),
    (
        "identity",
        [
            at(
                tls_identity=(
                    Status.FAIL,
                    {"rfc5922_ok": False, "rfc2818_ok": False, "domain": "x.net"},
                )
            )
        ],
        Status.FAIL,
        "certificate does not cover x.net",
    ),
    ("scheme", [], Status.PASS, "sip: scheme"),
    ("port", [at()], Status.PASS, "TLS on port 5061"),
    ("port", [at_port(5062)], Status.FAIL, "TLS on port 5062"),
]


@pytest.mark.parametrize(("rule", "probes", "status", "words"), TEAMS_CASES)
def test_teams(rule: str, probes: list[Probe], status: Status, words: str) -> None:
    out = judged(trunk("teams"), probes)
    finding = out[f"policy.teams.{rule}"]
    assert finding.status is status, finding.summary
    assert words in finding.summary
    assert "Teams" in finding.summary  # every summary cites its source
    assert finding.details["source"]


def test_teams_profile_has_every_rule_and_targets_in_details() -> None:
    run = judged_run(at(), at(B_TARGET, version="TLSv1"))
    out = judge_profile(load_builtin("teams-direct-routing"), [run])
    assert [finding.check for finding in out] == [
        "policy.teams.tls_version",
        "policy.teams.cipher",
        "policy.teams.eku",
        "policy.teams.identity",
        "policy.teams.scheme",
        "policy.teams.port",
        "policy.teams.contact",
    ]
    rows = out[0].details["targets"]
    assert rows == [
        {"target": A, "status": "pass", "note": ""},
        {"target": B, "status": "fail", "note": "TLSv1: Teams requires TLS 1.2"},
    ]


def test_runs_are_judged_together() -> None:
    # A failover run and a test call's run: every handshake of both counts.
    failover = judged_run(at())
    call = judged_run(at(B_TARGET, version="TLSv1.1", method="INVITE"), command="invite")
    (finding,) = [
        f
        for f in judge_profile(trunk("twilio"), [failover, call])
        if f.check == "policy.twilio.tls_version"
    ]
    assert finding.status is Status.FAIL
    assert [row["target"] for row in finding.details["targets"]] == [A, B]


def srtp(suite: str | None, mki: list[int] | None = None, status: Status = Status.PASS) -> Probe:
    details: dict[str, Any] = {"offer_profile": "RTP/SAVP"}
    if suite is not None:
        details |= {"negotiated_suite": suite, "mki": mki}
    return at(method="INVITE", sdp_srtp=(status, details))


TWILIO_CASES = [
    ("tls_version", [at(version="TLSv1.3")], Status.PASS, "TLS 1.2 or later"),
    ("tls_version", [at(version="TLSv1.1")], Status.FAIL, "error 32222"),
    ("port", [at()], Status.PASS, "TLS on port 5061 throughout"),
    ("port", [at_port(5081)], Status.FAIL, "TLS on port 5081"),
    ("scheme", [], Status.PASS, "sip: scheme"),
    ("srtp_suite", [srtp("AES_CM_128_HMAC_SHA1_80")], Status.PASS, "no MKI"),
    ("srtp_suite", [srtp("AES_CM_128_HMAC_SHA1_32")], Status.PASS, "AES_CM_128_HMAC_SHA1_32"),
    ("srtp_suite", [srtp("AES_256_CM_HMAC_SHA1_80")], Status.FAIL, "is not a Twilio suite"),
    ("srtp_suite", [srtp("AES_CM_128_HMAC_SHA1_80", [1, 4])], Status.FAIL, "with an MKI"),
    ("srtp_suite", [srtp(None, status=Status.FAIL)], Status.SKIP, "no SRTP call judged"),
    # sdp.srtp failed (say, an unoffered tag) although a suite was read: not Twilio's pass.
    (
        "srtp_suite",
        [srtp("AES_CM_128_HMAC_SHA1_80", status=Status.FAIL)],
        Status.SKIP,
        "no SRTP call judged",
    ),
    ("srtp_suite", [], Status.SKIP, "no SRTP call judged"),
    ("secure_trunking", [], Status.SKIP, "no SRTP test call"),
]


@pytest.mark.parametrize(("rule", "probes", "status", "words"), TWILIO_CASES)
def test_twilio(rule: str, probes: list[Probe], status: Status, words: str) -> None:
    finding = judged(trunk("twilio"), probes)[f"policy.twilio.{rule}"]
    assert finding.status is status, finding.summary
    assert words in finding.summary
    assert "Twilio" in finding.summary


def test_twilio_plain_endpoints() -> None:
    plain = trunk("twilio", "sip:sbc.example.net:5060;transport=tcp")
    out = judged(plain, [])
    assert out["policy.twilio.port"].status is Status.SKIP  # TLS is optional without SRTP
    with_call = trunk(
        "twilio",
        "sip:sbc.example.net:5060;transport=tcp",
        '[invite]\nto = "sip:+1@sbc.example.net"\n',
    )
    secure = judged(with_call, [])["policy.twilio.secure_trunking"]
    assert secure.status is Status.FAIL
    assert "32209" in secure.summary
    tls = trunk("twilio", extra='[invite]\nto = "sip:+1@sbc.example.net"\n')
    assert judged(tls, [])["policy.twilio.secure_trunking"].status is Status.PASS
    rtp = trunk("twilio", extra='[invite]\nto = "sip:+1@sbc.example.net"\noffer = "rtp"\n')
    assert judged(rtp, [])["policy.twilio.secure_trunking"].status is Status.SKIP


def test_twilio_tls_port_from_the_uri() -> None:
    scenario = trunk("twilio", "sip:sbc.example.net:5081;transport=tls")
    finding = judged(scenario, [])["policy.twilio.port"]
    assert finding.status is Status.FAIL
    assert "sip:sbc.example.net:5081;transport=tls: TLS on port 5081, not 5061" in finding.summary


def test_chime() -> None:
    out = judged(trunk("chime"), [at()])
    assert out["policy.chime.port"].status is Status.PASS
    assert out["policy.chime.routes"].status is Status.PASS
    assert out["policy.chime.routes"].summary.startswith("1 origination route, at most 10")
    plain = judged(trunk("chime", "sip:sbc.example.net:5060;transport=tcp"), [])
    assert plain["policy.chime.port"].status is Status.WARN
    assert "not TLS" in plain["policy.chime.port"].summary
    assert "Chime" in plain["policy.chime.port"].summary


def test_ibm_voice_agent_is_reported_retired_once() -> None:
    for name in ("ibm-voice-agent", "ibm-voice-agent-srtp"):
        out = judge_profile(load_builtin(name), [judged_run(at())])
        assert [finding.check for finding in out] == ["policy.ibm-voice-agent.retired"]
        (finding,) = out
        assert finding.status is Status.WARN
        assert finding.target == "trunk"
        for words in ("retired", "March 2021", "31 December 2021", "example of the configuration"):
            assert words in finding.summary
    # The provider alone is enough: the service is retired whatever the file says.
    assert judge_profile(trunk("ibm-voice-agent"), [])[0].check == "policy.ibm-voice-agent.retired"


def test_retired_sentence_for_other_providers() -> None:
    scenario = load_text(
        '[trunk]\nname = "x"\nretired = "Decommissioned in 2024."\n'
        '[[endpoint]]\nuri = "sip:a.example.net"\n'
    )
    (finding,) = judge_profile(scenario, [])
    assert (finding.check, finding.status, finding.summary) == (
        "policy.generic.retired",
        Status.WARN,
        "Decommissioned in 2024.",
    )


def test_generic_has_no_policy() -> None:
    assert judge_profile(trunk("generic"), [judged_run(at(version="TLSv1"))]) == []
