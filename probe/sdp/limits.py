"""Named size limits for parsing SDP from an untrusted peer.

An answer comes from a server the verifier does not control.  Each bound below is a
field of :class:`SdpLimits`; exceeding one raises :class:`SdpLimitError` naming the
field, so a report can say which knob a legitimate but large description would need.
Each limit is inclusive: a value exactly at the limit is accepted, one past it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SdpBuildError

__all__ = ["DEFAULT_SDP_LIMITS", "SdpLimits"]


@dataclass(frozen=True, slots=True)
class SdpLimits:
    """Bounds on how much work a peer's SDP may cause."""

    # The whole description in bytes.  It arrives as a SIP body, which probe.sip
    # already bounds at 64 KiB (the largest UDP datagram); the same bound here means a
    # body the SIP layer accepted is never refused for size alone.  A real answer with
    # audio, video and ICE candidates is 2-6 KiB.
    max_bytes: int = 64 * 1024
    # Number of lines.  A WebRTC-style answer with many ICE candidates and codecs runs
    # to a few hundred lines; 1000 bounds the per-line work while leaving room.
    max_lines: int = 1000
    # Number of m= sections.  A SIP trunk call has one (audio) or two (audio, image
    # for T.38); 64 is generous for bundled multi-stream sessions and still small.
    max_media: int = 64

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_lines", "max_media"):
            value = getattr(self, name)
            # bool is an int subclass; True as a limit is always a caller mistake.
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SdpBuildError(f"SdpLimits.{name} must be an int >= 1, got {value!r}")


DEFAULT_SDP_LIMITS = SdpLimits()
