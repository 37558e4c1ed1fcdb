"""Sans-I/O SDP codec: strict parsing, offers, RFC 4568 SDES crypto, RFC 8122 DTLS.

Strict RFC 8866 parsing with named :class:`SdpLimits` and one error hierarchy rooted at
:class:`SdpError`; ``a=crypto`` (RFC 4568) with key||salt checked per suite;
``a=fingerprint`` (RFC 8122) and ``a=setup`` (RFC 4145).  Standard library only; nothing
here opens a socket, reads a clock or draws randomness (keys come from an injected
``random_bytes``).  SRTP keys never appear in a ``repr``, ``str`` or error message.
"""

from .crypto import SUITE_KEY_BYTES, Crypto, SuiteWeakness, parse_crypto, suite_weakness
from .dtls import HASH_DIGEST_BYTES, SETUP_ROLES, Fingerprint, parse_fingerprint, parse_setup
from .errors import SdpBuildError, SdpError, SdpLimitError, redact
from .limits import DEFAULT_SDP_LIMITS, SdpLimits
from .model import DIRECTIONS, MediaDescription, Origin, SessionDescription, Timing
from .offer import DEFAULT_SUITES, OfferKind, build_offer
from .parser import parse_sdp

__all__ = [
    "DEFAULT_SDP_LIMITS",
    "DEFAULT_SUITES",
    "DIRECTIONS",
    "HASH_DIGEST_BYTES",
    "SETUP_ROLES",
    "SUITE_KEY_BYTES",
    "Crypto",
    "Fingerprint",
    "MediaDescription",
    "OfferKind",
    "Origin",
    "SdpBuildError",
    "SdpError",
    "SdpLimitError",
    "SdpLimits",
    "SessionDescription",
    "SuiteWeakness",
    "Timing",
    "build_offer",
    "parse_crypto",
    "parse_fingerprint",
    "parse_sdp",
    "parse_setup",
    "redact",
    "suite_weakness",
]
