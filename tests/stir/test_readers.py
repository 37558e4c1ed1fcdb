"""The STIR readers, each on its own: base64url and JSON of a PASSporT (RFC 7515, RFC
8225), the Identity header field (RFC 8224 §4.1), telephone numbers (§8.3) and Date,
and the TNAuthList extension (RFC 8226 §9). Bad input is a problem in words, never an
exception."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from probe.stir.es256 import sign_es256, verify_es256
from probe.stir.header import MAX_IDENTITY_CHARS, parse_identity_field
from probe.stir.passport import (
    MAX_JSON_DEPTH,
    b64url_decode,
    b64url_encode,
    canonical_json,
    decode_full,
    decode_json_object,
    judge_header,
    read_claims,
)
from probe.stir.tn import address_tn, canonical_tn, date_epoch, http_date, uri_tn
from probe.stir.tnauthlist import (
    MAX_ENTRIES,
    encode_tn_auth_list,
    parse_tn_auth_list,
)

# draft-ietf-stir-passport-08 Appendix A (RFC 8225 Appendix A): a PASSporT and the public
# key that signed it, a known answer for ES256 over the JWS signing input.
EXAMPLE_KEY = b"""-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8HNbQd/TmvCKwPKHkMF9fScavGeH
78YTU8qLS8I5HLHSSmlATLcslQMhNC/OhlWBYC626nIlo7XeebYS7Sb37g==
-----END PUBLIC KEY-----"""
EXAMPLE = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6InBhc3Nwb3J0IiwieDV1IjoiaHR0cHM6Ly9j"
    "ZXJ0LmV4YW1wbGUub3JnL3Bhc3Nwb3J0LmNlciJ9"
    ".eyJkZXN0Ijp7InVyaSI6WyJzaXA6YWxpY2VAZXhhbXBsZS5jb20iXX0sImlhdCI"
    "6IjE0NDMyMDgzNDUiLCJvcmlnIjp7InRuIjoiMTIxNTU1NTEyMTIifX0"
    ".rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qjpjlk-cpFYpFYsojN"
    "CpTzO3QfPOlckGaS6hEck7w"
)


def example_key() -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(EXAMPLE_KEY)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_the_rfc_example_passport_verifies_and_a_changed_byte_does_not() -> None:
    passport, problems = decode_full(EXAMPLE)
    assert passport is not None
    assert problems == []
    assert passport.header == {
        "alg": "ES256",
        "typ": "passport",
        "x5u": "https://cert.example.org/passport.cer",
    }
    assert verify_es256(example_key(), passport.signing_input, passport.signature)
    tampered = passport.signing_input.replace(b"eyJk", b"eyJl", 1)
    assert not verify_es256(example_key(), tampered, passport.signature)
    # The example predates SHAKEN: no ppt, a string iat, no attest or origid.
    causes = {p.cause for p in judge_header(passport.header)}
    assert causes == {"ppt_not_shaken"}
    _facts, claim_problems = read_claims(passport.header, passport.claims)
    assert {p.cause for p in claim_problems} == {"iat_malformed", "origid_missing"}


def test_es256_signatures_are_raw_r_and_s_and_der_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signature = sign_es256(key, b"data")
    assert len(signature) == 64
    assert verify_es256(key.public_key(), b"data", signature)
    # The DER form cryptography itself makes is not a JWS signature (RFC 7518 §3.4).
    from cryptography.hazmat.primitives import hashes

    der = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert not verify_es256(key.public_key(), b"data", der)
    assert not verify_es256(key.public_key(), b"data", bytes(64))
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        sign_es256(other, b"data")
    assert not verify_es256(other.public_key(), b"data", signature)


@pytest.mark.parametrize(
    ("text", "octets"),
    [("", b""), ("AA", b"\x00"), ("_-8", b"\xff\xef"), ("YWJj", b"abc")],
)
def test_base64url_decodes_unpadded_text(text: str, octets: bytes) -> None:
    assert b64url_decode(text) == octets
    assert b64url_encode(octets) == text


@pytest.mark.parametrize("text", ["YQ==", "YW+j", "YW/j", "Y", "YR", "YW j", "Y\u00e9"])
def test_base64url_refuses_padding_other_alphabets_and_unused_bits(text: str) -> None:
    # "YR" decodes to b"a" only by ignoring set unused bits (RFC 4648 §3.5).
    assert b64url_decode(text) is None


def test_base64url_refuses_a_part_beyond_the_limit() -> None:
    assert b64url_decode("A" * 8192) is None


def part(obj: object) -> str:
    return b64url_encode(json.dumps(obj).encode())


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        (b64url_encode(b'{"alg":"ES256","alg":"none"}'), "more than once"),
        (b64url_encode(b'{"iat": NaN}'), "not JSON"),
        (b64url_encode(b"[1, 2]"), "not an object"),
        (b64url_encode(b"\xff\xfe"), "not UTF-8"),
        (b64url_encode(b"{" * 10 + b"}" * 10), "nests deeper"),
        (b64url_encode(b"[" * 3000), "nests deeper"),
        (b64url_encode(b"x" * 4000), "not unpadded base64url"),
        ("!!", "not unpadded base64url"),
    ],
)
def test_a_json_part_that_two_readers_could_disagree_on_is_refused(encoded: str, why: str) -> None:
    value, problem = decode_json_object(encoded, "PASSporT header")
    assert value is None
    assert problem is not None
    assert why in problem


def test_nesting_up_to_the_limit_is_read() -> None:
    text = '{"a":' * (MAX_JSON_DEPTH - 1) + "{}" + "}" * (MAX_JSON_DEPTH - 1)
    value, problem = decode_json_object(b64url_encode(text.encode()), "claims")
    assert problem is None
    assert value is not None


def test_canonical_json_sorts_members_at_every_level_without_white_space() -> None:
    data = {"orig": {"tn": "1"}, "dest": {"uri": ["b", "a"], "tn": ["2"]}, "iat": 3}
    assert (
        canonical_json(data) == b'{"dest":{"tn":["2"],"uri":["b","a"]},"iat":3,"orig":{"tn":"1"}}'
    )


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"alg": "none"}, "alg_none"),
        ({"alg": "RS256"}, "alg_not_es256"),
        ({"alg": None}, "alg_not_es256"),
        ({"typ": "JWT"}, "typ_not_passport"),
        ({"ppt": "div"}, "ppt_not_shaken"),
        ({"ppt": None}, "ppt_not_shaken"),
        ({"x5u": None}, "x5u_missing"),
        ({"kid": "1"}, "header_extra"),
    ],
)
def test_the_passport_header_is_judged(changes: dict[str, object], cause: str) -> None:
    header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": "https://x/c.pem"}
    header.update(changes)
    found = judge_header({k: v for k, v in header.items() if v is not None})
    assert [p.cause for p in found] == [cause]
    response = found[0].response
    if cause == "header_extra":
        assert response is None  # a warning: no verifier rejects for it
    else:
        assert response is not None
        assert response.code == (428 if cause == "ppt_not_shaken" else 438)


@pytest.mark.parametrize(
    ("changes", "causes"),
    [
        ({"orig": {"tn": "1", "uri": "sip:a@b"}}, {"orig_malformed"}),
        ({"orig": "15550123"}, {"orig_malformed"}),
        ({"dest": {"tn": "15550100"}}, {"dest_malformed"}),
        ({"dest": {"tn": []}}, {"dest_malformed"}),
        ({"dest": {"tn": ["1"] * 33}}, {"dest_malformed"}),
        ({"iat": "1700000000"}, {"iat_malformed"}),
        ({"iat": True}, {"iat_malformed"}),
        ({"iat": 1.5}, {"iat_malformed"}),
        ({"origid": None}, {"origid_missing"}),
        ({"origid": "not-a-uuid"}, {"origid_not_uuid"}),
    ],
)
def test_claims_of_the_wrong_shape_are_named(changes: dict[str, object], causes: set[str]) -> None:
    claims: dict[str, object] = {
        "attest": "A",
        "dest": {"tn": ["15550100"]},
        "iat": 1_700_000_000,
        "orig": {"tn": "15550123"},
        "origid": "123e4567-e89b-12d3-a456-426614174000",
    }
    claims.update(changes)
    facts, problems = read_claims({}, {k: v for k, v in claims.items() if v is not None})
    assert {p.cause for p in problems} == causes
    assert facts.attest == "A"


# --- the Identity header field ---------------------------------------------------------


def test_a_full_form_field_with_quoted_ppt_is_read() -> None:
    found, problems = parse_identity_field(
        'aa.bb.cc ; info=<https://cert.example.org/c.pem> ;alg=ES256; ppt="shaken"'
    )
    assert problems == []
    assert found is not None
    assert (found.form, found.info, found.alg, found.ppt) == (
        "full",
        "https://cert.example.org/c.pem",
        "ES256",
        "shaken",
    )


def test_a_compact_form_field_is_recognised() -> None:
    found, problems = parse_identity_field("..c2ln;info=<https://x/c>;alg=ES256")
    assert found is not None
    assert found.form == "compact"
    assert found.signature_part == "c2ln"
    assert problems == []


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("", "digest_malformed"),
        (";info=<https://x>", "digest_malformed"),
        ("a.b;info=<https://x>", "digest_malformed"),
        ("a..c;info=<https://x>", "digest_malformed"),
        ("a.b.c;info=https://x", "params_malformed"),
        ("a.b.c;info=<https://x>;;", "params_malformed"),
        ("a.b.c info=<https://x>", "digest_malformed"),
        ('a.b.c;info=<https://x>;ppt="shaken', "params_malformed"),
        ("a.b.c;" + ";".join(f"p{i}=1" for i in range(20)), "params_malformed"),
        ("a" * (MAX_IDENTITY_CHARS + 1), "field_too_long"),
    ],
)
def test_an_unreadable_field_is_a_problem(value: str, cause: str) -> None:
    found, problems = parse_identity_field(value)
    assert found is None
    assert [p.cause for p in problems] == [cause]
    assert problems[0].response is not None
    assert problems[0].response.code == 438


def test_a_field_without_info_or_with_a_repeated_parameter_is_read_with_problems() -> None:
    found, problems = parse_identity_field("a.b.c;alg=ES256;alg=ES256")
    assert found is not None
    assert {p.cause for p in problems} == {"info_missing", "params_repeated"}


@given(st.text(max_size=300))
def test_any_field_text_gives_a_field_or_problems_never_an_exception(value: str) -> None:
    found, problems = parse_identity_field(value)
    assert found is not None or problems


# --- numbers and dates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("+1 (555) 010-0123", "15550100123"),
        ("+1.555.0100", "15550100"),
        ("15550100", "15550100"),
        ("+1555abc", None),
        ("", None),
        ("+" + "1" * 16, None),
    ],
)
def test_numbers_are_canonicalised_as_rfc_8224_says(text: str, digits: str | None) -> None:
    assert canonical_tn(text) == digits


@pytest.mark.parametrize(
    ("value", "tn"),
    [
        ('"Alice" <sip:+1-555-0123@example.test>;tag=1', "15550123"),
        ("<sip:5550123@example.test;user=phone>", "5550123"),
        ("<sip:+15550123;npdi@example.test;user=phone>", "15550123"),
        ("<tel:+1-555-0123;phone-context=example.test>", "15550123"),
        ("sip:+15550123@example.test;tag=1", "15550123"),
        ("<sip:alice@example.test>", None),
        ("<sips:%2B15550123@example.test>", "15550123"),
        ('"unterminated <sip:+1555@x>', None),
        ("<sip:+15550123@example.test", None),
    ],
)
def test_the_number_an_address_names(value: str, tn: str | None) -> None:
    assert address_tn(value)[0] == tn


def test_a_uri_of_another_scheme_names_no_number() -> None:
    assert uri_tn("mailto:+15550123@example.test") is None
    assert uri_tn("no scheme") is None


def test_dates_are_read_and_written_as_rfc_1123() -> None:
    assert date_epoch("Thu, 21 Feb 2002 13:02:03 GMT") == 1014296523
    assert http_date(1014296523) == "Thu, 21 Feb 2002 13:02:03 GMT"
    for bad in ("Thu, 31 Feb 2002 13:02:03 GMT", "21 Feb 2002", "Thu, 21 Feb 2002 13:02:03 PST"):
        assert date_epoch(bad) is None


# --- TNAuthList --------------------------------------------------------------------------


def test_a_tnauthlist_round_trips_and_says_what_it_covers() -> None:
    value = encode_tn_auth_list(spcs=("1234",), tns=("15550123",), ranges=(("15550200", 100),))
    parsed, why = parse_tn_auth_list(value)
    assert why is None
    assert parsed is not None
    assert parsed.spcs == ("1234",)
    assert not parsed.implicit_tags
    assert parsed.covers("15550123")
    assert parsed.covers("15550299")
    assert not parsed.covers("15550300")
    assert not parsed.covers("155502000")
    assert parsed.described_tns() == ("15550123", "15550200+100")


def test_the_spc_only_list_of_shaken_is_the_explicit_der_of_rfc_8226() -> None:
    assert encode_tn_auth_list(spcs=("1234",)) == bytes.fromhex("3008a0061604") + b"1234"


def test_implicitly_tagged_entries_are_read_and_flagged() -> None:
    parsed, why = parse_tn_auth_list(bytes.fromhex("30068004") + b"1234")
    assert why is None
    assert parsed is not None
    assert parsed.spcs == ("1234",)
    assert parsed.implicit_tags


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (b"", "truncated"),
        (bytes.fromhex("3000"), "empty"),
        (bytes.fromhex("3080a0061604") + b"1234" + b"\x00\x00", "indefinite"),
        (bytes.fromhex("3009a0061604") + b"1234", "longer than its container"),
        (bytes.fromhex("3008a3061604") + b"1234", "none of spc, range, one"),
        (bytes.fromhex("3008a2061604") + b"12a4", "TelephoneNumber"),
        (bytes.fromhex("300aa108300602010502 0105".replace(" ", "")), "start with"),
        (bytes.fromhex("308108a0061604") + b"1234", "shortest form"),
        (bytes.fromhex("3084ffffffff"), "longer than its container"),
    ],
)
def test_a_broken_tnauthlist_is_refused_in_words(value: bytes, why: str) -> None:
    parsed, problem = parse_tn_auth_list(value)
    assert parsed is None
    assert problem is not None
    assert why in problem


def test_a_tnauthlist_beyond_its_entry_limit_is_refused() -> None:
    value = encode_tn_auth_list(tns=tuple(f"1555{i:04d}" for i in range(MAX_ENTRIES + 1)))
    parsed, problem = parse_tn_auth_list(value)
    assert parsed is None
    assert problem is not None
    assert f"more than {MAX_ENTRIES}" in problem
    at_limit = encode_tn_auth_list(tns=tuple(f"1555{i:04d}" for i in range(MAX_ENTRIES)))
    assert parse_tn_auth_list(at_limit)[0] is not None


@given(st.binary(max_size=200))
def test_any_bytes_give_a_list_or_a_reason(value: bytes) -> None:
    parsed, problem = parse_tn_auth_list(value)
    assert (parsed is None) != (problem is None)
