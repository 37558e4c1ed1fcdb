"""RFC 4568 SDP Security Descriptions: the ``a=crypto`` attribute.

``a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`` (RFC 4568 §4, §9.1)
carries an SRTP master key and salt in the clear inside the SDP.  This module parses
and builds the attribute value, checks the key||salt length against the suite, and makes
sure the key never leaks through ``repr``, ``str`` or an error message: only
:meth:`Crypto.to_attribute_value` with ``reveal=True`` produces the real key, and that
is meant for the wire.  Errors from :func:`parse_crypto` name the field that is wrong
but never quote the value: in a malformed line, key material can sit in any field.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ._grammar import VCHAR_RE
from .errors import SdpBuildError, SdpError

__all__ = ["SUITE_KEY_BYTES", "Crypto", "SuiteWeakness", "parse_crypto", "suite_weakness"]

SUITE_KEY_BYTES: Mapping[str, int] = MappingProxyType(
    {
        # RFC 4568 §6.2.1-§6.2.2: a 128-bit AES key and a 112-bit salt, 16 + 14 bytes.
        "AES_CM_128_HMAC_SHA1_80": 30,
        "AES_CM_128_HMAC_SHA1_32": 30,
        # RFC 4568 §6.2.3: AES in f8-mode, the same key and salt sizes.
        "F8_128_HMAC_SHA1_80": 30,
        # RFC 6188 §4 (its crypto suites, registered for SDES in §5.1): 192- and 256-bit
        # AES keys with the same 112-bit salt, 24 + 14 and 32 + 14 bytes.
        "AES_192_CM_HMAC_SHA1_80": 38,
        "AES_192_CM_HMAC_SHA1_32": 38,
        "AES_256_CM_HMAC_SHA1_80": 46,
        "AES_256_CM_HMAC_SHA1_32": 46,
        # RFC 7714 §14.1 names them for SDES; §12 and §14.2 give a 128- or 256-bit key
        # with a 96-bit salt, 16 + 12 and 32 + 12 bytes. The shorter GCM salt is the
        # trap: AEAD_AES_256_GCM is 44 bytes where AES_256_CM is 46.
        "AEAD_AES_128_GCM": 28,
        "AEAD_AES_256_GCM": 44,
    }
)
"""Bytes of key||salt each known crypto-suite needs in its ``inline:`` key-param."""

# A NULL cipher (RFC 3711 §4.1.3) or NULL authentication in a suite's name: no SDES suite
# by these names is registered, but SBCs offer them (NULL_HMAC_SHA1_80,
# AES_CM_128_NULL_AUTH), and DTLS-SRTP registers SRTP_NULL_HMAC_SHA1_80/_32 (RFC 5764
# §4.1.2).
_NULL_PART_RE = re.compile(r"(?:^|_)NULL(?:_|$)")
# AES in f8-mode (RFC 3711 §4.1.2): F8_128_HMAC_SHA1_80 (RFC 4568 §6.2.3), and the
# DTLS-SRTP profile names OpenSSL once carried (SRTP_AES128_F8_SHA1_80).
_F8_PART_RE = re.compile(r"(?:^|_)F8(?:_|$)")


@dataclass(frozen=True, slots=True)
class SuiteWeakness:
    """Why a crypto-suite protects media less than AES-CM or AES-GCM does.

    ``kind`` ``null``: no encryption or no authentication at all, so the media is
    readable or forgeable; a check fails it. ``f8``: AES in f8-mode still encrypts and
    authenticates with a 128-bit key, but it is an optional transform (RFC 3711 §5 makes
    only AES-CM and NULL mandatory) that libsrtp and most SBCs never implemented; a
    check warns, since nothing is known to be broken.
    """

    kind: Literal["null", "f8"]
    reason: str


def suite_weakness(suite: str) -> SuiteWeakness | None:
    """The weakness a crypto-suite's name declares (a NULL part, f8-mode), or None."""
    name = suite.upper()
    if _NULL_PART_RE.search(name):
        return SuiteWeakness(
            "null",
            f"{suite} is a NULL suite: without encryption the media is readable (RFC 3711"
            " §4.1.3), without authentication it can be forged (RFC 3711 §9.5)",
        )
    if _F8_PART_RE.search(name):
        return SuiteWeakness(
            "f8",
            f"{suite} is AES in f8-mode (RFC 3711 §4.1.2), an optional transform few"
            " implementations carry (libsrtp has none); prefer AES_CM_128_HMAC_SHA1_80,"
            " the one RFC 3711 §5 makes mandatory",
        )
    return None


