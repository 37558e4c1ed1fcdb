"""RFC 4568 a=crypto: grammar, key||salt length per suite, lifetime, MKI, redaction."""

from __future__ import annotations

import base64

import pytest

from probe.sdp import (
    SUITE_KEY_BYTES,
    Crypto,
    SdpBuildError,
    SdpError,
    parse_crypto,
    suite_weakness,
)

from .samples import KEY28, KEY30, KEY46

SUITE_CASES = [
    pytest.param(suite, size + delta, id=f"{suite}-{size + delta}")
    for suite, size in SUITE_KEY_BYTES.items()
    for delta in (-1, 0, 1)
]


def b64(size: int, fill: int = 0x5A) -> str:
    return base64.b64encode(bytes([fill]) * size).decode()


def test_brief_suite_table() -> None:
    expected = {
        "AES_CM_128_HMAC_SHA1_80": 30,
        "AES_CM_128_HMAC_SHA1_32": 30,
        "AES_256_CM_HMAC_SHA1_80": 46,
        "AES_256_CM_HMAC_SHA1_32": 46,
        "AES_192_CM_HMAC_SHA1_80": 38,
        "AES_192_CM_HMAC_SHA1_32": 38,
        "AEAD_AES_128_GCM": 28,
        "AEAD_AES_256_GCM": 44,
    }
    assert expected.items() <= SUITE_KEY_BYTES.items()


@pytest.mark.parametrize(("suite", "size"), SUITE_CASES)
def test_key_length_is_checked_per_suite(suite: str, size: int) -> None:
    value = f"1 {suite} inline:{b64(size)}"
    if size == SUITE_KEY_BYTES[suite]:
        crypto = parse_crypto(value)
        assert len(crypto.key_salt) == size
        assert crypto.known_suite
    else:
        with pytest.raises(SdpError) as info:
            parse_crypto(value)
        expected = SUITE_KEY_BYTES[suite]
        assert info.value.detail == f"{suite} needs {expected} bytes of key||salt, got {size}"
        assert b64(size) not in str(info.value)


def test_full_grammar() -> None:
    crypto = parse_crypto(
        f"7 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4 KDR=1 UNENCRYPTED_SRTCP"
    )
    assert crypto.tag == 7
    assert crypto.lifetime == "2^20"
    assert crypto.mki == (1, 4)
    assert crypto.session_params == ("KDR=1", "UNENCRYPTED_SRTCP")
    assert crypto.weakening_params == ("UNENCRYPTED_SRTCP",)
    assert crypto.key_salt == base64.b64decode(KEY30)


