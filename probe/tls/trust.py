"""Trust anchors: the system store or a PEM file/directory the user names.

This is the one module of the certificate side that reads files. Every failure becomes a
`TrustStoreError` whose message says which file and what is wrong with it; cryptography's
own exceptions never escape.
"""

from __future__ import annotations

import os
import re
import ssl
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning

from probe.errors import ProbeError

# RFC 7468 §5: the textual encoding of a certificate. OpenSSL's "TRUSTED CERTIFICATE"
# blocks append trust settings to the DER and are deliberately not accepted.
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL
)
_ANY_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----")
_DIRECTORY_SUFFIXES = (".pem", ".crt")
# OpenSSL's c_rehash names (RFC-less convention): 8 hex digits of the subject hash, dot, n.
_HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.\d+$")


class TrustStoreError(ProbeError):
    """The trust anchors could not be loaded; the message says where and why."""


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    certificates: tuple[x509.Certificate, ...]
    source: str
    """Human description, e.g. `system store /etc/ssl/certs/ca-certificates.crt (146 ...)`."""


def load_trust_anchors(source: Literal["system"] | Path) -> TrustAnchors:
    """Load anchors from the system store (`"system"`) or a PEM file or directory."""
    if source == "system":
        return _load_system()
    path = Path(source)
    if path.is_dir():
        certs = _load_directory(path, strict=True)
        return _anchors(certs, f"directory {path}")
    return _anchors(_load_file(path, strict=True)[0], f"file {path}")


def _load_system() -> TrustAnchors:
    paths = ssl.get_default_verify_paths()
    # get_default_verify_paths() already prefers SSL_CERT_FILE / SSL_CERT_DIR, but drops a
    # path that does not exist; an explicit variable pointing nowhere deserves an error.
    for variable in (paths.openssl_cafile_env, paths.openssl_capath_env):
        value = os.environ.get(variable)
        if value and not Path(value).exists():
            raise TrustStoreError(f"{variable} is set to {value}, which does not exist")
    if paths.cafile:
        # The system bundle is not ours to fix: skip a certificate cryptography cannot
        # parse (some legacy roots) and say so, rather than refuse every other anchor.
        certs, skipped = _load_file(Path(paths.cafile), strict=False)
        return _anchors(certs, f"system store {paths.cafile}", skipped)
    if paths.capath:
        certs = _load_directory(Path(paths.capath), strict=False, include_hashed=True)
        return _anchors(certs, f"system store {paths.capath}")
    raise TrustStoreError(
        "no system trust store found (OpenSSL default "
        f"{paths.openssl_cafile} / {paths.openssl_capath}); "
        "set SSL_CERT_FILE or pass a CA file"
    )


def _anchors(certs: Iterable[x509.Certificate], where: str, skipped: int = 0) -> TrustAnchors:
    unique = tuple(_deduplicate(certs))
    if not unique:
        raise TrustStoreError(f"no certificates found in {where}")
    note = f", {skipped} unparsable skipped" if skipped else ""
    plural = "" if len(unique) == 1 else "s"
    return TrustAnchors(unique, f"{where} ({len(unique)} certificate{plural}{note})")


def _deduplicate(certs: Iterable[x509.Certificate]) -> Iterable[x509.Certificate]:
    # /etc/ssl/certs holds each root twice (name.pem and its hash link).
    seen: set[bytes] = set()
    for cert in certs:
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.add(fingerprint)
            yield cert


def _load_directory(
    directory: Path, *, strict: bool, include_hashed: bool = False
) -> list[x509.Certificate]:
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise TrustStoreError(f"cannot read directory {directory}: {exc.strerror}") from exc
    files = [
        entry
        for entry in entries
        if entry.suffix.lower() in _DIRECTORY_SUFFIXES
        or (include_hashed and _HASHED_NAME.match(entry.name))
    ]
    certs: list[x509.Certificate] = []
    for file in files:
        if not file.is_file():
            continue  # a dangling link or a sub-directory named *.pem
        try:
            certs += _load_file(file, strict=strict)[0]
        except TrustStoreError:
            if strict:
                raise
    if not files:
        raise TrustStoreError(f"no *.pem or *.crt files in directory {directory}")
    return certs


def _load_file(path: Path, *, strict: bool) -> tuple[list[x509.Certificate], int]:
    """(certificates, number skipped). PEM with any number of blocks, or one DER cert."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise TrustStoreError(f"trust store {path} does not exist") from exc
    except OSError as exc:
        raise TrustStoreError(f"cannot read trust store {path}: {exc.strerror}") from exc
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        if _ANY_PEM.search(data):
            raise TrustStoreError(f"{path} is PEM but holds no CERTIFICATE block")
        try:
            return [x509.load_der_x509_certificate(data)], 0
        except ValueError as exc:
            raise TrustStoreError(f"{path} is neither PEM nor a DER certificate") from exc
    certs: list[x509.Certificate] = []
    skipped = 0
    for index, block in enumerate(blocks, start=1):
        try:
            with warnings.catch_warnings():
                # Some system roots still have non-positive serials (RFC 5280 §4.1.2.2
                # forbids them); cryptography warns on each load, which is noise here.
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            if strict:
                raise TrustStoreError(
                    f"certificate #{index} in {path} cannot be parsed: {exc}"
                ) from exc
            skipped += 1
    return certs, skipped
