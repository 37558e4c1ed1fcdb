"""Request builders and response matching for our UAC (RFC 3261 §8.1.1, §17.1.3).

Nothing here is random or reads a clock: branch, tag and Call-ID come in as arguments
so tests and recorded evidence are reproducible.  :func:`random_token` is provided for
callers that want fresh ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from . import _abnf
from .errors import SipBuildError, SipParseError
from .headers import CSEQ_MAX, Headers, Via, parse_via
from .message import Request, Response
from .uri import HostKind, NameAddr, SipUri, format_uri, parse_host

__all__ = [
    "BRANCH_COOKIE",
    "ResponseMatch",
    "build_options",
    "build_response",
    "match_response",
    "new_branch",
    "random_token",
]

# §8.1.1.7: a branch starting with this magic cookie says "generated per RFC 3261,
# unique across space and time", which is what lets §17.1.3 match on it alone.
BRANCH_COOKIE = "z9hG4bK"
# The user part of the URIs we put in From and Contact: it identifies the prober in a
# server's logs.
PROBE_USER = "sipprobe"
# §8.1.1.6: the recommended initial Max-Forwards.
MAX_FORWARDS = 70
_TRANSPORT_RE = re.compile("[A-Za-z][A-Za-z0-9-]*")
_ACCEPT_SDP = ("Accept", "application/sdp")


def random_token(nbytes: int = 12) -> str:
    """A fresh random token (URL-safe base64: only §25.1 token characters)."""
    # Imported here, not at module level: importing the codec must not pull in
    # random-number machinery (the package is sans-I/O and deterministic).
    import secrets

    return secrets.token_urlsafe(nbytes)


def new_branch(token: str) -> str:
    """``z9hG4bK`` + ``token``: a §8.1.1.7 branch value."""
    _require(_abnf.TOKEN_RE.fullmatch(token) is not None, f"branch token {token!r} is not a token")
    return BRANCH_COOKIE + token


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise SipBuildError(message)


def _local_host(text: str) -> tuple[str, HostKind]:
    # Accept an IPv6 address bare ("::1", as socket APIs give it) or bracketed.
    candidate = f"[{text}]" if ":" in text and not text.startswith("[") else text
    try:
        return parse_host(candidate)
    except SipParseError as exc:
        raise SipBuildError(f"local_host: {exc}") from None


def _check_via_inputs(transport: str, local_port: int, branch: str) -> None:
    # §25.1 allows any token, but it also goes into the Contact's transport= URI
    # parameter; real transports (UDP, TCP, TLS, SCTP, TLS-SCTP, WS, WSS) fit this.
    _require(
        _TRANSPORT_RE.fullmatch(transport) is not None,
        f"transport {transport!r} is not a transport name",
    )
    _require(
        isinstance(local_port, int) and 1 <= local_port <= 65535,
        f"local_port {local_port!r} is outside 1-65535",
    )
    check_branch(branch)


def check_branch(branch: str) -> None:
    """A branch we send must be a token starting with the magic cookie (§8.1.1.7)."""
    _require(
        isinstance(branch, str)
        and branch.startswith(BRANCH_COOKIE)
        and _abnf.TOKEN_RE.fullmatch(branch) is not None,
        f"branch {branch!r} must be a token starting with {BRANCH_COOKIE} (§8.1.1.7)",
    )


def make_via(*, transport: str, local_host: str, local_port: int, branch: str) -> Via:
    """Our Via for a new request (§8.1.1.7, §18.1.1), with RFC 3581 ``rport``."""
    _check_via_inputs(transport, local_port, branch)
    host, _ = _local_host(local_host)
    return Via(
        "SIP/2.0", transport.upper(), host, local_port, (("branch", branch), ("rport", None))
    )


def check_cseq(cseq: int) -> None:
    """§8.1.1.5: the sequence number must be below 2**31."""
    _require(
        isinstance(cseq, int) and 0 <= cseq <= CSEQ_MAX,
        f"cseq {cseq} is outside 0..2**31-1 (§8.1.1.5)",
    )


def request_uri_of(target: SipUri) -> SipUri:
    """``target`` as a Request-URI: without URI headers and ``method`` (§19.1.5), and
    without a password (§19.1.1 deprecates them: a secret is never put on the wire).

    The table in §19.1.1 allows everything else, transport and maddr included.
    """
    if (
        not target.headers
        and target.password is None
        and all(name != "method" for name, _ in target.params)
    ):
        return target  # nothing to drop: the URI as it is
    return replace(
        target,
        password=None,
        params=tuple(p for p in target.params if p[0] != "method"),
        headers=(),
    )


def _origin(
    target: SipUri,
    *,
    method: str,
    transport: str,
    local_host: str,
    local_port: int,
    branch: str,
    from_tag: str,
    call_id: str,
    cseq: int,
    from_uri: SipUri | None,
    to_uri: SipUri | None = None,
) -> tuple[SipUri, list[tuple[str, str]]]:
    """The Request-URI and the §8.1.1 header block of a new out-of-dialog request:
    Via, Max-Forwards, From, To, Call-ID, CSeq and Contact, in that order."""
    via = make_via(transport=transport, local_host=local_host, local_port=local_port, branch=branch)
    _require(
        _abnf.TOKEN_RE.fullmatch(from_tag) is not None, f"from_tag {from_tag!r} is not a token"
    )
    _require(
        _abnf.CALLID_RE.fullmatch(call_id) is not None, f"call_id {call_id!r} is not word[@word]"
    )
    check_cseq(cseq)
    host, host_kind = _local_host(local_host)
    scheme = target.scheme  # §8.1.1.8: a SIPS Request-URI needs SIPS From and Contact
    if from_uri is None:
        from_uri = _probe_uri(scheme, host, host_kind)
    # §19.1.1: a password in a URI is deprecated; whatever the caller passed, none is sent.
    from_uri = from_uri.without_password()
    to_uri = to_uri.without_password() if to_uri is not None else None
    items = [
        ("Via", str(via)),
        ("Max-Forwards", str(MAX_FORWARDS)),
        ("From", _from_value(from_uri, from_tag)),
        ("To", _to_value(target) if to_uri is None else str(NameAddr(None, to_uri))),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", _contact_value(scheme, host, local_port, transport)),
    ]
    return request_uri_of(target), items


def _probe_uri(scheme: str, host: str, host_kind: HostKind) -> SipUri:
    return SipUri(scheme, PROBE_USER, None, host, host_kind, None)


def _from_value(from_uri: SipUri, from_tag: str) -> str:
    return f"<{from_uri}>;tag={from_tag}"


def _to_value(target: SipUri) -> str:
    # §19.1.1 table: To takes no port, transport, maddr, ttl, lr or headers; the
    # password is dropped too, so no secret is echoed into a header.
    return f"<{format_uri(target.scheme, target.user, None, target.host, None)}>"


def _contact_value(scheme: str, host: str, local_port: int, transport: str) -> str:
    # sips: already means TLS over TCP; RFC 5630 §3.1.3 deprecates adding transport=tls.
    if scheme == "sips" and transport.upper() in ("TLS", "TCP"):
        params: tuple[tuple[str, str | None], ...] = ()
    else:
        params = (("transport", transport.lower()),)
    return f"<{format_uri(scheme, PROBE_USER, None, host, local_port, params)}>"


def build_options(
    target: SipUri,
    *,
    transport: str,
    local_host: str,
    local_port: int,
    branch: str,
    from_tag: str,
    call_id: str,
    cseq: int = 1,
    user_agent: str,
    from_uri: SipUri | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    contact_uri: SipUri | None = None,
) -> Request:
    """Build an out-of-dialog OPTIONS request to ``target`` (§11, §8.1.1).

    ``contact_uri`` replaces our Contact; an ``Accept`` among ``extra_headers`` replaces
    ours (``application/sdp``), any other field is added after User-Agent."""
    request_uri, items = _origin(
        target,
        method="OPTIONS",
        transport=transport,
        local_host=local_host,
        local_port=local_port,
        branch=branch,
        from_tag=from_tag,
        call_id=call_id,
        cseq=cseq,
        from_uri=from_uri,
    )
    if contact_uri is not None:
        # §19.1.1: whatever the caller passed, no password is sent.
        contact = f"<{contact_uri.without_password()}>"
        items = [(name, contact if name == "Contact" else value) for name, value in items]
    accept = [] if any(n.lower() == "accept" for n, _ in extra_headers) else [_ACCEPT_SDP]
    headers = Headers(
        [
            *items,
            *accept,
            ("User-Agent", user_agent),
            *extra_headers,
            ("Content-Length", "0"),
        ]
    )
    return Request("OPTIONS", request_uri, headers)


@dataclass(frozen=True, slots=True)
class ResponseMatch:
    """Whether a response belongs to a request's client transaction, and if not why."""

    matched: bool
    reason: str | None = None


