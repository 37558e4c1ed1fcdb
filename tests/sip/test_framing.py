"""Stream framing over TCP/TLS (RFC 3261 §18.3, RFC 5626 §3.5.1 keep-alives)."""

from __future__ import annotations

import pytest

from probe.sip import Limits, Message, SipLimitError, SipParseError, StreamFramer, parse_message

from .samples import REQUEST_LINES, RESPONSE_LINES, replace_header, wire

RESPONSE = wire(RESPONSE_LINES)
REQUEST = wire(REQUEST_LINES)
WITH_BODY = wire(
    replace_header(RESPONSE_LINES, "Content-Length", "Content-Length: 11"), b"hello world"
)


def drain(framer: StreamFramer) -> list[Message]:
    out: list[Message] = []
    while (message := framer.next_message()) is not None:
        out.append(message)
    return out


def test_one_message():
    framer = StreamFramer()
    framer.feed(RESPONSE)
    assert framer.next_message() == parse_message(RESPONSE, stream=True)
    assert framer.next_message() is None
    assert framer.buffered_bytes == 0


def test_several_messages_in_one_feed():
    framer = StreamFramer()
    framer.feed(RESPONSE + WITH_BODY + REQUEST)
    assert drain(framer) == [parse_message(m) for m in (RESPONSE, WITH_BODY, REQUEST)]


def test_keepalives_between_messages_are_skipped_and_counted():
    framer = StreamFramer()
    # ping, message, pong, message, ping + pong
    framer.feed(b"\r\n\r\n" + RESPONSE + b"\r\n" + REQUEST + b"\r\n\r\n\r\n")
    assert drain(framer) == [parse_message(RESPONSE), parse_message(REQUEST)]
    assert framer.keepalives == 4
    assert framer.buffered_bytes == 0


def test_lone_pong_is_counted_at_once():
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_message() is None
    assert framer.keepalives == 1


def test_keepalive_split_into_bytes_counts_the_same():
    framer = StreamFramer()
    for byte in b"\r\n\r\n":
        framer.feed(bytes([byte]))
        assert framer.next_message() is None
    assert framer.keepalives == 1
    framer.feed(RESPONSE)
    assert framer.next_message() is not None


def test_a_message_ending_in_a_blank_line_is_no_ping():
    # A body-less message ends in CRLF CRLF: those bytes are the message's, not a ping.
    framer = StreamFramer()
    framer.feed(REQUEST)
    assert framer.next_message() == parse_message(REQUEST)
    assert framer.next_message() is None
    assert (framer.pings, framer.crlfs, framer.keepalives) == (0, 0, 0)


def test_pings_are_counted_in_pairs_whatever_the_chunking():
    framer = StreamFramer()
    for chunk in (b"\r\n\r", b"\n", b"\r\n", b"\r", b"\n"):
        framer.feed(chunk)
        assert framer.next_message() is None
    assert (framer.pings, framer.crlfs) == (2, 4)


def test_pairs_count_from_the_end_of_the_last_message():
    # A lone CRLF before a message (RFC 3261 §7.5) leaves no half ping behind it.
    framer = StreamFramer()
    framer.feed(b"\r\n" + REQUEST + b"\r\n")
    assert framer.next_message() is not None
    assert framer.next_message() is None
    assert (framer.pings, framer.crlfs) == (0, 2)
    framer.feed(b"\r\n")
    assert framer.next_message() is None
    assert (framer.pings, framer.crlfs) == (1, 3)


def test_a_pong_is_a_crlf_and_no_message():
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_message() is None
    assert (framer.pings, framer.crlfs) == (0, 1)
    assert not framer.partial
    framer.feed(RESPONSE)
    assert framer.next_message() == parse_message(RESPONSE)


def test_a_ping_before_a_message_in_one_read_is_counted_before_it():
    framer = StreamFramer()
    framer.feed(b"\r\n\r\n" + REQUEST)
    assert framer.next_message() == parse_message(REQUEST)
    assert framer.pings == 1


def test_byte_by_byte_gives_the_same_messages():
    stream = b"\r\n" + RESPONSE + WITH_BODY + b"\r\n\r\n" + REQUEST
    expected = [parse_message(m) for m in (RESPONSE, WITH_BODY, REQUEST)]
    framer = StreamFramer()
    got = []
    for byte in stream:
        framer.feed(bytes([byte]))
        got.extend(drain(framer))
    assert got == expected
    assert framer.keepalives == 2
    assert framer.buffered_bytes == 0


