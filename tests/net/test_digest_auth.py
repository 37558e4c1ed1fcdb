"""Digest authentication against a far end that checks the credentials (RFC 3261 §22,
RFC 7616, RFC 8760): OPTIONS and the test call answer a challenge once, and only a
request sent with credentials and answered reads as authenticated."""

from __future__ import annotations

import datetime as dt

import pytest

from probe.evidence.codec import decode, encode
from probe.evidence.model import ProbeEvidence, Target, without_parsed
from probe.evidence.redact import redact_evidence
from probe.net.call import CallSettings
from probe.net.options import ProbeSettings, collect_options
from probe.sip import DigestCredentials, parse_message, parse_uri
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.net.digest_uas import DigestUas, challenge
from tests.net.scripted import scripted_server, tls_server_context
from tests.sip.digest_verifier import server_params

ALICE = DigestCredentials("alice", "s3cret")


async def probe_options(
    uas: DigestUas, credentials: DigestCredentials | None = ALICE, count: int = 1
) -> tuple[ProbeEvidence, dict[str, Finding]]:
    async with scripted_server(uas.script(), None) as port:
        text = f"sip:127.0.0.1:{port};transport=tcp"
        target = Target(uri=text, host="127.0.0.1", port=port, transport="tcp", address="127.0.0.1")
        settings = ProbeSettings(timeout=1.0, credentials=credentials, count=count, interval=0.0)
        evidence = await collect_options(parse_uri(text), target, settings)
    return evidence, {f.check: f for f in judge_options(evidence, OptionsPolicy())}


async def place_call(
    uas: DigestUas, lab: LabFiles, credentials: DigestCredentials | None = ALICE
) -> tuple[ProbeEvidence, dict[str, Finding]]:
    context = tls_server_context(lab.server, lab.server_key)
    async with scripted_server(uas.script(), context) as port:
        text = f"sip:{LAB_NAME}:{port};transport=tls"
        target = Target(uri=text, host=LAB_NAME, port=port, transport="tls", address="127.0.0.1")
        call = CallSettings(
            to=parse_uri(f"sip:+15550100@{LAB_NAME}"),
            answer_timeout=1.0,
            offer_kind="rtp",
            credentials=credentials,
        )
        settings = ProbeSettings(timeout=1.0, call=call)
        evidence = await collect_options(parse_uri(text), target, settings)
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    return evidence, {f.check: f for f in judge_options(evidence, policy)}


@pytest.mark.parametrize(
    ("algorithm", "qop", "status"),
    [
        (None, "auth", Status.WARN),  # no algorithm means MD5 (RFC 7616 §3.3): MD5 only
        ("MD5-sess", None, Status.WARN),
        ("SHA-256", "auth", Status.PASS),
        ("SHA-256-sess", "auth-int", Status.PASS),
        ("SHA-512-256", "auth", Status.PASS),
        ("SHA-512-256-sess", "auth", Status.PASS),
        ("SHA-512-256", "auth-int", Status.PASS),
    ],
)
async def test_a_challenged_options_is_sent_again_with_credentials(
    algorithm: str | None, qop: str | None, status: Status
) -> None:
    uas = DigestUas([challenge(algorithm, "n-opt", qop)])
    evidence, checks = await probe_options(uas)
    assert uas.verdicts == [True]
    assert [r.method for r in uas.received] == ["OPTIONS", "OPTIONS"]
    # A new transaction (§8.1.3.5): a new branch and a CSeq one higher, same Call-ID.
    first, again = uas.received
    assert again.cseq.number == first.cseq.number + 1
    assert again.top_via.branch != first.top_via.branch
    assert again.call_id == first.call_id
    options = checks["sip.options"]
    assert options.status is Status.PASS, options.summary
    assert "(with digest authentication)" in options.summary
    auth = checks["sip.auth"]
    assert auth.status is status, auth.summary
    assert auth.details["answered_with"] == (algorithm or "MD5")
    assert auth.details["qop"] == qop
    assert auth.details["answer_status"] == 200
    assert auth.details["authenticated"] is True
    assert evidence.auth is not None
    assert evidence.auth.challenged is not None
    assert evidence.auth.challenged.final_status == 401
    if status is Status.WARN:
        assert "only MD5" in auth.summary
        assert "RFC 8760 §3" in auth.summary


