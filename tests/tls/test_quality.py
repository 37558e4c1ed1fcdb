"""Quality verdicts (validity, keys, signatures, EKU) and the chain tree, on lab variants."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from probe.tls import pki
from probe.tls.lab import VARIANT_NAMES, Lab, build_lab
from probe.tls.quality import (
    DEFAULT_CRITICAL_DAYS,
    DEFAULT_WARN_DAYS,
    Verdict,
    chain_tree,
    judge_client_eku,
    judge_eku,
    judge_keys,
    judge_signatures,
    judge_validity,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
INTERMEDIATE = "intermediate 'sipprobe lab intermediate CA'"


@pytest.fixture(scope="module")
def lab() -> Lab:
    return build_lab(now=NOW)


def chain_of(lab: Lab, name: str) -> list[x509.Certificate]:
    return list(lab.variants[name].chain)


def leaf_of(lab: Lab, name: str) -> x509.Certificate:
    return lab.variants[name].chain[0]


def json_round_trip(verdict: Verdict) -> None:
    details = verdict.details()
    assert json.loads(json.dumps(details)) == details
    assert "status" not in details
    assert "summary" not in details


# --- validity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "status", "summary"),
    [
        (
            "good-via-intermediate",
            "pass",
            "leaf sip.example.test expires first, in 365 days (2027-03-01T12:00:00Z); nothing "
            "expires within the 30-day warning window",
        ),
        ("expired", "fail", "leaf sip.example.test expired 10 days ago (2026-02-19T12:00:00Z)"),
        (
            "not-yet-valid",
            "fail",
            "leaf sip.example.test is not valid until 2026-03-11T12:00:00Z (in 10 days); "
            "check the certificate's dates or the clocks",
        ),
        (
            "expiring-3-days",
            "fail",
            "leaf sip.example.test expires in 3 days (2026-03-04T12:00:00Z), inside the 7-day "
            "critical window",
        ),
    ],
)
def test_validity_of_variants(lab: Lab, variant: str, status: str, summary: str) -> None:
    verdict = judge_validity([*chain_of(lab, variant), lab.root.cert], now=NOW)
    assert verdict.status == status
    assert verdict.summary == summary
    assert verdict.earliest == "leaf sip.example.test"
    json_round_trip(verdict)


@pytest.mark.parametrize(
    ("offset", "days", "status", "words"),
    [
        (31 * DAY, 31, "pass", "nothing expires within the 30-day warning window"),
        (30 * DAY, 30, "warn", "expires in 30 days (2027-03-01T12:00:00Z), inside the 30-day"),
        (8 * DAY, 8, "warn", "expires in 8 days (2027-03-01T12:00:00Z), inside the 30-day"),
        (7 * DAY, 7, "fail", "expires in 7 days (2027-03-01T12:00:00Z), inside the 7-day"),
        (dt.timedelta(hours=1), 0, "fail", "expires in less than a day (2027-03-01T12:00:00Z)"),
        (dt.timedelta(hours=-1), -1, "fail", "expired less than a day ago (2027-03-01T12:00:00Z)"),
    ],
    ids=["31", "30", "8", "7", "0", "-1"],
)
def test_validity_windows(
    lab: Lab, offset: dt.timedelta, days: int, status: str, words: str
) -> None:
    chain = chain_of(lab, "good-via-intermediate")
    now = chain[0].not_valid_after_utc - offset
    verdict = judge_validity([*chain, lab.root.cert], now=now)
    assert verdict.status == status
    assert words in verdict.summary
    assert verdict.summary.startswith("leaf sip.example.test")
    assert verdict.leaf_days_left == days
    assert verdict.earliest_days_left == days
    details = verdict.details()
    assert details["leaf_days_left"] == days
    assert details["earliest_days_left"] == days
    assert (details["warn_days"], details["critical_days"]) == (
        DEFAULT_WARN_DAYS,
        DEFAULT_CRITICAL_DAYS,
    )


def test_validity_on_the_last_instant_is_still_valid(lab: Lab) -> None:
    leaf = leaf_of(lab, "good-via-intermediate")
    verdict = judge_validity([leaf], now=leaf.not_valid_after_utc)  # RFC 5280: inclusive
    assert verdict.certificates[0].state == "critical"
    assert verdict.leaf_days_left == 0


def test_custom_windows(lab: Lab) -> None:
    chain = chain_of(lab, "expiring-3-days")
    verdict = judge_validity(chain, now=NOW, warn_days=5, critical_days=2)
    assert verdict.status == "warn"
    assert "inside the 5-day warning window" in verdict.summary
    with pytest.raises(ValueError, match="critical_days"):
        judge_validity(chain, now=NOW, warn_days=2, critical_days=5)


def test_expiring_intermediate_is_named_before_the_leaf(lab: Lab) -> None:
    short = pki.make_intermediate_ca(lab.root, "short-lived CA", now=NOW, days=20, key_type="ec")
    leaf = pki.make_leaf(short, common_name="sip.example.test", key_type="ec", now=NOW).cert
    verdict = judge_validity([leaf, short.cert, lab.root.cert], now=NOW)
    assert verdict.status == "warn"
    assert verdict.summary.startswith("intermediate 'short-lived CA' expires in 20 days")
    assert verdict.earliest == "intermediate 'short-lived CA'"
    assert (verdict.leaf_days_left, verdict.earliest_days_left) == (365, 20)
    later = judge_validity([leaf, short.cert, lab.root.cert], now=NOW + 30 * DAY)
    assert later.status == "fail"
    assert later.summary.startswith("intermediate 'short-lived CA' expired 10 days ago")
    assert [w.state for w in later.certificates] == ["valid", "expired", "valid"]


def test_expiring_anchor_is_judged_too(lab: Lab) -> None:
    root = pki.make_root_ca("dying root", now=NOW, days=5, key_type="ec")
    leaf = pki.make_leaf(root, common_name="sip.example.test", key_type="ec", now=NOW).cert
    assert judge_validity([leaf], now=NOW).status == "pass"
    verdict = judge_validity([leaf, root.cert], now=NOW)
    assert verdict.status == "fail"
    assert verdict.summary.startswith("root 'dying root' expires in 5 days")
    assert [w.role for w in verdict.certificates] == ["leaf", "root"]


def test_every_failing_certificate_is_named(lab: Lab) -> None:
    verdict = judge_validity([leaf_of(lab, "expired"), leaf_of(lab, "not-yet-valid")], now=NOW)
    assert verdict.status == "fail"
    assert "expired 10 days ago" in verdict.summary
    assert "is not valid until" in verdict.summary


def test_validity_of_nothing_and_naive_now(lab: Lab) -> None:
    assert judge_validity([], now=NOW).status == "fail"
    verdict = judge_validity(chain_of(lab, "good"), now=NOW.replace(tzinfo=None))
    assert verdict.leaf_days_left == 365


# --- keys ------------------------------------------------------------------------------


def test_rsa_1024_fails_with_its_size(lab: Lab) -> None:
    verdict = judge_keys(chain_of(lab, "rsa-1024"))
    assert verdict.status == "fail"
    assert verdict.summary.startswith("leaf sip.example.test has a 1024-bit RSA key")
    assert "2048" in verdict.summary
    keys = verdict.details()["keys"]
    assert [(k["key"], k["status"]) for k in keys] == [("RSA 1024", "fail"), ("RSA 2048", "pass")]
    json_round_trip(verdict)


@pytest.mark.parametrize("variant", [name for name in VARIANT_NAMES if name != "rsa-1024"])
def test_every_other_variant_has_acceptable_keys(lab: Lab, variant: str) -> None:
    verdict = judge_keys([*chain_of(lab, variant), lab.root.cert])
    assert verdict.status == "pass"
    assert verdict.summary.startswith("every key is acceptable: leaf ")
    assert "RSA 2048" in verdict.summary


def test_weak_key_anywhere_is_named(lab: Lab) -> None:
    weak_root = pki.make_root_ca("weak root", now=NOW, key=pki.generate_key(rsa_bits=1024))
    verdict = judge_keys([leaf_of(lab, "good"), weak_root.cert])
    assert verdict.status == "fail"
    assert verdict.summary.startswith("root 'weak root' has a 1024-bit RSA key")


@pytest.mark.parametrize(
    ("key", "text", "status"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "EC P-256", "pass"),
        (ec.generate_private_key(ec.SECP384R1()), "EC P-384", "pass"),
        (ec.generate_private_key(ec.SECP521R1()), "EC P-521", "pass"),
        (ec.generate_private_key(ec.SECP256K1()), "EC secp256k1", "warn"),
        (ec.generate_private_key(ec.BrainpoolP256R1()), "EC brainpoolP256r1", "warn"),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519", "pass"),
        (ed448.Ed448PrivateKey.generate(), "Ed448", "pass"),
        (dsa.generate_private_key(1024), "DSA 1024", "fail"),
    ],
    ids=["p256", "p384", "p521", "secp256k1", "brainpool", "ed25519", "ed448", "dsa"],
)
def test_key_kinds(lab: Lab, key: pki.PrivateKey, text: str, status: str) -> None:
    leaf = pki.make_leaf(lab.intermediate, common_name="k.example.test", key=key, now=NOW).cert
    verdict = judge_keys([leaf])
    assert verdict.status == status
    assert verdict.keys[0].key == text
    if status == "pass":
        assert verdict.summary == f"every key is acceptable: leaf k.example.test {text}"
    else:
        assert verdict.summary.startswith("leaf k.example.test has a")
        assert text.split()[-1] in verdict.summary  # the curve, or the DSA size


# --- signatures ------------------------------------------------------------------------


def test_sha1_leaf_fails_and_is_named(lab: Lab) -> None:
    verdict = judge_signatures([*chain_of(lab, "sha1-signed"), lab.root.cert], anchor=lab.root.cert)
    assert verdict.status == "fail"
    assert verdict.summary.startswith(
        "leaf sip.example.test (sha1WithRSAEncryption) is signed with SHA-1"
    )
    assert "intermediate" not in verdict.summary
    rows = verdict.details()["signatures"]
    assert [(r["role"], r["algorithm"], r["judged"], r["status"]) for r in rows] == [
        ("leaf", "sha1WithRSAEncryption", True, "fail"),
        ("intermediate", "sha256WithRSAEncryption", True, "pass"),
        ("anchor", "sha256WithRSAEncryption", False, "pass"),
    ]
    json_round_trip(verdict)
    # Unverified (the verifier refuses SHA-1, so there is no anchor): still named.
    assert judge_signatures(chain_of(lab, "sha1-signed"), anchor=None).status == "fail"


@pytest.mark.parametrize("variant", [name for name in VARIANT_NAMES if name != "sha1-signed"])
def test_every_other_variant_has_strong_signatures(lab: Lab, variant: str) -> None:
    verdict = judge_signatures(chain_of(lab, variant), anchor=None)
    assert verdict.status == "pass"
    assert verdict.summary == (
        "every certificate below the trust anchor is signed with sha256WithRSAEncryption"
    )


@pytest.fixture(scope="module")
def sha1_root() -> tuple[pki.Issued, pki.Issued, x509.Certificate]:
    root = pki.make_root_ca("old root", now=NOW, hash_alg=hashes.SHA1())
    intermediate = pki.make_intermediate_ca(root, "new intermediate", now=NOW, key=root.key)
    leaf = pki.make_leaf(intermediate, common_name="sip.example.test", key_type="ec", now=NOW)
    return root, intermediate, leaf.cert


def test_anchor_sha1_self_signature_is_ignored(
    sha1_root: tuple[pki.Issued, pki.Issued, x509.Certificate],
) -> None:
    root, intermediate, leaf = sha1_root
    assert root.cert.signature_hash_algorithm is not None
    assert root.cert.signature_hash_algorithm.name == "sha1"
    # The anchor given separately, or also sent by the server: either way it is not judged.
    for chain in ([leaf, intermediate.cert], [leaf, intermediate.cert, root.cert]):
        verdict = judge_signatures(chain, anchor=root.cert)
        assert verdict.status == "pass"
        assert (
            "self-signature of trust anchor 'old root' uses sha1WithRSAEncryption"
            in verdict.summary
        )
        assert "does not matter" in verdict.summary
        anchor_row = verdict.details()["signatures"][-1]
        assert (anchor_row["role"], anchor_row["judged"]) == ("anchor", False)
    # Without a verified path, a self-signed CA the server sent is not judged either.
    assert judge_signatures([leaf, intermediate.cert, root.cert], anchor=None).status == "pass"


def test_sha1_and_md5_below_the_anchor_are_all_named(
    sha1_root: tuple[pki.Issued, pki.Issued, x509.Certificate],
) -> None:
    root = sha1_root[0]
    md5_ca = pki.make_intermediate_ca(root, "md5 CA", now=NOW, key=root.key, hash_alg=hashes.MD5())
    leaf = pki.make_leaf(
        md5_ca, common_name="sip.example.test", key_type="ec", hash_alg=hashes.SHA1(), now=NOW
    )
    verdict = judge_signatures([leaf.cert, md5_ca.cert], anchor=root.cert)
    assert verdict.status == "fail"
    assert verdict.summary.startswith(
        "leaf sip.example.test (sha1WithRSAEncryption) and intermediate 'md5 CA' "
        "(md5WithRSAEncryption) are signed with MD5 and SHA-1"
    )


def test_signatures_of_nothing() -> None:
    assert judge_signatures([], anchor=None).status == "fail"


# --- EKU -------------------------------------------------------------------------------


def eku_leaf(lab: Lab, usages: Sequence[x509.ObjectIdentifier]) -> x509.Certificate:
    """A leaf with exactly `usages` (make_leaf cannot write anyExtendedKeyUsage)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=eku.example.test"))
        .issuer_name(lab.intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    )
    return builder.sign(lab.intermediate.key, hashes.SHA256())


