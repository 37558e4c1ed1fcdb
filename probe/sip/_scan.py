"""Finding the end of a message head, incrementally and within limits.

Shared by :func:`probe.sip.parse_message` (one pass over a datagram) and
:class:`probe.sip.StreamFramer` (many passes over a growing buffer).  The scanner
remembers how far it has looked, so feeding a head one byte at a time costs linear,
not quadratic, time; and it checks ``max_line_bytes`` / ``max_header_bytes`` on the
bytes seen so far, so a peer that never sends CRLF is stopped as soon as the limit is
passed rather than when (if ever) the line ends.
"""

from __future__ import annotations

from .errors import SipLimitError, SipParseError
from .limits import Limits

_CR = 0x0D


class HeadScanner:
    """Locate the CRLF CRLF that ends a head (§7), line by line."""

    __slots__ = ("_limits", "_line_no", "_line_start", "_pos")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self.reset()

    def reset(self) -> None:
        """Forget progress; the next scan starts a new head at offset 0."""
        self._pos = 0  # where the search for the next LF resumes
        self._line_start = 0  # offset of the first byte of the current line
        self._line_no = 1  # 1-based number of the current line; the start line is 1

    @property
    def line_no(self) -> int:
        return self._line_no

    def scan(self, buf: bytes | bytearray) -> int | None:
        """Return the head's length (through its blank line) or None if incomplete.

        ``buf`` must be the same buffer, only ever grown at its end, between resets.
        """
        limits = self._limits
        while True:
            lf = buf.find(b"\n", self._pos)
            if lf == -1:
                end = len(buf)
                # A trailing CR may be the first half of this line's CRLF.
                pending = end - self._line_start - (1 if buf.endswith(b"\r") else 0)
                if pending > limits.max_line_bytes:
                    raise SipLimitError(
                        "max_line_bytes",
                        limits.max_line_bytes,
                        f"line {self._line_no} already has {pending} bytes and no CRLF",
                        line=self._line_no,
                    )
                # The head needs at least one more byte, so at `end` bytes without a
                # blank line it can no longer fit.
                if end >= limits.max_header_bytes:
                    raise SipLimitError(
                        "max_header_bytes",
                        limits.max_header_bytes,
                        f"{end} bytes received and the header section has not ended",
                        line=self._line_no,
                    )
                self._pos = end
                return None
            if lf == 0 or buf[lf - 1] != _CR:
                # §7: every line of the head MUST end in CRLF.  Accepting bare LF would
                # hide a real interoperability bug of the peer.
                raise SipParseError(
                    "line ends in a bare LF; SIP requires CRLF line endings (RFC 3261 §7)",
                    line=self._line_no,
                )
            length = lf - 1 - self._line_start
            if length > limits.max_line_bytes:
                raise SipLimitError(
                    "max_line_bytes",
                    limits.max_line_bytes,
                    f"line {self._line_no} has {length} bytes",
                    line=self._line_no,
                )
            if length == 0:
                if self._line_no == 1:
                    raise SipParseError("empty start line", line=1)
                head_length = lf + 1
                if head_length > limits.max_header_bytes:
                    raise SipLimitError(
                        "max_header_bytes",
                        limits.max_header_bytes,
                        f"the header section has {head_length} bytes",
                        line=self._line_no,
                    )
                return head_length
            # A complete non-blank line: the blank line still to come adds 2 bytes.
            if lf + 3 > limits.max_header_bytes:
                raise SipLimitError(
                    "max_header_bytes",
                    limits.max_header_bytes,
                    f"the header section has more than {lf + 1} bytes by line {self._line_no}",
                    line=self._line_no,
                )
            self._line_no += 1
            self._line_start = self._pos = lf + 1