async def test_the_sha_2_challenge_is_answered_when_md5_is_listed_first() -> None:
    uas = DigestUas([challenge("MD5", "n-md5"), challenge("SHA-256", "n-sha")])
    _evidence, checks = await probe_options(uas)
    assert uas.verdicts == [True]
    auth = checks["sip.auth"]
    assert auth.details["offered"] == ["Digest MD5", "Digest SHA-256"]
    assert auth.details["answered_with"] == "SHA-256"
    # The server prefers MD5 (RFC 8760 §2.3): most clients would answer with it.
    assert auth.status is Status.WARN
    assert "lists MD5 above SHA-256" in auth.summary


async def test_the_servers_order_decides_between_the_sha_2_hashes() -> None:
    uas = DigestUas([challenge("SHA-512-256", "n-512"), challenge("SHA-256", "n-256")])
    _evidence, checks = await probe_options(uas)
    assert checks["sip.auth"].details["answered_with"] == "SHA-512-256"
    assert checks["sip.auth"].status is Status.PASS


async def test_a_proxy_challenge_is_answered_with_proxy_authorization() -> None:
    uas = DigestUas([challenge("SHA-256", "n-proxy")], status=407)
    _evidence, checks = await probe_options(uas)
    assert uas.verdicts == [True]
    assert uas.received[1].headers.get("Proxy-Authorization") is not None
    assert uas.received[1].headers.get("Authorization") is None
    assert checks["sip.auth"].status is Status.PASS, checks["sip.auth"].summary


@pytest.mark.parametrize(
    "offered",
    [
        'Digest realm="sipprobe.test", nonce="n", algorithm=AKAv1-MD5',
        'Digest realm="sipprobe.test", nonce="n", qop="auth-conf"',
    ],
)
async def test_a_challenge_sipprobe_cannot_answer_is_incomplete_never_authenticated(
    offered: str,
) -> None:
    uas = DigestUas([offered])
    evidence, checks = await probe_options(uas)
    assert [r.method for r in uas.received] == ["OPTIONS"]  # nothing sent again
    assert checks["sip.options"].status is Status.FAIL
    assert "authentication" not in checks["sip.options"].summary
    auth = checks["sip.auth"]
    assert auth.status is Status.INCOMPLETE, auth.summary
    assert "sipprobe cannot answer it" in auth.summary
    assert auth.details["authenticated"] is False
    assert evidence.auth is not None
    assert evidence.auth.answered_with is None


async def test_a_malformed_challenge_fails() -> None:
    uas = DigestUas(['Digest realm="sipprobe.test"'])  # no nonce (RFC 7616 §3.3)
    _evidence, checks = await probe_options(uas)
    assert checks["sip.auth"].status is Status.FAIL
    assert "no nonce" in checks["sip.auth"].summary


async def test_without_credentials_the_challenge_is_reported_not_answered() -> None:
    uas = DigestUas([challenge("SHA-256", "n")])
    _evidence, checks = await probe_options(uas, credentials=None)
    assert [r.method for r in uas.received] == ["OPTIONS"]
    assert checks["sip.options"].status is Status.FAIL  # a 401 is not an accepted answer
    auth = checks["sip.auth"]
    assert auth.status is Status.SKIP
    assert "no credentials were given" in auth.summary
    assert auth.details["offered"] == ["Digest SHA-256"]


