"""Property tests: the codec never raises anything but SipParseError on junk, round-trips
what it builds, and frames a stream the same way however it is chunked."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from probe.sip import (
    Headers,
    NameAddr,
    SipParseError,
    SipUri,
    StreamFramer,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)
from probe.sip.builders import _contact_value, _from_value, _probe_uri, _to_value, request_uri_of
from probe.sip.limits import DEFAULT_LIMITS
from probe.sip.message import _field_lines, _parse_header_lines_one_by_one

from .strategies import (
    chunkings,
    fuzz_settings,
    junk_bytes,
    junk_text,
    message_streams,
    options_requests,
    ports,
    responses,
    sip_uris,
    transports,
)

pytestmark = pytest.mark.fuzz


@fuzz_settings()
@given(junk_bytes, st.booleans())
def test_parse_message_raises_only_parse_errors(data, stream):
    try:
        message = parse_message(data, stream=stream)
    except SipParseError:
        return
    # The parser keeps its fields unchecked (Headers.parsed): they must be fields the
    # checking constructor accepts as they are.
    assert Headers(message.headers.items()) == message.headers
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
    assert (chunked.pings, chunked.crlfs) == (whole.pings, whole.crlfs)
    assert chunked.buffered_bytes == whole.buffered_bytes == 0


# Header lines as a peer may send them: fields with white space around names, colons and
# values, empty values; now and then a fold, a bad name, control or non-UTF-8 bytes.
_space = st.sampled_from(["", " ", "\t", "  \t", " \t "])
_value_parts = st.sampled_from(
    ["", "v", "a b", "a\tb", "x:y", "SIP/2.0/TLS h;branch=z9hG4bK1", "é", "\u2028", "\x85", " "]
)
_fields = st.builds(
    lambda name, s1, s2, value, s3: f"{name}{s1}:{s2}{value}{s3}".encode(),
    st.sampled_from(["Via", "To", "x-Custom", "CSeq", "a", "i", "Call-ID"]),
    _space,
    _space,
    st.lists(_value_parts, max_size=3).map("".join),
    _space,
)
_odd_lines = st.one_of(
    st.builds(lambda s, value: f"{s}{value}".encode(), st.sampled_from([" ", "\t"]), _value_parts),
    st.sampled_from([b"Bad Name: x", b": no name", b"\xc3\x28: x", b"X: \xff", b"Na\x00me: x"]),
    st.binary(max_size=12).filter(lambda raw: b"\r\n" not in raw and b"\n" not in raw),
)
header_lines = st.builds(
    lambda fields, odd, where: [*fields[:where], *odd, *fields[where:]],
    st.lists(_fields, max_size=8),
    st.lists(_odd_lines, max_size=1),
    st.integers(min_value=0, max_value=8),
)


@fuzz_settings()
@given(header_lines, st.integers(min_value=1, max_value=10))
def test_header_lines_read_in_one_pass_agree_with_the_line_by_line_reading(lines, most):
    """The one-pass reading of a plain head answers only where the line-by-line reading
    accepts the same lines, and then with the same fields."""
    limits = dataclasses.replace(DEFAULT_LIMITS, max_headers=most)
    fast = _field_lines(lines, limits)
    event("one pass" if fast is not None else "line by line")
    if fast is None:
        return
    fields, numbers = _parse_header_lines_one_by_one(lines, limits)
    assert fast == fields
    assert numbers == list(range(2, len(lines) + 2))


def test_a_plain_head_is_read_in_one_pass_and_a_folded_one_line_by_line():
    plain = [b"Via: SIP/2.0/TLS h;branch=z9hG4bK1", b"To:\t<sip:a@b> ;tag=1 ", b"X-Empty:"]
    assert _field_lines(plain, DEFAULT_LIMITS) == [
        ("Via", "SIP/2.0/TLS h;branch=z9hG4bK1"),
        ("To", "<sip:a@b> ;tag=1"),
        ("X-Empty", ""),
    ]
    assert _field_lines([*plain, b" folded"], DEFAULT_LIMITS) is None
    assert _field_lines([b"Bad Name: x"], DEFAULT_LIMITS) is None
    assert _field_lines([b"X: \xff"], DEFAULT_LIMITS) is None
    too_many = dataclasses.replace(DEFAULT_LIMITS, max_headers=2)
    assert _field_lines(plain, too_many) is None


@fuzz_settings()
@given(sip_uris(), ports, transports, st.booleans())
def test_header_values_are_the_uris_a_builder_would_check_and_print(
    target: SipUri, local_port: int, transport: str, dialled_with_extras: bool
) -> None:
    """From, To, Contact and the Request-URI are formatted from parts without building a
    SipUri each time: the text is what the checked objects print."""
    if dialled_with_extras:  # what a Request-URI must drop (RFC 3261 §19.1.5)
        target = dataclasses.replace(
            target, params=(*target.params, ("method", "INVITE")), headers=(("subject", "x"),)
        )
    to_uri = SipUri(target.scheme, target.user, None, target.host, target.host_kind, None)
    assert _to_value(target) == str(NameAddr(None, to_uri))
    secure_stream = target.scheme == "sips" and transport in ("TLS", "TCP")
    contact_params = () if secure_stream else (("transport", transport.lower()),)
    contact = SipUri(
        target.scheme, "sipprobe", None, target.host, target.host_kind, local_port, contact_params
    )
    assert _contact_value(target.scheme, target.host, local_port, transport) == str(
        NameAddr(None, contact)
    )
    probe_uri = _probe_uri(target.scheme, target.host, target.host_kind)
    assert _from_value(probe_uri, "t4g") == str(NameAddr(None, probe_uri, (("tag", "t4g"),)))
    expected = dataclasses.replace(
        target,
        password=None,  # §19.1.1: never sent
        params=tuple(p for p in target.params if p[0] != "method"),
        headers=(),
    )
    assert request_uri_of(target) == expected
