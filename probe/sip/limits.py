"""Named size limits for parsing SIP from an untrusted peer.

A verifier talks to servers it does not control, some of them broken.  Every buffer
the codec fills on the peer's behalf is bounded by one of these fields, and each bound
is checked while bytes arrive (see :mod:`probe.sip.framing`), not after the fact.  The
``SipLimitError`` raised names the field, so a report can say which knob to turn.
Each limit is inclusive: a value exactly at the limit is accepted, one past it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SipBuildError

__all__ = ["DEFAULT_LIMITS", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a peer may make us buffer."""

    # One physical line of the head, excluding its CRLF.  Real SIP lines are short;
    # the longest legitimate ones are Via/Record-Route lists and Digest challenges,
    # well under 2 KiB.  8 KiB matches the per-line limit common HTTP servers use
    # (Apache's LimitRequestFieldSize) and stops an endless line long before the
    # head limit would.
    max_line_bytes: int = 8 * 1024
    # The whole head: start line, header lines and the blank line ending it.  RFC 3261
    # sets no bound; 32 KiB is twice h11's 16 KiB incomplete-event bound because SIP
    # heads carry many Via/Route entries behind proxies.
    max_header_bytes: int = 32 * 1024
    # Number of header fields (logical headers after unfolding, not list elements).
    # A typical response has 10-25; 128 leaves room for proxies while bounding the
    # per-header work a hostile peer can cause.
    max_headers: int = 128
    # Message body.  A verifier only ever reads SDP answers and small error bodies;
    # 64 KiB is also the largest UDP datagram, the natural ceiling for SIP bodies.
    max_body_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        # A body limit of 0 is meaningful (bodies forbidden); the others are not.
        minimums = {"max_line_bytes": 1, "max_header_bytes": 1, "max_headers": 1}
        for name in ("max_line_bytes", "max_header_bytes", "max_headers", "max_body_bytes"):
            value = getattr(self, name)
            low = minimums.get(name, 0)
            # bool is an int subclass; True as a limit is always a caller mistake.
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SipBuildError(f"Limits.{name} must be an int >= {low}, got {value!r}")


DEFAULT_LIMITS = Limits()
