"""The one error hierarchy of the SIP codec.

Modelled on h11's ``LocalProtocolError`` / ``RemoteProtocolError`` split: the peer sent
us something broken (:class:`SipParseError`, with :class:`SipLimitError` for the
resource-exhaustion case), or our own code asked for something that cannot be put on
the wire (:class:`SipBuildError`).  Parse functions only ever raise
:class:`SipParseError` and its subclass, whatever bytes they are fed; that is what the
property tests check.

Every message says what was wrong *and where*: a line number in the message head, an
offset into a URI, or a header name.  The verifier shows these messages to network
engineers as findings, so they must make sense without a debugger.
"""

from __future__ import annotations

from probe.errors import ProbeError

__all__ = ["SipBuildError", "SipError", "SipLimitError", "SipParseError"]


class SipError(ProbeError):
    """Base class of every error the SIP codec raises."""


class SipParseError(SipError):
    """The peer sent malformed SIP.

    ``detail`` says what was wrong; ``line`` is the 1-based line of the message head
    (the start line is line 1) when the error can be pinned to one.
    """

    def __init__(self, detail: str, *, line: int | None = None) -> None:
        self.detail = detail
        self.line = line
        super().__init__(f"line {line}: {detail}" if line is not None else detail)


class SipLimitError(SipParseError):
    """A named size limit (a field of :class:`probe.sip.Limits`) was exceeded.

    ``limit`` is the field name, e.g. ``"max_header_bytes"``, and ``value`` its value,
    so a report can say which knob a legitimate but large message would need.
    """

    def __init__(self, limit: str, value: int, detail: str, *, line: int | None = None) -> None:
        self.limit = limit
        self.value = value
        super().__init__(f"{limit}={value} exceeded: {detail}", line=line)


class SipBuildError(SipError):
    """We were asked to build a message, URI or header that is not valid SIP."""