def test_eku_server_and_client(lab: Lab) -> None:
    verdict = judge_eku(leaf_of(lab, "good"))
    assert verdict.status == "pass"
    assert verdict.summary == "leaf sip.example.test allows serverAuth and clientAuth"
    assert verdict.details() == {
        "extension_present": True,
        "server_auth": True,
        "client_auth": True,
        "sip_domain": False,
        "any_purpose": False,
        "ekus": ["serverAuth", "clientAuth"],
    }
    json_round_trip(verdict)


def test_eku_server_only_mentions_client_auth(lab: Lab) -> None:
    leaf = pki.make_leaf(lab.intermediate, common_name="s.example.test", key_type="ec", now=NOW)
    verdict = judge_eku(leaf.cert)
    assert verdict.status == "pass"
    assert verdict.summary.startswith("leaf s.example.test allows serverAuth; without clientAuth")
    assert "Microsoft Teams" in verdict.summary
    assert (verdict.server_auth, verdict.client_auth) == (True, False)


def test_eku_sip_domain_only_passes_with_a_note(lab: Lab) -> None:
    verdict = judge_eku(leaf_of(lab, "sip-domain-only"))
    assert verdict.status == "pass"
    assert verdict.summary.startswith("leaf sip.example.test allows sipDomain: id-kp-sipDomain")
    assert "RFC 5924" in verdict.summary
    assert (verdict.server_auth, verdict.client_auth, verdict.sip_domain) == (False, False, True)
    assert verdict.ekus == ("sipDomain",)


