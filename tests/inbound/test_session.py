"""`inbound.tls` and `inbound.client_cert`: the TLS session a trunk opened to us, and the
certificate it proved itself with, judged by the same chain, validity and identity code
as a server's chain, for the client role."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.inbound import InboundCall
from probe.tls.pki import make_leaf
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.inbound import judge_inbound
from probe.verdict.checks.policy import InboundPolicy, TlsPolicy
from probe.verdict.findings import CheckId, Finding, Status, TargetResult, Verdict
from tests.evidence.sample import lab
from tests.inbound import kit


def judged(call: InboundCall, policy: InboundPolicy | None = None) -> TargetResult:
    _trunk, results = judge_inbound(kit.evidence(call), policy or kit.policy())
    (result,) = results
    return result


def finding(result: TargetResult, check: str) -> Finding:
    found = [f for f in result.findings if f.check == check]
    assert len(found) == 1, [f.check for f in result.findings]
    return found[0]


def test_a_good_call_over_mutual_tls_passes_every_check() -> None:
    result = judged(kit.good_call())
    assert result.verdict is Verdict.PASS, [(f.check, f.summary) for f in result.findings]
    assert result.missing == ()
    assert {CheckId.INBOUND_TLS, CheckId.INBOUND_CLIENT_CERT} <= set(result.required)
    cert = finding(result, CheckId.INBOUND_CLIENT_CERT)
    assert "valid for sbc.example.test (sip:sbc.example.test)" in cert.summary
    assert cert.details["parts"]["chain"]["status"] == "pass"
    assert cert.details["leaf"]["subject"]
    assert result.target.label == "inbound call 1 from 192.0.2.7:5061/tls"


def test_a_call_over_tcp_fails_when_tls_is_required_and_names_the_cleartext() -> None:
    call = kit.good_call(transport="tcp", tls=None)
    result = judged(call)
    tls = finding(result, CheckId.INBOUND_TLS)
    assert tls.status is Status.FAIL
    assert "came over TCP, not TLS" in tls.summary
    # Mutual TLS was required: a TCP call cannot prove who it is.
    assert finding(result, CheckId.INBOUND_CLIENT_CERT).status is Status.FAIL
    assert result.verdict is Verdict.FAIL


def test_a_tcp_call_is_not_owed_tls_when_the_policy_allows_it() -> None:
    call = kit.good_call(transport="tcp", tls=None, invite=kit.invite(kit.offer("RTP/AVP", ())))
    policy = kit.policy(require_tls=False, require_client_cert=False, expect_peer=())
    result = judged(call, policy)
    assert finding(result, CheckId.INBOUND_TLS).status is Status.SKIP
    assert CheckId.INBOUND_TLS not in result.required
    assert CheckId.INBOUND_CLIENT_CERT not in {f.check for f in result.findings}


@pytest.mark.parametrize(
    ("version", "cipher", "status", "words"),
    [
        ("TLSv1.1", "ECDHE-RSA-AES128-SHA", Status.FAIL, "below the 1.2 minimum"),
        ("TLSv1.2", "AES128-SHA", Status.WARN, "weak (RSA key exchange: no forward secrecy)"),
        ("TLSv1.2", "NULL-SHA256", Status.FAIL, "insecure (no encryption)"),
        ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", Status.PASS, "(minimum 1.2)"),
        ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", Status.PASS, "(minimum 1.2)"),
        ("SSLv3", "RC4-SHA", Status.FAIL, "below the 1.2 minimum"),
    ],
)
def test_the_session_is_graded_as_an_outbound_one(
    version: str, cipher: str, status: Status, words: str
) -> None:
    call = kit.good_call(tls=kit.session(version=version, cipher=cipher))
    tls = finding(judged(call), CheckId.INBOUND_TLS)
    assert tls.status is status, tls.summary
    assert words in tls.summary
    assert tls.details["version"] == version


def test_the_minimum_version_is_the_policy_s() -> None:
    call = kit.good_call(tls=kit.session(version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256"))
    strict = kit.policy(tls=TlsPolicy(min_version="1.3"))
    tls = finding(judged(call, strict), CheckId.INBOUND_TLS)
    assert tls.status is Status.FAIL
    assert "below the 1.3 minimum" in tls.summary


def test_a_tls_call_without_a_recorded_session_is_an_error_not_a_pass() -> None:
    result = judged(kit.good_call(tls=None))
    assert finding(result, CheckId.INBOUND_TLS).status is Status.ERROR
    assert result.verdict is Verdict.FAIL


def test_no_client_certificate_fails_when_mutual_tls_is_required() -> None:
    call = kit.good_call(tls=kit.session(client_chain=(), client_cert_requested=False))
    cert = finding(judged(call), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "presented no client certificate, and mutual TLS is required" in cert.summary
    assert "the listener did not ask for one" in cert.summary


def test_no_client_certificate_warns_when_only_names_are_expected() -> None:
    call = kit.good_call(tls=kit.session(client_chain=()))
    cert = finding(judged(call, kit.policy(require_client_cert=False)), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.WARN
    assert "nothing proves it is sbc.example.test" in cert.summary


def test_no_client_certificate_and_no_expectation_is_neither_owed_nor_failed() -> None:
    call = kit.good_call(tls=kit.session(client_chain=()))
    policy = kit.policy(require_client_cert=False, expect_peer=())
    result = judged(call, policy)
    assert finding(result, CheckId.INBOUND_CLIENT_CERT).status is Status.SKIP
    assert CheckId.INBOUND_CLIENT_CERT not in result.required
    assert result.verdict is Verdict.PASS


def test_a_handshake_that_failed_after_asking_for_a_certificate_fails_with_its_error() -> None:
    call = kit.good_call(tls=kit.session(error="peer did not return a certificate"))
    cert = finding(judged(call), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "after we asked for a client certificate: peer did not return" in cert.summary


def test_a_certificate_for_another_name_fails_identity_as_rfc_5922_says() -> None:
    policy = kit.policy(expect_peer=("carrier.example.test",))
    cert = finding(judged(kit.good_call(), policy), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "carrier.example.test" in cert.summary
    assert cert.details["parts"]["identity"]["status"] == "fail"
    assert cert.details["parts"]["chain"]["status"] == "pass"


def test_any_of_several_expected_names_may_be_the_one_proven() -> None:
    policy = kit.policy(expect_peer=("carrier.example.test", kit.PEER_NAME))
    cert = finding(judged(kit.good_call(), policy), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.PASS, cert.summary
    assert cert.details["identity"]["domain"] == kit.PEER_NAME


def test_a_certificate_proving_none_of_several_names_says_so() -> None:
    policy = kit.policy(expect_peer=("a.example.test", "b.example.test"))
    cert = finding(judged(kit.good_call(), policy), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "none of the expected peer names (a.example.test, b.example.test)" in cert.summary


def test_a_chain_to_another_ca_fails_and_says_the_caller_sent_it() -> None:
    other = TrustAnchors((lab().other_root.cert,), "another root")
    cert = finding(judged(kit.good_call(), kit.policy(anchors=other)), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "not in the trust store (another root)" in cert.summary
    assert "the caller left out a further intermediate" in cert.summary
    assert "the server" not in cert.summary


def test_an_expired_client_certificate_fails() -> None:
    later = kit.policy(now=kit.NOW + dt.timedelta(days=3650))
    cert = finding(judged(kit.good_call(), later), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "expired" in cert.summary


@functools.cache
def _server_only_chain() -> tuple[bytes, ...]:
    pki = lab()
    leaf = make_leaf(
        pki.intermediate,
        common_name=kit.PEER_NAME,
        dns_names=[kit.PEER_NAME],
        sip_uris=[f"sip:{kit.PEER_NAME}"],
        server_auth=True,
        client_auth=False,
        key=pki.server.key,
        now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    return tuple(c.public_bytes(Encoding.DER) for c in (leaf.cert, pki.intermediate.cert))


def test_a_server_only_certificate_cannot_authenticate_a_caller() -> None:
    # RFC 5280 §4.2.1.12: the client role needs clientAuth (or id-kp-sipDomain, RFC 5924).
    call = kit.good_call(tls=kit.session(client_chain=_server_only_chain()))
    cert = finding(judged(call), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "clientAuth" in cert.summary
    assert cert.details["parts"]["eku"]["status"] == "fail"


def test_a_client_only_certificate_is_judged_for_the_client_role() -> None:
    # The lab's client leaf has clientAuth alone: as a server's it fails its EKU; as a
    # caller's it is exactly right.
    pki = lab()
    chain = tuple(c.cert.public_bytes(Encoding.DER) for c in (pki.client, pki.intermediate))
    call = kit.good_call(tls=kit.session(client_chain=chain))
    cert = finding(
        judged(call, kit.policy(expect_peer=("sipprobe-client",))), "inbound.client_cert"
    )
    assert cert.status is Status.PASS, cert.summary
    assert cert.details["parts"]["eku"]["status"] == "pass"


def test_without_trust_anchors_a_required_certificate_is_not_verified() -> None:
    result = judged(kit.good_call(), kit.policy(anchors=None))
    cert = finding(result, CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.INCOMPLETE
    assert result.verdict is Verdict.INCOMPLETE


def test_a_client_chain_needs_the_instant_it_is_judged_at() -> None:
    with pytest.raises(ValueError, match="now must be set"):
        judged(kit.good_call(), replace(kit.policy(), now=None))


def test_an_unparsable_client_certificate_fails_naming_the_caller() -> None:
    call = kit.good_call(tls=kit.session(client_chain=(b"\x30\x03\x02\x01\x00",)))
    cert = finding(judged(call), CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "the caller sent cannot be parsed" in cert.summary


def test_judging_a_call_without_a_client_chain_never_loads_cryptography() -> None:
    # A fresh interpreter: what other tests loaded cannot hide the import.
    import subprocess
    import sys

    script = (
        "import sys, datetime as dt\n"
        "from probe.evidence.inbound import InboundCall, InboundEvidence, InboundExpectation\n"
        "from probe.verdict.checks.inbound import judge_inbound\n"
        "from probe.verdict.checks.policy import InboundPolicy\n"
        "call = InboundCall(1, 'tcp', '192.0.2.7:5060', '198.51.100.20:5060', 0.0,"
        f" {kit.invite()!r})\n"
        "evidence = InboundEvidence((), InboundExpectation(), (call,))\n"
        "now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)\n"
        "_trunk, (result,) = judge_inbound(evidence, InboundPolicy(now=now))\n"
        "assert result.findings\n"
        "print('cryptography' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
