"""A hand-made run that holds every kind of evidence: a TLS target with a real lab chain
and a `--enumerate` result, a test call with an SDES offer, digest credentials and an
SRTP answer, a URI that located nothing, DNS answers of every type, and a failover order.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.file import (
    CallPlan,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunEvidence,
    RunSettings,
)
from probe.evidence.model import (
    AuthEvidence,
    CallEvidence,
    ConnectEvidence,
    HandshakeAttempt,
    MediaEvidence,
    ProbeEvidence,
    Target,
    TlsEnumeration,
    TlsEvidence,
    WireEvent,
)
from probe.evidence.run import Endpoint
from probe.locate.records import (
    DnsAnswer,
    DnsQuery,
    LocatedTarget,
    LocateResult,
    NaptrRecord,
    SrvRecord,
)
from probe.sdp import build_offer
from probe.tls.lab import Lab, build_lab
from tests.checks.evidence_factory import TARGET, exchange, options_request, response
from tests.sdp.samples import KEY30, TWILIO_ANSWER

STARTED_AT = "2026-11-27T00:00:00.000+00:00"
DIGEST_RESPONSE = "6629fae49393a05397450978507c4ef1"
# One line, as probe.sip.build_authorization writes it (folding is tested on its own).
AUTHORIZATION = (
    'Authorization: Digest username="alice", realm="sbc.example.test", nonce="n0nce",'
    f' uri="sip:+15550100@sbc.example.test", response="{DIGEST_RESPONSE}", algorithm=MD5'
)


@functools.cache
def lab() -> Lab:
    # Issued before STARTED_AT, so that the sample is judged at a time it is valid.
    issued = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return build_lab(server_names=("sbc.example.test",), now=issued)


def chain_der(which: Lab | None = None) -> tuple[bytes, ...]:
    pki = which or lab()
    return tuple(c.cert.public_bytes(Encoding.DER) for c in (pki.server, pki.intermediate))


def offer_bytes() -> bytes:
    """An SDES offer with fresh-looking keys (two crypto lines, one per default suite)."""
    sdp = build_offer(
        "sdes",
        address="192.0.2.10",
        port=40000,
        session_id=7,
        random_bytes=lambda n: bytes((7 * i + 3) % 256 for i in range(n)),
    )
    return sdp.to_bytes(reveal_keys=True)


def offer_keys() -> list[str]:
    return re.findall(r"inline:([A-Za-z0-9+/=]+)", offer_bytes().decode())


def sip_message(first_line: str, headers: list[str], body: bytes = b"") -> bytes:
    head = "\r\n".join([first_line, *headers, f"Content-Length: {len(body)}", "", ""])
    return head.encode() + body


def invite() -> bytes:
    return sip_message(
        "INVITE sip:+15550100@sbc.example.test SIP/2.0",
        [
            "Via: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bK2",
            "From: <sip:sipprobe@127.0.0.1>;tag=ft",
            "To: <sip:+15550100@sbc.example.test>",
            "Call-ID: call-2",
            "CSeq: 2 INVITE",
            AUTHORIZATION,
            "Content-Type: application/sdp",
        ],
        offer_bytes(),
    )


def ok_with_answer() -> bytes:
    return sip_message(
        "SIP/2.0 200 OK",
        [
            "Via: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bK2",
            "From: <sip:sipprobe@127.0.0.1>;tag=ft",
            "To: <sip:+15550100@sbc.example.test>;tag=tt",
            "Call-ID: call-2",
            "CSeq: 2 INVITE",
            "Content-Type: application/sdp",
        ],
        TWILIO_ANSWER,
    )


def tls_evidence(target: Target = TARGET, chain: tuple[bytes, ...] | None = None) -> ProbeEvidence:
    request = options_request()
    ok = response(request, 200, "OK", ("Allow", "INVITE, OPTIONS"), ("Supported", "timer"))
    return ProbeEvidence(
        target=target,
        started_at=STARTED_AT,
        timeout_s=5.0,
        connect=ConnectEvidence(True, 0.5, "127.0.0.1", 40000),
        tls=TlsEvidence(
            ok=True,
            sni=target.sni,
            elapsed_ms=3.25,
            version="TLSv1.3",
            cipher="TLS_AES_256_GCM_SHA384",
            cipher_bits=256,
            presented_chain=chain if chain is not None else chain_der(),
            client_cert_requested=False,
        ),
        exchanges=(exchange(request, [ok, (b"\x00garbage", "not a SIP message")]),),
        enumeration=TlsEnumeration(
            versions=(
                HandshakeAttempt("TLS 1.3", "1.3", "TLS_AES_256_GCM_SHA384", True),
                HandshakeAttempt("TLS 1.0", "1.0", None, False, local_refusal=True),
            ),
            tls12_suites=(
                HandshakeAttempt("ECDHE-RSA-AES128-GCM-SHA256", "1.2", None, False, error="x"),
            ),
        ),
    )


def call_evidence(target: Target) -> ProbeEvidence:
    challenge = sip_message("SIP/2.0 401 Unauthorized", ["CSeq: 1 INVITE"])
    call = CallEvidence(
        offer_kind="sdes",
        offer=offer_bytes(),
        events=(
            WireEvent(1.0, "sent", invite(), note="with credentials"),
            WireEvent(2.0, "received", challenge),
            WireEvent(30.5, "received", ok_with_answer()),
        ),
        final_status=200,
        final_reason="OK",
        answer=TWILIO_ANSWER,
        answer_source="200 OK",
        provisional=(100, 180),
        authenticated=True,
        teardown="bye",
        teardown_detail="ACK then BYE",
        bye_status=200,
        keys_sent=True,
        elapsed_ms=31.0,
        media=MediaEvidence("AES_CM_128_HMAC_SHA1_80", 50, 48, 48, "203.0.113.5:15366"),
        auth=AuthEvidence(
            status=401,
            challenges=('Digest realm="trunk", nonce="n0", algorithm=SHA-256, qop="auth"',),
            credentials=True,
            answered_with="SHA-256",
            qop="auth",
            answer_status=200,
        ),
    )
    return ProbeEvidence(
        target=target,
        started_at=STARTED_AT,
        timeout_s=5.0,
        method="INVITE",
        connect=ConnectEvidence(True, 0.7, "127.0.0.1", 40002),
        tls=tls_evidence(target).tls,
        call=call,
    )


def located(host: str, address: str, **extra: object) -> LocatedTarget:
    return LocatedTarget(host=host, address=address, port=5061, transport="tls", **extra)  # type: ignore[arg-type]


def locate_result(uri: str, targets: tuple[LocatedTarget, ...]) -> LocateResult:
    name = uri.split(":", 1)[1]
    return LocateResult(
        uri=uri,
        transport_reason="NAPTR SIPS+D2T (RFC 3263 §4.1)",
        targets=targets,
        answers=(
            DnsAnswer(
                DnsQuery(name, "NAPTR"),
                (NaptrRecord(10, 50, "s", "SIPS+D2T", "", f"_sips._tcp.{name}"),),
                ttl=300,
                server="127.0.0.1:53",
                elapsed_ms=1.5,
            ),
            DnsAnswer(
                DnsQuery(f"_sips._tcp.{name}", "SRV"),
                (SrvRecord(10, 60, 5061, "a.example.test"), SrvRecord(10, 40, 5061, ".")),
                ttl=300,
            ),
            DnsAnswer(DnsQuery("a.example.test", "A"), ("192.0.2.1",), ttl=60),
            DnsAnswer(DnsQuery("a.example.test", "AAAA"), ("2001:db8::1",), ttl=60),
            DnsAnswer(
                DnsQuery("gone.example.test", "A"),
                error_kind="nxdomain",
                error="the name does not exist",
                canonical_name="alias.example.test",
            ),
        ),
        problems=("one SRV record offers no service ('.')",),
    )


def run(chain: tuple[bytes, ...] | None = None) -> RunEvidence:
    """Two endpoints (a TLS trunk name with two addresses, one name that located
    nothing) in priority order, plus a test call on the second address."""
    host = "sbc.example.test"
    first = located(
        host,
        "192.0.2.1",
        srv_target="a.example.test",
        priority=10,
        weight=60,
        share=0.6,
        via=("NAPTR", "SRV", "A"),
    )
    second = located(
        host,
        "2001:db8::1",
        srv_target="a.example.test",
        priority=10,
        weight=60,
        share=0.6,
        via=("NAPTR", "SRV", "AAAA"),
    )
    target_1 = replace(TARGET, address="192.0.2.1")
    target_2 = replace(TARGET, address="2001:db8::1")
    trunk = ProbedUri(
        uri="sips:sbc.example.test",
        locate=locate_result("sips:sbc.example.test", (first, second)),
        targets=(
            ProbedTarget(located=first, evidence=tls_evidence(target_1, chain)),
            ProbedTarget(located=second, evidence=call_evidence(target_2)),
        ),
        endpoint=Endpoint("sips:sbc.example.test", host, 0, priority=10, weight=5),
    )
    nowhere = ProbedUri(
        uri="sips:gone.example.test",
        locate=LocateResult("sips:gone.example.test", "sips: URI", (), (), ("NXDOMAIN",)),
        targets=(
            ProbedTarget(
                unresolved=Target("sips:gone.example.test", "gone.example.test", 5061, "tls")
            ),
        ),
        endpoint=Endpoint("sips:gone.example.test", "gone.example.test", 1, priority=20),
    )
    return RunEvidence(
        command="failover",
        started_at=STARTED_AT,
        duration_ms=123.456,
        settings=RunSettings(
            timeout_s=5.0,
            sni="sbc.example.test",
            client_cert=True,
            pins=("sbc.example.test:5061:192.0.2.1",),
            dns_server="127.0.0.1:5353",
            seed=7,
            call=CallPlan(
                to="sip:+15550100@sbc.example.test",
                from_uri=None,
                offer_kind="sdes",
                suites=("AES_CM_128_HMAC_SHA1_80",),
                hangup="on-answer",
                answer_timeout_s=30.0,
                credentials=True,
            ),
        ),
        uris=(trunk, nowhere),
        failover=FailoverEvidence(
            "priority",
            (
                Placement(0, 0, "a.example.test", 0.6, 10, 60),
                Placement(0, 1, "a.example.test", 0.6, 10, 60),
                Placement(1, 0, "gone.example.test", None, 20, None),
            ),
        ),
    )


ANSWER_KEY = KEY30