def test_eku_client_auth_only_fails(lab: Lab) -> None:
    verdict = judge_eku(leaf_of(lab, "no-server-auth"))
    assert verdict.status == "fail"
    assert verdict.summary.startswith(
        "leaf sip.example.test allows only clientAuth, neither serverAuth nor id-kp-sipDomain"
    )
    assert (verdict.server_auth, verdict.client_auth, verdict.sip_domain) == (False, True, False)


def test_eku_absent_is_unrestricted(lab: Lab) -> None:
    leaf = pki.make_leaf(
        lab.intermediate, common_name="n.example.test", server_auth=False, key_type="ec", now=NOW
    )
    verdict = judge_eku(leaf.cert)
    assert verdict.status == "pass"
    assert "no extendedKeyUsage extension" in verdict.summary
    assert "RFC 5280 §4.2.1.12" in verdict.summary
    assert verdict.details() == {
        "extension_present": False,
        "server_auth": True,
        "client_auth": True,
        "sip_domain": False,
        "any_purpose": False,
        "ekus": [],
    }


def test_eku_any_purpose(lab: Lab) -> None:
    any_eku = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
    alone = judge_eku(eku_leaf(lab, [any_eku]))
    assert alone.status == "warn"  # RFC 5280 allows it; webpki verifiers refuse it
    assert alone.summary.startswith("leaf eku.example.test allows anyExtendedKeyUsage")
    assert alone.any_purpose
    assert alone.server_auth
    with_server = judge_eku(eku_leaf(lab, [ExtendedKeyUsageOID.SERVER_AUTH, any_eku]))
    assert with_server.status == "pass"
    assert with_server.ekus == ("serverAuth", "anyExtendedKeyUsage")


