"""TLS versions and cipher suites by their code points on the wire, named and graded.

A capture shows a handshake as numbers: `0x0303` in a ServerHello's version field, `0xC030`
as its cipher suite. This module names them (the IANA TLS Cipher Suites registry's names;
OpenSSL's for the TLS 1.2 suites a live probe reports) and grades a suite as
probe.tls.suites grades the ones a live probe negotiates, with what only a capture can
show on top: suites no client of this tool would offer (RC4, export-grade, single DES,
MD5 MACs). Pure data and functions: no sockets.
"""

from __future__ import annotations

from probe.tls.suites import Grade, SuiteGrade, grade_suite

__all__ = [
    "SIGNALLING",
    "TLS13",
    "is_anonymous",
    "is_grease",
    "suite_grade",
    "suite_name",
    "suite_openssl_name",
    "version_name",
    "version_number",
]

TLS13 = 0x0304

_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3"}


def is_grease(value: int) -> bool:
    """RFC 8701 §2: the reserved values 0x0A0A, 0x1A1A, ... 0xFAFA that clients send so
    servers learn to ignore what they do not know. They name no version and no suite."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def version_name(value: int) -> str:
    """`0x0303` → `1.2` (as the project names TLS versions), `0x0300` → `SSL 3.0`; a
    draft of TLS 1.3 (0x7Fnn) by its number; anything else as hex."""
    known = _VERSIONS.get(value)
    if known is not None:
        return known
    if value >> 8 == 0x7F:
        return f"1.3 draft {value & 0xFF}"
    return f"0x{value:04X}"


def version_number(value: int) -> str | None:
    """`0x0303` → `1.2`: the name probe.tls.versions compares, or None for a version that
    is not one of TLS 1.0 to 1.3 (SSL 3.0, drafts, unknown values)."""
    name = _VERSIONS.get(value)
    return name if name is not None and name[0].isdigit() else None


# The IANA registry's name, and OpenSSL's for the suites probe.tls.suites grades.
_SUITES: dict[int, tuple[str, str | None]] = {
    0x0000: ("TLS_NULL_WITH_NULL_NULL", None),
    0x0001: ("TLS_RSA_WITH_NULL_MD5", "NULL-MD5"),
    0x0002: ("TLS_RSA_WITH_NULL_SHA", "NULL-SHA"),
    0x0003: ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", None),
    0x0004: ("TLS_RSA_WITH_RC4_128_MD5", "RC4-MD5"),
    0x0005: ("TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"),
    0x0006: ("TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", None),
    0x0008: ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", None),
    0x0009: ("TLS_RSA_WITH_DES_CBC_SHA", "DES-CBC-SHA"),
    0x000A: ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"),
    0x0014: ("TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", None),
    0x0015: ("TLS_DHE_RSA_WITH_DES_CBC_SHA", "EDH-RSA-DES-CBC-SHA"),
    0x0016: ("TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", "DHE-RSA-DES-CBC3-SHA"),
    0x0018: ("TLS_DH_anon_WITH_RC4_128_MD5", "ADH-RC4-MD5"),
    0x001B: ("TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", "ADH-DES-CBC3-SHA"),
    0x002F: ("TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"),
    0x0032: ("TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "DHE-DSS-AES128-SHA"),
    0x0033: ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "DHE-RSA-AES128-SHA"),
    0x0034: ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "ADH-AES128-SHA"),
    0x0035: ("TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"),
    0x0038: ("TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "DHE-DSS-AES256-SHA"),
    0x0039: ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE-RSA-AES256-SHA"),
    0x003A: ("TLS_DH_anon_WITH_AES_256_CBC_SHA", "ADH-AES256-SHA"),
    0x003B: ("TLS_RSA_WITH_NULL_SHA256", "NULL-SHA256"),
    0x003C: ("TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"),
    0x003D: ("TLS_RSA_WITH_AES_256_CBC_SHA256", "AES256-SHA256"),
    0x0067: ("TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE-RSA-AES128-SHA256"),
    0x006B: ("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "DHE-RSA-AES256-SHA256"),
    0x006C: ("TLS_DH_anon_WITH_AES_128_CBC_SHA256", "ADH-AES128-SHA256"),
    0x006D: ("TLS_DH_anon_WITH_AES_256_CBC_SHA256", "ADH-AES256-SHA256"),
    0x008C: ("TLS_PSK_WITH_AES_128_CBC_SHA", None),
    0x008D: ("TLS_PSK_WITH_AES_256_CBC_SHA", None),
    0x009C: ("TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"),
    0x009D: ("TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"),
    0x009E: ("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "DHE-RSA-AES128-GCM-SHA256"),
    0x009F: ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE-RSA-AES256-GCM-SHA384"),
    0x00A2: ("TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "DHE-DSS-AES128-GCM-SHA256"),
    0x00A3: ("TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "DHE-DSS-AES256-GCM-SHA384"),
    0x00A6: ("TLS_DH_anon_WITH_AES_128_GCM_SHA256", "ADH-AES128-GCM-SHA256"),
    0x00A7: ("TLS_DH_anon_WITH_AES_256_GCM_SHA384", "ADH-AES256-GCM-SHA384"),
    0x00A8: ("TLS_PSK_WITH_AES_128_GCM_SHA256", None),
    0x00A9: ("TLS_PSK_WITH_AES_256_GCM_SHA384", None),
    0x00FF: ("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", None),
    0x1301: ("TLS_AES_128_GCM_SHA256", None),
    0x1302: ("TLS_AES_256_GCM_SHA384", None),
    0x1303: ("TLS_CHACHA20_POLY1305_SHA256", None),
    0x1304: ("TLS_AES_128_CCM_SHA256", None),
    0x1305: ("TLS_AES_128_CCM_8_SHA256", None),
    0x5600: ("TLS_FALLBACK_SCSV", None),
    0xC006: ("TLS_ECDHE_ECDSA_WITH_NULL_SHA", "ECDHE-ECDSA-NULL-SHA"),
    0xC007: ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"),
    0xC008: ("TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-ECDSA-DES-CBC3-SHA"),
    0xC009: ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"),
    0xC00A: ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"),
    0xC010: ("TLS_ECDHE_RSA_WITH_NULL_SHA", "ECDHE-RSA-NULL-SHA"),
    0xC011: ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"),
    0xC012: ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"),
    0xC013: ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"),
    0xC014: ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"),
    0xC015: ("TLS_ECDH_anon_WITH_NULL_SHA", "AECDH-NULL-SHA"),
    0xC016: ("TLS_ECDH_anon_WITH_RC4_128_SHA", "AECDH-RC4-SHA"),
    0xC017: ("TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", "AECDH-DES-CBC3-SHA"),
    0xC018: ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", "AECDH-AES128-SHA"),
    0xC019: ("TLS_ECDH_anon_WITH_AES_256_CBC_SHA", "AECDH-AES256-SHA"),
    0xC023: ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"),
    0xC024: ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE-ECDSA-AES256-SHA384"),
    0xC027: ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"),
    0xC028: ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "ECDHE-RSA-AES256-SHA384"),
    0xC02B: ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    0xC02C: ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    0xC02F: ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    0xC030: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
    0xC09C: ("TLS_RSA_WITH_AES_128_CCM", "AES128-CCM"),
    0xC09D: ("TLS_RSA_WITH_AES_256_CCM", "AES256-CCM"),
    0xC09E: ("TLS_DHE_RSA_WITH_AES_128_CCM", "DHE-RSA-AES128-CCM"),
    0xC09F: ("TLS_DHE_RSA_WITH_AES_256_CCM", "DHE-RSA-AES256-CCM"),
    0xC0AC: ("TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "ECDHE-ECDSA-AES128-CCM"),
    0xC0AD: ("TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "ECDHE-ECDSA-AES256-CCM"),
    0xCCA8: ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"),
    0xCCA9: ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    0xCCAA: ("TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "DHE-RSA-CHACHA20-POLY1305"),
}

SIGNALLING = frozenset({0x00FF, 0x5600})
"""Values in a ClientHello's suite list that are signals, not suites (RFC 5746 §3.3,
RFC 7507 §2): never negotiated, never graded."""


def suite_name(value: int) -> str:
    """`0xC030` → `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`; a suite not listed here as hex."""
    known = _SUITES.get(value)
    return known[0] if known is not None else f"0x{value:04X}"


def suite_openssl_name(value: int) -> str | None:
    """OpenSSL's name of a TLS 1.2 suite (as a live probe reports it), when it has one."""
    known = _SUITES.get(value)
    return known[1] if known is not None else None