# §9.1: tag = 1*9DIGIT.  The grammar allows 0, and Teams offers "a=crypto:0 ..."
# (Microsoft's Direct Routing media documentation), so 0 is accepted.
TAG_MAX = 999_999_999
# §9.1: mki-length = 1*3DIGIT, "range 1..128" (bytes).
MKI_LENGTH_MAX = 128
# An MKI value that fits 128 bytes has at most 309 decimal digits.
_MKI_VALUE_DIGITS = 309
# §6.1: lifetime = ["2^"] 1*(DIGIT).  SRTP keys live at most 2^48 packets (RFC 3711
# §9.2), so 15 decimal digits or an exponent up to 48 bound every sensible value.
_LIFETIME_RE = re.compile(r"(?:2\^([0-9]{1,2})|([0-9]{1,15}))")
_SUITE_RE = re.compile(r"[A-Za-z0-9_]+")  # §9.1 crypto-suite
_KEY_METHOD_RE = re.compile(r"[A-Za-z0-9_]+")  # §9.1 key-method / key-method-ext
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_WSP_RE = re.compile(r"[ \t]+")
# Session parameters that switch protection off (§6.3.2-§6.3.4).
WEAKENING_PARAMS = ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP")


@dataclass(frozen=True, slots=True, repr=False)
class Crypto:
    """One ``a=crypto`` attribute (RFC 4568 §4).

    ``key_salt`` is the decoded master key followed by the master salt of the first
    ``inline:`` key-param; ``mki`` is ``(value, length in bytes)``.  When the line held
    more key-params (several master keys told apart by MKI, §6.1), they are validated and
    counted in ``extra_key_params`` but not kept.
    """

    tag: int
    suite: str
    key_salt: bytes
    lifetime: str | None = None
    mki: tuple[int, int] | None = None
    session_params: tuple[str, ...] = ()
    extra_key_params: int = 0

    def __post_init__(self) -> None:
        tag = self.tag
        if not isinstance(tag, int) or isinstance(tag, bool) or not 0 <= tag <= TAG_MAX:
            raise SdpBuildError(f"crypto tag {tag!r} is not in 0..{TAG_MAX} (RFC 4568 §9.1)")
        if not isinstance(self.suite, str) or not _SUITE_RE.fullmatch(self.suite):
            raise SdpBuildError(f"crypto-suite {self.suite!r} is not a suite name (§9.1)")
        if not isinstance(self.key_salt, bytes) or not self.key_salt:
            raise SdpBuildError("key||salt must be non-empty bytes")
        expected = SUITE_KEY_BYTES.get(self.suite)
        if expected is not None and len(self.key_salt) != expected:
            raise SdpBuildError(
                f"{self.suite} needs {expected} bytes of key||salt, got {len(self.key_salt)}"
            )
        if self.lifetime is not None:
            _check_lifetime(self.lifetime, error=SdpBuildError)
        if self.mki is not None:
            _check_mki(self.mki, error=SdpBuildError)
        for param in self.session_params:
            if not isinstance(param, str) or not VCHAR_RE.fullmatch(param):
                raise SdpBuildError(f"session parameter {param!r} is not visible ASCII (§9.1)")

    @property
    def known_suite(self) -> bool:
        """Whether :data:`SUITE_KEY_BYTES` knows the suite (and so checked the length)."""
        return self.suite in SUITE_KEY_BYTES

    @property
    def weakening_params(self) -> tuple[str, ...]:
        """Session parameters that turn off encryption or authentication (§6.3)."""
        return tuple(p for p in self.session_params if p in WEAKENING_PARAMS)

    def to_attribute_value(self, reveal: bool = False) -> str:
        """The value after ``a=crypto:``.  Only ``reveal=True`` gives the real key."""
        if reveal:
            key = base64.b64encode(self.key_salt).decode("ascii")
        else:
            key = f"<redacted {len(self.key_salt)} bytes>"
        text = f"{self.tag} {self.suite} inline:{key}"
        if self.lifetime is not None:
            text += f"|{self.lifetime}"
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return " ".join((text, *self.session_params))

    def __str__(self) -> str:
        return self.to_attribute_value(reveal=False)

    def __repr__(self) -> str:
        return (
            f"Crypto(tag={self.tag}, suite={self.suite!r}, "
            f"key_salt=<redacted {len(self.key_salt)} bytes>, lifetime={self.lifetime!r}, "
            f"mki={self.mki!r}, session_params={self.session_params!r}, "
            f"extra_key_params={self.extra_key_params})"
        )


def _check_lifetime(text: str, *, error: type[SdpError] = SdpError) -> None:
    match = _LIFETIME_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise error("the lifetime is not 2^N or a decimal (RFC 4568 §6.1)")
    exponent, decimal = match.groups()
    if (exponent is not None and int(exponent) > 48) or (decimal is not None and int(decimal) < 1):
        raise error(f"lifetime {text} is outside 1..2^48 packets (RFC 3711 §9.2)")


def _check_mki(mki: tuple[int, int], *, error: type[SdpError] = SdpError) -> None:
    if not (
        isinstance(mki, tuple)
        and len(mki) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in mki)
    ):
        raise error(f"MKI must be a (value, length) pair of ints, got {mki!r}")
    value, length = mki
    if not 1 <= length <= MKI_LENGTH_MAX:
        raise error(f"MKI length {length} is not in 1..{MKI_LENGTH_MAX} bytes (RFC 4568 §9.1)")
    if not 0 <= value < 256**length:
        raise error(f"MKI value {value} does not fit in {length} byte(s) (RFC 4568 §6.1)")


