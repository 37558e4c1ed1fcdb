"""The verification service, pure: PASSporTs built and signed here with the lab's STI PKI,
the certificate handed in as the fetcher would, and the five stir.* findings judged. A
good call passes every step; each broken one fails the step it breaks, says why, and
names what a verifier would answer (RFC 8224 §6.2.2)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.stir.credential import StiTrust
from probe.stir.model import CertificateFetch, StirEvidence
from probe.stir.tn import http_date
from probe.stir.verify import MAX_IDENTITY_FIELDS, StirPolicy, judge_identity, read_identity
from probe.tls.sti_lab import StiLab, shaken_certificate
from probe.verdict.checks.stir import STIR_CHECKS, stir_findings
from probe.verdict.findings import Finding, Status, Verdict, overall_verdict
from tests.stir.kit import CALLEE, CALLER, claims, header, identity, request, token

X5U = "https://cert.example.test/shaken.pem"


def policy(sti: StiLab, **changes: Any) -> StirPolicy:
    return StirPolicy(trust=StiTrust((sti.root.cert,), "lab STI-CA"), **changes)


def verify(
    fields: list[tuple[str, str]],
    sti: StiLab,
    *,
    body: bytes | None = None,
    fetch: CertificateFetch | None = None,
    now: float | None = None,
    request_uri: str | None = None,
    **changes: Any,
) -> tuple[StirEvidence, dict[str, Finding]]:
    reading = read_identity(fields, request_uri=request_uri)
    fetched = {
        url: fetch or CertificateFetch(url, "https", sti.chain_pem() if body is None else body)
        for url in reading.certificate_urls
    }
    evidence = judge_identity(
        reading, fetched, policy(sti, **changes), now=time.time() if now is None else now
    )
    findings = stir_findings(evidence, target="call")
    assert [finding.check for finding in findings] == list(STIR_CHECKS)
    return evidence, {finding.check: finding for finding in findings}


def signed(sti: StiLab, **claim_changes: Any) -> str:
    return identity(token(sti.shaken.key, header(X5U), claims(**claim_changes)), X5U)


def statuses(findings: dict[str, Finding]) -> dict[str, Status]:
    return {check: finding.status for check, finding in findings.items()}


def test_a_signed_call_passes_every_step(sti: StiLab) -> None:
    evidence, findings = verify(request(signed(sti)), sti)
    assert set(statuses(findings).values()) == {Status.PASS}, findings
    assert evidence.response is None
    assert "full attestation" in findings["stir.attestation"].summary
    assert "orig 15550123 is the From number" in findings["stir.claims"].summary
    certificate = findings["stir.certificate"].details["certificate"]
    assert certificate["spc"] == ["1234"]
    assert certificate["chain_ok"] is True
    assert certificate["path"][-1] == "CN=sipprobe lab STI-CA root,O=sipprobe lab"
    assert findings["stir.signature"].details["signature_valid"] is True
    assert overall_verdict(findings.values(), STIR_CHECKS) is Verdict.PASS


def test_orig_may_match_the_p_asserted_identity_instead_of_from(sti: StiLab) -> None:
    fields = request(
        signed(sti), from_="<sip:anonymous@anonymous.invalid>;tag=1", pai="<tel:+1-555-0123>"
    )
    _evidence, findings = verify(fields, sti)
    assert findings["stir.claims"].status is Status.PASS
    assert "P-Asserted-Identity" in findings["stir.claims"].summary


def test_dest_may_match_the_request_uri(sti: StiLab) -> None:
    fields = request(signed(sti), to="<sip:trunk@example.test>")
    _evidence, findings = verify(fields, sti, request_uri=f"sip:+{CALLEE}@example.test;user=phone")
    assert findings["stir.claims"].status is Status.PASS, findings["stir.claims"].summary


def assert_fails(findings: dict[str, Finding], check: str, cause: str, code: int | None) -> Finding:
    finding = findings[check]
    assert finding.status is Status.FAIL, (check, finding.summary)
    assert finding.details["cause"] == cause, finding.details
    response = finding.details["response"]
    assert (response is None) if code is None else str(response).startswith(str(code))
    assert overall_verdict(findings.values(), STIR_CHECKS) is Verdict.FAIL
    return finding


def test_a_bad_signature_fails_with_438(sti: StiLab) -> None:
    passport = token(sti.shaken.key, header(X5U), claims())
    head, body, _signature = passport.split(".")
    other = token(sti.shaken.key, header(X5U), claims(attest="C")).split(".")[2]
    evidence, findings = verify(request(identity(f"{head}.{body}.{other}", X5U)), sti)
    assert_fails(findings, "stir.signature", "signature_invalid", 438)
    assert evidence.response is not None
    assert evidence.response.code == 438
    # Attestation is claimed but proves nothing without a signature.
    assert findings["stir.attestation"].status is Status.SKIP


def test_a_claim_changed_after_signing_fails_the_signature(sti: StiLab) -> None:
    good = token(sti.shaken.key, header(X5U), claims(attest="C"))
    forged_claims = token(sti.shaken.key, header(X5U), claims(attest="A")).split(".")[1]
    head, _body, signature = good.split(".")
    _evidence, findings = verify(request(identity(f"{head}.{forged_claims}.{signature}", X5U)), sti)
    assert_fails(findings, "stir.signature", "signature_invalid", 438)


def test_a_der_signature_is_not_es256(sti: StiLab) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from probe.stir.passport import b64url_encode

    unsigned = token(sti.shaken.key, header(X5U), claims()).rsplit(".", 1)[0]
    der = sti.shaken.key.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256()))
    _evidence, findings = verify(request(identity(f"{unsigned}.{b64url_encode(der)}", X5U)), sti)
    assert_fails(findings, "stir.signature", "signature_length", 438)


def test_alg_none_is_never_accepted(sti: StiLab) -> None:
    passport = token(sti.shaken.key, header(X5U, alg="none"), claims(), signature=b"")
    unsigned = passport + "AA"  # an empty signature part is not even a JWS
    evidence, findings = verify(request(identity(unsigned, X5U, alg="none")), sti)
    assert_fails(findings, "stir.identity", "alg_none", 438)
    assert findings["stir.signature"].status is not Status.PASS
    assert evidence.response is not None
    assert evidence.response.code == 438


def test_alg_none_with_a_valid_es256_signature_still_fails(sti: StiLab) -> None:
    passport = token(sti.shaken.key, header(X5U, alg="none"), claims())
    _evidence, findings = verify(request(identity(passport, X5U, alg="none")), sti)
    assert_fails(findings, "stir.identity", "alg_none", 438)
    assert findings["stir.signature"].status is Status.SKIP


def test_a_wrong_ppt_fails_with_428(sti: StiLab) -> None:
    passport = token(sti.shaken.key, header(X5U, ppt="div"), claims())
    evidence, findings = verify(request(identity(passport, X5U, ppt="div")), sti)
    assert_fails(findings, "stir.identity", "ppt_not_shaken", 428)
    assert evidence.response is not None
    assert evidence.response.code == 428


def test_ppt_in_the_field_must_agree_with_the_passport(sti: StiLab) -> None:
    passport = token(sti.shaken.key, header(X5U, ppt="div"), claims())
    _evidence, findings = verify(request(identity(passport, X5U, ppt="shaken")), sti)
    assert findings["stir.identity"].status is Status.FAIL
    assert set(findings["stir.identity"].details["causes"]) >= {"ppt_not_shaken", "ppt_disagrees"}


def test_a_stale_iat_fails_with_403_stale_date(sti: StiLab) -> None:
    old = int(time.time()) - 3600
    fields = request(signed(sti, iat=old), date=http_date(old))
    evidence, findings = verify(fields, sti)
    finding = assert_fails(findings, "stir.claims", "date_stale", 403)
    assert "iat_stale" in finding.details["causes"]
    assert evidence.response is not None
    assert evidence.response.code == 403
    # The signature itself is good: only its age is wrong.
    assert findings["stir.signature"].status is Status.PASS


def test_iat_is_judged_against_an_injected_clock(sti: StiLab) -> None:
    now = 2_000_000_000.0
    fields = request(signed(sti, iat=int(now) - 59), date=http_date(now - 59))
    assert verify(fields, sti, now=now)[1]["stir.claims"].status is Status.PASS
    fields = request(signed(sti, iat=int(now) - 61), date=http_date(now - 59))
    _evidence, findings = verify(fields, sti, now=now)
    assert_fails(findings, "stir.claims", "iat_stale", 403)
    _evidence, findings = verify(fields, sti, now=now, freshness=120)
    assert findings["stir.claims"].status is Status.PASS


def test_iat_far_from_the_date_header_fails(sti: StiLab) -> None:
    now = time.time()
    fields = request(signed(sti, iat=int(now) - 50), date=http_date(now + 50))
    _evidence, findings = verify(fields, sti, now=now)
    assert_fails(findings, "stir.claims", "iat_date_apart", 403)


def test_orig_not_matching_from_fails(sti: StiLab) -> None:
    fields = request(signed(sti, orig={"tn": "15559999"}))
    _evidence, findings = verify(fields, sti)
    finding = assert_fails(findings, "stir.claims", "orig_mismatch", 438)
    assert "15559999" in finding.summary
    assert CALLER in finding.summary


def test_dest_not_naming_the_callee_fails(sti: StiLab) -> None:
    _evidence, findings = verify(request(signed(sti, dest={"tn": ["15558888"]})), sti)
    assert_fails(findings, "stir.claims", "dest_mismatch", 438)


def test_a_non_canonical_orig_warns_and_is_compared_canonicalised(sti: StiLab) -> None:
    _evidence, findings = verify(request(signed(sti, orig={"tn": "+1-555-0123"})), sti)
    assert findings["stir.claims"].status is Status.WARN
    assert findings["stir.claims"].details["cause"] == "orig_not_canonical"


def test_a_certificate_without_tnauthlist_fails_with_437(sti: StiLab) -> None:
    bare = shaken_certificate(sti.intermediate, tn_auth_list=False)
    passport = token(bare.key, header(X5U), claims())
    _evidence, findings = verify(request(identity(passport, X5U)), sti, body=sti.chain_pem(bare))
    assert_fails(findings, "stir.certificate", "tnauthlist_missing", 437)
    assert findings["stir.signature"].status is Status.PASS
    assert findings["stir.attestation"].status is Status.SKIP


def test_a_tnauthlist_of_numbers_must_cover_the_caller(sti: StiLab) -> None:
    listed = shaken_certificate(
        sti.intermediate, spc=None, tns=("15557777",), ranges=(("15550200", 50),)
    )
    passport = token(listed.key, header(X5U), claims())
    _evidence, findings = verify(request(identity(passport, X5U)), sti, body=sti.chain_pem(listed))
    assert_fails(findings, "stir.certificate", "tnauthlist_not_orig", 438)
    covering = shaken_certificate(sti.intermediate, spc=None, ranges=(("15550100", 50),))
    passport = token(covering.key, header(X5U), claims())
    _evidence, findings = verify(
        request(identity(passport, X5U)), sti, body=sti.chain_pem(covering)
    )
    assert findings["stir.certificate"].status is Status.PASS
    assert "covers the originating number" in findings["stir.certificate"].summary


def test_a_certificate_from_another_sti_ca_fails_with_437(sti: StiLab, other_sti: StiLab) -> None:
    passport = token(other_sti.shaken.key, header(X5U), claims())
    _evidence, findings = verify(request(identity(passport, X5U)), sti, body=other_sti.chain_pem())
    assert_fails(findings, "stir.certificate", "chain_untrusted", 437)


def test_without_a_trust_list_no_certificate_is_trusted(sti: StiLab) -> None:
    reading = read_identity(request(signed(sti)))
    fetched = {
        url: CertificateFetch(url, "https", sti.chain_pem()) for url in reading.certificate_urls
    }
    evidence = judge_identity(reading, fetched, StirPolicy(), now=time.time())
    findings = {f.check: f for f in stir_findings(evidence, target="call")}
    assert_fails(findings, "stir.certificate", "no_sti_trust", 437)


def test_an_expired_certificate_fails_with_437(sti: StiLab) -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    expired = shaken_certificate(
        sti.intermediate,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    passport = token(expired.key, header(X5U), claims())
    _evidence, findings = verify(request(identity(passport, X5U)), sti, body=sti.chain_pem(expired))
    assert_fails(findings, "stir.certificate", "certificate_expired", 437)


def test_a_certificate_that_could_not_be_fetched_fails_with_436(sti: StiLab) -> None:
    fetch = CertificateFetch(X5U, "https", None, cause="timeout", problem="no answer within 2 s")
    evidence, findings = verify(request(signed(sti)), sti, fetch=fetch)
    finding = assert_fails(findings, "stir.certificate", "x5u_timeout", 436)
    assert "no answer within 2 s" in finding.summary
    assert findings["stir.signature"].status is Status.SKIP
    assert evidence.response is not None
    assert evidence.response.code == 436


def test_a_body_that_is_no_certificate_fails_with_437(sti: StiLab) -> None:
    _evidence, findings = verify(request(signed(sti)), sti, body=b"<html>hello</html>")
    assert_fails(findings, "stir.certificate", "certificate_unreadable", 437)


def test_no_identity_header_fails_with_428_or_is_skipped(sti: StiLab) -> None:
    evidence, findings = verify(request(), sti)
    assert_fails(findings, "stir.identity", "identity_missing", 428)
    assert "428 Use Identity Header" in findings["stir.identity"].summary
    assert evidence.response is not None
    assert evidence.response.code == 428
    assert all(f.status is Status.SKIP for c, f in findings.items() if c != "stir.identity")
    evidence, findings = verify(request(), sti, required=False)
    assert set(statuses(findings).values()) == {Status.SKIP}
    assert evidence.response is None
    # Skips conclude nothing: the STIR checks are still owed.
    assert overall_verdict(findings.values(), STIR_CHECKS) is Verdict.INCOMPLETE


def test_attestation_b_and_c_warn_and_a_minimum_fails(sti: StiLab) -> None:
    _evidence, findings = verify(request(signed(sti, attest="B")), sti)
    assert findings["stir.attestation"].status is Status.WARN
    assert "partial attestation" in findings["stir.attestation"].summary
    _evidence, findings = verify(request(signed(sti, attest="C")), sti, min_attest="B")
    assert_fails(findings, "stir.attestation", "attest_below_minimum", None)


@pytest.mark.parametrize("attest", [None, "D", "a", 1])
def test_a_missing_or_unknown_attestation_fails(sti: StiLab, attest: object) -> None:
    _evidence, findings = verify(request(signed(sti, attest=attest)), sti)
    cause = "attest_missing" if attest is None else "attest_invalid"
    assert_fails(findings, "stir.attestation", cause, 438)


def test_a_compact_shaken_passport_is_refused_as_atis_requires(sti: StiLab) -> None:
    signature = token(sti.shaken.key, header(X5U), claims()).split(".")[2]
    _evidence, findings = verify(request(identity(f"..{signature}", X5U)), sti)
    assert_fails(findings, "stir.identity", "compact_shaken", 438)
    assert {findings[c].status for c in STIR_CHECKS[1:]} == {Status.SKIP}


def test_a_compact_passport_is_rebuilt_from_the_request_and_verified(sti: StiLab) -> None:
    # RFC 8224 §4.1.1: header from the field's parameters, orig/dest from From/To, iat
    # from Date; without ppt it is a base PASSporT, which SHAKEN does not accept.
    now = int(time.time())
    base_header = {"alg": "ES256", "typ": "passport", "x5u": X5U}
    base_claims = {"dest": {"tn": [CALLEE]}, "iat": now, "orig": {"tn": CALLER}}
    signature = token(sti.shaken.key, base_header, base_claims).split(".")[2]
    fields = request(identity(f"..{signature}", X5U, ppt=None), date=http_date(now))
    evidence, findings = verify(fields, sti, now=now)
    assert evidence.checks[0].form == "compact"
    assert findings["stir.signature"].status is Status.PASS
    assert "rebuilt from the request" in findings["stir.signature"].summary
    assert_fails(findings, "stir.identity", "ppt_not_shaken", 428)
    # The same signature does not verify once the request names another caller.
    fields = request(
        identity(f"..{signature}", X5U, ppt=None), date=http_date(now), from_="<sip:+15559999@x>"
    )
    _evidence, findings = verify(fields, sti, now=now)
    assert findings["stir.signature"].status is Status.FAIL


def test_the_first_verifying_field_of_several_is_judged(sti: StiLab) -> None:
    broken = identity(token(sti.shaken.key, header(X5U, ppt="div"), claims()), X5U, ppt="div")
    evidence, findings = verify(request(broken, signed(sti)), sti)
    assert evidence.chosen == 1
    assert set(statuses(findings).values()) == {Status.PASS}
    assert findings["stir.identity"].details["judged_field"] == 1


def test_fields_beyond_the_limit_are_counted_not_read(sti: StiLab) -> None:
    fields = request(*["x.y.z;info=<https://x>"] * (MAX_IDENTITY_FIELDS + 3))
    evidence, findings = verify(fields, sti)
    assert len(evidence.checks) == MAX_IDENTITY_FIELDS
    assert evidence.ignored_fields == 3
    assert findings["stir.identity"].status is Status.FAIL


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "a.b.c;info=<https://x>",
        "e30.e30.AA;info=<https://x>",
        "W10.W10.AA;info=<https://x>",
        '..AA;info=<https://x>;ppt="shaken"',
        "..!!;info=<https://x>",
        "..AA;info=<https://x>",
    ],
)
def test_hostile_fields_fail_without_an_exception(sti: StiLab, value: str) -> None:
    evidence, findings = verify(request(value, date=None), sti)
    assert findings["stir.identity"].status is Status.FAIL or evidence.response is not None
    assert overall_verdict(findings.values(), STIR_CHECKS) is Verdict.FAIL
    assert Status.PASS not in {
        findings["stir.signature"].status,
        findings["stir.attestation"].status,
    }


def test_the_evidence_serialises_without_the_certificate_body(sti: StiLab) -> None:
    import json

    evidence, _findings = verify(request(signed(sti)), sti)
    text = json.dumps(evidence.to_dict())
    assert "BEGIN CERTIFICATE" not in text
    assert '"bytes": ' in text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
CLAIM_NAMES = st.sampled_from(["attest", "dest", "iat", "orig", "origid", "x"])


@settings(max_examples=150, deadline=None)
@given(
    claim_values=st.dictionaries(CLAIM_NAMES, JSON | st.integers(min_value=10**20), max_size=6),
    header_values=st.dictionaries(st.sampled_from(["alg", "ppt", "typ", "x5u", "kid"]), JSON),
)
def test_any_signed_json_is_judged_without_an_exception(
    sti: StiLab, claim_values: dict[str, Any], header_values: dict[str, Any]
) -> None:
    passport = token(sti.shaken.key, {**header(X5U), **header_values}, claim_values)
    evidence, findings = verify(request(identity(passport, X5U)), sti)
    assert len(findings) == len(STIR_CHECKS)
    # Random claims never name this call's caller, callee and time: never a pass.
    assert overall_verdict(findings.values(), STIR_CHECKS) is Verdict.FAIL
    assert evidence.response is not None


def test_a_critical_tnauthlist_is_refused_by_path_validation_and_says_so(sti: StiLab) -> None:
    critical = shaken_certificate(sti.intermediate, critical=True)
    passport = token(critical.key, header(X5U), claims())
    _evidence, findings = verify(
        request(identity(passport, X5U)), sti, body=sti.chain_pem(critical)
    )
    finding = assert_fails(findings, "stir.certificate", "chain_untrusted", 437)
    assert "critical" in finding.summary


def test_the_lab_shaken_certificate_has_the_atis_profile(sti: StiLab) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from probe.stir.tnauthlist import OID, parse_tn_auth_list

    cert = sti.shaken.cert
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert cert.subject.rfc4514_string() == "CN=SHAKEN 1234,O=sipprobe lab"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    extension = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(OID))
    assert not extension.critical
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    parsed, _why = parse_tn_auth_list(extension.value.value)
    assert parsed is not None
    assert parsed.spcs == ("1234",)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_a_hostile_or_unsuitable_certificate_is_a_finding(sti: StiLab) -> None:
    from cryptography import x509

    from probe.tls.pki import RawExtension, make_leaf, raw_dns_name, raw_subject_alt_name

    duplicated = make_leaf(
        sti.intermediate,
        common_name="SHAKEN 1234",
        key_type="ec",
        dns_names=["a.test"],
        raw_extensions=[raw_subject_alt_name(raw_dns_name("b.test"))],
    )
    _evidence, findings = verify(request(signed(sti)), sti, body=sti.chain_pem(duplicated))
    assert_fails(findings, "stir.certificate", "certificate_unreadable", 437)

    rsa_leaf = make_leaf(
        sti.intermediate,
        common_name="SHAKEN 1234",
        server_auth=False,
        raw_extensions=[
            RawExtension(
                x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26"),
                bytes.fromhex("3008a0061604") + b"1234",
            )
        ],
    )
    _evidence, findings = verify(request(signed(sti)), sti, body=sti.chain_pem(rsa_leaf))
    finding = assert_fails(findings, "stir.certificate", "key_not_p256", 437)
    assert "RSA" in finding.summary
    assert findings["stir.signature"].status is Status.SKIP
