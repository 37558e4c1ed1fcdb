"""3xx answers: reported and not followed, unless --follow-redirects (one hop)."""

from __future__ import annotations

import asyncio

from probe.evidence.model import ExchangeOutcome, ProbeEvidence, Received, SipExchange, Target
from probe.run.collect import collect_run
from probe.run.commands import OptionsRequest, prepare
from probe.run.redirects import redirect_contacts
from probe.settings import Settings
from probe.sip import Request, build_options, build_response, parse_uri
from probe.tls.lab import LabFiles
from probe.verdict.findings import CheckId
from probe.verdict.judging import judge_run
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.net.scripted import response_bytes, scripted_server, tls_server_context

REQUEST = build_options(
    parse_uri("sip:a.test;transport=tls"),
    transport="TLS",
    local_host="127.0.0.1",
    local_port=5000,
    branch="z9hG4bKredirect",
    from_tag="1",
    call_id="c",
    user_agent="test",
)


def evidence_with(*responses: bytes, outcome: ExchangeOutcome = "answered") -> ProbeEvidence:
    exchange = SipExchange(
        method="OPTIONS",
        request=REQUEST.to_bytes(),
        sent_at_ms=0.0,
        outcome=outcome,
        received=tuple(Received(1.0, response) for response in responses),
        final_at_ms=1.0,
    )
    target = Target(uri="sip:a.test", host="a.test", port=5061, transport="tls")
    return ProbeEvidence(target=target, started_at="", timeout_s=1.0, exchanges=(exchange,))


def redirect(code: int, *contacts: str, branch: str | None = None) -> bytes:
    response = build_response(
        REQUEST, code, "Moved", to_tag="2", extra_headers=[("Contact", c) for c in contacts]
    ).to_bytes()
    if branch is not None:
        response = response.replace(b"z9hG4bKredirect", branch.encode())
    return response


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


def test_no_contacts_from_anything_but_the_final_3xx() -> None:
    ok = redirect(200, "<sip:elsewhere.test>")
    assert redirect_contacts(evidence_with(ok)) == []
    moved = redirect(302, "<sip:x.test>")
    assert redirect_contacts(evidence_with(moved, outcome="timeout")) == []
    assert redirect_contacts(evidence_with(b"garbage\r\n\r\n")) == []
    # A stray 3xx (another transaction's) beside the real 200 sends nobody anywhere...
    stray = redirect(302, "<sip:evil.test>", branch="z9hG4bKother")
    assert redirect_contacts(evidence_with(ok, stray)) == []
    assert redirect_contacts(evidence_with(stray, ok)) == []
    # ...while the real 302 is followed even when something else comes after it.
    assert redirect_contacts(evidence_with(moved, stray)) == ["sip:x.test"]


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
                    targets=[start],
                    settings=Settings.from_flat(pins=pins, ca=lab.ca, follow_redirects=follow),
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
