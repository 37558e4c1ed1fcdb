"""The one error hierarchy of the SDP codec, and the redaction every message goes through.

Like :mod:`probe.sip.errors` (after h11's Local/Remote split): the peer sent SDP we
cannot accept (:class:`SdpError`, with :class:`SdpLimitError` for the resource case), or
our own code asked for an offer that cannot be built (:class:`SdpBuildError`).
:func:`probe.sdp.parse_sdp` and :func:`probe.sdp.parse_crypto` raise only
:class:`SdpError` and its subclasses, whatever they are fed; the property tests check it.

Every message says what was wrong and where ("line 7: ..."), because the verifier shows
it to a network engineer as a finding.  An SDP carries SRTP master keys (RFC 4568
``inline:`` key-params), and an error message may quote part of a line, so each message
is passed through :func:`redact` before it is stored: no key reaches a report through
an exception.
"""

from __future__ import annotations

import re

from probe.errors import ProbeError

__all__ = ["SdpBuildError", "SdpError", "SdpLimitError", "redact"]

# RFC 4568 §9.1: key-param = key-method ":" key-info, and for SRTP the key-info starts
# with the base64 key||salt, ended by "|" (lifetime or MKI), ";" (the next key-param) or
# whitespace (a session parameter or the end of the line).  Everything up to one of those
# is treated as secret, including malformed keys.  Quotes end it too, so that a key inside
# a Python repr or a JSON string is cut at the closing quote.  A value that is already a
# redaction marker is left alone, so redact() is idempotent.
_INLINE_KEY_RE = re.compile(r"(inline:)(?!<redacted)[^|;\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every ``inline:<key>`` replaced by ``inline:<redacted>``.

    Works on anything that may quote an ``a=crypto`` line: a whole SIP message dump, an
    SDP, a repr, an error message.  Lifetime, MKI and session parameters stay visible;
    they are not secret and a reader needs them to understand a negotiation.
    """
    return _INLINE_KEY_RE.sub(r"\1<redacted>", text)


class SdpError(ProbeError):
    """The SDP is malformed or cannot be accepted.

    ``detail`` says what was wrong (already redacted); ``line`` is the 1-based line of
    the description (``v=`` is line 1) when the error can be pinned to one.
    """

    def __init__(self, detail: str, *, line: int | None = None) -> None:
        self.detail = redact(detail)
        self.line = line
        super().__init__(f"line {line}: {self.detail}" if line is not None else self.detail)


class SdpLimitError(SdpError):
    """A named size limit (a field of :class:`probe.sdp.SdpLimits`) was exceeded.

    ``limit`` is the field name, e.g. ``"max_lines"``, and ``value`` its value, so a
    report can say which knob a legitimate but large description would need.
    """

    def __init__(self, limit: str, value: int, detail: str, *, line: int | None = None) -> None:
        self.limit = limit
        self.value = value
        super().__init__(f"{limit}={value} exceeded: {detail}", line=line)


class SdpBuildError(SdpError):
    """We were asked to build an offer or attribute that is not valid SDP."""