@pytest.mark.parametrize(
    ("tail", "lifetime", "mki"),
    [
        ("", None, None),
        ("|2^31", "2^31", None),
        ("|1048576", "1048576", None),
        ("|1:1", None, (1, 1)),
        ("|2^31|255:1", "2^31", (255, 1)),
        ("|0:128", None, (0, 128)),
    ],
)
def test_lifetime_and_mki(tail: str, lifetime: str | None, mki: tuple[int, int] | None) -> None:
    crypto = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}{tail}")
    assert (crypto.lifetime, crypto.mki) == (lifetime, mki)
    assert parse_crypto(crypto.to_attribute_value(reveal=True)) == crypto


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "no value"),
        ("1 AES_CM_128_HMAC_SHA1_80", "needs <tag>"),
        (f"x AES_CM_128_HMAC_SHA1_80 inline:{KEY30}", "crypto tag"),
        (f"-1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}", "crypto tag"),
        (f"1234567890 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}", "at most 9"),
        (f"1 AES-CM inline:{KEY30}", "not a suite name"),
        (f" 1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}", "leading or trailing"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} ", "leading or trailing"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:", "not <method>:<info>"),
        (f"1 AES_CM_128_HMAC_SHA1_80 {KEY30}", "not <method>:<info>"),
        ("1 AES_CM_128_HMAC_SHA1_80 uri:http://k", "no inline:"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30[:-1]}", "base64"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30[:-1]}*", "base64"),
        (f"1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46.rstrip('=')}", "padded base64"),
        (f"1 AEAD_AES_128_GCM inline:{KEY28[:-3]}B==", "canonical"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:0", "MKI length 0"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:129", "MKI length 129"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|256:1", "does not fit"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:1000", "at most 3 digits"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|x:1", "MKI value"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:4|2^31", "before the MKI"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31|2^20", "<value>:<length>"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^49", "outside"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|0", "outside"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|x", "not 2^N"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30[:20]}|{KEY30[20:]}", "got 15"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|{KEY30[20:]}", "not 2^N"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1|2|3", "at most 2"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30};inline:{KEY30}", "MKI each"),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} KDR=\u00e9", "visible ASCII"),
    ],
)
def test_invalid_crypto(value: str, words: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_crypto(value)
    assert words in str(info.value)
    for fragment in (KEY30, KEY30[:-1], KEY30[:20], KEY30[20:]):
        assert fragment not in str(info.value)


def test_tag_zero_is_allowed() -> None:
    # RFC 4568 §9.1: tag = 1*9DIGIT; Teams offers tag 0.
    assert parse_crypto(f"0 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}").tag == 0


def test_unknown_suite_parses_but_is_not_known() -> None:
    crypto = parse_crypto(f"1 NULL_HMAC_SHA1_80 inline:{b64(5)}")
    assert not crypto.known_suite
    assert len(crypto.key_salt) == 5


def test_several_keys_keep_the_first_and_count_the_rest() -> None:
    other = b64(30, 0x11)
    crypto = parse_crypto(
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4;inline:{other}|2^20|2:4"
    )
    assert crypto.key_salt == base64.b64decode(KEY30)
    assert crypto.extra_key_params == 1
    with pytest.raises(SdpError, match="all of one length"):
        parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:4;inline:{other}|2:2")


def test_inline_is_case_insensitive_and_other_methods_are_skipped() -> None:
    crypto = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 x_method:abc;INLINE:{KEY30}")
    assert crypto.key_salt == base64.b64decode(KEY30)
    assert crypto.extra_key_params == 1


def test_repr_and_str_never_show_the_key() -> None:
    crypto = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31")
    for text in (repr(crypto), str(crypto), f"{crypto}", repr([crypto])):
        assert KEY30 not in text
        assert "<redacted 30 bytes>" in text
    assert str(crypto) == "1 AES_CM_128_HMAC_SHA1_80 inline:<redacted 30 bytes>|2^31"
    assert crypto.to_attribute_value(reveal=True) == (
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31"
    )


def test_to_attribute_value_with_mki_and_params() -> None:
    crypto = Crypto(2, "AES_CM_128_HMAC_SHA1_32", b"\x01" * 30, "2^31", (1, 4), ("KDR=0",))
    assert str(crypto) == ("2 AES_CM_128_HMAC_SHA1_32 inline:<redacted 30 bytes>|2^31|1:4 KDR=0")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tag": 1_000_000_000},
        {"tag": -1},
        {"tag": True},
        {"suite": "bad suite"},
        {"key_salt": b""},
        {"key_salt": b"\x00" * 29},
        {"lifetime": "forever"},
        {"mki": (1, 0)},
        {"mki": (1,)},
        {"session_params": ("has space",)},
    ],
)
def test_building_invalid_crypto_is_a_build_error(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "tag": 1,
        "suite": "AES_CM_128_HMAC_SHA1_80",
        "key_salt": b"\x00" * 30,
    }
    fields.update(kwargs)
    with pytest.raises(SdpBuildError):
        Crypto(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("suite", "kind"),
    [
        ("NULL_HMAC_SHA1_80", "null"),
        ("null_hmac_sha1_32", "null"),
        ("AES_CM_128_NULL_AUTH", "null"),
        ("SRTP_NULL_HMAC_SHA1_80", "null"),
        ("F8_128_HMAC_SHA1_80", "f8"),
        ("SRTP_AES128_F8_SHA1_80", "f8"),
        ("AES_CM_128_HMAC_SHA1_80", None),
        ("AEAD_AES_256_GCM", None),
        # A name that merely contains the letters is not a NULL or f8 suite.
        ("NULLIFIED_SUITE", None),
        ("AES_CM_128_F80", None),
    ],
)
def test_suite_weakness_reads_the_name(suite: str, kind: str | None) -> None:
    weakness = suite_weakness(suite)
    assert (weakness.kind if weakness else None) == kind
    if weakness is not None:
        assert suite in weakness.reason


def test_the_gcm_salt_is_shorter_than_the_cm_salt() -> None:
    """The 42-versus-44 trap: same AES-256 key, a 96-bit salt (RFC 7714 §14.2) against
    a 112-bit one (RFC 6188): 44 and 46 bytes, each refused at the other's length."""
    assert SUITE_KEY_BYTES["AEAD_AES_256_GCM"] == 32 + 12
    assert SUITE_KEY_BYTES["AES_256_CM_HMAC_SHA1_80"] == 32 + 14
    assert SUITE_KEY_BYTES["AEAD_AES_128_GCM"] == 16 + 12
    with pytest.raises(SdpError, match="AEAD_AES_256_GCM needs 44 bytes of key"):
        parse_crypto(f"1 AEAD_AES_256_GCM inline:{b64(46)}")
    with pytest.raises(SdpError, match="AES_256_CM_HMAC_SHA1_80 needs 46 bytes of key"):
        parse_crypto(f"1 AES_256_CM_HMAC_SHA1_80 inline:{b64(44)}")
