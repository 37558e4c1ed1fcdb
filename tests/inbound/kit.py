"""What the inbound tests build: a trunk's INVITE as it arrives (an SDES offer with keys
these tests know, so that they can look for them), our SDES answer, the messages of a
call, and a good call over mutual TLS with the lab's certificate, judged at a time it is
valid."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.inbound import (
    InboundCall,
    InboundConnection,
    InboundEvidence,
    InboundExpectation,
    InboundTls,
    Listening,
)
from probe.evidence.model import MediaEvidence, WireEvent
from probe.tls.trust import TrustAnchors
from probe.verdict.checks.policy import InboundPolicy
from tests.evidence.sample import lab

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
STARTED_AT = "2026-11-27T12:00:00.000+00:00"
PEER_NAME = "sbc.example.test"
"""The name the lab's server certificate proves, here the calling trunk's."""
PEER = "192.0.2.7:5061"

OFFER_KEY = base64.b64encode(bytes(range(1, 31))).decode()
"""The key||salt of the caller's offer (30 bytes, AES_CM_128_HMAC_SHA1_80)."""
OFFER_KEY_32 = base64.b64encode(bytes(range(31, 61))).decode()
ANSWER_KEY = base64.b64encode(bytes(range(101, 131))).decode()
"""The key||salt of our answer."""
SECRETS = (OFFER_KEY, OFFER_KEY_32, ANSWER_KEY)