def test_the_client_role_wants_client_auth_or_sip_domain(lab: Lab) -> None:
    # RFC 5280 §4.2.1.12 gives a TLS client clientAuth; RFC 5924 lets id-kp-sipDomain mark
    # a SIP certificate for either role. What the server role wants is the opposite.
    client_only = judge_client_eku(leaf_of(lab, "no-server-auth"))
    assert client_only.status == "pass"
    assert client_only.summary == "leaf sip.example.test allows clientAuth"
    assert judge_client_eku(leaf_of(lab, "good")).status == "pass"
    assert judge_client_eku(leaf_of(lab, "sip-domain-only")).status == "pass"
    server = pki.make_leaf(lab.intermediate, common_name="s.example.test", key_type="ec", now=NOW)
    server_only = judge_client_eku(server.cert)
    assert server_only.status == "fail"
    assert "neither clientAuth nor id-kp-sipDomain" in server_only.summary
    assert server_only.ekus == ("serverAuth",)
    alone = judge_client_eku(eku_leaf(lab, [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]))
    assert alone.status == "warn"
    unrestricted = pki.make_leaf(
        lab.intermediate, common_name="n.example.test", server_auth=False, key_type="ec", now=NOW
    )
    assert judge_client_eku(unrestricted.cert).status == "pass"


