"""The authentication service of RFC 8224 §5 for SHAKEN: sign a call's PASSporT.

`PassportSigner` holds the P-256 key and the certificate URL (`x5u`); for each call it
builds the SHAKEN PASSporT (RFC 8225 §4-5, RFC 8588), signs it with ES256 and gives the
header fields to add: Date (RFC 8224 §5 step 3: the Date the `iat` agrees with) and
Identity in full form with `info`, `alg` and `ppt` (RFC 8224 §4.1). The time and `origid`
come in from the caller. The key never appears in a repr or a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from probe.errors import ProbeError
from probe.stir.es256 import is_p256, sign_es256
from probe.stir.passport import (
    ATTESTATION_LEVELS,
    PPT_SHAKEN,
    b64url_encode,
    shaken_claims,
    shaken_header,
    signing_input,
)
from probe.stir.tn import http_date

MAX_KEY_FILE_BYTES = 64 * 1024


class SigningKeyError(ProbeError, ValueError):
    """The signing key cannot be used; the message never contains key material."""


def load_signing_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """A PEM private key (PKCS#8 or SEC 1) on P-256, unencrypted."""
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"the key file is larger than {MAX_KEY_FILE_BYTES} bytes")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(
            "the key is encrypted; give an unencrypted PEM key (chmod 600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError("the file holds no PEM private key that can be read") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not is_p256(key):
        raise SigningKeyError(
            "ES256 signs with a P-256 (prime256v1) EC key (RFC 7518 §3.4); this key is "
            f"{type(key).__name__.removeprefix('_').replace('PrivateKey', '')}"
        )
    return key


@dataclass(frozen=True, slots=True)
class PassportSigner:
    """Signs SHAKEN PASSporTs for the certificate at `x5u` with `key`."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)
    x5u: str
    attest: str = "A"

    def __post_init__(self) -> None:
        if self.attest not in ATTESTATION_LEVELS:
            raise ValueError(f"attest must be one of {', '.join(ATTESTATION_LEVELS)}")
        if not self.x5u.startswith("https://"):
            raise ValueError("x5u must be an https URL (RFC 8225 §4.3, ATIS-1000074 §5.3.1)")

    def passport(self, *, orig_tn: str, dest_tns: Sequence[str], iat: int, origid: str) -> str:
        """The signed PASSporT in full form: header.claims.signature (RFC 7515 §7.1)."""
        header = shaken_header(self.x5u)
        claims = shaken_claims(
            attest=self.attest, orig_tn=orig_tn, dest_tns=dest_tns, iat=iat, origid=origid
        )
        data = signing_input(header, claims)
        return f"{data.decode('ascii')}.{b64url_encode(sign_es256(self.key, data))}"

    def identity(self, *, orig_tn: str, dest_tns: Sequence[str], iat: int, origid: str) -> str:
        """The Identity header field value (RFC 8224 §4.1), full form."""
        token = self.passport(orig_tn=orig_tn, dest_tns=dest_tns, iat=iat, origid=origid)
        return f"{token};info=<{self.x5u}>;alg=ES256;ppt={PPT_SHAKEN}"

    def header_fields(
        self, *, orig_tn: str, dest_tns: Sequence[str], now: float, origid: str
    ) -> tuple[tuple[str, str], tuple[str, str]]:
        """Date and Identity for a request sent at `now` (seconds since the epoch)."""
        iat = int(now)
        identity = self.identity(orig_tn=orig_tn, dest_tns=dest_tns, iat=iat, origid=origid)
        return ("Date", http_date(iat)), ("Identity", identity)