def crlf(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def offer(
    proto: str = "RTP/SAVP",
    crypto: tuple[str, ...] = (
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{OFFER_KEY}|2^31",
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{OFFER_KEY_32}|2^31",
    ),
    extra: tuple[str, ...] = (),
    port: int = 40000,
) -> bytes:
    return crlf(
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.7",
        "s=-",
        "c=IN IP4 192.0.2.7",
        "t=0 0",
        f"m=audio {port} {proto} 0 101",
        "a=rtpmap:0 PCMU/8000",
        *crypto,
        *extra,
        "a=sendrecv",
    )


ANSWER = crlf(
    "v=0",
    "o=- 2 2 IN IP4 198.51.100.20",
    "s=-",
    "c=IN IP4 198.51.100.20",
    "t=0 0",
    "m=audio 30000 RTP/SAVP 0",
    f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{ANSWER_KEY}|2^31",
    "a=sendrecv",
)

FINGERPRINT = (
    "a=fingerprint:sha-256 06:29:84:32:E8:06:6B:29:E2:22:3B:CC:23:AA:95:04:"
    "B5:6A:E5:08:FA:BF:34:35:50:88:69:B9:C3:19:0E:22"
)


def invite(
    body: bytes | None = None,
    *,
    via_host: str = PEER_NAME,
    contact: str | None = f"<sip:+15550123@{PEER_NAME}:5061;transport=tls>",
    pai: str | None = "<sip:+15550123@sbc.example.test;user=phone>",
    headers: tuple[str, ...] = (),
    request_uri: str = "sip:+15550100@probe.example.test:5061;transport=tls",
) -> bytes:
    body = offer() if body is None else body
    lines = [
        f"INVITE {request_uri} SIP/2.0",
        f"Via: SIP/2.0/TLS {via_host}:5061;branch=z9hG4bK-inbound-1",
        "Max-Forwards: 70",
        'From: "Caller" <sip:+15550123@sbc.example.test>;tag=caller-1',
        "To: <sip:+15550100@probe.example.test>",
        "Call-ID: inbound-1@sbc.example.test",
        "CSeq: 1 INVITE",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if pai is not None:
        lines.append(f"P-Asserted-Identity: {pai}")
    lines += list(headers)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response(status: str, body: bytes = b"") -> bytes:
    lines = [
        f"SIP/2.0 {status}",
        f"Via: SIP/2.0/TLS {PEER_NAME}:5061;branch=z9hG4bK-inbound-1",
        'From: "Caller" <sip:+15550123@sbc.example.test>;tag=caller-1',
        "To: <sip:+15550100@probe.example.test>;tag=us-1",
        "Call-ID: inbound-1@sbc.example.test",
        "CSeq: 1 INVITE",
        "Contact: <sip:probe@198.51.100.20:5061;transport=tls>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request(method: str, body: bytes = b"", cseq: int = 1) -> bytes:
    lines = [
        f"{method} sip:probe@198.51.100.20:5061;transport=tls SIP/2.0",
        f"Via: SIP/2.0/TLS {PEER_NAME}:5061;branch=z9hG4bK-inbound-{method.lower()}",
        "Max-Forwards: 70",
        "From: <sip:+15550123@sbc.example.test>;tag=caller-1",
        "To: <sip:+15550100@probe.example.test>;tag=us-1",
        "Call-ID: inbound-1@sbc.example.test",
        f"CSeq: {cseq} {method}",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def client_chain() -> tuple[bytes, ...]:
    """The lab's server certificate (serverAuth and clientAuth, for sbc.example.test) and
    its intermediate: what a trunk presents when it calls with mutual TLS."""
    pki = lab()
    return tuple(c.cert.public_bytes(Encoding.DER) for c in (pki.server, pki.intermediate))


def session(**changes: Any) -> InboundTls:
    base = InboundTls(
        version="TLSv1.3",
        cipher="TLS_AES_256_GCM_SHA384",
        client_cert_requested=True,
        client_chain=client_chain(),
        sni="probe.example.test",
        elapsed_ms=4.2,
    )
    return replace(base, **changes)


def good_call(number: int = 1, **changes: Any) -> InboundCall:
    """A call that did everything right: mutual TLS with a certificate for the expected
    peer, an SDES offer, our SDES answer, SRTP both ways, the caller's BYE."""
    data = changes.pop("invite", None) or invite()
    events = (
        WireEvent(0.0, "received", data),
        WireEvent(1.0, "sent", response("100 Trying")),
        WireEvent(2.0, "sent", response("200 OK", ANSWER)),
        WireEvent(30.0, "received", request("ACK")),
        WireEvent(2030.0, "received", request("BYE", cseq=2)),
        WireEvent(2031.0, "sent", response("200 OK")),
    )
    base = InboundCall(
        number=number,
        transport="tls",
        peer=PEER,
        local="198.51.100.20:5061",
        at_ms=1500.0,
        invite=data,
        tls=session(),
        events=events,
        answer=ANSWER,
        final_status=200,
        acked=True,
        teardown="caller_bye",
        media=MediaEvidence(
            suite="AES_CM_128_HMAC_SHA1_80",
            sent=100,
            received=100,
            authenticated=100,
            remote="192.0.2.7:40000",
        ),
        elapsed_ms=2031.0,
    )
    return replace(base, **changes)


def expectation(**changes: Any) -> InboundExpectation:
    return replace(InboundExpectation(calls=1, within_s=60.0, verify_media=True), **changes)


def evidence(*calls: InboundCall, **changes: Any) -> InboundEvidence:
    base = InboundEvidence(
        listening=(Listening("tls", "198.51.100.20", 5061),),
        expectation=expectation(),
        calls=calls or (good_call(),),
        waited_ms=2500.0,
    )
    return replace(base, **changes)


def failed_handshake(peer: str = "192.0.2.8:40312") -> InboundConnection:
    return InboundConnection(
        transport="tls",
        peer=peer,
        at_ms=900.0,
        tls=InboundTls(
            client_cert_requested=True,
            error="tlsv1 alert unknown ca",
        ),
    )


def policy(**changes: Any) -> InboundPolicy:
    anchors = TrustAnchors((lab().root.cert,), "lab root")
    base = InboundPolicy(
        expect_peer=(PEER_NAME,), require_client_cert=True, anchors=anchors, now=NOW
    )
    return replace(base, **changes)
