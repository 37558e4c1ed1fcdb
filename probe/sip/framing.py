"""Message framing on stream transports (RFC 3261 §18.3): TCP and TLS.

:class:`StreamFramer` follows h11's reader contract: :meth:`~StreamFramer.next_message`
returns a message, raises a :class:`SipParseError`, or returns None meaning "feed me
more bytes".  Messages come out identical however the byte stream was chunked.

On a stream the head ends at the first blank line and the body is exactly
Content-Length bytes, so Content-Length is mandatory (§18.3).  Between messages a peer
may send CRLF keep-alives: RFC 5626 §3.5.1 pings (CRLF CRLF) and pongs (CRLF); RFC
3261 §7.5 also tells us to ignore CRLFs before a start line.  They are skipped, never
taken for a message, and counted two ways, because the bytes alone cannot say which
they are: `pings` counts complete CRLF CRLF pairs (what a server answers, RFC 5626
§4.4.1), `crlfs` every CRLF (a client waiting for its pong counts these).  A CRLF that
ends a message's head or body belongs to the message and is never counted.

Every limit is enforced on the bytes already buffered, never by waiting: an endless
line fails once it passes ``max_line_bytes``, a head once it passes
``max_header_bytes``, and a Content-Length above ``max_body_bytes`` as soon as the head
is parsed, before any of the body arrives.
"""

from __future__ import annotations

from ._scan import HeadScanner
from .errors import SipParseError
from .limits import DEFAULT_LIMITS, Limits
from .message import Message, _Head, body_length, parse_head

__all__ = ["StreamFramer"]

_CRLF = b"\r\n"


class StreamFramer:
    """Split a TCP/TLS byte stream into SIP messages.

    After a parse error the framer is poisoned: the stream position of the next
    message is unknowable, so every later call re-raises the same error.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._scanner = HeadScanner(limits)
        # Set once the head of the current message is parsed; the body is awaited.
        self._head: _Head | None = None
        self._head_length = 0
        self._body_length = 0
        # True once the first byte of a start line is seen: no more keep-alive skipping.
        self._in_message = False
        # CRLFs seen since the last message.  Odd ones start a keep-alive, even ones
        # complete a CRLF CRLF ping, so counting is the same whatever the chunking.
        self._crlf_run = 0
        self._keepalives = 0
        self._pings = 0
        self._crlfs = 0
        self._error: SipParseError | None = None
        self._last_frame = b""

    @property
    def limits(self) -> Limits:
        """The limits every message is framed and parsed under."""
        return self._limits

    @property
    def keepalives(self) -> int:
        """CRLF keep-alives skipped so far (a CRLF CRLF ping and a CRLF pong count one)."""
        return self._keepalives

    @property
    def pings(self) -> int:
        """CRLF CRLF pairs completed between messages so far: the RFC 5626 §4.4.1 pings a
        server owes a pong each.  Pairs are counted from the end of the last message, so a
        CR LF CR LF split across reads, or sent a byte at a time, is still one ping."""
        return self._pings

    @property
    def crlfs(self) -> int:
        """CRLFs skipped between messages so far: a client that sent a ping takes the
        next one for its pong (RFC 5626 §4.4.1)."""
        return self._crlfs

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as a message, e.g. to report a stall."""
        return len(self._buf)

    @property
    def last_frame(self) -> bytes:
        """The exact bytes of the message last returned by `next_message`: evidence."""
        return self._last_frame

    @property
    def partial(self) -> bool:
        """True while a message has begun but not ended, as of the last `next_message`.

        Keep-alive CRLFs between messages start no message and do not count.
        """
        return self._in_message

    def buffered(self, limit: int | None = None) -> bytes:
        """A copy of the bytes waiting (at most `limit`), e.g. to show what did not frame."""
        return bytes(self._buf if limit is None else self._buf[:limit])

    def feed(self, data: bytes) -> None:
        """Append bytes received from the stream.  Cheap: parsing happens on demand."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        self._buf += data

    def next_message(self) -> Message | None:
        """Return the next complete message, None if more bytes are needed, or raise."""
        if self._error is not None:
            raise self._error.with_traceback(None)
        try:
            return self._next_message()
        except SipParseError as exc:
            self._error = exc
            raise

    def _next_message(self) -> Message | None:
        if self._head is None:
            if not self._in_message and not self._skip_keepalives():
                return None
            head_length = self._scanner.scan(self._buf)
            if head_length is None:
                return None
            head = parse_head(bytes(self._buf[:head_length]), self._limits)
            # Raises for a missing Content-Length or one above max_body_bytes now,
            # without waiting for a body that may never come.
            self._body_length = body_length(head, 0, stream=True, limits=self._limits)
            self._head, self._head_length = head, head_length
        end = self._head_length + self._body_length
        if len(self._buf) < end:
            return None
        message = self._head.with_body(bytes(self._buf[self._head_length : end]))
        self._last_frame = bytes(self._buf[:end])
        del self._buf[:end]
        self._head = None
        self._in_message = False
        self._scanner.reset()
        return message

    def _skip_keepalives(self) -> bool:
        """Drop CRLFs before a start line; True once a message has begun."""
        buf = self._buf
        skipped = 0
        while buf.startswith(_CRLF, skipped):
            if self._crlf_run % 2 == 0:
                self._keepalives += 1
            else:
                self._pings += 1
            self._crlf_run += 1
            self._crlfs += 1
            skipped += 2
        if skipped:
            del buf[:skipped]
        # A lone CR may be the start of another CRLF: wait for the next byte.
        if not buf or buf == b"\r":
            return False
        self._in_message = True
        self._crlf_run = 0
        return True
