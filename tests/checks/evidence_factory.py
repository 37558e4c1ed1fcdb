"""Building evidence by hand, for checks tested without sockets."""

from __future__ import annotations

from probe.evidence.model import (
    ConnectEvidence,
    ExchangeOutcome,
    ProbeEvidence,
    Received,
    SipExchange,
    Target,
)
from probe.sip import Request, build_options, build_response, new_branch, parse_uri

TARGET = Target(
    uri="sip:sbc.example.test;transport=tls",
    host="sbc.example.test",
    port=5061,
    transport="tls",
    address="127.0.0.1",
    sni="sbc.example.test",
)


def options_request(cseq: int = 1, branch: str = "abc") -> Request:
    return build_options(
        parse_uri(TARGET.uri),
        transport="TLS",
        local_host="127.0.0.1",
        local_port=40000,
        branch=new_branch(branch),
        from_tag="ft",
        call_id="call-1",
        cseq=cseq,
        user_agent="sipprobe/test",
    )


def response(
    request: Request, code: int, reason: str, *headers: tuple[str, str], to_tag: str | None = "tt"
) -> bytes:
    return build_response(request, code, reason, to_tag=to_tag, extra_headers=headers).to_bytes()


def exchange(
    request: Request,
    received: list[bytes | tuple[bytes, str]],
    *,
    outcome: ExchangeOutcome = "answered",
    sent_at: float = 10.0,
    final_at: float | None = 12.5,
    error: str | None = None,
    pending_bytes: int = 0,
) -> SipExchange:
    items = tuple(
        Received(sent_at + 1, item) if isinstance(item, bytes) else Received(sent_at + 1, *item)
        for item in received
    )
    return SipExchange(
        method=request.method,
        request=request.to_bytes(),
        sent_at_ms=sent_at,
        outcome=outcome,
        received=items,
        final_at_ms=final_at if outcome == "answered" else None,
        error=error,
        pending_bytes=pending_bytes,
    )


def evidence(*exchanges: SipExchange, target: Target = TARGET) -> ProbeEvidence:
    return ProbeEvidence(
        target=target,
        started_at="2026-11-27T00:00:00.000+00:00",
        timeout_s=5.0,
        connect=ConnectEvidence(
            ok=True, elapsed_ms=0.5, local_address="127.0.0.1", local_port=40000
        ),
        exchanges=exchanges,
    )