def suite_grade(value: int) -> SuiteGrade | None:
    """How strong a negotiated suite is, as probe.tls.suites grades the suites a live
    probe accepts; None for a suite this module does not know."""
    known = _SUITES.get(value)
    if known is None:
        return None
    iana = known[0]
    if value >> 8 == 0x13:
        # RFC 8446 §9.1: every TLS 1.3 suite is an AEAD, and the key exchange is always
        # (EC)DHE or PSK with (EC)DHE in the handshakes a SIP trunk makes.
        return SuiteGrade(Grade.STRONG, "TLS 1.3: forward secret, AEAD")
    if value in SIGNALLING:
        return SuiteGrade(Grade.INSECURE, "a signalling value, not a cipher suite")
    if "_RC4_" in iana:
        return SuiteGrade(Grade.INSECURE, "RC4 (RFC 7465 prohibits it)")
    if "_EXPORT_" in iana or "_DES_CBC_" in iana or "_DES40_" in iana:
        return SuiteGrade(Grade.INSECURE, "export-grade or single-DES encryption")
    if iana.endswith("_MD5") and "_NULL_" not in iana:
        return SuiteGrade(Grade.INSECURE, "an MD5 MAC")
    if "_PSK_" in iana:
        return SuiteGrade(Grade.WEAK, "pre-shared key: no certificate, no forward secrecy")
    openssl = known[1]
    if openssl is None:
        return SuiteGrade(Grade.INSECURE, "no encryption or no authentication")
    if "_3DES_" in iana:
        return SuiteGrade(Grade.WEAK, "3DES: a 64-bit block cipher (RFC 9325 §4.2)")
    if iana.endswith(("_CCM", "_CCM_8")):
        # An AEAD that probe.tls.suites' name rules do not know as one.
        forward_secret = "_DHE_" in iana or "_ECDHE_" in iana
        if forward_secret:
            return SuiteGrade(Grade.STRONG, "forward secret, AEAD")
        return SuiteGrade(Grade.WEAK, "RSA key exchange: no forward secrecy")
    return grade_suite(openssl)


def is_anonymous(value: int) -> bool:
    """A suite whose server sends no certificate: anonymous (DH_anon, ECDH_anon) or
    pre-shared-key (RFC 4279) key exchange."""
    name = suite_name(value)
    return "_anon_" in name or "_PSK_" in name or value == 0x0000
