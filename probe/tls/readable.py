"""Certificates cryptography cannot read, as verdicts rather than exceptions.

A presented certificate is input from the far end: cryptography parses its extensions,
names and keys lazily and raises whatever the bytes provoke (ValueError, DuplicateExtension,
UnsupportedGeneralNameType, and Rust panics surfacing as pyo3's PanicException, which
derives from BaseException). `certificate_defect` reads every part the judgement uses, so a
failure becomes a sentence naming the certificate, the exception and what to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes


def is_read_failure(exc: BaseException) -> bool:
    """True for an exception reading a certificate raised; False for interrupts and exits."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


@dataclass(frozen=True, slots=True)
class CertificateDefect:
    """The first part of a certificate that cryptography could not read."""

    part: str
    """`subject`, `extensions`, `public key`... as a sentence names it."""
    exception: str
    """The exception's class name, e.g. `DuplicateExtension`."""
    message: str

    def sentence(self, who: str) -> str:
        """One sentence naming `who` (e.g. `the leaf certificate (#1)`) and what to do."""
        return (
            f"{who} cannot be read: cryptography raised {self.exception} on its {self.part} "
            f"({self.message}); {_DEFECT_ADVICE.get(self.exception, _GENERIC_ADVICE)}"
        )

    def to_dict(self) -> dict[str, str]:
        return {"part": self.part, "exception": self.exception, "message": self.message}


_GENERIC_ADVICE = (
    "TLS clients built on such a parser refuse the certificate: have it reissued by the CA"
)
_DEFECT_ADVICE = {
    "DuplicateExtension": (
        "RFC 5280 §4.2 allows each extension at most once and TLS clients refuse the "
        "certificate: have it reissued by the CA"
    ),
    "UnsupportedGeneralNameType": (
        "its subjectAltName holds an x400Address or ediPartyName, which most TLS libraries "
        "cannot read: have it reissued with dNSName or sip: URI names only"
    ),
}


def _read_public_key(cert: x509.Certificate) -> None:
    with contextlib.suppress(UnsupportedAlgorithm):  # an unknown key type is judged elsewhere
        cert.public_key()


def _read_signature_parameters(cert: x509.Certificate) -> None:
    with contextlib.suppress(UnsupportedAlgorithm):  # an unknown algorithm is judged elsewhere
        _ = cert.signature_algorithm_parameters


def _read_extensions(cert: x509.Certificate) -> None:
    for extension in cert.extensions:
        if isinstance(extension.value, x509.SubjectAlternativeName):
            for name in extension.value:
                str(name.value)


_PARTS: tuple[tuple[str, Callable[[x509.Certificate], object]], ...] = (
    ("subject", lambda cert: cert.subject.rfc4514_string()),
    ("issuer", lambda cert: cert.issuer.rfc4514_string()),
    ("validity dates", lambda cert: (cert.not_valid_before_utc, cert.not_valid_after_utc)),
    ("serial number", lambda cert: cert.serial_number),
    ("extensions", _read_extensions),
    ("public key", _read_public_key),
    ("signature algorithm", _read_signature_parameters),
)


def certificate_defect(cert: x509.Certificate) -> CertificateDefect | None:
    """Read every part the judgement uses; the first that raises, or None when all read."""
    for part, read in _PARTS:
        try:
            read(cert)
        except BaseException as exc:
            if not is_read_failure(exc):
                raise
            return CertificateDefect(part, type(exc).__name__, str(exc) or "no message")
    return None


def certificate_label(cert: x509.Certificate, position: int) -> str:
    """`the leaf certificate (#1, CN=…)`: by subject when it reads, else by fingerprint."""
    role = "leaf certificate" if position == 0 else "certificate"
    try:
        name = cert.subject.rfc4514_string() or "(empty name)"
    except BaseException as exc:
        if not is_read_failure(exc):
            raise
        digest = cert.fingerprint(hashes.SHA256())
        name = "SHA-256 " + ":".join(f"{byte:02X}" for byte in digest)
    return f"the {role} #{position + 1} ({name})"