def test_body_split_across_feeds():
    head = WITH_BODY.split(b"\r\n\r\n")[0]
    framer = StreamFramer()
    framer.feed(head + b"\r\n\r\nhello")
    assert framer.next_message() is None
    assert framer.buffered_bytes == len(head) + 4 + 5
    framer.feed(b" wor")
    assert framer.next_message() is None
    framer.feed(b"ld" + RESPONSE[:10])
    message = framer.next_message()
    assert message is not None
    assert message.body == b"hello world"
    assert framer.next_message() is None
    assert framer.buffered_bytes == 10


def test_buffered_bytes_reports_a_stall():
    framer = StreamFramer()
    framer.feed(RESPONSE[:37])
    assert framer.next_message() is None
    assert framer.buffered_bytes == 37


def test_missing_content_length_is_an_error_on_a_stream():
    framer = StreamFramer()
    framer.feed(wire(replace_header(RESPONSE_LINES, "Content-Length", None)))
    with pytest.raises(SipParseError, match="missing Content-Length"):
        framer.next_message()


def test_endless_header_line_fails_before_any_crlf():
    limits = Limits(max_line_bytes=64)
    framer = StreamFramer(limits)
    framer.feed(b"SIP/2.0 200 OK\r\nX-Endless: ")
    framer.feed(b"a" * (64 - len(b"X-Endless: ")))
    assert framer.next_message() is None  # exactly at the limit: still fine
    framer.feed(b"\r")  # could be the start of CRLF: not counted yet
    assert framer.next_message() is None
    framer.feed(b"a")
    with pytest.raises(SipLimitError) as info:
        framer.next_message()
    assert info.value.limit == "max_line_bytes"
    assert info.value.line == 2


def test_endless_start_line_fails_before_any_crlf():
    framer = StreamFramer(Limits(max_line_bytes=64))
    framer.feed(b"X" * 65)
    with pytest.raises(SipLimitError, match="max_line_bytes=64"):
        framer.next_message()


def test_endless_head_fails_before_the_blank_line():
    limit = len(RESPONSE) + 40
    framer = StreamFramer(Limits(max_header_bytes=limit))
    framer.feed(RESPONSE[:-2])  # every line complete, but no blank line yet
    assert framer.next_message() is None
    framer.feed(b"X-More: " + b"m" * (limit - len(RESPONSE) + 2 - 8 - 1))
    assert framer.buffered_bytes == limit - 1
    assert framer.next_message() is None  # below the limit: not refused yet
    framer.feed(b"m")
    with pytest.raises(SipLimitError) as info:
        framer.next_message()
    assert info.value.limit == "max_header_bytes"


def test_content_length_above_max_body_fails_before_the_body():
    framer = StreamFramer(Limits(max_body_bytes=1000))
    framer.feed(wire(replace_header(RESPONSE_LINES, "Content-Length", "Content-Length: 1001")))
    with pytest.raises(SipLimitError) as info:
        framer.next_message()
    assert info.value.limit == "max_body_bytes"
    assert info.value.value == 1000


def test_poisoned_after_an_error():
    framer = StreamFramer()
    framer.feed(b"HELLO\n")
    with pytest.raises(SipParseError) as first:
        framer.next_message()
    with pytest.raises(SipParseError) as again:
        framer.next_message()
    assert again.value is first.value
    with pytest.raises(SipParseError) as on_feed:
        framer.feed(RESPONSE)
    assert on_feed.value is first.value


def test_bare_lf_between_messages_is_an_error():
    framer = StreamFramer()
    framer.feed(RESPONSE + b"\n" + RESPONSE)
    assert framer.next_message() is not None
    with pytest.raises(SipParseError, match="CRLF"):
        framer.next_message()


def test_lone_cr_waits_for_the_next_byte():
    framer = StreamFramer()
    framer.feed(b"\r")
    assert framer.next_message() is None
    assert framer.keepalives == 0
    framer.feed(b"X\r\n\r\n")
    with pytest.raises(SipParseError, match="CR without LF"):
        framer.next_message()


def test_error_in_second_message_after_a_good_one():
    framer = StreamFramer()
    framer.feed(RESPONSE + RESPONSE.replace(b"SIP/2.0 200", b"SIP/2.0 999"))
    assert framer.next_message() is not None
    with pytest.raises(SipParseError, match="999") as info:
        framer.next_message()
    assert info.value.line == 1


def test_scanning_resumes_where_it_stopped():
    # Linear time: a head fed in small pieces is scanned once, not once per feed.
    framer = StreamFramer()
    head = RESPONSE[:-2]
    for i in range(0, len(head), 3):
        framer.feed(head[i : i + 3])
        assert framer.next_message() is None
        assert framer._scanner._pos == framer.buffered_bytes
