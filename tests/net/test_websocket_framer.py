"""One SIP message per WebSocket message (RFC 7118 §5.1), read through wsproto: the
framer fed the frames a real wsproto server produces, no socket."""

from __future__ import annotations

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from probe.net.websocket import WebSocketClosed, WebSocketLink
from probe.sip import Limits, Response, SipLimitError, SipParseError

# No Content-Length: over WebSocket the message boundary is the WebSocket one.
OK = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/WSS 127.0.0.1:40000;branch=z9hG4bKabc\r\n"
    "From: <sip:sipprobe@127.0.0.1>;tag=ft\r\n"
    "To: <sip:edge.example.test>;tag=tt\r\n"
    "Call-ID: call-1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "\r\n"
)


class Sink:
    """The stream's writer: keeps what the link writes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def opened() -> tuple[WebSocketLink, WSConnection, Sink]:
    """A client link and the wsproto server it is open to, after a real handshake."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="edge.example.test", target="/")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection(subprotocol=None)))
    assert isinstance(next(client.events()), AcceptConnection)
    sink = Sink()
    return WebSocketLink(client, sink), server, sink


def server_events(server: WSConnection, data: bytes) -> list[object]:
    server.receive_data(data)
    return list(server.events())


def test_one_text_message_is_one_sip_message_without_content_length() -> None:
    link, server, _ = opened()
    framer = link.framer()
    framer.feed(server.send(TextMessage(data=OK)))
    message = framer.next_message()
    assert isinstance(message, Response)
    assert message.status_code == 200
    assert framer.last_frame == OK.encode()
    assert framer.next_message() is None
    assert not framer.partial


def test_a_fragmented_message_fed_byte_by_byte_comes_out_whole() -> None:
    link, server, _ = opened()
    framer = link.framer()
    wire = server.send(TextMessage(data=OK[:40], message_finished=False))
    wire += server.send(TextMessage(data=OK[40:], message_finished=True))
    partial_seen = False
    for index in range(len(wire) - 1):
        framer.feed(wire[index : index + 1])
        assert framer.next_message() is None
        partial_seen = partial_seen or framer.partial
    assert partial_seen
    assert framer.buffered_bytes > 0
    framer.feed(wire[-1:])
    message = framer.next_message()
    assert isinstance(message, Response)
    assert framer.last_frame == OK.encode()
    assert not framer.partial


def test_two_messages_in_one_read_are_two_messages() -> None:
    link, server, _ = opened()
    framer = link.framer()
    second = OK.replace("CSeq: 1", "CSeq: 2")
    framer.feed(server.send(TextMessage(data=OK)) + server.send(BytesMessage(data=second.encode())))
    first = framer.next_message()
    then = framer.next_message()
    assert isinstance(first, Response)
    assert isinstance(then, Response)
    assert then.headers.get("CSeq") == "2 OPTIONS"


def test_a_ping_is_answered_with_its_payload() -> None:
    link, server, sink = opened()
    framer = link.framer()
    framer.feed(server.send(Ping(payload=b"are you there")))
    assert framer.next_message() is None
    assert server_events(server, bytes(sink.data)) == [Pong(payload=b"are you there")]


def test_pongs_are_kept_and_our_ping_carries_its_data() -> None:
    link, server, sink = opened()
    framer = link.framer()
    assert server_events(server, link.ping_frame(b"abcd1234")) == [Ping(payload=b"abcd1234")]
    framer.feed(server.send(Pong(payload=b"abcd1234")) + server.send(Pong(payload=b"other")))
    assert framer.next_message() is None
    assert framer.pongs == (b"abcd1234", b"other")
    assert sink.data == b""  # a Pong is answered with nothing


def test_a_message_of_crlfs_is_a_keepalive_not_a_sip_message() -> None:
    # Kamailio answers a CRLF CRLF text message with a CRLF one; neither is SIP.
    link, server, _sink = opened()
    framer = link.framer()
    framer.feed(
        server.send(TextMessage(data="\r\n"))
        + server.send(TextMessage(data="\r\n\r\n"))
        + server.send(TextMessage(data=OK))
    )
    message = framer.next_message()
    assert isinstance(message, Response)
    assert framer.keepalives == 2
    assert framer.last_frame == OK.encode()
    assert framer.next_message() is None


def test_a_message_with_more_than_crlfs_is_parsed_and_refused() -> None:
    link, server, _sink = opened()
    framer = link.framer()
    framer.feed(server.send(TextMessage(data="\r\n \r\n")))
    with pytest.raises(SipParseError):
        framer.next_message()
    assert framer.keepalives == 0


def test_the_servers_close_is_answered_and_raised() -> None:
    link, server, sink = opened()
    framer = link.framer()
    framer.feed(server.send(CloseConnection(code=1001, reason="going away")))
    with pytest.raises(WebSocketClosed) as closed:
        framer.next_message()
    assert closed.value.code == 1001
    assert str(closed.value) == "the server closed the WebSocket (close code 1001: going away)"
    (reply,) = server_events(server, bytes(sink.data))
    assert isinstance(reply, CloseConnection)
    with pytest.raises(ConnectionError):
        link.encode(OK.encode())  # nothing more goes out on a closed WebSocket


def test_a_message_above_the_limits_is_refused_and_the_websocket_closed() -> None:
    link, server, sink = opened()
    framer = link.framer(Limits(max_header_bytes=100, max_body_bytes=100))
    with pytest.raises(SipLimitError):
        framer.feed(server.send(TextMessage(data=OK + "x" * 200)))
    with pytest.raises(SipLimitError):  # poisoned: the same error again
        framer.next_message()
    (reply,) = server_events(server, bytes(sink.data))
    assert isinstance(reply, CloseConnection)
    assert reply.code == 1009


def test_a_masked_frame_from_the_server_breaks_the_framing() -> None:
    """RFC 6455 §5.1: a server never masks its frames; a client that gets one must fail
    the connection. A client's own (masked) frame stands in for such a server."""
    link, _, _ = opened()
    framer = link.framer()
    masked = Connection(ConnectionType.CLIENT).send(TextMessage(data=OK))
    with pytest.raises(SipParseError, match="broke WebSocket framing"):
        framer.feed(masked)  # wsproto checks the mask bit as soon as the header is read


def test_a_websocket_message_that_is_not_sip_is_a_parse_error() -> None:
    link, server, _ = opened()
    framer = link.framer()
    framer.feed(server.send(TextMessage(data="hello, websocket\r\n")))
    with pytest.raises(SipParseError):
        framer.next_message()


def test_a_sip_message_goes_out_as_text_or_binary_as_its_bytes_allow() -> None:
    link, server, _ = opened()
    text = server_events(server, link.encode(OK.encode()))
    assert text == [TextMessage(data=OK, frame_finished=True, message_finished=True)]
    binary = OK.encode() + b"\xff\xfe"
    (event,) = server_events(server, link.encode(binary))
    assert isinstance(event, BytesMessage)
    assert bytes(event.data) == binary