def _decode_key(text: str, suite: str) -> bytes:
    """Strict base64 (RFC 4648 §4, padded, canonical) of key||salt; never echoes it."""
    if not text:
        raise SdpError("inline: key-param has no key||salt")
    if not _BASE64_RE.fullmatch(text) or len(text) % 4:
        raise SdpError(
            f"{suite} key||salt is not valid base64 ({len(text)} characters; "
            "RFC 4568 §6.1 requires padded base64)"
        )
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SdpError(f"{suite} key||salt is not valid base64") from None
    if base64.b64encode(key).decode("ascii") != text:
        raise SdpError(f"{suite} key||salt is not canonical base64 (non-zero padding bits)")
    expected = SUITE_KEY_BYTES.get(suite)
    if expected is not None and len(key) != expected:
        raise SdpError(f"{suite} needs {expected} bytes of key||salt, got {len(key)}")
    return key


def _parse_inline(info: str, suite: str) -> tuple[bytes, str | None, tuple[int, int] | None]:
    """srtp-key-info = key-salt ["|" lifetime] ["|" mki] (RFC 4568 §9.2)."""
    parts = info.split("|")
    if len(parts) > 3:
        raise SdpError(f"inline: key-param has {len(parts) - 1} '|' fields, at most 2 allowed")
    key = _decode_key(parts[0], suite)
    lifetime: str | None = None
    mki: tuple[int, int] | None = None
    rest = parts[1:]
    if rest and ":" not in rest[0]:
        lifetime = rest.pop(0)
        _check_lifetime(lifetime)
    if rest:
        value_text, sep, length_text = rest.pop(0).partition(":")
        if not sep:
            raise SdpError("an MKI must be <value>:<length> and follow the lifetime (§9.2)")
        mki = (
            _mki_number(value_text, "value", _MKI_VALUE_DIGITS),
            _mki_number(length_text, "length", 3),
        )
        _check_mki(mki)
    if rest:
        raise SdpError("the lifetime must come before the MKI (RFC 4568 §9.2)")
    return key, lifetime, mki


def _mki_number(text: str, what: str, max_digits: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        raise SdpError(f"the MKI {what} is not a decimal of at most {max_digits} digits (§9.2)")
    return int(text)


def parse_crypto(value: str) -> Crypto:
    """Parse the value of an ``a=crypto:`` attribute (RFC 4568 §9.1).

    An unknown crypto-suite parses (``known_suite`` is False; the judgement decides);
    a known suite with the wrong key||salt length is an :class:`SdpError` naming the
    suite and both lengths.  The error never contains the key.
    """
    if not isinstance(value, str) or not value:
        raise SdpError("a=crypto has no value")
    fields = _WSP_RE.split(value)
    if len(fields) < 3:
        raise SdpError("a=crypto needs <tag> <crypto-suite> <key-params> (RFC 4568 §9.1)")
    if not fields[0] or not fields[-1]:
        raise SdpError("a=crypto has leading or trailing whitespace (RFC 4568 §9.1)")
    tag_text, suite, key_params, *session_params = fields
    # No field of the value is quoted in an error: a line malformed enough to put the
    # key where the tag or suite belongs must not leak it.
    if not tag_text.isascii() or not tag_text.isdigit() or len(tag_text) > 9:
        raise SdpError("the crypto tag is not a decimal of at most 9 digits (RFC 4568 §9.1)")
    tag = int(tag_text)
    if not _SUITE_RE.fullmatch(suite):
        raise SdpError("the crypto-suite is not a suite name (RFC 4568 §9.1)")
    inline_keys: list[tuple[bytes, str | None, tuple[int, int] | None]] = []
    params = key_params.split(";")
    for number, param in enumerate(params, 1):
        # Never quote a key-param: without its "inline:" it may still be a key.
        method, sep, info = param.partition(":")
        if not sep or not _KEY_METHOD_RE.fullmatch(method) or not info:
            raise SdpError(f"key-param {number} is not <method>:<info> (RFC 4568 §9.1)")
        if method.lower() == "inline":
            inline_keys.append(_parse_inline(info, suite))
    if not inline_keys:
        raise SdpError("a=crypto has no inline: key-param (RFC 4568 §6.1 defines only inline)")
    if len(inline_keys) > 1:
        # §6.1: several master keys are told apart by their MKI, so each needs one, and
        # the MKI length is fixed for the crypto attribute.
        lengths = {mki[1] if mki else None for _, _, mki in inline_keys}
        if None in lengths or len(lengths) > 1:
            raise SdpError(
                "several inline: keys need an MKI each, all of one length (RFC 4568 §6.1)"
            )
    for number, param in enumerate(session_params, 1):
        if not VCHAR_RE.fullmatch(param):
            raise SdpError(f"session parameter {number} is not visible ASCII (RFC 4568 §9.1)")
    key, lifetime, mki = inline_keys[0]
    return Crypto(
        tag=tag,
        suite=suite,
        key_salt=key,
        lifetime=lifetime,
        mki=mki,
        session_params=tuple(session_params),
        extra_key_params=len(params) - 1,
    )
