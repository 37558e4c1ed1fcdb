"""A parsed message keeps what validating it read (CSeq, From, To, the top Via) and hands
that on, for its own headers only; a parsed URI is not checked a second time."""

from __future__ import annotations

import dataclasses

import pytest

from probe.sip import Headers, Response, SipBuildError, SipUri, parse_message, parse_uri

ANSWER = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK-one, SIP/2.0/TCP 192.0.2.9\r\n"
    b"From: <sip:probe@192.0.2.1>;tag=from-1\r\n"
    b"To: <sip:sbc.example.test>;tag=to-1\r\n"
    b"Call-ID: c1@192.0.2.1\r\n"
    b"CSeq: 7 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_a_parsed_message_reads_its_validated_headers_as_parsed() -> None:
    message = parse_message(ANSWER, stream=True)
    assert message.validated is not None
    assert message.validated.headers is message.headers
    assert message.cseq == message.validated.cseq
    assert (message.cseq.number, message.cseq.method) == (7, "OPTIONS")
    assert message.to.tag == "to-1"
    assert message.from_.tag == "from-1"
    assert message.top_via.branch == "z9hG4bK-one"


def test_a_message_made_with_other_headers_parses_its_own() -> None:
    message = parse_message(ANSWER, stream=True)
    assert isinstance(message, Response)
    headers = Headers(
        [
            (name, "<sip:other.example.test>;tag=to-2" if name == "To" else value)
            for name, value in message.headers
        ]
    )
    changed = dataclasses.replace(message, headers=headers)
    assert changed.to.tag == "to-2", "a stale To was handed on after the headers changed"
    assert changed == dataclasses.replace(message, headers=headers, validated=None)


def test_a_parsed_uri_is_the_one_built_from_its_parts_and_a_changed_one_is_checked() -> None:
    parsed = parse_uri("sip:Alice@Example.COM:5061;Transport=TLS;lr")
    built = SipUri(
        "sip", "Alice", None, "example.com", "name", 5061, (("transport", "TLS"), ("lr", None))
    )
    assert parsed == built
    assert str(parsed) == str(built)
    with pytest.raises(SipBuildError, match="host"):
        dataclasses.replace(parsed, host="Not A Host")
