"""Property tests: the codec never raises anything but SipParseError on junk, round-trips
what it builds, and frames a stream the same way however it is chunked."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.sip import (
    Headers,
    SipParseError,
    StreamFramer,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)

from .strategies import (
    chunkings,
    fuzz_settings,
    junk_bytes,
    junk_text,
    message_streams,
    options_requests,
    responses,
    sip_uris,
)

pytestmark = pytest.mark.fuzz


@fuzz_settings()
@given(junk_bytes, st.booleans())
def test_parse_message_raises_only_parse_errors(data, stream):
    try:
        message = parse_message(data, stream=stream)
    except SipParseError:
        return
    # Whatever parses must serialise and parse back unchanged, except for the
    # Content-Length that to_bytes adds when the datagram had none.
    reparsed = parse_message(message.to_bytes())
    if message.headers.get("Content-Length") is None:
        added = (*message.headers, ("Content-Length", str(len(message.body))))
        message = dataclasses.replace(message, headers=Headers(added))
    assert reparsed == message


@fuzz_settings()
@given(st.data())
def test_stream_framer_raises_only_parse_errors(data):
    raw = data.draw(junk_bytes)
    framer = StreamFramer()
    try:
        for chunk in data.draw(chunkings(raw)):
            framer.feed(chunk)
            while framer.next_message() is not None:
                pass
    except SipParseError:
        return


@fuzz_settings()
@given(junk_text)
def test_text_parsers_raise_only_parse_errors(text):
    for parse in (parse_uri, parse_name_addr, parse_via):
        try:
            value = parse(text)
        except SipParseError:
            continue
        # Whatever parses must serialise and parse back unchanged.
        assert parse(str(value)) == value


@fuzz_settings()
@given(sip_uris())
def test_uri_str_round_trips(uri):
    assert parse_uri(str(uri)) == uri


@fuzz_settings()
@given(options_requests())
def test_built_options_round_trip(request):
    data = request.to_bytes()
    assert parse_message(data) == request
    assert parse_message(data, stream=True) == request
    assert request.top_via.branch.startswith("z9hG4bK")


@fuzz_settings()
@given(responses())
def test_responses_round_trip(response):
    assert parse_message(response.to_bytes(), stream=True) == response


@fuzz_settings()
@given(st.data())
def test_any_chunking_gives_the_same_messages(data):
    parts, stream = data.draw(message_streams())
    expected = [parse_message(part, stream=True) for part in parts]

    whole = StreamFramer()
    whole.feed(stream)
    got_whole = []
    while (message := whole.next_message()) is not None:
        got_whole.append(message)

    chunked = StreamFramer()
    got_chunked = []
    for chunk in data.draw(chunkings(stream)):
        chunked.feed(chunk)
        while (message := chunked.next_message()) is not None:
            got_chunked.append(message)

    assert got_whole == expected
    assert got_chunked == expected
    assert chunked.keepalives == whole.keepalives
    assert chunked.buffered_bytes == whole.buffered_bytes == 0
