"""The requests of an INVITE transaction: INVITE (§13.2.1), the ACK for a non-2xx final
response (§17.1.1.3) and CANCEL (§9.1).

Like :mod:`probe.sip.builders`, nothing here is random or reads a clock: branch, tag
and Call-ID come in as arguments.  ACK and CANCEL are derived from the INVITE *as it
was sent* (and, for the ACK, from the response), never rebuilt from the caller's
inputs, so the header fields the RFC requires to be identical are identical by
construction.

The ACK for a **2xx** is not here: it is a request of the dialog, with its own
branch (§13.2.2.4), and lives in :mod:`probe.sip.dialog`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .builders import MAX_FORWARDS, _origin, _require
from .errors import SipBuildError, SipParseError
from .headers import Headers, _key
from .message import Request, Response
from .uri import SipUri, parse_name_addr

__all__ = ["ALLOW", "build_ack_non2xx", "build_cancel", "build_invite"]

# §20.5: the methods we can receive in the dialogs we create.  We are a UAC that
# sends INVITE/ACK/CANCEL/BYE and answers OPTIONS; a far end that sends us BYE (it
# hangs up first) needs to know we accept it.
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


def _routes(route: Sequence[str]) -> list[tuple[str, str]]:
    """Route header fields for a preloaded route set (§8.1.1.1), one value each."""
    items: list[tuple[str, str]] = []
    for value in route:
        try:
            parse_name_addr(value)
        except SipParseError as exc:
            raise SipBuildError(f"route {value!r}: {exc}") from None
        items.append(("Route", value.strip(" \t")))
    return items


def build_invite(
    request_uri: SipUri,
    *,
    transport: str,
    local_host: str,
    local_port: int,
    branch: str,
    from_tag: str,
    call_id: str,
    cseq: int = 1,
    user_agent: str,
    body: bytes,
    content_type: str = "application/sdp",
    from_uri: SipUri | None = None,
    to_uri: SipUri | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    route: Sequence[str] = (),
) -> Request:
    """Build an initial INVITE (§13.2.1) with the §8.1.1 header fields.

    Via (with ``rport``), Max-Forwards, From (tagged), To (no tag; ``to_uri`` or the
    Request-URI without parameters), Call-ID, CSeq, Contact (§8.1.1.8: one URI, SIPS
    for a SIPS target) are made exactly as :func:`~probe.sip.build_options` makes
    them.  ``route`` is a preloaded route set (§8.1.1.1, e.g. an outbound proxy),
    sent as Route headers in order with the Request-URI left as the target (loose
    routing, §16.12.1.1).  No Supported header is sent: we use no extension
    (no 100rel, no session timers), and its absence says so (§20.37); callers that
    want one pass it in ``extra_headers``.  An empty ``body`` makes an offerless
    INVITE (§13.2.1 allows the offer in the ACK instead), without Content-Type.
    """
    _require(isinstance(body, bytes), f"body must be bytes, got {type(body).__name__}")
    uri, items = _origin(
        request_uri,
        method="INVITE",
        transport=transport,
        local_host=local_host,
        local_port=local_port,
        branch=branch,
        from_tag=from_tag,
        call_id=call_id,
        cseq=cseq,
        from_uri=from_uri,
        to_uri=to_uri,
    )
    # Route after Max-Forwards, where proxies look first; order within is the route.
    items[2:2] = _routes(route)
    items += [("Allow", ALLOW), ("User-Agent", user_agent), *extra_headers]
    if body:
        items.append(("Content-Type", content_type))
    items.append(("Content-Length", str(len(body))))
    return Request("INVITE", uri, Headers(items), body)


def _check_invite(invite: Request) -> None:
    _require(invite.method == "INVITE", f"expected an INVITE, got {invite.method}")
    _require(bool(invite.headers.get_all("Via")), "the INVITE has no Via")


def _copied(invite: Request, name: str) -> list[tuple[str, str]]:
    """Every field called ``name`` of the INVITE, verbatim and in order."""
    key = _key(name)
    return [(n, v) for n, v in invite.headers if _key(n) == key]


def build_ack_non2xx(invite: Request, response: Response) -> Request:
    """The ACK the INVITE client transaction sends for a 300-699 response (§17.1.1.3).

    It is part of the INVITE's transaction: same Request-URI, Call-ID, From and CSeq
    number (method ACK), a single Via equal to the INVITE's top Via (so the same
    branch), the To of the *response* (it carries the UAS's tag), and the INVITE's
    Route header fields.  Max-Forwards is required in every request (§8.1.1.6) and
    Content-Length is 0: this ACK never carries a body.
    """
    _check_invite(invite)
    _require(
        300 <= response.status_code <= 699,
        f"an ACK from the transaction answers 300-699 only, not {response.status_code} "
        "(a 2xx is acknowledged by the dialog, §13.2.2.4)",
    )
    try:
        to = response.headers.get("To")
        cseq = invite.cseq
    except SipParseError as exc:
        raise SipBuildError(f"cannot build the ACK: {exc}") from None
    _require(to is not None, "the response has no To header to copy into the ACK")
    items = [
        ("Via", invite.headers.get_all("Via")[0]),
        ("Max-Forwards", str(MAX_FORWARDS)),
        *_copied(invite, "Route"),
        ("From", invite.headers.get("From") or ""),
        ("To", to or ""),
        ("Call-ID", invite.headers.get("Call-ID") or ""),
        ("CSeq", f"{cseq.number} ACK"),
        ("Content-Length", "0"),
    ]
    return Request("ACK", invite.uri, Headers(items))


def build_cancel(invite: Request) -> Request:
    """A CANCEL for ``invite`` (§9.1).

    Request-URI, Call-ID, To, From (tags included) and the CSeq number are the
    INVITE's; the method in CSeq is CANCEL; the single Via is the INVITE's top Via,
    so the CANCEL matches the INVITE's server transaction hop by hop; the INVITE's
    Route header fields are copied.  §9.1 also says *when*: not before a provisional
    response has arrived, and never after a final one; that is the caller's part.
    """
    _check_invite(invite)
    try:
        cseq = invite.cseq
    except SipParseError as exc:
        raise SipBuildError(f"cannot build the CANCEL: {exc}") from None
    items = [
        ("Via", invite.headers.get_all("Via")[0]),
        ("Max-Forwards", str(MAX_FORWARDS)),
        *_copied(invite, "Route"),
        ("From", invite.headers.get("From") or ""),
        ("To", invite.headers.get("To") or ""),
        ("Call-ID", invite.headers.get("Call-ID") or ""),
        ("CSeq", f"{cseq.number} CANCEL"),
        ("Content-Length", "0"),
    ]
    return Request("CANCEL", invite.uri, Headers(items))
