"""`--trace`: every SIP message a run sends and receives, as on the wire, for a person to
read on stderr while the run goes on.

Each message is written whole, in one write, under a line that says when, which way, on
which target and how many bytes; secrets never appear: digest credentials (the values of
Authorization and Proxy-Authorization, RFC 3261 §22.4) and SDES keys (RFC 4568 `inline:`
key-params) are redacted as the evidence file and the report redact them. Over WebSocket
the SIP message is shown, not the frame around it; the HTTP upgrade before it, the
keep-alive ping and pong, and bytes that could not be framed are shown too.

A run makes one `Trace` (its writer is the run's, nothing lives at module level) and each
connection a `WireTrace` naming its target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from probe.evidence.redact import mask_credentials

__all__ = ["Trace", "WireTrace"]


class Trace:
    """One run's trace: what it writes each block with."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def on(self, where: str) -> WireTrace:
        """The trace of one connection to `where` (a target's label)."""
        return WireTrace(self._write, where)


class WireTrace:
    """What crosses one connection, block by block."""

    def __init__(self, write: Callable[[str], None], where: str) -> None:
        self._write = write
        self._where = where

    def sent(self, data: bytes, what: str = "") -> None:
        self._block(f"sent to {self._where}", data, what)

    def received(self, data: bytes, what: str = "") -> None:
        self._block(f"received from {self._where}", data, what)

    def note(self, text: str) -> None:
        self._write(f"--- {_now()} {self._where}: {text}")

    def _block(self, heading: str, data: bytes, what: str) -> None:
        # The SDP codec's redaction, loaded by a run that traces, not by every run.
        from probe.sdp.errors import redact

        kind = f" {what}," if what else ""
        shown = redact(mask_credentials(data).decode("utf-8", "backslashreplace"))
        # Line ends shown as line breaks; a message ends with its blank line (or its body).
        text = shown.replace("\r\n", "\n").rstrip("\n")
        self._write(f"--- {_now()} {heading},{kind} {len(data)} bytes ---\n{text}\n")


def _now() -> str:
    return dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
