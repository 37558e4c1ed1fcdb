"""Canary secrets and a leak finder that looks for them in every form they could take.

A canary is a secret with a recognisable value. Each becomes several needles: the value
itself, its hex (both cases) and base64 (standard, URL-safe, unpadded) and, for a digest
password, H(A1), which is as good as the password to whoever holds it (RFC 7616 §5.13).
For a private key: each line of its PEM body, its DER in base64 and hex, and its private
number.

The finder searches every haystack in several views, so that a secret does not escape
notice by being wrapped by the console, escaped by JSON or XML, or base64-encoded inside
an evidence file: the raw text; the text without whitespace and box-drawing characters;
HTML/XML-unescaped; and, for JSON, every string value and the base64-decoding of every
string that is base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# The SDES key the far end answers with (RFC 4568 §6.1: key ‖ salt, 16 + 14 bytes for
# AES_CM_128_HMAC_SHA1_80), spelled so that it is recognisable wherever it turns up.
ANSWER_KEY_SALT = b"CANARY-SRTP-KEY!" + b"CANARY-SALT-14"
assert len(ANSWER_KEY_SALT) == 30
ANSWER_INLINE = base64.b64encode(ANSWER_KEY_SALT).decode()

DIGEST_REALM = "canary.sipprobe.test"
DIGEST_USER = "canary-trunk"
PASSWORD_AUTH_FILE = "Canary-AuthFile-Pw-7f3a9c1e"
PASSWORD_ENV = "Canary-Env-Pw-c3a8d2b4"
PASSWORD_SCENARIO = "Canary-Scenario-Pw-91e5aa07"
KEY_PASSWORD_FILE = "Canary-KeyFile-Pw-5d0c2e96"
KEY_PASSWORD_ENV = "Canary-KeyEnv-Pw-a41f7b38"

_WRAPPING = re.compile(r"[\s│┃║┆┊╎|]+")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=_-]{8,}$")


def byte_forms(secret: bytes) -> set[str]:
    """hex (both cases) and base64 (standard, URL-safe, unpadded) of `secret`."""
    standard = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    return {
        secret.hex(),
        secret.hex().upper(),
        standard,
        standard.rstrip("="),
        urlsafe,
        urlsafe.rstrip("="),
    }


def password_needles(password: str, user: str = DIGEST_USER, realm: str = DIGEST_REALM) -> set[str]:
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    return {password, ha1, ha1.upper(), *byte_forms(password.encode())}


def key_password_needles(password: str) -> set[str]:
    """A client key's password: the value, its hex and base64."""
    return {password, *byte_forms(password.encode())}


def srtp_key_needles(inline: str) -> set[str]:
    """The `inline:` base64 of key ‖ salt, and the key and the salt alone."""
    key_salt = base64.b64decode(inline)
    key, salt = key_salt[:16], key_salt[16:]
    return {inline, *byte_forms(key_salt), *byte_forms(key), salt.hex(), salt.hex().upper()}


def private_key_needles(path: Path, certificate: Path) -> set[str]:
    """Forms of the private key at `path`, less what is public: an RSA key's PEM holds
    its modulus, and some of those lines can be found verbatim in the certificate."""
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    body = [
        line.strip()
        for line in pem.decode().splitlines()
        if line.strip() and not line.startswith("-----")
    ]
    needles = {line for line in body if len(line) >= 16} | byte_forms(der)
    needles.add("".join(body))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        secret = key.private_numbers().private_value
    elif isinstance(key, rsa.RSAPrivateKey):
        secret = key.private_numbers().d
    else:  # pragma: no cover - the lab issues RSA and EC keys only
        raise TypeError(type(key))
    needles |= {str(secret), f"{secret:x}", f"{secret:X}"}
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = [_WRAPPING.sub("", text) for text in (certificate.read_text(), public_pem.decode())]
    return {needle for needle in needles if not any(needle in text for text in public)}


def _json_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def views(text: str) -> Iterator[str]:
    """The forms of one captured text in which a secret is looked for."""
    yield text
    yield _WRAPPING.sub("", text)
    unescaped = html.unescape(text)
    yield unescaped
    try:
        document = json.loads(text)
    except ValueError:
        return
    for string in _json_strings(document):
        yield string
        if _BASE64.match(string):
            try:
                decoded = base64.b64decode(string + "=" * (-len(string) % 4), validate=False)
            except (binascii.Error, ValueError):
                continue
            yield decoded.decode("latin-1")


def find_leaks(needles: Mapping[str, set[str]], haystacks: Mapping[str, str]) -> list[str]:
    """`canary (needle) in source` for every needle found; empty when nothing leaked."""
    found = []
    for source, text in haystacks.items():
        for view in views(text):
            for canary, forms in needles.items():
                for needle in forms:
                    if needle in view:
                        found.append(f"{canary} ({needle[:24]}...) in {source}")
    return sorted(set(found))
