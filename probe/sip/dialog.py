"""The UAC side of a dialog (RFC 3261 §12): its state, and the in-dialog requests a
test call needs, the ACK for a 2xx (§13.2.2.4) and BYE (§15.1.1).

A :class:`Dialog` is an immutable value.  Building a request that consumes a CSeq
number (BYE) returns the request *and* the dialog with the new local sequence number,
so the caller always holds the current state and nothing changes behind its back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .builders import MAX_FORWARDS, _require, check_cseq, make_via, request_uri_of
from .errors import SipBuildError, SipParseError
from .headers import Headers, _key
from .message import Request, Response
from .uri import NameAddr, SipUri, parse_name_addr

__all__ = ["Dialog", "creates_dialog"]

# Credentials headers the ACK for a 2xx copies from the INVITE (§13.2.2.4: "The ACK
# MUST contain the same credentials as the INVITE").
_CREDENTIALS = ("authorization", "proxy-authorization")


def creates_dialog(response: Response) -> bool:
    """Whether ``response`` to an INVITE establishes a dialog (§12.1): any 2xx, and a
    101-199 that carries a To tag (an early dialog)."""
    code = response.status_code
    if 200 <= code < 300:
        return True
    if 101 <= code < 200:
        try:
            return response.to.tag is not None
        except SipParseError:
            return False
    return False


def _parse_route(value: str) -> NameAddr:
    try:
        return parse_name_addr(value)
    except SipParseError as exc:
        raise SipParseError(f"Record-Route {value!r}: {exc.detail}") from None


@dataclass(frozen=True, slots=True)
class Dialog:
    """Dialog state as the UAC keeps it (§12.1.2).

    ``route_set`` holds the Record-Route values of the response in reverse order, each
    as received (a name-addr string with all its parameters); ``remote_target`` is the
    response's Contact URI, or the INVITE's Request-URI for a dialog made by
    :meth:`fallback` (then ``target_from_contact`` is False, and evidence should say
    so).  ``early`` is True for a dialog made from a 1xx.
    """

    call_id: str
    local_tag: str
    remote_tag: str | None  # None only for an RFC 2543 peer that sent a 2xx untagged
    local_uri: SipUri
    remote_uri: SipUri
    remote_target: SipUri
    route_set: tuple[str, ...]
    local_cseq: int
    secure: bool
    early: bool = False
    target_from_contact: bool = True

    @classmethod
    def from_response(cls, invite: Request, response: Response) -> Dialog:
        """The dialog ``response`` (a 2xx, or a 1xx with a To tag) establishes (§12.1.2).

        Raises :class:`SipBuildError` if the response does not establish a dialog or
        does not answer ``invite``, and :class:`SipParseError` if the response lacks
        what a dialog needs: a Contact (§12.1.1 makes it mandatory; see
        :meth:`fallback`) or parseable Record-Route values.
        """
        return cls._create(invite, response, fallback=False)

    @classmethod
    def fallback(cls, invite: Request, response: Response) -> Dialog:
        """Like :meth:`from_response`, but a missing or unusable Contact is replaced by
        the INVITE's Request-URI as remote target.

        A 2xx without Contact breaks §12.1.1, and the verifier reports it.  But the
        far end now holds an answered call, and leaving it open costs the provider a
        channel until its own timers clear it; ending the call matters more than
        strictness.  The Request-URI reached the UAS once (through the same route
        set), so a BYE sent there has the best chance of reaching it again.
        """
        return cls._create(invite, response, fallback=True)

    @classmethod
    def _create(cls, invite: Request, response: Response, *, fallback: bool) -> Dialog:
        _require(invite.method == "INVITE", f"a dialog is made by an INVITE, not {invite.method}")
        _require(
            creates_dialog(response),
            f"a {response.status_code} response does not establish a dialog "
            "(§12.1: 2xx, or 101-199 with a To tag)",
        )
        try:
            local, remote = invite.from_, response.to
            call_id, cseq = invite.call_id, invite.cseq
            their_call_id, their_cseq = response.call_id, response.cseq
            # §12.1.2: secure if the request went over TLS to a SIPS Request-URI.
            secure = invite.uri.scheme == "sips" and invite.top_via.transport == "TLS"
        except SipParseError as exc:
            raise SipParseError(f"cannot create the dialog: {exc.detail}") from None
        _require(local.tag is not None, "the INVITE's From has no tag (§8.1.1.3)")
        _require(
            their_call_id == call_id and their_cseq == cseq,
            f"the response ({their_call_id}, CSeq {their_cseq}) does not answer the INVITE "
            f"({call_id}, CSeq {cseq})",
        )
        # §12.1.2: the route set is the Record-Route list in reverse order.  Each value
        # is parsed now, so that building an ACK or BYE later cannot fail on it.
        record_route = tuple(response.headers.get_all("Record-Route"))
        for value in record_route:
            _parse_route(value)
        target, from_contact = cls._remote_target(response, invite if fallback else None)
        return cls(
            call_id=call_id,
            local_tag=local.tag or "",
            remote_tag=remote.tag,
            local_uri=local.uri,
            remote_uri=remote.uri,
            remote_target=target,
            route_set=tuple(reversed(record_route)),
            local_cseq=cseq.number,
            secure=secure,
            early=response.status_code < 200,
            target_from_contact=from_contact,
        )

    @staticmethod
    def _remote_target(response: Response, fallback_from: Request | None) -> tuple[SipUri, bool]:
        """The Contact URI of the response (§12.1.2), or the fallback's Request-URI;
        and whether it came from the Contact."""
        contacts = response.headers.get_all("Contact")
        problem: str
        if not contacts:
            problem = f"the {response.status_code} response has no Contact header (§12.1.1)"
        elif contacts[0].strip() == "*":
            problem = "the Contact header is '*', which names no target"
        else:
            try:
                return parse_name_addr(contacts[0]).uri, True
            except SipParseError as exc:
                problem = f"Contact: {exc.detail}"
        if fallback_from is None:
            raise SipParseError(problem)
        return fallback_from.uri, False

    @property
    def loose_routing(self) -> bool:
        """True unless the first route is a strict router (no ``lr``, §12.2.1.1)."""
        if not self.route_set:
            return True
        return _parse_route(self.route_set[0]).uri.has_param("lr")

    def _target_and_routes(self) -> tuple[SipUri, list[tuple[str, str]]]:
        """Request-URI and Route fields for a request in this dialog (§12.2.1.1)."""
        if self.loose_routing:
            # Loose routing (or no routes): Request-URI is the remote target, Route
            # is the route set as is.
            routes = [("Route", value) for value in self.route_set]
            return request_uri_of(self.remote_target), routes
        # Strict routing: the first route becomes the Request-URI, with the parameters
        # a Request-URI may not carry stripped; the rest of the route set follows in
        # Route, and then the remote target as the last Route value.
        first = _parse_route(self.route_set[0]).uri
        routes = [("Route", value) for value in self.route_set[1:]]
        routes.append(("Route", str(NameAddr(None, self.remote_target))))
        return request_uri_of(first), routes

    def _request(
        self,
        method: str,
        cseq: int,
        *,
        branch: str,
        local_host: str,
        local_port: int,
        transport: str,
        extra: list[tuple[str, str]],
        body: bytes = b"",
    ) -> Request:
        """A request in this dialog (§12.2.1.1) with every header §8.1.1 requires."""
        check_cseq(cseq)
        via = make_via(
            transport=transport, local_host=local_host, local_port=local_port, branch=branch
        )
        uri, routes = self._target_and_routes()
        to_params = () if self.remote_tag is None else (("tag", self.remote_tag),)
        items = [
            ("Via", str(via)),
            ("Max-Forwards", str(MAX_FORWARDS)),
            *routes,
            ("From", str(NameAddr(None, self.local_uri, (("tag", self.local_tag),)))),
            ("To", str(NameAddr(None, self.remote_uri, to_params))),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            *extra,
            ("Content-Length", str(len(body))),
        ]
        return Request(method, uri, Headers(items), body)

    def build_ack(
        self,
        *,
        invite: Request,
        branch: str,
        local_host: str,
        local_port: int,
        transport: str,
        body: bytes = b"",
        content_type: str = "application/sdp",
    ) -> Request:
        """The ACK for a 2xx to ``invite`` (§13.2.2.4).

        It is a transaction of its own: a new ``branch`` (the 2xx ACK goes end to
        end, through the route set, not hop by hop), the CSeq *number* of the INVITE
        with method ACK, and the INVITE's credentials.  ``body`` is the SDP answer when
        the INVITE carried no offer (§13.2.1).  Send the same ACK again for every
        retransmission of the 2xx.
        """
        try:
            cseq, call_id = invite.cseq, invite.call_id
        except SipParseError as exc:
            raise SipBuildError(f"cannot build the ACK: {exc}") from None
        _require(
            invite.method == "INVITE" and call_id == self.call_id,
            "the ACK must answer this dialog's INVITE",
        )
        extra = [(n, v) for n, v in invite.headers if _key(n) in _CREDENTIALS]
        if body:
            extra.append(("Content-Type", content_type))
        return self._request(
            "ACK",
            cseq.number,
            branch=branch,
            local_host=local_host,
            local_port=local_port,
            transport=transport,
            extra=extra,
            body=body,
        )

    def build_bye(
        self, *, branch: str, local_host: str, local_port: int, transport: str, user_agent: str
    ) -> tuple[Request, Dialog]:
        """A BYE ending this dialog (§15.1.1), and the dialog with its CSeq advanced.

        §12.2.1.1: the local sequence number goes up by one for every new request in
        the dialog (ACK and CANCEL reuse the INVITE's).  If the BYE is challenged,
        re-send it through :func:`probe.sip.authorize` with ``cseq=dialog.local_cseq
        + 1`` and keep ``dataclasses.replace(dialog, local_cseq=...)``.
        """
        cseq = self.local_cseq + 1
        request = self._request(
            "BYE",
            cseq,
            branch=branch,
            local_host=local_host,
            local_port=local_port,
            transport=transport,
            extra=[("User-Agent", user_agent)],
        )
        return request, replace(self, local_cseq=cseq)
