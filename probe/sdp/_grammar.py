"""Grammar pieces shared by the SDP modules, each citing the ABNF it implements.

RFC 8866 §9 for the description itself, RFC 4568 §9.1 for ``a=crypto`` and RFC 8122 §5
for ``a=fingerprint``.  Kept as compiled regexes plus two small helpers so each parser
reads as a list of checks.
"""

from __future__ import annotations

import re

from .errors import SdpError

# RFC 8866 §9: token = 1*(token-char), token-char = ALPHA / DIGIT and
# "!#$%&'*+-.^_`{|}~" (the RFC 3261 token characters).
TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+")
# proto = token *("/" token) (RFC 8866 §9), e.g. RTP/AVP, UDP/TLS/RTP/SAVPF.
PROTO_RE = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+(?:/[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+)*")
# non-ws-string = 1*(VCHAR / %x80-FF): the o= username and unicast-address.
NON_WS_RE = re.compile(r"[^\x00-\x20\x7f]+")
# VCHAR only (%x21-7E): RFC 4568 §9.1 session-param.
VCHAR_RE = re.compile(r"[\x21-\x7e]+")
# byte-string = 1*(%x01-09 / %x0B-0C / %x0E-FF): text fields and attribute values.
# The line split already removed LF and CR; NUL is what is left to refuse.
BAD_TEXT_RE = re.compile(r"[\x00\r\n]")
# A DNS name as RFC 8866 §5 requires (RFC 1034 letters-digits-hyphen, ACE for IDNs).
FQDN_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
)


def digits(text: str, what: str, *, max_digits: int, line: int | None = None) -> int:
    """``1*DIGIT`` bounded to ``max_digits`` (Python's int() has its own, far larger,
    limit that raises ValueError; this keeps every failure an SdpError)."""
    if not text.isascii() or not text.isdigit():
        raise SdpError(f"{what} {excerpt(text)} is not a decimal number", line=line)
    if len(text) > max_digits:
        raise SdpError(f"{what} has {len(text)} digits, at most {max_digits} allowed", line=line)
    return int(text)


def check_text(value: str, what: str, *, line: int | None = None, empty_ok: bool = False) -> None:
    """A free-text field: no NUL, CR or LF (RFC 8866 §5), and not empty unless allowed."""
    if not value and not empty_ok:
        raise SdpError(f"{what} is empty", line=line)
    if BAD_TEXT_RE.search(value):
        raise SdpError(f"{what} contains NUL, CR or LF (RFC 8866 §5)", line=line)


def excerpt(text: str, limit: int = 40) -> str:
    """A short repr of peer text for an error message (the error redacts keys)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
