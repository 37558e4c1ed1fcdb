"""3xx answers: reported and not followed, unless --follow-redirects (one hop)."""

from __future__ import annotations

import asyncio

from probe.app import OptionsRequest, prepare
from probe.evidence import ExchangeOutcome, ProbeEvidence, Received, SipExchange, Target
from probe.findings import CheckId
from probe.redirects import redirect_contacts
from probe.runner import collect_run, judge_run
from probe.sip import Request
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.net.scripted import response_bytes, scripted_server, tls_server_context


def evidence_with(response: bytes, outcome: ExchangeOutcome = "answered") -> ProbeEvidence:
    exchange = SipExchange(
        method="OPTIONS",
        request=b"",
        sent_at_ms=0.0,
        outcome=outcome,
        received=(Received(1.0, response),),
        final_at_ms=1.0,
    )
    target = Target(uri="sip:a.test", host="a.test", port=5061, transport="tls")
    return ProbeEvidence(target=target, started_at="", timeout_s=1.0, exchanges=(exchange,))


def redirect(code: int, *contacts: str) -> bytes:
    lines = [
        f"SIP/2.0 {code} Moved",
        "Via: SIP/2.0/TLS 127.0.0.1:5000;branch=z9hG4bKx",
        "From: <sip:p@a.test>;tag=1",
        "To: <sip:a.test>;tag=2",
        "Call-ID: c",
        "CSeq: 1 OPTIONS",
        *(f"Contact: {contact}" for contact in contacts),
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_contacts_come_highest_q_first_and_only_sip_uris() -> None:
    response = redirect(
        300,
        "<sip:low.test;transport=tls>;q=0.1",
        "<tel:+15550100>",
        "<sips:high.test>;q=0.9, <sip:plain.test;transport=tls>",
        "<sips:high.test>;q=0.5",
    )
    assert redirect_contacts(evidence_with(response)) == [
        "sip:plain.test;transport=tls",
        "sips:high.test",
        "sip:low.test;transport=tls",
    ]


def test_no_contacts_from_anything_but_a_3xx() -> None:
    ok = redirect(200, "<sip:elsewhere.test>")
    assert redirect_contacts(evidence_with(ok)) == []
    assert redirect_contacts(evidence_with(redirect(302, "<sip:x.test>"), "timeout")) == []
    assert redirect_contacts(evidence_with(b"garbage\r\n\r\n")) == []


async def test_a_redirect_is_reported_and_followed_only_when_asked(lab: LabFiles) -> None:
    asked: dict[str, int] = {"first": 0, "second": 0}
    context = tls_server_context(lab.server, lab.server_key)

    async def second(request: Request, writer: asyncio.StreamWriter) -> None:
        asked["second"] += 1
        writer.write(response_bytes(request, 200, "OK"))

    async with scripted_server(second, context) as second_port:
        moved_to = f"sip:{LAB_NAME}:{second_port};transport=tls"

        async def first(request: Request, writer: asyncio.StreamWriter) -> None:
            asked["first"] += 1
            writer.write(
                response_bytes(request, 302, "Moved Temporarily", ("Contact", f"<{moved_to}>"))
            )

        async with scripted_server(first, context) as first_port:
            start = f"sip:{LAB_NAME}:{first_port};transport=tls"
            pins = [f"{LAB_NAME}:{port}:127.0.0.1" for port in (first_port, second_port)]
            reports = {}
            for follow in (False, True):
                request = OptionsRequest(
                    targets=[start], pins=pins, ca=lab.ca, follow_redirects=follow
                )
                run = prepare(request, no_usage_error)
                evidence = await collect_run(run.uris, run.settings, controls=run.controls)
                reports[follow] = judge_run(evidence, run.policy)
                if not follow:
                    assert asked == {"first": 1, "second": 0}, "followed without being asked"
    assert asked == {"first": 2, "second": 1}
    assert len(reports[False].results) == 1
    followed = reports[True]
    assert [result.target.uri for result in followed.results] == [start, moved_to]
    options = {f.check: f for f in followed.results[1].findings}[CheckId.SIP_OPTIONS]
    assert options.status.value == "pass"
    assert f"{moved_to} probed because {start} redirected to it" in followed.notes[-1]
