"""Digest authentication on the wire (RFC 3261 §22): the evidence of a challenge, and an
OPTIONS sent again with credentials when the far end challenges it.

Some carriers challenge OPTIONS as they challenge INVITE (a 401 or 407, §22.2, §22.3);
the probe then answers once, in a new transaction (a new branch, the CSeq one higher,
§8.1.3.5), and the answer to that request is the one judged. The digest arithmetic and
the choice among challenges are probe.sip.digest's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from probe.evidence.model import AuthEvidence, SipExchange
from probe.sip import Request, Response

if TYPE_CHECKING:
    from probe.sip.digest import DigestChallenge, DigestCredentials

CHALLENGE_HEADERS = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}
"""The header that carries the challenges of each status (§22.2, §22.3)."""


def challenges_of(response: Response) -> tuple[str, ...]:
    """Every challenge header value of a 401 or 407, in the server's order."""
    header = CHALLENGE_HEADERS.get(response.status_code)
    return tuple(response.headers.get_all(header)) if header is not None else ()


def _final_response(exchange: SipExchange) -> Response | None:
    """The final response the collector matched to the request, as it parsed it."""
    for item in exchange.received:
        message = item.message
        if (
            isinstance(message, Response)
            and item.at_ms == exchange.final_at_ms
            and message.status_code == exchange.final_status
        ):
            return message
    return None


def _bytes_only(exchange: SipExchange) -> SipExchange:
    """The exchange as evidence keeps it: the bytes, not the collector's parse."""
    return replace(exchange, received=tuple(replace(i, message=None) for i in exchange.received))


async def options_with_credentials(
    request: Request,
    exchange: SipExchange,
    send: Callable[[Request], Awaitable[SipExchange]],
    credentials: DigestCredentials | None,
    *,
    new_token: Callable[[int], str],
    cseq: int,
) -> tuple[SipExchange, AuthEvidence | None]:
    """`exchange` (the answer to `request`) when it is no challenge; else the exchange of
    the request sent again with credentials (CSeq `cseq`), and the challenge's evidence.

    Without credentials, or with a challenge that cannot be answered, the challenged
    exchange stands and the evidence says why nothing more was sent. The digest module is
    imported only here, when a challenge came: most OPTIONS runs never load it."""
    if exchange.outcome != "answered" or exchange.final_status not in CHALLENGE_HEADERS:
        return exchange, None
    response = _final_response(exchange)
    if response is None:  # a challenge the collector could not hand on: nothing to answer
        return exchange, None
    status = response.status_code
    evidence = AuthEvidence(
        status=status,
        challenges=challenges_of(response),
        credentials=credentials is not None,
        challenged=_bytes_only(exchange),
    )
    if credentials is None:
        return exchange, evidence
    from probe.sip import SipError, authorize, choose_challenge, new_branch

    try:
        chosen = choose_challenge(evidence.challenges)
        again = authorize(
            request,
            response,
            credentials,
            branch=new_branch(new_token(12)),
            cnonce=new_token(8),
            cseq=cseq,
        )
    except SipError as exc:
        return exchange, replace(evidence, problem=str(exc))
    answered = await send(again)
    return answered, replace(
        evidence,
        answered_with=chosen.algorithm,
        qop=chosen.answer_qop,
        answer_status=answered.final_status if answered.outcome == "answered" else None,
    )


def call_auth_evidence(
    challenge: Response | None,
    *,
    credentials: bool,
    answered: DigestChallenge | None,
    problem: str | None,
    answer_status: int | None,
) -> AuthEvidence | None:
    """The evidence of a call's challenge (probe.sip.outgoing_call keeps the pieces):
    `answered` is the challenge its INVITE with credentials answered, if any, and
    `answer_status` the final status that INVITE got."""
    if challenge is None:
        return None
    return AuthEvidence(
        status=challenge.status_code,
        challenges=challenges_of(challenge),
        credentials=credentials,
        answered_with=None if answered is None else answered.algorithm,
        qop=None if answered is None else answered.answer_qop,
        problem=problem,
        answer_status=answer_status if answered is not None else None,
    )