async def test_refused_credentials_fail() -> None:
    uas = DigestUas([challenge("SHA-256", "n")])
    _evidence, checks = await probe_options(uas, credentials=DigestCredentials("alice", "nope"))
    assert uas.verdicts == [False]
    assert [r.method for r in uas.received] == ["OPTIONS", "OPTIONS"]  # once, not a loop
    auth = checks["sip.auth"]
    assert auth.status is Status.FAIL
    assert "refused (401 again)" in auth.summary
    assert checks["sip.options"].status is Status.FAIL


async def test_each_probe_of_a_ping_run_is_answered_and_counted_once() -> None:
    uas = DigestUas([challenge("SHA-256", "n")])
    evidence, checks = await probe_options(uas, count=3)
    assert uas.verdicts == [True, True, True]
    numbers = [request.cseq.number for request in uas.received]
    assert numbers == sorted(set(numbers))  # CSeq only goes up (§8.1.3.5)
    assert evidence.ping is not None
    assert (evidence.ping.sent, evidence.ping.answered) == (3, 3)
    assert evidence.ping.codes == ((200, 3),)
    assert checks["sip.options"].status is Status.PASS, checks["sip.options"].summary
    assert checks["sip.auth"].status is Status.PASS


async def test_a_call_answers_a_sha_512_256_challenge(lab: LabFiles) -> None:
    uas = DigestUas([challenge("SHA-512-256", "n-inv", "auth-int")])
    evidence, checks = await place_call(uas, lab)
    assert uas.verdicts == [True]  # the body (SDP offer) hashed as the far end hashes it
    invite = checks["sip.invite"]
    assert invite.status is Status.PASS, invite.summary
    assert "(with digest authentication)" in invite.summary
    assert invite.details["authenticated"] is True
    auth = checks["sip.auth"]
    assert auth.status is Status.PASS, auth.summary
    assert auth.details["method"] == "INVITE"
    assert (auth.details["answered_with"], auth.details["qop"]) == ("SHA-512-256", "auth-int")
    assert evidence.call is not None
    assert evidence.call.dialogs_left_open == 0
    # The credentials travel, and never show in a finding's details.
    sent = [parse_message(e.data) for e in evidence.call.events if e.direction == "sent"]
    assert sum(m.headers.get("Authorization") is not None for m in sent) >= 1
    assert "s3cret" not in repr([f.to_dict() for f in checks.values()])


async def test_a_call_challenged_with_what_sipprobe_cannot_answer_never_reads_authenticated(
    lab: LabFiles,
) -> None:
    uas = DigestUas(['Digest realm="sipprobe.test", nonce="n", algorithm=AKAv1-MD5'])
    evidence, checks = await place_call(uas, lab)
    invite = checks["sip.invite"]
    assert "authentication" not in invite.summary, invite.summary
    assert invite.details["authenticated"] is False
    assert evidence.call is not None
    assert evidence.call.authenticated is False
    auth = checks["sip.auth"]
    assert auth.status is Status.INCOMPLETE, auth.summary
    assert auth.details["offered"] == ["Digest AKAv1-MD5"]


async def test_saved_evidence_of_a_challenge_is_judged_the_same_and_holds_no_response() -> None:
    uas = DigestUas([challenge("SHA-256", "n-saved")])
    evidence, checks = await probe_options(uas)
    written = encode(redact_evidence(without_parsed(evidence)))
    loaded = decode(written, ProbeEvidence)
    assert b"Authorization: Digest" in loaded.exchanges[0].request  # masked, not dropped
    assert loaded.auth is not None
    assert loaded.auth.challenged is not None
    again = {f.check: f for f in judge_options(loaded, OptionsPolicy())}
    assert again["sip.auth"] == checks["sip.auth"]
    assert again["sip.options"].status is checks["sip.options"].status
    sent = [r for r in uas.received if r.headers.get("Authorization")]
    response = server_params(sent[0].headers.get("Authorization") or "")["response"]
    assert response.encode() in evidence.exchanges[0].request  # sent as computed
    assert response.encode() not in loaded.exchanges[0].request  # never written