def match_response(request: Request, response: Response) -> ResponseMatch:
    """Match a response to our request (§17.1.3), reporting the first difference.

    §17.1.3 needs the top Via branch and the CSeq method.  As the UAC that built the
    request we also expect our CSeq number and Call-ID back (§8.2.6.2); a server that
    changes them is broken, and the verifier should say so rather than accept it.
    """
    try:
        ours, theirs = request.top_via.branch, response.top_via.branch
        our_cseq, their_cseq = request.cseq, response.cseq
        our_call_id, their_call_id = request.call_id, response.call_id
    except SipParseError as exc:
        return ResponseMatch(False, f"cannot match: {exc}")
    if ours is None:
        return ResponseMatch(False, "request top Via has no branch to match on")
    # Compared exactly: we generated the branch, so a peer that changes even its case
    # has rewritten our Via.
    if theirs != ours:
        if theirs is None:
            return ResponseMatch(False, f"response top Via has no branch (expected {ours})")
        return ResponseMatch(False, f"branch {theirs} does not match {ours}")
    if their_cseq.method != our_cseq.method:
        return ResponseMatch(
            False, f"CSeq method {their_cseq.method} does not match {our_cseq.method}"
        )
    if their_cseq.number != our_cseq.number:
        return ResponseMatch(
            False, f"CSeq number {their_cseq.number} does not match {our_cseq.number}"
        )
    if their_call_id != our_call_id:
        return ResponseMatch(False, f"Call-ID {their_call_id} does not match {our_call_id}")
    return ResponseMatch(True)