def test_eku_names_unknown_purposes(lab: Lab) -> None:
    verdict = judge_eku(
        eku_leaf(lab, [ExtendedKeyUsageOID.CODE_SIGNING, x509.ObjectIdentifier("1.2.3.4")])
    )
    assert verdict.status == "fail"
    assert "allows only codeSigning and 1.2.3.4" in verdict.summary


# --- chain tree ------------------------------------------------------------------------


def test_chain_tree_full_chain(lab: Lab) -> None:
    chain = chain_of(lab, "good-via-intermediate")
    path = [*chain, lab.root.cert]
    rows = chain_tree(chain, path, now=NOW)
    assert json.loads(json.dumps(rows)) == rows
    assert [(r["role"], r["presented"]) for r in rows] == [
        ("leaf", True),
        ("intermediate", True),
        ("anchor", False),
    ]
    leaf, intermediate, anchor = rows
    assert leaf["subject"] == "CN=sip.example.test,O=sipprobe lab"
    assert (
        leaf["issuer"]
        == intermediate["subject"]
        == "CN=sipprobe lab intermediate CA,O=sipprobe lab"
    )
    assert intermediate["issuer"] == anchor["subject"]
    assert [r["days_left"] for r in rows] == [365, 1825, 3650]
    assert leaf["not_after"] == "2027-03-01T12:00:00Z"
    assert {r["key"] for r in rows} == {"RSA 2048"}
    assert {r["signature"] for r in rows} == {"sha256WithRSAEncryption"}
    assert [r["self_signed"] for r in rows] == [False, False, True]
    assert [x509.load_pem_x509_certificate(r["pem"].encode()) for r in rows] == path


def test_chain_tree_missing_intermediate(lab: Lab) -> None:
    rows = chain_tree(chain_of(lab, "missing-intermediate"), [], now=NOW)
    assert len(rows) == 1
    assert (rows[0]["role"], rows[0]["presented"]) == ("leaf", True)
    assert rows[0]["issuer"] == "CN=sipprobe lab intermediate CA,O=sipprobe lab"


def test_chain_tree_root_issued_leaf_and_root_sent_too(lab: Lab) -> None:
    leaf = leaf_of(lab, "good")
    rows = chain_tree([leaf, lab.root.cert], [leaf, lab.root.cert], now=NOW)
    assert [(r["role"], r["presented"]) for r in rows] == [("leaf", True), ("anchor", True)]


def test_chain_tree_extra_certificates(lab: Lab) -> None:
    chain = chain_of(lab, "good-via-intermediate")
    sent = [chain[0], lab.other_root.cert, chain[1]]
    verified = chain_tree(sent, [*chain, lab.root.cert], now=NOW)
    assert [(r["role"], r["presented"]) for r in verified] == [
        ("leaf", True),
        ("intermediate", True),
        ("anchor", False),
        ("extra", True),
    ]
    assert verified[-1]["subject"] == "CN=sipprobe unrelated root CA,O=sipprobe lab"
    # Unverified: the order the server sent, linked certificates marked as intermediates.
    unverified = chain_tree(sent, [], now=NOW)
    assert [r["role"] for r in unverified] == ["leaf", "extra", "intermediate"]


def test_chain_tree_pinned_self_signed(lab: Lab) -> None:
    leaf = leaf_of(lab, "self-signed")
    rows = chain_tree([leaf], [leaf], now=NOW)
    assert [(r["role"], r["self_signed"]) for r in rows] == [("leaf", True)]
    assert chain_tree([], [], now=NOW) == []
