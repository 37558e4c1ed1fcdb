"""ES256 (RFC 7518 §3.4): ECDSA with P-256 and SHA-256, as JWS writes it.

A JWS signature is R || S, each a 32-octet big-endian integer, not the DER
`Ecdsa-Sig-Value` SEQUENCE that cryptography (and X.509) use: the two are converted here
and nowhere else.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

COORDINATE_BYTES = 32
SIGNATURE_BYTES = 2 * COORDINATE_BYTES


def is_p256(key: object) -> bool:
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, ec.SECP256R1
    )


def sign_es256(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """The raw R || S signature of `data` (RFC 7518 §3.4)."""
    if not is_p256(key):
        raise ValueError("ES256 signs with a P-256 key")
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")


def verify_es256(key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """Whether `signature` (raw R || S) is `key`'s ES256 signature of `data`."""
    if len(signature) != SIGNATURE_BYTES or not is_p256(key):
        return False
    r = int.from_bytes(signature[:COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[COORDINATE_BYTES:], "big")
    if r == 0 or s == 0:
        return False
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
