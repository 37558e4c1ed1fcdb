"""3xx answers: where a server sent us (RFC 3261 §8.1.3.4, §21.3), for `--follow-redirects`.

A verifier reports a redirect rather than silently probing somewhere else: the engineer
configured this endpoint, and a server that answers OPTIONS with 3xx is not the endpoint
they think it is. With `--follow-redirects` the Contact URIs are probed too, one hop,
each reported as its own target next to the one that redirected.
"""

from __future__ import annotations

from probe.evidence.model import LENGTH_FRAMED_TRANSPORTS, ProbeEvidence
from probe.sip import SipError, parse_name_addr
from probe.verdict.checks.options import read_exchange

MAX_FOLLOWED = 8
"""Contacts taken from one redirect: a 300 may list many, and each costs a probe."""


def redirect_contacts(evidence: ProbeEvidence) -> list[str]:
    """The sip:/sips: Contact URIs of the 3xx that ended the probe's last exchange, in
    the order of their q-values (highest first, §20.10), ties in the listed order."""
    answered = [x for x in evidence.exchanges if x.outcome == "answered" and x.received]
    if not answered:
        return []
    # The final response that answers the request (§17.1.3), read as the checks read it:
    # a stray 3xx beside it, or anything after it, must not send a probe elsewhere.
    stream = evidence.target.transport in LENGTH_FRAMED_TRANSPORTS
    message = read_exchange(answered[-1], stream=stream).final
    if message is None or not 300 <= message.status_code <= 399:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, value in enumerate(message.headers.get_all("Contact")):
        try:
            contact = parse_name_addr(value)
        except SipError:
            continue
        if contact.uri.scheme not in ("sip", "sips"):
            continue
        ranked.append((-_q_value(contact.param("q")), position, str(contact.uri)))
    seen: list[str] = []
    for _q, _position, uri in sorted(ranked):
        if uri not in seen:
            seen.append(uri)
    return seen[:MAX_FOLLOWED]


def _q_value(text: str | None) -> float:
    """A Contact's q parameter (§20.10): 0 to 1, and 1.0 when absent or unreadable."""
    if text is None:
        return 1.0
    try:
        return min(1.0, max(0.0, float(text)))
    except ValueError:
        return 1.0