def _received_via(top: Via, source: tuple[str, int]) -> Via:
    """The top Via as a server returns it: `received` per §18.2.1, `rport` per RFC 3581 §4."""
    address, port = source
    params = [(name, value) for name, value in top.params if name not in ("received", "rport")]
    # §18.2.1: add received when sent-by is a name or another address; RFC 3581 §4: a
    # request carrying rport always gets received and the source port.
    if top.has_rport or top.host != address:
        params.append(("received", address))
    if top.has_rport:
        params.append(("rport", str(port)))
    return replace(top, params=tuple(params))


def build_response(
    request: Request,
    status_code: int,
    reason: str,
    *,
    to_tag: str | None,
    extra_headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
    source: tuple[str, int] | None = None,
) -> Response:
    """A response to `request` as a UAS builds it (§8.2.6).

    Via headers are copied in order (§8.2.6.2), the top one marked with the `source`
    address the request came from when given. To gets `to_tag` unless the request's To
    already had a tag (an in-dialog request) or this is 100 Trying (§8.2.6.2: 100 needs
    no tag).
    """
    _require(100 <= status_code <= 699, f"status code {status_code} is not 100-699")
    vias = [parse_via(value) for value in request.headers.get_all("Via")]
    _require(bool(vias), "the request has no Via to answer along")
    if source is not None:
        vias[0] = _received_via(vias[0], source)
    to = request.to
    if to.tag is None and to_tag is not None and status_code != 100:
        to = replace(to, params=(*to.params, ("tag", to_tag)))
    # §8.2.6.2: From, Call-ID and CSeq are copied verbatim; the parser guarantees them.
    items: list[tuple[str, str]] = [("Via", str(via)) for via in vias]
    items += [
        ("From", request.headers.get("From") or ""),
        ("To", str(to)),
        ("Call-ID", request.call_id),
        ("CSeq", request.headers.get("CSeq") or ""),
        *extra_headers,
    ]
    if body:
        _require(content_type is not None, "a body needs a content type")
        items.append(("Content-Type", content_type or ""))
    items.append(("Content-Length", str(len(body))))
    return Response(status_code, reason, Headers(items), body)
