"""RFC 8122 a=fingerprint and RFC 4145 a=setup."""

from __future__ import annotations

import pytest

from probe.sdp import (
    HASH_DIGEST_BYTES,
    SETUP_ROLES,
    Fingerprint,
    SdpBuildError,
    SdpError,
    parse_fingerprint,
    parse_setup,
)

from .samples import SHA256_FP


def hex_pairs(size: int) -> str:
    return ":".join(f"{i % 256:02X}" for i in range(size))


@pytest.mark.parametrize(
    ("hash_function", "size"),
    [
        pytest.param(name, size + delta, id=f"{name}-{size + delta}")
        for name, size in HASH_DIGEST_BYTES.items()
        for delta in (-1, 0, 1)
    ],
)
def test_fingerprint_length_per_hash(hash_function: str, size: int) -> None:
    value = f"{hash_function} {hex_pairs(size)}"
    if size == HASH_DIGEST_BYTES[hash_function]:
        fingerprint = parse_fingerprint(value)
        assert len(fingerprint.digest) == size
        assert fingerprint.known_hash
    else:
        with pytest.raises(SdpError, match=f"has {HASH_DIGEST_BYTES[hash_function]} bytes"):
            parse_fingerprint(value)


def test_case_is_normalised() -> None:
    fingerprint = parse_fingerprint(f"SHA-256 {SHA256_FP.lower()}")
    assert fingerprint == Fingerprint("sha-256", SHA256_FP)
    assert fingerprint.to_attribute_value() == f"sha-256 {SHA256_FP}"
    assert Fingerprint.of("SHA-256", fingerprint.digest) == fingerprint


def test_unknown_and_weak_hashes() -> None:
    unknown = parse_fingerprint("blake3 AB:CD")
    assert not unknown.known_hash
    assert parse_fingerprint(f"md5 {hex_pairs(16)}").weak_hash
    assert not parse_fingerprint(f"sha-1 {hex_pairs(20)}").weak_hash


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha-256",
        f"sha-256  {SHA256_FP}",
        "sha-256 ABCD",
        "sha-256 AB:C",
        "sha-256 AB:CD:",
        "sha-256 GG:00",
        f"sha 256 {SHA256_FP}",
        "blake3 " + hex_pairs(129),
    ],
)
def test_invalid_fingerprints(value: str) -> None:
    with pytest.raises(SdpError):
        parse_fingerprint(value)


def test_fingerprint_build_validation() -> None:
    with pytest.raises(SdpBuildError, match="lower case"):
        Fingerprint("SHA-256", SHA256_FP)
    with pytest.raises(SdpBuildError, match="upper case"):
        Fingerprint("sha-256", SHA256_FP.lower())
    with pytest.raises(SdpBuildError, match="32 bytes"):
        Fingerprint("sha-256", "AB")


@pytest.mark.parametrize("role", SETUP_ROLES)
def test_setup_roles(role: str) -> None:
    assert parse_setup(role) == role


@pytest.mark.parametrize("value", [None, "", "Active", "both", "actpass "])
def test_invalid_setup(value: str | None) -> None:
    with pytest.raises(SdpError, match="RFC 4145"):
        parse_setup(value)
