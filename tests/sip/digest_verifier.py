"""An independent digest verifier, as a UAS runs it (RFC 7616 §3.4.1-3.4.3 written out
longhand), for tests: it checks what probe.sip.digest sends without using its code."""

from __future__ import annotations

import hashlib
import re

_PARAM = re.compile(r'\s*([\w-]+)=("(?:[^"\\]|\\.)*"|[^,\s]+)\s*(?:,|$)')


def server_params(value: str) -> dict[str, str]:
    """Parse an Authorization value the simple way a server does (test-side code)."""
    scheme, _, rest = value.partition(" ")
    assert scheme == "Digest"
    params = {}
    for name, raw in _PARAM.findall(rest):
        params[name] = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
    return params


def server_expects(params: dict[str, str], password: str, method: str, body: bytes = b"") -> str:
    """RFC 7616 §3.4.1-3.4.3, written out longhand."""
    algorithm = params.get("algorithm", "MD5")
    hash_name = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}[
        algorithm.removesuffix("-sess")
    ]

    def h(data: bytes) -> str:
        return hashlib.new(hash_name, data).hexdigest()

    a1 = f"{params['username']}:{params['realm']}:{password}".encode()
    ha1 = h(a1)
    if algorithm.endswith("-sess"):
        ha1 = h(f"{ha1}:{params['nonce']}:{params['cnonce']}".encode())
    a2 = f"{method}:{params['uri']}".encode()
    if params.get("qop") == "auth-int":
        a2 += b":" + h(body).encode()
    ha2 = h(a2)
    if "qop" in params:
        tail = f"{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
        return h(f"{ha1}:{params['nonce']}:{tail}".encode())
    return h(f"{ha1}:{params['nonce']}:{ha2}".encode())
