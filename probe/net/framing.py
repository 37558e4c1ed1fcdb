"""What reads SIP messages off a connection: the Content-Length framer of TCP and TLS
(probe.sip.StreamFramer, RFC 3261 §18.3) or, over WebSocket, one SIP message per
WebSocket message (probe.net.websocket.WebSocketFramer, RFC 7118 §5.1). Both follow
h11's reader contract: `next_message` returns a message, None for "feed me more", or
raises."""

from __future__ import annotations

from typing import Protocol

from probe.sip import Limits, Message

__all__ = ["MessageFramer"]


class MessageFramer(Protocol):
    """SIP messages out of the bytes a connection reads."""

    @property
    def limits(self) -> Limits:
        """The limits every message is framed and parsed under."""
        ...

    @property
    def buffered_bytes(self) -> int:
        """Bytes received and not yet returned as a message."""
        ...

    @property
    def last_frame(self) -> bytes:
        """The exact bytes of the message last returned: evidence."""
        ...

    @property
    def partial(self) -> bool:
        """True while a message has begun and not ended."""
        ...

    def buffered(self, limit: int | None = None) -> bytes:
        """A copy of the bytes waiting (at most `limit`)."""
        ...

    def feed(self, data: bytes) -> None:
        """Bytes read from the connection."""
        ...

    def next_message(self) -> Message | None:
        """The next complete message, None if more bytes are needed, or raise."""
        ...
