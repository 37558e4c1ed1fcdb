"""TLS 1.2 cipher suites worth asking a SIP server about, and how to grade them.

Grades follow the usual deployment guidance (RFC 7525 §4.2, RFC 9325 §4.2; Mozilla's
server-side TLS levels): forward secrecy plus AEAD is strong; forward secrecy with a CBC
mode and a SHA-2 MAC is acceptable (Microsoft Teams still lists two such suites); RSA key
exchange (no forward secrecy) and CBC with SHA-1 are weak; anonymous or unencrypted suites
are insecure. Pure data and functions: no sockets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Grade(enum.StrEnum):
    STRONG = "strong"
    ACCEPTABLE = "acceptable"
    WEAK = "weak"
    INSECURE = "insecure"


@dataclass(frozen=True, slots=True)
class SuiteGrade:
    grade: Grade
    why: str


# OpenSSL names; the list a SIP trunk sees in practice, strongest first. PSK, SRP, ARIA and
# CCM suites are left out: no SIP provider negotiates them.
TLS12_SUITES: tuple[str, ...] = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-SHA256",
    "AES128-SHA256",
    "AES256-SHA",
    "AES128-SHA",
    "ADH-AES256-GCM-SHA384",
    "AECDH-AES256-SHA",
    "NULL-SHA256",
    "ECDHE-RSA-NULL-SHA",
)


def grade_suite(name: str) -> SuiteGrade:
    """Grade an OpenSSL TLS 1.2 suite name by its parts."""
    if "NULL" in name:
        return SuiteGrade(Grade.INSECURE, "no encryption")
    if name.startswith(("ADH-", "AECDH-")):
        return SuiteGrade(Grade.INSECURE, "anonymous: the server is not authenticated")
    forward_secret = name.startswith(("ECDHE-", "DHE-"))
    aead = "GCM" in name or "CHACHA20" in name
    if not forward_secret:
        return SuiteGrade(Grade.WEAK, "RSA key exchange: no forward secrecy")
    if name.endswith("-SHA"):
        return SuiteGrade(Grade.WEAK, "CBC with a SHA-1 MAC")
    if not aead:
        return SuiteGrade(Grade.ACCEPTABLE, "CBC mode (forward secret, SHA-2 MAC)")
    return SuiteGrade(Grade.STRONG, "forward secret, AEAD")


# RFC 8446 §B.4: the TLS 1.3 suites name only the AEAD and the hash; the key exchange is
# always (EC)DHE, so each is forward secret. CCM_8's 64-bit tag is the one to question
# (RFC 8446 §B.4 lists it for constrained devices; RFC 9150's IANA note: not recommended).
_TLS13_SUITES = {
    "TLS_AES_128_GCM_SHA256": Grade.STRONG,
    "TLS_AES_256_GCM_SHA384": Grade.STRONG,
    "TLS_CHACHA20_POLY1305_SHA256": Grade.STRONG,
    "TLS_AES_128_CCM_SHA256": Grade.STRONG,
    "TLS_AES_128_CCM_8_SHA256": Grade.ACCEPTABLE,
}


def grade_negotiated_suite(name: str) -> SuiteGrade:
    """Grade the suite a handshake negotiated, as OpenSSL names it: a TLS 1.3 suite
    (`TLS_AES_256_GCM_SHA384`) by RFC 8446, any other as `grade_suite` grades TLS 1.2's."""
    grade = _TLS13_SUITES.get(name)
    if grade is Grade.ACCEPTABLE:
        return SuiteGrade(grade, "TLS 1.3 AES-CCM with a short (64-bit) tag")
    if grade is not None:
        return SuiteGrade(grade, "TLS 1.3: forward secret, AEAD")
    return grade_suite(name)
